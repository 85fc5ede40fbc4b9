-- Every input object ingest has read, one row per path or s3:// URL (its latest load): what it
-- was (size, version, SHA-256 of the stored bytes), what came of it and in which run. An object
-- whose size and version are those of a 'loaded' row is skipped without being read.
CREATE TABLE {{raw}}.input_manifest (
    source       text        PRIMARY KEY,
    size_bytes   bigint      NOT NULL,
    -- mtime:<ns>,ino:<n> for a local file, etag:<ETag> for an S3 object
    version      text        NOT NULL,
    sha256       text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('loaded', 'rejected')),
    rows_read    bigint      NOT NULL,
    loaded       bigint      NOT NULL,
    rejected     bigint      NOT NULL,
    duplicates   bigint      NOT NULL,
    run_id       bigint      NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
