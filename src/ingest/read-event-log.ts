import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { parse } from 'csv-parse';
import { EVENT_LOG_DELIMITER, EVENT_LOG_HEADER } from './event-log-format.js';
import { InputFileError } from '../util/errors.js';

export interface EventLogLine {
  /** 1-based physical line number in the file (the header is line 1). */
  line: number;
  /** Without quoting, the line's text is exactly its fields joined by the delimiter. */
  fields: string[];
}

const HEADER_PROBE_BYTES = 64 * 1024;

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

/**
 * Streams the data lines of an event log (header skipped, blank lines ignored), never holding
 * the file in memory. Quoting is off on purpose: the format has no quoted fields, and a stray
 * quote must cost one quarantined line, not swallow the lines after it. Records end at LF or
 * CRLF only, so every record is one physical line and line numbers are counted here (csv-parse's
 * own count also counts a lone CR inside a line).
 */
export async function* readEventLog(file: string, onBytes?: (bytes: number) => void): AsyncGenerator<EventLogLine> {
  const input = createReadStream(file, { highWaterMark: 256 * 1024 });
  if (onBytes) input.on('data', (chunk) => onBytes(chunk.length));
  const parser = input.pipe(
    parse({
      delimiter: EVENT_LOG_DELIMITER,
      quote: false,
      bom: true,
      record_delimiter: ['\r\n', '\n'],
      relax_column_count: true,
      skip_empty_lines: false,
    }),
  );
  input.on('error', (error) => parser.destroy(error));
  let line = 0;
  for await (const fields of parser as AsyncIterable<string[]>) {
    line += 1;
    if (line === 1) continue; // the header, checked by checkEventLogFile
    if (fields.length === 1 && fields[0] === '') continue; // a blank line
    yield { line, fields };
  }
}
