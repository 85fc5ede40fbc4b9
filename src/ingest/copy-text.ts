import { EVENT_LOG_DELIMITER } from './event-log-format.js';

/**
 * Ingest sends rows to `COPY ... WITH (FORMAT text, DELIMITER ';', NULL '')`: the event log's own
 * delimiter, so a valid line is already a row of COPY text and goes to the database as the bytes
 * it is. An empty field is NULL (the raw layer stores an empty meta_data as NULL; no other column
 * is ever empty), and a backslash starts an escape.
 */
export const COPY_TEXT_OPTIONS = `FORMAT text, DELIMITER '${EVENT_LOG_DELIMITER}', NULL ''`;

const NEEDS_ESCAPE = /[\\;\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', ';': '\\;', '\n': '\\n', '\r': '\\r' };

/** One value as a field of COPY text. null is the empty field (and so, by NULL '', is an empty string). */
export function copyTextField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  return value.replace(NEEDS_ESCAPE, (c) => ESCAPES[c] as string);
}

/** The buffers ingest hands to COPY. The embedded backend's batches are as large, so there one buffer is one COPY. */
const COPY_CHUNK_BYTES = 256 * 1024;

/**
 * COPY text is written row by row into a byte buffer that is handed over whole once full. Rows
 * never straddle two buffers (the embedded backend runs one COPY per batch of buffers). Nothing is
 * built up as a string over thousands of rows (such a string would be promoted to the old
 * generation, and the heap would grow by megabytes before a full collection reclaims it), and
 * buffers are reused once read (copyFrom reads a chunk before asking for the next): otherwise
 * a dead 256 KB buffer per chunk piles up to tens of MB between collections.
 */
export class CopyBuffer {
  private buffer: Buffer = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
  private used = 0;
  private readonly full: Buffer[] = [];
  private lent: Buffer[] = [];
  private readonly spare: Buffer[] = [];

  /** Makes room for a row of at most `bytes` bytes; call before writing each row. */
  reserve(bytes: number): void {
    if (this.used + bytes <= this.buffer.length) return;
    const taken = this.take();
    if (taken) this.full.push(taken);
    if (bytes > this.buffer.length) this.buffer = Buffer.allocUnsafe(bytes);
  }

  copy(source: Buffer, start: number, end: number): void {
    this.used += source.copy(this.buffer, this.used, start, end);
  }

  byte(value: number): void {
    this.buffer[this.used++] = value;
  }

  /** A non-negative integer in decimal, without making a string of it. */
  integer(value: number): void {
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
    for (let i = this.used + digits - 1, rest = value; i >= this.used; i--, rest = Math.floor(rest / 10)) this.buffer[i] = 0x30 + (rest % 10);
    this.used += digits;
  }

  text(value: string): void {
    this.used += this.buffer.write(value, this.used, 'utf8');
  }

  /** The buffers filled since the last call. */
  takeFull(): Buffer[] {
    return this.full.splice(0);
  }

  /** The bytes written so far (null when none); the next rows go to another buffer. */
  take(): Buffer | null {
    if (this.used === 0) return null;
    const bytes = this.buffer.subarray(0, this.used);
    this.lent.push(this.buffer);
    this.buffer = this.spare.pop() ?? Buffer.allocUnsafe(COPY_CHUNK_BYTES);
    this.used = 0;
    return bytes;
  }

  /** Every buffer handed over so far has been read: they can be written again (a rare oversized one is dropped). */
  reclaim(): void {
    for (const buffer of this.lent) if (buffer.length === COPY_CHUNK_BYTES) this.spare.push(buffer);
    this.lent = [];
  }
}
