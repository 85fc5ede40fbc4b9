-- One row per professional seen in any event. The increment's events are aggregated per
-- professional and merged into the row it has (least, greatest, sum): events are new by event_id,
-- so nothing is counted twice, and a late event moves first_event_at back exactly.
-- The availability columns are set from the history afterwards (dim_professional_availability.sql).
INSERT INTO {{mart}}.dim_professional AS p
    (professional_id, account_created_at, first_event_at, last_event_at, is_currently_able, last_availability_change_at, proposals_count)
SELECT
    e.professional_id,
    min(e.created_at) FILTER (WHERE e.event_type = 'created_account'),
    min(e.created_at),
    max(e.created_at),
    false,
    NULL,
    count(*) FILTER (WHERE e.event_type = 'proposed')::integer
FROM {{increment}} AS e
GROUP BY e.professional_id
ON CONFLICT (professional_id) DO UPDATE SET
    account_created_at = least(p.account_created_at, excluded.account_created_at),
    first_event_at     = least(p.first_event_at, excluded.first_event_at),
    last_event_at      = greatest(p.last_event_at, excluded.last_event_at),
    proposals_count    = p.proposals_count + excluded.proposals_count;
