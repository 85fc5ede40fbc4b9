-- One row per service id. Names are type 1 (overwritten): a service carries the names of its
-- latest proposal (by created_at, then event_id); names_seen > 1 flags a service whose name
-- changed over time, and a warn-level data test reports it.
INSERT INTO {{mart}}.dim_service
    (service_id, service_name_nl, service_name_en, names_seen, first_proposed_at, last_proposed_at)
WITH latest_name AS (
    SELECT DISTINCT ON (service_id) service_id, service_name_nl, service_name_en
    FROM {{staging}}.stg_proposal
    ORDER BY service_id, created_at DESC, event_id DESC
)
SELECT
    p.service_id,
    ln.service_name_nl,
    ln.service_name_en,
    count(DISTINCT (p.service_name_nl, p.service_name_en))::integer,
    min(p.created_at),
    max(p.created_at)
FROM {{staging}}.stg_proposal AS p
JOIN latest_name AS ln ON ln.service_id = p.service_id
GROUP BY p.service_id, ln.service_name_nl, ln.service_name_en;
