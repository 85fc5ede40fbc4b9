-- The incremental model (sql/models): after a first full build, `instapro model` merges only the
-- events loaded since its last build. What it needs to know between runs is kept here, per mart
-- schema, and written in the model's own transaction, so a killed build leaves the previous state.
CREATE TABLE {{raw}}.model_state (
    mart_schema               text        PRIMARY KEY,
    -- Every raw event with run_id <= this is in the mart; the next build merges those after it.
    built_through_run_id      bigint      NOT NULL,
    -- The last build merged the events after this run (NULL: it was a full refresh); `instapro
    -- test --incremental` checks those rows.
    increment_after_run_id    bigint,
    -- Of the model definition (migrations and model SQL) the mart was built with: another one
    -- forces a full refresh.
    model_fingerprint         text        NOT NULL,
    -- Set by the guard below when loaded events change other than by appending.
    full_refresh_required     boolean     NOT NULL DEFAULT false,
    built_at                  timestamptz NOT NULL DEFAULT now(),
    -- What the snapshot still has to recompute after the last build: everything, or the days
    -- from this one on (NULL: nothing); cleared by the snapshot step in its own transaction.
    snapshot_rebuild_pending  boolean     NOT NULL DEFAULT true,
    snapshot_pending_from     date,
    -- Of the snapshot SQL that last rebuilt the whole snapshot: another one rebuilds it.
    snapshot_fingerprint      text
);

-- The increment is "events appended since the last build". Anything else done to loaded events
-- (an UPDATE, a DELETE, a TRUNCATE by hand or by a test) makes the next build a full refresh,
-- so the mart can never silently diverge from the raw layer. One call per statement, not per row.
CREATE FUNCTION {{raw}}.require_full_model_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {{raw}}.model_state SET full_refresh_required = true WHERE NOT full_refresh_required;
    RETURN NULL;
END
$$;
CREATE TRIGGER event_changed_other_than_appended
    AFTER UPDATE OR DELETE OR TRUNCATE ON {{raw}}.event
    FOR EACH STATEMENT EXECUTE FUNCTION {{raw}}.require_full_model_refresh();

-- Every (service, Dutch name, English name) a service was proposed under: dim_service takes its
-- names and names_seen from here, so a build merges a day's proposals into a few rows instead of
-- reading every proposal of the services it touched.
CREATE TABLE {{mart}}.dim_service_name (
    service_id         integer    NOT NULL,
    service_name_nl    text       NOT NULL,
    service_name_en    text       NOT NULL,
    first_proposed_at  timestamp  NOT NULL,
    last_proposed_at   timestamp  NOT NULL,
    proposals_count    integer    NOT NULL,
    PRIMARY KEY (service_id, service_name_nl, service_name_en)
);

-- The snapshot recomputes a range of days: its availability events are found by day. Partial,
-- like fct_event_availability_idx: a few percent of the events (an index predicate must be literal).
CREATE INDEX fct_event_availability_date_idx ON {{mart}}.fct_event (event_date)
    WHERE event_type IN ('became_able_to_propose', 'became_unable_to_propose');
