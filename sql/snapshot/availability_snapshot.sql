-- Rebuilds instapro.availability_snapshot for the days [{{from_date}}, {{to_date}}] (inclusive;
-- date literals, so the planner estimates the range from the tables' statistics). Semantics (docs/availability.md):
--   * only became_able_to_propose / became_unable_to_propose change a professional's state;
--   * the state at an instant is the type of the latest availability event at or before it,
--     ordered by created_at, then event_id; no availability event yet means not able;
--   * active_professionals_count(D) = professionals able at the end of D;
--   * able_at_any_moment_count(D) = professionals able at the start of D or who became able during D.
-- Cost grows with the range's availability events and days, not with the history: the state at
-- the start of the range comes from professional_availability_history, and within the range a
-- running sum of +1/-1 changes over a date spine gives the count. Recomputing any range therefore
-- gives exactly what a full rebuild gives for those days.
DELETE FROM {{mart}}.availability_snapshot
WHERE date BETWEEN {{from_date}} AND {{to_date}};

INSERT INTO {{mart}}.availability_snapshot
    (date, active_professionals_count, able_at_any_moment_count, became_active_count, became_inactive_count)
WITH bounds AS (
    SELECT {{from_date}} AS from_date, {{to_date}} AS to_date
),
availability_event AS (
    -- A literal list (from dim_event_type), so fct_event_availability_date_idx can find the range's
    -- events; the same range on created_at confines the scan to its partitions.
    SELECT e.professional_id, e.event_date, e.created_at, e.event_id,
           e.event_type = 'became_able_to_propose' AS is_able
    FROM {{mart}}.fct_event AS e
    WHERE e.event_type IN {{availability_event_types}}
      AND e.event_date BETWEEN {{from_date}} AND {{to_date}}
      AND e.created_at >= {{from_date}} AND e.created_at < {{to_date}} + 1
),
professional_day AS (
    -- The last availability event of the day decides the state at the day's end.
    SELECT
        professional_id,
        event_date,
        (array_agg(is_able ORDER BY created_at DESC, event_id DESC))[1] AS able_at_end,
        bool_or(is_able) AS had_became_able
    FROM availability_event
    GROUP BY professional_id, event_date
),
state_before_range AS (
    -- A professional's state when the range starts: that of its last period begun before it.
    SELECT DISTINCT ON (h.professional_id) h.professional_id, h.is_able
    FROM {{mart}}.professional_availability_history AS h
    WHERE h.professional_id IN (SELECT professional_id FROM professional_day)
      AND h.valid_from < {{from_date}}
    ORDER BY h.professional_id, h.valid_from DESC
),
professional_day_change AS (
    SELECT
        d.event_date,
        d.able_at_end,
        d.had_became_able,
        coalesce(lag(d.able_at_end) OVER (PARTITION BY d.professional_id ORDER BY d.event_date), s.is_able, false) AS able_at_start
    FROM professional_day AS d
    LEFT JOIN state_before_range AS s ON s.professional_id = d.professional_id
),
daily_change AS (
    SELECT
        event_date,
        count(*) FILTER (WHERE able_at_end AND NOT able_at_start)          AS became_active,
        count(*) FILTER (WHERE able_at_start AND NOT able_at_end)          AS became_inactive,
        count(*) FILTER (WHERE had_became_able AND NOT able_at_start)      AS able_during_day_only
    FROM professional_day_change
    GROUP BY event_date
),
active_before_range AS (
    -- Professionals able when the range starts: their able period began before it and had not ended.
    SELECT count(*) AS active
    FROM {{mart}}.professional_availability_history AS h
    WHERE h.is_able AND h.valid_from < {{from_date}} AND (h.valid_to IS NULL OR h.valid_to >= {{from_date}})
),
spine AS (
    SELECT generate_series(b.from_date, b.to_date, interval '1 day')::date AS date
    FROM bounds AS b
),
daily AS (
    SELECT
        s.date,
        coalesce(c.became_active, 0)        AS became_active,
        coalesce(c.became_inactive, 0)      AS became_inactive,
        coalesce(c.able_during_day_only, 0) AS able_during_day_only,
        (SELECT active FROM active_before_range)
          + sum(coalesce(c.became_active, 0) - coalesce(c.became_inactive, 0)) OVER (ORDER BY s.date) AS active_at_end
    FROM spine AS s
    LEFT JOIN daily_change AS c ON c.event_date = s.date
)
SELECT
    date,
    active_at_end,
    -- able at the start of D (= at the end of D-1) plus those who were not and became able during D
    active_at_end - became_active + became_inactive + able_during_day_only,
    became_active,
    became_inactive
FROM daily;
