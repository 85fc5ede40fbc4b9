-- Every name pair a service was proposed under: the increment's proposals, grouped by pair (a
-- handful of groups) and merged into the pairs already seen.
INSERT INTO {{mart}}.dim_service_name AS n
    (service_id, service_name_nl, service_name_en, first_proposed_at, last_proposed_at, proposals_count)
SELECT
    e.service_id,
    e.service_name_nl,
    e.service_name_en,
    min(e.created_at),
    max(e.created_at),
    count(*)::integer
FROM {{increment}} AS e
WHERE e.event_type = 'proposed'
GROUP BY e.service_id, e.service_name_nl, e.service_name_en
ON CONFLICT (service_id, service_name_nl, service_name_en) DO UPDATE SET
    first_proposed_at = least(n.first_proposed_at, excluded.first_proposed_at),
    last_proposed_at  = greatest(n.last_proposed_at, excluded.last_proposed_at),
    proposals_count   = n.proposals_count + excluded.proposals_count;
