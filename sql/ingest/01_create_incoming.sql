-- One file's lines, as COPY delivers them: valid rows typed, rejected rows with raw text and reason.
-- Temporary and dropped at commit: nothing of a failed or killed load survives.
CREATE TEMP TABLE incoming (
    line             integer   NOT NULL,
    event_id         bigint,
    event_type       text,
    professional_id  bigint,
    created_at       timestamp,
    meta_data        text,
    raw_line         text,
    rejected_field   text,
    rejected_reason  text
) ON COMMIT DROP;
