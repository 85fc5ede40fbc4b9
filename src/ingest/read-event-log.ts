import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import Papa from 'papaparse';
import { EVENT_LOG_DELIMITER, EVENT_LOG_HEADER } from './event-log-format.js';
import { InputFileError } from '../util/errors.js';

/**
 * Consecutive physical lines of an event log: `rows[i]` is line `firstLine + i` (1-based; the
 * header is line 1) split into fields. Without quoting, a line's text is exactly its fields joined
 * by the delimiter. Blank lines are kept as `['']` so the numbering needs no per-line bookkeeping;
 * callers skip them (isBlankLine). Batches, not line objects, because a file has millions of lines.
 */
export interface EventLogBatch {
  firstLine: number;
  rows: string[][];
  /** Set when the batch is one line longer than MAX_LINE_CHARS: `rows[0][0]` then holds only its start. */
  overlongChars?: number;
}

export const isBlankLine = (fields: readonly string[]): boolean => fields.length === 1 && fields[0] === '';

const HEADER_PROBE_BYTES = 64 * 1024;
const READ_CHUNK_BYTES = 128 * 1024;
/**
 * A line longer than this is rejected whole without being parsed, and only its start is kept,
 * so a file without line breaks cannot make the reader hold it in memory.
 */
export const MAX_LINE_CHARS = 1024 * 1024;

/**
 * Whole-file checks, done for every input before anything is loaded: the file exists, is not
 * empty and starts with the expected header. Returns the file size (for progress).
 */
export async function checkEventLogFile(file: string): Promise<{ bytes: number }> {
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new InputFileError(`${file}: not a regular file`);
    size = info.size;
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputFileError(`${file}: ${code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`);
  }
  if (size === 0) throw new InputFileError(`${file}: file is empty (expected the header ${EVENT_LOG_HEADER.join(';')})`);

  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(size, HEADER_PROBE_BYTES));
    await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer.toString('utf8').replace(/^\uFEFF/, '');
    const firstLine = (text.split('\n', 1)[0] ?? '').replace(/\r$/, '');
    const expected = EVENT_LOG_HEADER.join(EVENT_LOG_DELIMITER);
    if (firstLine !== expected) {
      throw new InputFileError(`${file}:1: wrong header: expected ${JSON.stringify(expected)}, found ${JSON.stringify(firstLine.slice(0, 200))}`);
    }
  } finally {
    await handle.close();
  }
  return { bytes: size };
}

const PARSE_CONFIG = {
  delimiter: EVENT_LOG_DELIMITER,
  newline: '\n',
  // The format has no quoted fields: a stray quote must cost one quarantined line, not swallow
  // the lines after it. Fast mode treats quotes as ordinary characters (and is what makes
  // papaparse several times faster than a character-by-character parser).
  fastMode: true,
  skipEmptyLines: false,
} as const;

/** Splits whole lines (no trailing newline) into fields, one array per physical line. */
function parseLines(text: string): string[][] {
  // papaparse drops a byte order mark at the start of its input; only the file's first one is
  // one (TextDecoder has removed it), so a U+FEFF that starts a later chunk stays in the data.
  if (text.charCodeAt(0) === 0xfeff) return Papa.parse<string[]>(`\n${text}`, PARSE_CONFIG).data.slice(1);
  if (text === '') return [['']];
  return Papa.parse<string[]>(text, PARSE_CONFIG).data;
}

/**
 * Streams the data lines of an event log in batches (header excluded), never holding the file in
 * memory: the file is read in 128 KB chunks, each cut after its last line break and parsed by
 * papaparse. Records end at LF or CRLF, so every record is one physical line and line numbers are
 * exact; a lone CR stays inside its line (and fails validation there). Bytes that are not UTF-8
 * become U+FFFD, which validation rejects.
 */
export async function* readEventLog(file: string, onBytes?: (bytes: number) => void): AsyncGenerator<EventLogBatch> {
  const input = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  const decoder = new TextDecoder('utf-8');
  let carry = '';
  let nextLine = 1; // the physical line number of the next line to come
  let overlong: { start: string; chars: number } | null = null;

  const batchOf = (text: string): EventLogBatch | null => {
    const rows = parseLines(text);
    for (const fields of rows) {
      const last = fields.length - 1;
      const lastField = fields[last] as string;
      if (lastField.endsWith('\r')) fields[last] = lastField.slice(0, -1);
    }
    let firstLine = nextLine;
    nextLine += rows.length;
    if (firstLine === 1) {
      rows.shift(); // the header, checked by checkEventLogFile
      firstLine = 2;
    }
    return rows.length > 0 ? { firstLine, rows } : null;
  };
  const overlongBatch = (o: { start: string; chars: number }): EventLogBatch | null => {
    const line = nextLine++;
    return line === 1 ? null : { firstLine: line, rows: [[o.start]], overlongChars: o.chars };
  };

  for await (const chunk of input as AsyncIterable<Buffer>) {
    onBytes?.(chunk.length);
    let text = decoder.decode(chunk, { stream: true });
    if (overlong) {
      const end = text.indexOf('\n');
      if (end < 0) {
        overlong.chars += text.length;
        continue;
      }
      overlong.chars += end;
      const batch = overlongBatch(overlong);
      if (batch) yield batch;
      overlong = null;
      text = text.slice(end + 1);
    }
    text = carry + text;
    const lastBreak = text.lastIndexOf('\n');
    if (lastBreak < 0) {
      carry = text;
    } else {
      carry = text.slice(lastBreak + 1);
      const batch = batchOf(text.slice(0, lastBreak));
      if (batch) yield batch;
    }
    if (carry.length > MAX_LINE_CHARS) {
      overlong = { start: carry.slice(0, MAX_LINE_CHARS), chars: carry.length };
      carry = '';
    }
  }
  const rest = carry + decoder.decode();
  if (overlong) {
    overlong.chars += rest.length;
    const batch = overlongBatch(overlong);
    if (batch) yield batch;
  } else if (rest !== '') {
    const batch = batchOf(rest);
    if (batch) yield batch;
  }
}
