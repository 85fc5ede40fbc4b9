-- One row per calendar day from the first to the last event date. The bounds come from
-- dim_professional (built just before: every event belongs to a professional, so its first and
-- last events span the log) instead of another scan of every event.
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
    SELECT generate_series(min(first_event_at)::date, max(last_event_at)::date, interval '1 day')::date AS d
    FROM {{mart}}.dim_professional
) AS days
WHERE d IS NOT NULL;
