-- One row per calendar day from the first to the last event date; a build adds the days its
-- events extend that range by. On a full refresh the bounds come from dim_professional, whose first
-- and last events span the log (a few rows per professional instead of every event); otherwise from
-- the days already there and the increment's.
INSERT INTO {{mart}}.dim_date
    (date_key, date, iso_year, iso_week, week_start, month, month_start, month_name, quarter, year, iso_weekday, weekday_name, is_weekend)
SELECT
    to_char(d, 'YYYYMMDD')::integer,
    d,
    extract(isoyear FROM d)::integer,
    extract(week FROM d)::integer,
    date_trunc('week', d)::date,
    extract(month FROM d)::integer,
    date_trunc('month', d)::date,
    trim(to_char(d, 'Month')),
    extract(quarter FROM d)::integer,
    extract(year FROM d)::integer,
    extract(isodow FROM d)::integer,
    trim(to_char(d, 'Day')),
    extract(isodow FROM d) IN (6, 7)
FROM (
    SELECT generate_series(min(first_day), max(last_day), interval '1 day')::date AS d
    FROM (
        SELECT min(first_event_at)::date AS first_day, max(last_event_at)::date AS last_day
        FROM {{mart}}.dim_professional WHERE {{full_refresh}}
        UNION ALL
        SELECT min(date), max(date) FROM {{mart}}.dim_date WHERE NOT {{full_refresh}}
        UNION ALL
        SELECT min(event_date), max(event_date) FROM {{increment}} WHERE NOT {{full_refresh}}
    ) AS bounds
) AS days
WHERE d IS NOT NULL
ON CONFLICT (date_key) DO NOTHING;
