-- Each proposal is stored once, on its fct_event row, instead of twice (in fct_event and again
-- in a fct_proposal table that repeated its professional, date and timestamp). fct_proposal stays,
-- with the same columns, as a view of fct_event's proposals, so queries against it are unchanged.
-- Why: proposals are most of the events, and the model rebuilds every fact on each run; the
-- second copy cost as much as fct_event itself (its write, three indexes, a primary key and
-- four foreign-key checks: a third of the model's time at 10M events).
--
-- service_id and lead_fee are the proposal's measure and its service; they are set exactly on
-- the proposals (the CHECK below), so sum(lead_fee) over fct_event is the proposals' total.
ALTER TABLE {{mart}}.fct_event
    ADD COLUMN service_id integer REFERENCES {{mart}}.dim_service (service_id),
    ADD COLUMN lead_fee   numeric(10, 2) CHECK (lead_fee >= 0);

-- Keep what the current build holds until the next model run rebuilds it.
UPDATE {{mart}}.fct_event AS e
SET service_id = p.service_id, lead_fee = p.lead_fee
FROM {{mart}}.fct_proposal AS p
WHERE p.event_id = e.event_id;

ALTER TABLE {{mart}}.fct_event
    ADD CONSTRAINT fct_event_service_only_on_proposals  CHECK ((event_type = 'proposed') = (service_id IS NOT NULL)),
    ADD CONSTRAINT fct_event_lead_fee_only_on_proposals CHECK ((event_type = 'proposed') = (lead_fee IS NOT NULL));
-- Serves filters and joins on the service, from fct_event or through the view (service_id = x
-- implies service_id IS NOT NULL, so the planner uses this partial index for both).
CREATE INDEX fct_event_service_idx ON {{mart}}.fct_event (service_id) WHERE service_id IS NOT NULL;

DROP TABLE {{mart}}.fct_proposal;

-- The proposal fields are parsed in one place, stg_event (NULL on other events), and
-- stg_proposal keeps its columns as the proposals of stg_event. ingest has already checked the
-- shape of every proposal's meta_data, so the casts cannot fail.
CREATE OR REPLACE VIEW {{staging}}.stg_event AS
SELECT
    e.event_id,
    e.event_type,
    e.professional_id,
    e.created_at,
    e.created_at::date AS event_date,
    e.meta_data,
    (CASE WHEN e.event_type = 'proposed' THEN split_part(e.meta_data, '_', 1) END)::integer         AS service_id,
    CASE WHEN e.event_type = 'proposed' THEN split_part(e.meta_data, '_', 2) END                    AS service_name_nl,
    CASE WHEN e.event_type = 'proposed' THEN split_part(e.meta_data, '_', 3) END                    AS service_name_en,
    (CASE WHEN e.event_type = 'proposed' THEN split_part(e.meta_data, '_', 4) END)::numeric(10, 2)  AS lead_fee
FROM {{raw}}.event AS e;

CREATE OR REPLACE VIEW {{staging}}.stg_proposal AS
SELECT event_id, professional_id, created_at, event_date, service_id, service_name_nl, service_name_en, lead_fee
FROM {{staging}}.stg_event
WHERE event_type = 'proposed';

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
