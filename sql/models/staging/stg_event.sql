-- Typed events, one row per raw event: a view, nothing copied. A proposal's meta_data is
-- {service_id}_{service_name_nl}_{service_name_en}_{lead_fee}; ingest has checked its shape, so the
-- casts cannot fail. run_id (the ingest run that loaded the event) is how a build finds its increment.
CREATE OR REPLACE VIEW {{staging}}.stg_event AS
SELECT
    e.event_id,
    e.event_type,
    e.professional_id,
    e.created_at,
    e.created_at::date AS event_date,
    e.meta_data,
    (CASE WHEN e.event_type = 'proposed' THEN split_part(e.meta_data, '_', 1) END)::integer         AS service_id,
    CASE WHEN e.event_type = 'proposed' THEN split_part(e.meta_data, '_', 2) END                    AS service_name_nl,
    CASE WHEN e.event_type = 'proposed' THEN split_part(e.meta_data, '_', 3) END                    AS service_name_en,
    (CASE WHEN e.event_type = 'proposed' THEN split_part(e.meta_data, '_', 4) END)::numeric(10, 2)  AS lead_fee,
    e.run_id
FROM {{raw}}.event AS e;
