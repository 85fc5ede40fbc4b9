-- Classifies the valid rows of the file set-based, against the file itself and the loaded events:
--   new        first occurrence of an event_id that is not loaded yet
--   duplicate  identical to a loaded event or to the event_id's first occurrence in the file
--   conflict   same event_id, different content: quarantined, the first seen wins
-- loaded_from names the input of the loaded event with the same event_id (NULL: none loaded).
-- Session settings instapro.run_id and instapro.source_file are set by the caller.

CREATE TEMP TABLE incoming_first ON COMMIT DROP AS
SELECT DISTINCT ON (event_id) event_id, line, event_type, professional_id, created_at, meta_data
FROM incoming
WHERE rejected_reason IS NULL
ORDER BY event_id, line;

CREATE TEMP TABLE incoming_outcome ON COMMIT DROP AS
SELECT
    i.line,
    i.event_id,
    i.event_type,
    i.professional_id,
    i.created_at,
    i.meta_data,
    CASE
        WHEN loaded.event_id IS NOT NULL THEN
            CASE WHEN (loaded.event_type, loaded.professional_id, loaded.created_at, loaded.meta_data)
                      IS NOT DISTINCT FROM (i.event_type, i.professional_id, i.created_at, i.meta_data)
                 THEN 'duplicate' ELSE 'conflict' END
        WHEN first_in_file.line = i.line THEN 'new'
        WHEN (first_in_file.event_type, first_in_file.professional_id, first_in_file.created_at, first_in_file.meta_data)
             IS NOT DISTINCT FROM (i.event_type, i.professional_id, i.created_at, i.meta_data)
            THEN 'duplicate'
        ELSE 'conflict'
    END AS outcome,
    CASE
        WHEN loaded.event_id IS NOT NULL THEN loaded.source_file || ':' || loaded.source_line
        ELSE current_setting('instapro.source_file') || ':' || first_in_file.line
    END AS first_seen_at,
    loaded.source_file AS loaded_from
FROM incoming AS i
JOIN incoming_first AS first_in_file ON first_in_file.event_id = i.event_id
LEFT JOIN {{raw}}.event AS loaded ON loaded.event_id = i.event_id
WHERE i.rejected_reason IS NULL;

-- Rejected and conflicting rows go to the quarantine; seeing the same line again only updates last_run_id.
INSERT INTO {{raw}}.quarantine AS q
    (source_file, source_line, raw_line, field, reason, first_run_id, last_run_id, raw_line_md5)
SELECT
    current_setting('instapro.source_file'),
    r.line,
    r.raw_line,
    r.field,
    r.reason,
    current_setting('instapro.run_id')::bigint,
    current_setting('instapro.run_id')::bigint,
    md5(r.raw_line)
FROM (
    SELECT line, raw_line, rejected_field AS field, rejected_reason AS reason
    FROM incoming
    WHERE rejected_reason IS NOT NULL
    UNION ALL
    SELECT o.line,
           o.event_id || ';' || o.event_type || ';' || o.professional_id || ';'
               || to_char(o.created_at, 'YYYY-MM-DD HH24:MI:SS') || ';' || coalesce(o.meta_data, ''),
           'event_id',
           'conflicting duplicate: event_id ' || o.event_id || ' was first seen at ' || o.first_seen_at || ' with different content'
    FROM incoming_outcome AS o
    WHERE o.outcome = 'conflict'
) AS r
ON CONFLICT (source_file, source_line, raw_line_md5)
DO UPDATE SET last_run_id = excluded.last_run_id, reason = excluded.reason, field = excluded.field;
