-- Availability periods [valid_from, valid_to) per professional: the one place the availability
-- rules are written; dim_professional's current state and the snapshot's starting state derive
-- from it. Rebuilt whole for each professional with an availability event in the increment (a late
-- event can split or merge any of its periods). At equal timestamps the event with the highest
-- event_id decides the state at that instant; an event that does not change the state (a repeated
-- became_able, a became_unable while not able) starts no period.
DELETE FROM {{mart}}.professional_availability_history
WHERE NOT {{full_refresh}}
  AND professional_id IN (
      SELECT i.professional_id FROM {{increment}} AS i
      WHERE i.event_type IN {{availability_event_types}});

INSERT INTO {{mart}}.professional_availability_history
    (professional_id, valid_from, valid_to, is_able, started_by_event_id, is_current)
-- One branch per mode; the planner drops the branch whose mode is false. An incremental build
-- reads the touched professionals' events one professional at a time (LATERAL, through the
-- partial availability index), not a scan of every availability event.
WITH availability_event AS (
    SELECT e.professional_id, e.created_at, e.event_id, e.event_type
    FROM {{mart}}.fct_event AS e
    WHERE {{full_refresh}} AND e.event_type IN {{availability_event_types}}
    UNION ALL
    SELECT e.professional_id, e.created_at, e.event_id, e.event_type
    FROM (SELECT DISTINCT i.professional_id FROM {{increment}} AS i
          WHERE NOT {{full_refresh}} AND i.event_type IN {{availability_event_types}}) AS touched
    CROSS JOIN LATERAL (
        SELECT f.professional_id, f.created_at, f.event_id, f.event_type
        FROM {{mart}}.fct_event AS f
        WHERE f.professional_id = touched.professional_id AND f.event_type IN {{availability_event_types}}
        OFFSET 0  -- keeps the lookup per professional (flattened, the planner scans them all)
    ) AS e
),
state_at_instant AS (
    SELECT DISTINCT ON (e.professional_id, e.created_at)
        e.professional_id,
        e.created_at,
        e.event_id,
        e.event_type = 'became_able_to_propose' AS is_able
    FROM availability_event AS e
    ORDER BY e.professional_id, e.created_at, e.event_id DESC
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
