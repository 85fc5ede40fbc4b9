-- Staging: typed, parsed views over the raw layer. No data is copied here.
CREATE SCHEMA IF NOT EXISTS {{staging}};

CREATE VIEW {{staging}}.stg_event AS
SELECT
    e.event_id,
    e.event_type,
    e.professional_id,
    e.created_at,
    e.created_at::date AS event_date,
    e.meta_data
FROM {{raw}}.event AS e;

-- meta_data of a proposal is {service_id}_{service_name_nl}_{service_name_en}_{lead_fee};
-- ingest has already checked its shape, so the casts cannot fail.
CREATE VIEW {{staging}}.stg_proposal AS
SELECT
    e.event_id,
    e.professional_id,
    e.created_at,
    e.created_at::date                           AS event_date,
    split_part(e.meta_data, '_', 1)::integer      AS service_id,
    split_part(e.meta_data, '_', 2)               AS service_name_nl,
    split_part(e.meta_data, '_', 3)               AS service_name_en,
    split_part(e.meta_data, '_', 4)::numeric(10, 2) AS lead_fee
FROM {{raw}}.event AS e
WHERE e.event_type = 'proposed';
