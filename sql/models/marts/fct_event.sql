-- One row per valid event, appended from the increment (events are new by event_id). date_key is
-- looked up in dim_date (a hash join on a few hundred days costs less than formatting every
-- event's date); dim_date spans every event date, and a missing day would fail NOT NULL.
-- A proposal's service and lead fee (a measure of the proposal) are on its row, NULL on other
-- events; fct_proposal is the view of the proposals.
--
-- fct_event is range-partitioned on created_at (migration 0011): fct_event_YYYYMM per month and,
-- for the latest month, fct_event_YYYYMMDD per day. A full refresh lays the partitions out again
-- (keys and indexes are built after the load, models.yml bulk_load). An incremental build loads a
-- day that has no partition yet into a table of its own and attaches it: its indexes are built
-- with one sort and each foreign key checked with one join, where rows inserted into an existing
-- partition (late events) pay an index insertion and four foreign-key triggers each.
DO $fct_event$
DECLARE
    partition record;
    new_day date;
    attached_days date[] := '{}';
BEGIN
    IF {{full_refresh}} THEN
        FOR partition IN
            SELECT i.inhrelid::regclass AS name FROM pg_inherits AS i WHERE i.inhparent = '{{mart}}.fct_event'::regclass
        LOOP
            EXECUTE format('DROP TABLE %s', partition.name);
        END LOOP;
        -- dim_date spans the first to the last event date: months before the last one, then its days.
        FOR partition IN
            WITH span AS (SELECT min(date) AS first_day, max(date) AS last_day FROM {{mart}}.dim_date)
            SELECT 'fct_event_' || to_char(m, 'YYYYMM') AS name, m AS from_ts, m + interval '1 month' AS to_ts
            FROM span, generate_series(date_trunc('month', first_day), date_trunc('month', last_day) - interval '1 month', interval '1 month') AS m
            UNION ALL
            SELECT 'fct_event_' || to_char(d, 'YYYYMMDD'), d, d + interval '1 day'
            FROM span, generate_series(greatest(first_day, date_trunc('month', last_day)), last_day, interval '1 day') AS d
        LOOP
            EXECUTE format('CREATE TABLE {{mart}}.%I PARTITION OF {{mart}}.fct_event FOR VALUES FROM (%L) TO (%L)',
                           partition.name, partition.from_ts, partition.to_ts);
        END LOOP;
    ELSE
        FOR new_day IN
            SELECT d.event_date FROM (SELECT DISTINCT i.event_date FROM {{increment}} AS i) AS d
            WHERE to_regclass(format('{{mart}}.%I', 'fct_event_' || to_char(d.event_date, 'YYYYMMDD'))) IS NULL
              AND to_regclass(format('{{mart}}.%I', 'fct_event_' || to_char(d.event_date, 'YYYYMM'))) IS NULL
            ORDER BY 1
        LOOP
            EXECUTE format($sql$
                CREATE TABLE {{mart}}.%1$I (LIKE {{mart}}.fct_event INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
                INSERT INTO {{mart}}.%1$I (event_id, event_type, professional_id, date_key, created_at, event_date, service_id, lead_fee)
                SELECT e.event_id, e.event_type, e.professional_id, d.date_key, e.created_at, e.event_date, e.service_id, e.lead_fee
                FROM {{increment}} AS e
                LEFT JOIN {{mart}}.dim_date AS d ON d.date = e.event_date
                WHERE e.event_date = %2$L;
                -- The CHECK proves the partition bound, so ATTACH does not scan the rows again.
                ALTER TABLE {{mart}}.%1$I ADD CONSTRAINT %3$I CHECK (created_at >= %4$L AND created_at < %5$L);
                ALTER TABLE {{mart}}.fct_event ATTACH PARTITION {{mart}}.%1$I FOR VALUES FROM (%4$L) TO (%5$L);
                ALTER TABLE {{mart}}.%1$I DROP CONSTRAINT %3$I;
                ANALYZE {{mart}}.%1$I;
                $sql$,
                'fct_event_' || to_char(new_day, 'YYYYMMDD'), new_day, 'fct_event_' || to_char(new_day, 'YYYYMMDD') || '_bound',
                new_day::timestamp, (new_day + 1)::timestamp);
            attached_days := attached_days || new_day;
        END LOOP;
    END IF;

    INSERT INTO {{mart}}.fct_event (event_id, event_type, professional_id, date_key, created_at, event_date, service_id, lead_fee)
    SELECT e.event_id, e.event_type, e.professional_id, d.date_key, e.created_at, e.event_date, e.service_id, e.lead_fee
    FROM {{increment}} AS e
    LEFT JOIN {{mart}}.dim_date AS d ON d.date = e.event_date
    WHERE e.event_date <> ALL (attached_days);
END
$fct_event$;
