-- One row per proposal; the lead fee is a measure of the proposal, not of the service.
-- date_key comes from dim_date as in fct_event.
INSERT INTO {{mart}}.fct_proposal (event_id, professional_id, service_id, date_key, created_at, lead_fee)
SELECT
    p.event_id,
    p.professional_id,
    p.service_id,
    d.date_key,
    p.created_at,
    p.lead_fee
FROM {{staging}}.stg_proposal AS p
LEFT JOIN {{mart}}.dim_date AS d ON d.date = p.event_date;
