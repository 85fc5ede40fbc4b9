/**
 * Ingest sends rows to `COPY ... WITH (FORMAT text, DELIMITER ';', NULL '')`: the event log's own
 * delimiter, so a valid line is already a row of COPY text and goes to the database as the bytes
 * it is. An empty field is NULL (the raw layer stores an empty meta_data as NULL; no other column
 * is ever empty), and a backslash starts an escape.
 */
export const COPY_TEXT_OPTIONS = "FORMAT text, DELIMITER ';', NULL ''";

const NEEDS_ESCAPE = /[\\;\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', ';': '\\;', '\n': '\\n', '\r': '\\r' };

/** One value as a field of COPY text. null is the empty field (and so, by NULL '', is an empty string). */
export function copyTextField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  return value.replace(NEEDS_ESCAPE, (c) => ESCAPES[c] as string);
}
