import { EVENT_LOG_DELIMITER } from './event-log-format.js';

/**
 * Consecutive physical lines of an event log, as byte ranges of one read chunk: line
 * `firstLine + i` (1-based; the header is line 1) is `bytes[starts[i], ends[i])`, without its line
 * break (LF or CRLF). Blank lines are kept (start = end) so the numbering needs no bookkeeping;
 * callers skip them. Byte ranges, not strings, because a file has millions of lines and a valid
 * line goes to COPY as the bytes it is (see ingest).
 *
 * `starts` and `ends` are reused for the next batch: read a batch before asking for the next one.
 */
export interface EventLogLines {
  bytes: Buffer;
  firstLine: number;
  count: number;
  starts: Int32Array;
  ends: Int32Array;
  /** Set when the batch is one line longer than MAX_LINE_BYTES: `bytes` then holds only its start. */
  overlongBytes?: number;
}

/** The reader works on this much new input at a time (sources deliver chunks of any size). */
const READ_CHUNK_BYTES = 128 * 1024;
/**
 * A line longer than this is rejected whole without being parsed, and only its start is kept,
 * so a file without line breaks cannot make the reader hold it in memory.
 */
export const MAX_LINE_BYTES = 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Streams the lines of an event log (header excluded) as byte ranges, never holding the file in
 * memory: `content` (a file, a gunzip or an S3 body stream: see sources/open-content.ts) is copied
 * 128 KB at a time into one buffer that is reused for the whole file (a line cut by a chunk's end
 * is moved to its front for the next one), so the line batches allocate nothing per chunk.
 * Lines end at LF or CRLF, so line numbers are exact; a lone CR stays inside its line (and fails
 * validation there). The format has no quoting (a quote is an ordinary character), so splitting a
 * line into fields is splitting it at ";": see splitFields.
 */
export async function* readEventLogLines(content: AsyncIterable<Buffer>): AsyncGenerator<EventLogLines> {
  let buffer = Buffer.allocUnsafe(2 * READ_CHUNK_BYTES);
  let carried = 0; // bytes at the front of `buffer`: the start of a line not yet complete
  let starts: Int32Array = new Int32Array(4096);
  let ends: Int32Array = new Int32Array(4096);
  let nextLine = 1; // the physical line number of the next line to come
  let overlong: { start: Buffer; bytes: number } | null = null;

  const overlongBatch = (o: { start: Buffer; bytes: number }): EventLogLines | null => {
    const line = nextLine++;
    if (line === 1) return null;
    starts[0] = 0;
    ends[0] = o.start.length;
    return { bytes: o.start, firstLine: line, count: 1, starts, ends, overlongBytes: o.bytes };
  };
  /** The complete lines of `bytes` from `from` on; `rest` is where the unfinished last line starts. */
  const batchOf = (bytes: Buffer, from: number): { batch: EventLogLines | null; rest: number } => {
    let count = 0;
    let start = from;
    for (let lf = bytes.indexOf(LF, start); lf >= 0; lf = bytes.indexOf(LF, start)) {
      if (count === starts.length) {
        starts = grow(starts);
        ends = grow(ends);
      }
      starts[count] = start;
      ends[count] = lf > start && bytes[lf - 1] === CR ? lf - 1 : lf;
      count += 1;
      start = lf + 1;
    }
    let firstLine = nextLine;
    nextLine += count;
    let skip = 0;
    if (firstLine === 1 && count > 0) {
      skip = 1; // the header, checked by checkEventLogHeader
      firstLine = 2;
    }
    if (count - skip <= 0) return { batch: null, rest: start };
    const batch = { bytes, firstLine, count: count - skip, starts: skip ? starts.subarray(1) : starts, ends: skip ? ends.subarray(1) : ends };
    return { batch, rest: start };
  };

  let filled = 0; // bytes in `buffer`: `carried`, then the fresh ones not yet split into lines
  /** Splits the fresh bytes (and the line carried before them) into a batch of lines. */
  function* splitFresh(): Generator<EventLogLines> {
    let from = 0;
    if (overlong) {
      // Only fresh bytes are in the buffer: the overlong line's start was set aside.
      const lf = buffer.indexOf(LF, 0);
      if (lf < 0 || lf >= filled) {
        overlong.bytes += filled;
        filled = 0;
        return;
      }
      overlong.bytes += lf > 0 && buffer[lf - 1] === CR ? lf - 1 : lf;
      const batch = overlongBatch(overlong);
      if (batch) yield batch;
      overlong = null;
      from = lf + 1;
    }
    // Only the bytes filled so far: what lies beyond them in the buffer is stale.
    const view = buffer.subarray(0, filled);
    const { batch, rest } = batchOf(view, from);
    if (batch) yield batch;
    buffer.copyWithin(0, rest, filled);
    carried = filled - rest;
    filled = carried;
    if (carried > MAX_LINE_BYTES) {
      overlong = { start: Buffer.from(buffer.subarray(0, MAX_LINE_BYTES)), bytes: carried };
      carried = 0;
      filled = 0;
    }
  }

  for await (const chunk of content) {
    for (let offset = 0; offset < chunk.length; ) {
      if (buffer.length - carried < READ_CHUNK_BYTES) {
        // A long line: room for it and one more chunk (bounded, as a line over MAX_LINE_BYTES is set aside).
        const bigger = Buffer.allocUnsafe(carried + READ_CHUNK_BYTES);
        buffer.copy(bigger, 0, 0, filled);
        buffer = bigger;
      }
      const copied = chunk.copy(buffer, filled, offset, offset + Math.min(chunk.length - offset, carried + READ_CHUNK_BYTES - filled));
      filled += copied;
      offset += copied;
      if (filled - carried >= READ_CHUNK_BYTES) yield* splitFresh();
    }
  }
  if (filled > carried) yield* splitFresh();
  if (overlong) {
    const batch = overlongBatch(overlong);
    if (batch) yield batch;
  } else if (carried > 0) {
    // The last line has no line break.
    if (buffer.length === carried) buffer = Buffer.concat([buffer, Buffer.alloc(1)]);
    buffer[carried] = LF;
    const { batch } = batchOf(buffer.subarray(0, carried + 1), 0);
    if (batch) yield batch;
  }
}

function grow(array: Int32Array): Int32Array {
  const bigger = new Int32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

/** A decoded line's fields. Bytes that are not UTF-8 have become U+FFFD, which validation rejects. */
export function splitFields(line: string): string[] {
  return line.split(EVENT_LOG_DELIMITER);
}
