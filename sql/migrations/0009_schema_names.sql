-- The mart and staging schemas that belong to this raw schema. Migrations are recorded in {{raw}}
-- only, so a run with another INSTAPRO_SCHEMA or INSTAPRO_STAGING_SCHEMA would find those schemas
-- missing; the migration runner compares the configured names with these first and refuses a
-- change with a configuration error. It fills the row (the names as values, not identifiers).
CREATE TABLE {{raw}}.schema_names (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    mart_schema     text NOT NULL,
    staging_schema  text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
