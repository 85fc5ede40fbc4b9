-- Raw layer: validated events exactly as loaded, rows that failed validation, and the run log.
-- {{raw}} is created by the migration runner (it holds schema_migration).

CREATE TABLE {{raw}}.pipeline_run (
    run_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    command      text        NOT NULL,
    status       text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at  timestamptz,
    error        text
);

-- One row per run and step: what the step did and how long it took.
CREATE TABLE {{raw}}.pipeline_step_log (
    run_id       bigint      NOT NULL REFERENCES {{raw}}.pipeline_run (run_id),
    step         text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('succeeded', 'failed')),
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    duration_ms  integer     NOT NULL,
    rows_read    bigint,
    loaded       bigint,
    rejected     bigint,
    duplicates   bigint,
    details      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error        text,
    PRIMARY KEY (run_id, step)
);

-- Every valid event, once. event_id is the natural key: first seen wins.
CREATE TABLE {{raw}}.event (
    event_id         bigint      PRIMARY KEY,
    event_type       text        NOT NULL,
    professional_id  bigint      NOT NULL,
    created_at       timestamp   NOT NULL,
    meta_data        text,
    source_file      text        NOT NULL,
    source_line      integer     NOT NULL,
    run_id           bigint      NOT NULL REFERENCES {{raw}}.pipeline_run (run_id),
    loaded_at        timestamptz NOT NULL DEFAULT now()
);

-- Rows that could not be loaded, with where they came from and why. Reading the same bad row of
-- the same file again does not add a second row.
CREATE TABLE {{raw}}.quarantine (
    quarantine_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_file      text        NOT NULL,
    source_line      integer     NOT NULL,
    raw_line         text        NOT NULL,
    field            text,
    reason           text        NOT NULL,
    first_run_id     bigint      NOT NULL REFERENCES {{raw}}.pipeline_run (run_id),
    last_run_id      bigint      NOT NULL REFERENCES {{raw}}.pipeline_run (run_id),
    quarantined_at   timestamptz NOT NULL DEFAULT now(),
    raw_line_md5     text        NOT NULL,
    UNIQUE (source_file, source_line, raw_line_md5)
);
CREATE INDEX quarantine_last_run_idx ON {{raw}}.quarantine (last_run_id);
