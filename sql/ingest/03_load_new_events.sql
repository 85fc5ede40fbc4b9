-- Appends the file's new events. Runs only when the file passed the reject-ratio check.
INSERT INTO {{raw}}.event (event_id, event_type, professional_id, created_at, meta_data, source_file, source_line, run_id)
SELECT event_id, event_type, professional_id, created_at, meta_data,
       current_setting('instapro.source_file'), line, current_setting('instapro.run_id')::bigint
FROM incoming_outcome
WHERE outcome = 'new';
