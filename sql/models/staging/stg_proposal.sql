-- The proposals of stg_event, with their service and lead fee.
CREATE OR REPLACE VIEW {{staging}}.stg_proposal AS
SELECT event_id, professional_id, created_at, event_date, service_id, service_name_nl, service_name_en, lead_fee
FROM {{staging}}.stg_event
WHERE event_type = 'proposed';
