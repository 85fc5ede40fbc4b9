-- fct_event becomes range-partitioned on created_at, so a daily build attaches the day's rows as a
-- table of their own: PostgreSQL then builds its indexes with one sort and checks each foreign key
-- with one join, instead of an index insertion and four foreign-key triggers per row (3.8-5.7 s
-- against 0.84 s for a day of a 10M-event history: docs/scaling.md). The model keeps the layout
-- (sql/models/marts/fct_event.sql): a partition per month, and per day for the latest month.
--
-- A key of a partitioned table must contain the partition key, so the primary key becomes
-- (event_id, created_at); event_id stays unique because raw.event's primary key is event_id and
-- fct_event holds exactly raw's (event_id, created_at) pairs (reconcile_fct_event_with_raw).
-- The history's foreign key to the event that started a period goes: checked against a
-- partitioned table it cost ~55 us per history row (a daily build rewrites the touched
-- professionals' periods: 0.9 s at 10M events). The data test
-- availability_period_started_by_its_event checks more than it did (same professional, the
-- event type that sets the period's state). The rows are kept (the model's next build is a full
-- refresh anyway: its definition changed).
DROP VIEW {{mart}}.fct_proposal;
ALTER TABLE {{mart}}.professional_availability_history
    DROP CONSTRAINT professional_availability_history_started_by_event_id_fkey;

ALTER TABLE {{mart}}.fct_event RENAME TO fct_event_unpartitioned;
ALTER INDEX {{mart}}.fct_event_pkey RENAME TO fct_event_unpartitioned_pkey;
ALTER INDEX {{mart}}.fct_event_professional_idx RENAME TO fct_event_unpartitioned_professional_idx;
ALTER INDEX {{mart}}.fct_event_date_idx RENAME TO fct_event_unpartitioned_date_idx;
ALTER INDEX {{mart}}.fct_event_availability_idx RENAME TO fct_event_unpartitioned_availability_idx;
ALTER INDEX {{mart}}.fct_event_service_idx RENAME TO fct_event_unpartitioned_service_idx;
ALTER INDEX {{mart}}.fct_event_availability_date_idx RENAME TO fct_event_unpartitioned_availability_date_idx;

CREATE TABLE {{mart}}.fct_event (
    event_id         bigint          NOT NULL,
    event_type       text            NOT NULL,
    professional_id  bigint          NOT NULL,
    date_key         integer         NOT NULL,
    created_at       timestamp       NOT NULL,
    event_date       date            NOT NULL,
    service_id       integer,
    lead_fee         numeric(10, 2),
    CONSTRAINT fct_event_lead_fee_check CHECK (lead_fee >= 0),
    CONSTRAINT fct_event_service_only_on_proposals  CHECK ((event_type = 'proposed') = (service_id IS NOT NULL)),
    CONSTRAINT fct_event_lead_fee_only_on_proposals CHECK ((event_type = 'proposed') = (lead_fee IS NOT NULL))
) PARTITION BY RANGE (created_at);

-- One partition per month of the rows kept; the next full refresh lays them out as the model does.
DO $partitions$
DECLARE
    month timestamp;
BEGIN
    FOR month IN
        SELECT generate_series(date_trunc('month', min(created_at)), date_trunc('month', max(created_at)), interval '1 month')
        FROM {{mart}}.fct_event_unpartitioned
    LOOP
        EXECUTE format('CREATE TABLE {{mart}}.%I PARTITION OF {{mart}}.fct_event FOR VALUES FROM (%L) TO (%L)',
                       'fct_event_' || to_char(month, 'YYYYMM'), month, month + interval '1 month');
    END LOOP;
END
$partitions$;

INSERT INTO {{mart}}.fct_event (event_id, event_type, professional_id, date_key, created_at, event_date, service_id, lead_fee)
SELECT event_id, event_type, professional_id, date_key, created_at, event_date, service_id, lead_fee
FROM {{mart}}.fct_event_unpartitioned;
DROP TABLE {{mart}}.fct_event_unpartitioned;

ALTER TABLE {{mart}}.fct_event
    ADD CONSTRAINT fct_event_pkey PRIMARY KEY (event_id, created_at),
    ADD CONSTRAINT fct_event_event_type_fkey FOREIGN KEY (event_type) REFERENCES {{mart}}.dim_event_type (event_type),
    ADD CONSTRAINT fct_event_professional_id_fkey FOREIGN KEY (professional_id) REFERENCES {{mart}}.dim_professional (professional_id),
    ADD CONSTRAINT fct_event_date_key_fkey FOREIGN KEY (date_key) REFERENCES {{mart}}.dim_date (date_key),
    ADD CONSTRAINT fct_event_service_id_fkey FOREIGN KEY (service_id) REFERENCES {{mart}}.dim_service (service_id);
CREATE INDEX fct_event_professional_idx ON {{mart}}.fct_event (professional_id);
CREATE INDEX fct_event_date_idx ON {{mart}}.fct_event USING brin (date_key);
CREATE INDEX fct_event_availability_idx ON {{mart}}.fct_event (professional_id, created_at, event_id)
    WHERE event_type IN ('became_able_to_propose', 'became_unable_to_propose');
CREATE INDEX fct_event_service_idx ON {{mart}}.fct_event (service_id) WHERE service_id IS NOT NULL;
CREATE INDEX fct_event_availability_date_idx ON {{mart}}.fct_event (event_date)
    WHERE event_type IN ('became_able_to_propose', 'became_unable_to_propose');

CREATE VIEW {{mart}}.fct_proposal AS
SELECT
    event_id,
    professional_id,
    service_id,
    date_key,
    created_at,
    lead_fee
FROM {{mart}}.fct_event
WHERE event_type = 'proposed';

-- Professionals without a created_account event are few: the warning test that lists them (and an
-- analyst's query for them) reads this index instead of looking up every professional of a day.
CREATE INDEX dim_professional_without_account_idx ON {{mart}}.dim_professional (professional_id)
    WHERE account_created_at IS NULL;
