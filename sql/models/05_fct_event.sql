-- One row per valid event.
INSERT INTO {{mart}}.fct_event (event_id, event_type, professional_id, date_key, created_at, event_date)
SELECT
    e.event_id,
    e.event_type,
    e.professional_id,
    to_char(e.event_date, 'YYYYMMDD')::integer,
    e.created_at,
    e.event_date
FROM {{staging}}.stg_event AS e;
