-- One row per valid event. date_key is looked up in dim_date (a hash join on a few hundred days
-- costs less than formatting every event's date); dim_date spans every event date, and a missing
-- day would give a NULL that the NOT NULL constraint rejects.
-- A proposal's service and lead fee (a measure of the proposal, not of the service) are on its
-- row and NULL on other events; fct_proposal is the view of the proposals (migration 0007).
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
FROM {{staging}}.stg_event AS e
LEFT JOIN {{mart}}.dim_date AS d ON d.date = e.event_date;
