-- Availability periods per professional, [valid_from, valid_to). At equal timestamps the event
-- with the highest event_id decides the state at that instant; events that do not change the
-- state (a repeated became_able, a became_unable while not able) start no period.
INSERT INTO {{mart}}.professional_availability_history
    (professional_id, valid_from, valid_to, is_able, started_by_event_id, is_current)
WITH state_at_instant AS (
    SELECT DISTINCT ON (professional_id, created_at)
        professional_id,
        created_at,
        event_id,
        event_type = 'became_able_to_propose' AS is_able
    FROM {{mart}}.fct_event
    WHERE event_type IN ('became_able_to_propose', 'became_unable_to_propose')
    ORDER BY professional_id, created_at, event_id DESC
),
with_previous AS (
    SELECT s.*,
           coalesce(lag(is_able) OVER (PARTITION BY professional_id ORDER BY created_at), false) AS was_able
    FROM state_at_instant AS s
),
changes AS (
    SELECT * FROM with_previous WHERE is_able <> was_able
)
SELECT
    professional_id,
    created_at,
    lead(created_at) OVER (PARTITION BY professional_id ORDER BY created_at),
    is_able,
    event_id,
    lead(created_at) OVER (PARTITION BY professional_id ORDER BY created_at) IS NULL
FROM changes;
