/** The event log's file format: `;`-separated, one event per line, with this header. */
export const EVENT_LOG_HEADER = ['event_id', 'event_type', 'professional_id_anonymized', 'created_at', 'meta_data'] as const;
export const EVENT_LOG_DELIMITER = ';';
/** The delimiter as a byte, for code that works on the file's bytes without decoding them. */
export const EVENT_LOG_DELIMITER_BYTE = EVENT_LOG_DELIMITER.charCodeAt(0);

export const EVENT_TYPES = ['created_account', 'became_able_to_propose', 'became_unable_to_propose', 'proposed'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const AVAILABILITY_EVENT_TYPES: readonly EventType[] = ['became_able_to_propose', 'became_unable_to_propose'];

/** `{service_id}_{service_name_nl}_{service_name_en}_{lead_fee}` */
export const PROPOSAL_META_SEPARATOR = '_';
