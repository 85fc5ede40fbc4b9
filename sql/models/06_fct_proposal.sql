-- One row per proposal; the lead fee is a measure of the proposal, not of the service.
INSERT INTO {{mart}}.fct_proposal (event_id, professional_id, service_id, date_key, created_at, lead_fee)
SELECT
    p.event_id,
    p.professional_id,
    p.service_id,
    to_char(p.event_date, 'YYYYMMDD')::integer,
    p.created_at,
    p.lead_fee
FROM {{staging}}.stg_proposal AS p;
