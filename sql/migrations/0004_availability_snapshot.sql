-- Active professionals per day, written by `instapro snapshot` (sql/snapshot), plus rollups.
CREATE TABLE {{mart}}.availability_snapshot (
    date                         date        PRIMARY KEY,
    active_professionals_count   integer     NOT NULL CHECK (active_professionals_count >= 0),
    able_at_any_moment_count     integer     NOT NULL CHECK (able_at_any_moment_count >= active_professionals_count),
    became_active_count          integer     NOT NULL,  -- not able at the start of the day, able at its end
    became_inactive_count        integer     NOT NULL,  -- able at the start of the day, not able at its end
    computed_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW {{mart}}.availability_snapshot_weekly AS
SELECT
    date_trunc('week', s.date)::date                                             AS week_start,
    min(s.date)                                                                  AS first_date,
    max(s.date)                                                                  AS last_date,
    count(*)::integer                                                            AS days_in_snapshot,
    (array_agg(s.active_professionals_count ORDER BY s.date DESC))[1]            AS active_at_period_end,
    round(avg(s.active_professionals_count), 2)                                  AS avg_daily_active,
    max(s.active_professionals_count)                                            AS max_daily_active
FROM {{mart}}.availability_snapshot AS s
GROUP BY 1;

CREATE VIEW {{mart}}.availability_snapshot_monthly AS
SELECT
    date_trunc('month', s.date)::date                                            AS month_start,
    min(s.date)                                                                  AS first_date,
    max(s.date)                                                                  AS last_date,
    count(*)::integer                                                            AS days_in_snapshot,
    (array_agg(s.active_professionals_count ORDER BY s.date DESC))[1]            AS active_at_period_end,
    round(avg(s.active_professionals_count), 2)                                  AS avg_daily_active,
    max(s.active_professionals_count)                                            AS max_daily_active
FROM {{mart}}.availability_snapshot AS s
GROUP BY 1;
