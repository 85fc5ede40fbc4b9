-- One row per service, recomputed from dim_service_name for the services the increment proposed
-- on. Names are type 1: those of the service's latest proposal (by created_at, then event_id);
-- names_seen > 1 flags a renamed service (a warn-level data test reports it).
-- The pair last proposed wins. Only when several pairs of one service were last proposed at the
-- same instant are that instant's proposals read (earlier ones from fct_event, new ones from the
-- increment) to let the highest event_id decide; without a tie that lookup reads nothing.
INSERT INTO {{mart}}.dim_service AS s
    (service_id, service_name_nl, service_name_en, names_seen, first_proposed_at, last_proposed_at)
WITH name_pair AS (
    SELECT n.*
    FROM {{mart}}.dim_service_name AS n
    WHERE {{full_refresh}} OR n.service_id IN (SELECT i.service_id FROM {{increment}} AS i WHERE i.service_id IS NOT NULL)
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
tie AS (
    SELECT service_id, last_proposed_at FROM latest_pair WHERE pairs > 1
),
tie_candidate AS (
    SELECT f.service_id, f.event_id, r.service_name_nl, r.service_name_en
    FROM tie AS t
    JOIN {{mart}}.fct_event AS f ON f.service_id = t.service_id AND f.created_at = t.last_proposed_at
    JOIN {{staging}}.stg_event AS r ON r.event_id = f.event_id
    UNION ALL
    SELECT i.service_id, i.event_id, i.service_name_nl, i.service_name_en
    FROM tie AS t
    JOIN {{increment}} AS i ON i.service_id = t.service_id AND i.created_at = t.last_proposed_at
),
tie_broken AS (
    SELECT DISTINCT ON (service_id) service_id, service_name_nl, service_name_en
    FROM tie_candidate
    ORDER BY service_id, event_id DESC
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
LEFT JOIN tie_broken AS t ON t.service_id = s.service_id
ON CONFLICT (service_id) DO UPDATE SET
    service_name_nl   = excluded.service_name_nl,
    service_name_en   = excluded.service_name_en,
    names_seen        = excluded.names_seen,
    first_proposed_at = excluded.first_proposed_at,
    last_proposed_at  = excluded.last_proposed_at;
