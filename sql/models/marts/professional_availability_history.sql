-- Availability periods [valid_from, valid_to) per professional: the one place the availability
-- rules are written; dim_professional's current state and the snapshot's starting state derive
-- from it. At equal timestamps the event with the highest event_id decides the state at that
-- instant; an event that does not change the state (a repeated became_able, a became_unable while
-- not able) starts no period.
-- An incremental build rewrites, for each professional with an availability event in the
-- increment, the periods from the last one that ended before its earliest new event: a period
-- that ended before that instant is decided by older events only. The rest is recomputed from
-- the events since (a late event can split or merge any later period); with no period left, from
-- all of the professional's events.
DELETE FROM {{mart}}.professional_availability_history AS h
USING (
    SELECT i.professional_id, min(i.created_at) AS first_new_at
    FROM {{increment}} AS i
    WHERE NOT {{full_refresh}} AND i.event_type IN {{availability_event_types}}
    GROUP BY i.professional_id
) AS touched
WHERE h.professional_id = touched.professional_id
  AND (h.valid_to IS NULL OR h.valid_to >= touched.first_new_at);

INSERT INTO {{mart}}.professional_availability_history
    (professional_id, valid_from, valid_to, is_able, started_by_event_id, is_current)
-- One branch per mode; the planner drops the branch whose mode is false. An incremental build
-- reads the touched professionals' events one professional at a time (LATERAL, through the
-- partial availability index), not a scan of every availability event.
WITH availability_event AS (
    SELECT e.professional_id, e.created_at, e.event_id, e.event_type, false AS able_before
    FROM {{mart}}.fct_event AS e
    WHERE {{full_refresh}} AND e.event_type IN {{availability_event_types}}
    UNION ALL
    SELECT e.professional_id, e.created_at, e.event_id, e.event_type, touched.able_before
    FROM (
        -- Where each touched professional's kept periods end (its last one, as the DELETE left
        -- them), and the state they end in.
        SELECT t.professional_id, coalesce(k.valid_to, '-infinity') AS recompute_from, coalesce(k.is_able, false) AS able_before
        FROM (SELECT DISTINCT i.professional_id FROM {{increment}} AS i
              WHERE NOT {{full_refresh}} AND i.event_type IN {{availability_event_types}}) AS t
        LEFT JOIN LATERAL (
            SELECT h.valid_to, h.is_able FROM {{mart}}.professional_availability_history AS h
            WHERE h.professional_id = t.professional_id
            ORDER BY h.valid_from DESC LIMIT 1
        ) AS k ON true
    ) AS touched
    CROSS JOIN LATERAL (
        SELECT f.professional_id, f.created_at, f.event_id, f.event_type
        FROM {{mart}}.fct_event AS f
        WHERE f.professional_id = touched.professional_id AND f.created_at >= touched.recompute_from
          AND f.event_type IN {{availability_event_types}}
        OFFSET 0  -- keeps the lookup per professional (flattened, the planner scans them all)
    ) AS e
),
state_at_instant AS (
    SELECT DISTINCT ON (e.professional_id, e.created_at)
        e.professional_id,
        e.created_at,
        e.event_id,
        e.event_type = 'became_able_to_propose' AS is_able,
        e.able_before
    FROM availability_event AS e
    ORDER BY e.professional_id, e.created_at, e.event_id DESC
),
with_previous AS (
    SELECT s.*,
           coalesce(lag(is_able) OVER (PARTITION BY professional_id ORDER BY created_at), able_before) AS was_able
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
