-- One row per valid event, appended from the increment (events are new by event_id). date_key is
-- looked up in dim_date (a hash join on a few hundred days costs less than formatting every
-- event's date); dim_date spans every event date, and a missing day would fail NOT NULL.
-- A proposal's service and lead fee (a measure of the proposal) are on its row, NULL on other
-- events; fct_proposal is the view of the proposals.
INSERT INTO {{mart}}.fct_event (event_id, event_type, professional_id, date_key, created_at, event_date, service_id, lead_fee)
SELECT
    e.event_id,
    e.event_type,
    e.professional_id,
    d.date_key,
    e.created_at,
    e.event_date,
    e.service_id,
    e.lead_fee
FROM {{increment}} AS e
LEFT JOIN {{mart}}.dim_date AS d ON d.date = e.event_date;
