-- Records one input object in the manifest, in the transaction that loaded its rows.
-- $1 source, $2 size_bytes, $3 version, $4 sha256, $5 status, $6 rows_read, $7 loaded,
-- $8 rejected, $9 duplicates, $10 run_id.
INSERT INTO {{raw}}.input_manifest AS m
    (source, size_bytes, version, sha256, status, rows_read, loaded, rejected, duplicates, run_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (source) DO UPDATE SET
    size_bytes = excluded.size_bytes, version = excluded.version, sha256 = excluded.sha256,
    status = excluded.status, rows_read = excluded.rows_read, loaded = excluded.loaded,
    rejected = excluded.rejected, duplicates = excluded.duplicates, run_id = excluded.run_id,
    recorded_at = now();
