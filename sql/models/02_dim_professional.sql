-- One row per professional seen in any event.
-- The events are aggregated per professional by hashing, and only then joined to the latest
-- availability event of each professional (a few rows per professional instead of one per event).
INSERT INTO {{mart}}.dim_professional
    (professional_id, account_created_at, first_event_at, last_event_at, is_currently_able, last_availability_change_at, proposals_count)
WITH professional_events AS (
    SELECT
        professional_id,
        min(created_at) FILTER (WHERE event_type = 'created_account') AS account_created_at,
        min(created_at) AS first_event_at,
        max(created_at) AS last_event_at,
        count(*) FILTER (WHERE event_type = 'proposed')::integer AS proposals_count
    FROM {{staging}}.stg_event
    GROUP BY professional_id
),
latest_availability AS (
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
    e.account_created_at,
    e.first_event_at,
    e.last_event_at,
    coalesce(la.is_able, false),
    la.created_at,
    e.proposals_count
FROM professional_events AS e
LEFT JOIN latest_availability AS la ON la.professional_id = e.professional_id;
