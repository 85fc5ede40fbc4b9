-- One row per service id. Names are type 1 (overwritten): a service carries the names of its
-- latest proposal (by created_at, then event_id); names_seen > 1 flags a service whose name
-- changed over time, and a warn-level data test reports it.
-- The proposals are aggregated by hashing into one row per (service, name pair), a handful of
-- groups, never sorted. The pair last proposed wins; only when several pairs of one service were
-- last proposed at the same instant are that instant's proposals read again to let the highest
-- event_id decide (with no such tie the lookup's hash table is empty and reads nothing).
INSERT INTO {{mart}}.dim_service
    (service_id, service_name_nl, service_name_en, names_seen, first_proposed_at, last_proposed_at)
WITH name_pair AS (
    SELECT
        service_id,
        service_name_nl,
        service_name_en,
        min(created_at) AS first_proposed_at,
        max(created_at) AS last_proposed_at
    FROM {{staging}}.stg_proposal
    GROUP BY service_id, service_name_nl, service_name_en
),
service AS (
    SELECT
        service_id,
        count(*)::integer      AS names_seen,
        min(first_proposed_at) AS first_proposed_at,
        max(last_proposed_at)  AS last_proposed_at
    FROM name_pair
    GROUP BY service_id
),
latest_pair AS (
    SELECT s.service_id, s.last_proposed_at, count(*) AS pairs, min(n.service_name_nl) AS service_name_nl, min(n.service_name_en) AS service_name_en
    FROM service AS s
    JOIN name_pair AS n ON n.service_id = s.service_id AND n.last_proposed_at = s.last_proposed_at
    GROUP BY s.service_id, s.last_proposed_at
),
tie_broken AS (
    SELECT DISTINCT ON (p.service_id) p.service_id, p.service_name_nl, p.service_name_en
    FROM {{staging}}.stg_proposal AS p
    JOIN latest_pair AS l ON l.service_id = p.service_id AND l.last_proposed_at = p.created_at AND l.pairs > 1
    ORDER BY p.service_id, p.event_id DESC
)
SELECT
    s.service_id,
    coalesce(t.service_name_nl, l.service_name_nl),
    coalesce(t.service_name_en, l.service_name_en),
    s.names_seen,
    s.first_proposed_at,
    s.last_proposed_at
FROM service AS s
JOIN latest_pair AS l ON l.service_id = s.service_id
LEFT JOIN tie_broken AS t ON t.service_id = s.service_id;
