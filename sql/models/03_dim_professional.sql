-- One row per professional seen in any event.
INSERT INTO {{mart}}.dim_professional
    (professional_id, account_created_at, first_event_at, last_event_at, is_currently_able, last_availability_change_at, proposals_count)
WITH latest_availability AS (
    SELECT DISTINCT ON (professional_id)
        professional_id,
        event_type = 'became_able_to_propose' AS is_able,
        created_at
    FROM {{staging}}.stg_event
    WHERE event_type IN ('became_able_to_propose', 'became_unable_to_propose')
    ORDER BY professional_id, created_at DESC, event_id DESC
)
SELECT
    e.professional_id,
    min(e.created_at) FILTER (WHERE e.event_type = 'created_account'),
    min(e.created_at),
    max(e.created_at),
    coalesce(bool_or(la.is_able), false),
    max(la.created_at),
    count(*) FILTER (WHERE e.event_type = 'proposed')
FROM {{staging}}.stg_event AS e
LEFT JOIN latest_availability AS la ON la.professional_id = e.professional_id
GROUP BY e.professional_id;
