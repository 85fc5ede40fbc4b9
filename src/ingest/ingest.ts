import { inTransaction } from '../db/database.js';
import type { DeferredDdl } from '../db/deferred-ddl.js';
import { deferrableConstraintsAndIndexes, dropDeferred, recreateDeferred } from '../db/deferred-ddl.js';
import { quoteIdentifier, readSql } from '../db/sql-files.js';
import type { PipelineContext } from '../pipeline/context.js';
import { RejectRatioExceededError } from '../util/errors.js';
import { COPY_TEXT_OPTIONS, CopyBuffer, copyTextField } from './copy-text.js';
import { EVENT_LOG_DELIMITER, EVENT_LOG_DELIMITER_BYTE, EVENT_LOG_HEADER } from './event-log-format.js';
import { findUnchanged, recordInManifest } from './manifest.js';
import { MAX_LINE_BYTES, readEventLogLines, splitFields } from './read-event-log.js';
import type { InputObject } from './sources/input-object.js';
import { StoredBytes, checkEventLogHeader, eventLogContent } from './sources/open-content.js';
import { resolveInputs } from './sources/resolve-inputs.js';
import type { EventDateWindow, Rejection } from './validate-event.js';
import { findRejection, isCertainlyValidLine } from './validate-event.js';

export interface RejectSample {
  line: number;
  field: string | null;
  reason: string;
}

export interface FileIngestResult {
  /** The path or s3:// URL. */
  file: string;
  /** skipped_unchanged: the manifest shows it loaded before, same size and version; not read. */
  status: 'loaded' | 'rejected' | 'skipped_unchanged';
  rows_read: number;
  loaded: number;
  rejected: number;
  duplicates: number;
  reject_ratio: number;
  /** Rejected rows whose event_id was loaded from another input with other content: a different data set? */
  conflicts_with_other_inputs: number;
  /** The first rejected lines; the full list is in the quarantine table. */
  first_rejects: RejectSample[];
}

export interface IngestResult {
  rows_read: number;
  loaded: number;
  rejected: number;
  duplicates: number;
  /** Input objects not read because the manifest shows them loaded, unchanged. */
  skipped_unchanged: number;
  files: FileIngestResult[];
  /** Where to find every rejected line. */
  quarantine: string;
}

/** Quarantined raw lines are kept whole up to this length; longer ones are cut (their reason says why). */
const MAX_QUARANTINED_LINE = 10_000;
const REJECT_SAMPLE_SIZE = 5;

const COPY_INCOMING = 'COPY incoming (line, event_id, event_type, professional_id, created_at, meta_data, raw_line, rejected_field, rejected_reason)';

/**
 * Loads event logs into the raw layer. `inputs` are files, directories, glob patterns or s3://
 * URLs (see sources/); they are resolved to objects, and those the manifest shows loaded and
 * unchanged are skipped unread. Every other object is checked first (exists, not empty, right
 * header), so a whole-object error loads nothing. Each object is then one transaction: stream,
 * validate and COPY (see ingestFile), append its new events only if its rejected share is within
 * --max-reject-ratio (its quarantine rows are kept either way), and record it in the manifest.
 */
export async function ingest(ctx: PipelineContext, inputs: readonly string[]): Promise<IngestResult> {
  const objects = await resolveInputs(ctx.settings, inputs, ctx.log);
  const unchanged = await findUnchanged(ctx, objects);
  const toRead = objects.filter((object) => !unchanged.has(object.url));
  for (const object of toRead) await checkEventLogHeader(object);

  const result: IngestResult = {
    rows_read: 0,
    loaded: 0,
    rejected: 0,
    duplicates: 0,
    skipped_unchanged: unchanged.size,
    files: [],
    quarantine: `${ctx.schemas.raw}.quarantine (run_id ${ctx.runId})`,
  };
  const rowsBefore = await estimatedRows(ctx);
  for (const object of objects) {
    if (unchanged.has(object.url)) {
      result.files.push(skippedResult(object));
      continue;
    }
    const fileResult = await ingestFile(ctx, object);
    result.files.push(fileResult);
    result.rows_read += fileResult.rows_read;
    result.loaded += fileResult.loaded;
    result.rejected += fileResult.rejected;
    result.duplicates += fileResult.duplicates;
    // A file over the reject ratio stops the run: later files are not loaded either.
    if (fileResult.status === 'rejected') break;
  }
  // VACUUM sets the new pages' hint bits and visibility map once, before the model reads them;
  // ANALYZE only when the load moves the statistics (docs/ingest.md, step 6).
  if (result.loaded > 0) {
    const analyze = result.loaded >= ANALYZE_SHARE * rowsBefore;
    ctx.progress.activity(analyze ? 'ingest: vacuum and analyze' : 'ingest: vacuum');
    try {
      await ctx.db.exec(`VACUUM ${analyze ? '(ANALYZE) ' : ''}${quoteIdentifier(ctx.schemas.raw)}.event`);
    } finally {
      ctx.progress.stop();
    }
  }
  return result;
}

/** The failure of an ingest that stopped at a file over --max-reject-ratio; undefined when none was. */
export function rejectRatioFailure(result: IngestResult, maxRejectRatio: number): RejectRatioExceededError | undefined {
  const rejected = result.files.find((f) => f.status === 'rejected');
  return rejected === undefined ? undefined : new RejectRatioExceededError(describeRejectedFile(rejected, result.quarantine, maxRejectRatio), result);
}

/** Why a file over --max-reject-ratio was not loaded: the counts, the first rejects, where the rest are. */
export function describeRejectedFile(file: FileIngestResult, quarantine: string, maxRejectRatio: number): string {
  const first = file.first_rejects.map((s) => `line ${s.line}: ${s.reason}`).join('; ');
  const message = `${file.file}: ${file.rejected} of ${file.rows_read} rows rejected (${(file.reject_ratio * 100).toFixed(2)}%), more than --max-reject-ratio ${maxRejectRatio}; none of the file's events were loaded. First: ${first}. Full list: ${quarantine}`;
  if (file.conflicts_with_other_inputs === 0) return message;
  // Typically another data set loaded where one is already, e.g. a real log after `npm start`'s sample.
  return `${message}. ${file.conflicts_with_other_inputs} of them reuse event_ids loaded from other inputs with other content: if this is a different data set, load it into a database of its own (--data-dir, --database-url) or, to start over, run \`instapro reset\``;
}

/** A load of at least this share of the rows already there analyzes the table (autovacuum's default threshold). */
const ANALYZE_SHARE = 0.1;

/** The planner's row count of raw.event (0 before its first VACUUM or ANALYZE): cheap, no scan. */
async function estimatedRows(ctx: PipelineContext): Promise<number> {
  const { rows } = await ctx.db.query<{ n: number }>(`SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = $1::regclass`, [
    `${quoteIdentifier(ctx.schemas.raw)}.event`,
  ]);
  return Number(rows[0]?.n ?? 0);
}

function skippedResult(object: InputObject): FileIngestResult {
  return { file: object.url, status: 'skipped_unchanged', rows_read: 0, loaded: 0, rejected: 0, duplicates: 0, reject_ratio: 0, conflicts_with_other_inputs: 0, first_rejects: [] };
}

/** What one pass over a file has seen so far: lines read, lines rejected by validation, stored bytes read and their hash. */
interface LineCounter {
  rowsRead: number;
  invalid: number;
  stored: StoredBytes;
}

const newCounter = (): LineCounter => ({ rowsRead: 0, invalid: 0, stored: new StoredBytes() });

/**
 * Rejected lines held in memory while a direct load streams the valid ones into raw.event. Past
 * this many characters the direct load gives way to the classifying load, which streams rejected
 * lines to the database as it goes: memory stays bounded however broken the file is.
 */
const DIRECT_LOAD_REJECT_BUFFER_CHARS = 4 * 1024 * 1024;

class DirectLoadAbandoned extends Error {}

const UNIQUE_VIOLATION = '23505';

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === UNIQUE_VIOLATION;
}

/**
 * One file, in one transaction. Most files hold only new events, so the fast way is tried first:
 * a direct load COPYs the valid lines straight into raw.event, whose primary key then proves that
 * no event_id repeats, within the file or against earlier loads. If it finds one (or too many
 * rejected lines to hold in memory), the direct load is rolled back to its savepoint and the file
 * is read again by the classifying load, which sorts every line into new, duplicate or conflict.
 */
async function ingestFile(ctx: PipelineContext, object: InputObject): Promise<FileIngestResult> {
  const { db } = ctx;
  return inTransaction(db, async () => {
    await db.query(`SELECT set_config('instapro.run_id', $1, true), set_config('instapro.source_file', $2, true)`, [String(ctx.runId), object.url]);
    const { result, stored } = (await directLoad(ctx, object)) ?? (await classifyingLoad(ctx, object));
    // In the file's own transaction: recorded exactly when its rows are.
    await recordInManifest(ctx, object, stored, result);
    return result;
  });
}

interface FileLoad {
  result: FileIngestResult;
  /** The stored bytes the load read, with their SHA-256. */
  stored: StoredBytes;
}

async function directLoad(ctx: PipelineContext, object: InputObject): Promise<FileLoad | null> {
  const { db, schemas } = ctx;
  const file = object.url;
  const counter = newCounter();
  // source_file and run_id, after the five event columns and source_line.
  const rowEnd = Buffer.from(`;${copyTextField(file)};${ctx.runId}\n`, 'utf8');
  let rejectedRows = '';

  await db.exec('SAVEPOINT direct_load');
  const emptyTable = await prepareEmptyTableLoad(ctx);
  ctx.progress.start(`ingest ${file}`, object.size);
  let loaded: number;
  try {
    loaded = await db.copyFrom(
      `COPY ${quoteIdentifier(schemas.raw)}.event (event_id, event_type, professional_id, created_at, meta_data, source_line, source_file, run_id)`,
      COPY_TEXT_OPTIONS + emptyTable.copyOptions,
      encodeLines(ctx, object, counter, {
        certain(out, line, bytes, start, end) {
          out.reserve(end - start + MAX_LINE_NUMBER_BYTES + rowEnd.length);
          out.copy(bytes, start, end);
          out.byte(EVENT_LOG_DELIMITER_BYTE);
          out.integer(line);
          out.copy(rowEnd, 0, rowEnd.length);
        },
        checked(out, line, fields, rejection) {
          if (rejection === null) {
            const row = `${encodeEvent(fields)};${line}`;
            out.reserve(maxUtf8Bytes(row) + rowEnd.length);
            out.text(row);
            out.copy(rowEnd, 0, rowEnd.length);
            return;
          }
          rejectedRows += encodeRejected(line, fields, rejection);
          if (rejectedRows.length > DIRECT_LOAD_REJECT_BUFFER_CHARS) throw new DirectLoadAbandoned('too many rejected lines to hold');
        },
      }),
    );
    await recreateDeferred(db, emptyTable.deferred, (ddl, position, count) => ctx.progress.activity(`ingest ${file}: key and index, ${ddl.name} (${position}/${count})`));
  } catch (error) {
    if (!(error instanceof DirectLoadAbandoned) && !isUniqueViolation(error)) throw error;
    await db.exec('ROLLBACK TO SAVEPOINT direct_load');
    return null;
  } finally {
    ctx.progress.stop();
  }

  const { rejectRatio, withinRatio } = judgeRejects(ctx, counter.invalid, counter.rowsRead);
  await db.exec(withinRatio ? 'RELEASE SAVEPOINT direct_load' : 'ROLLBACK TO SAVEPOINT direct_load');
  if (rejectedRows !== '') {
    const [createIncoming, classify] = await Promise.all([readSql('ingest/01_create_incoming.sql', schemas), readSql('ingest/02_classify_incoming.sql', schemas)]);
    await db.exec(createIncoming);
    await db.copyFrom(COPY_INCOMING, COPY_TEXT_OPTIONS, [rejectedRows]);
    await db.exec(classify); // only rejected lines: this writes them to the quarantine
  }
  const result = await fileResult(ctx, file, counter, {
    status: withinRatio ? 'loaded' : 'rejected',
    loaded: withinRatio ? loaded : 0,
    rejected: counter.invalid,
    duplicates: 0,
    conflictsWithOtherInputs: 0,
    rejectRatio,
  });
  return { result, stored: counter.stored };
}

interface EmptyTableLoad {
  /** The keys and indexes dropped for the COPY, to re-create after it. */
  deferred: DeferredDdl[];
  /** COPY options that add to COPY_TEXT_OPTIONS: FREEZE when the table was empty. */
  copyOptions: string;
}

/**
 * Into an empty raw.event: its key and index are dropped for the COPY and rebuilt after it (a
 * repeated event_id then fails the rebuild), and it is truncated in the savepoint so COPY FREEZE
 * writes the rows frozen. Rolled back with the savepoint if the load fails (docs/ingest.md, step 4).
 */
async function prepareEmptyTableLoad(ctx: PipelineContext): Promise<EmptyTableLoad> {
  const event = `${quoteIdentifier(ctx.schemas.raw)}.event`;
  const { rows } = await ctx.db.query<{ empty: boolean }>(`SELECT NOT EXISTS (SELECT FROM ${event}) AS empty`);
  if (!rows[0]?.empty) return { deferred: [], copyOptions: '' };
  const deferred = await deferrableConstraintsAndIndexes(ctx.db, ctx.schemas.raw, ['event']);
  await dropDeferred(ctx.db, deferred);
  await ctx.db.exec(`TRUNCATE ${event}`);
  return { deferred, copyOptions: ', FREEZE true' };
}

/** The rejected share of a file's lines, and whether --max-reject-ratio lets its events in. */
function judgeRejects(ctx: PipelineContext, rejected: number, rowsRead: number): { rejectRatio: number; withinRatio: boolean } {
  const rejectRatio = rowsRead === 0 ? 0 : rejected / rowsRead;
  return { rejectRatio, withinRatio: rejectRatio <= ctx.settings.maxRejectRatio };
}

async function classifyingLoad(ctx: PipelineContext, object: InputObject): Promise<FileLoad> {
  const { db, schemas } = ctx;
  const file = object.url;
  const [createIncoming, classify, loadNew] = await Promise.all([
    readSql('ingest/01_create_incoming.sql', schemas),
    readSql('ingest/02_classify_incoming.sql', schemas),
    readSql('ingest/03_load_new_events.sql', schemas),
  ]);
  const counter = newCounter();

  ctx.progress.start(`ingest ${file} (classifying)`, object.size);
  try {
    await db.exec(createIncoming);
    await db.copyFrom(
      COPY_INCOMING,
      COPY_TEXT_OPTIONS,
      encodeLines(ctx, object, counter, {
        certain(out, line, bytes, start, end) {
          out.reserve(MAX_LINE_NUMBER_BYTES + end - start + INCOMING_VALID_ROW_END.length);
          out.integer(line);
          out.byte(EVENT_LOG_DELIMITER_BYTE);
          out.copy(bytes, start, end);
          out.copy(INCOMING_VALID_ROW_END, 0, INCOMING_VALID_ROW_END.length);
        },
        checked(out, line, fields, rejection) {
          const row = rejection === null ? `${line};${encodeEvent(fields)};;;\n` : encodeRejected(line, fields, rejection);
          out.reserve(maxUtf8Bytes(row));
          out.text(row);
        },
      }),
    );
  } finally {
    ctx.progress.stop();
  }
  await db.exec(classify);

  const { rows } = await db.query<{ outcome: string; n: number; from_other_inputs: number }>(
    `SELECT outcome, count(*)::integer AS n, count(*) FILTER (WHERE loaded_from <> $1)::integer AS from_other_inputs FROM incoming_outcome GROUP BY outcome`,
    [file],
  );
  const byOutcome = Object.fromEntries(rows.map((r) => [r.outcome, Number(r.n)]));
  const rejected = counter.invalid + (byOutcome.conflict ?? 0);
  const { rejectRatio, withinRatio } = judgeRejects(ctx, rejected, counter.rowsRead);
  if (withinRatio) await db.exec(loadNew);
  const result = await fileResult(ctx, file, counter, {
    status: withinRatio ? 'loaded' : 'rejected',
    loaded: withinRatio ? (byOutcome.new ?? 0) : 0,
    rejected,
    duplicates: byOutcome.duplicate ?? 0,
    conflictsWithOtherInputs: Number(rows.find((r) => r.outcome === 'conflict')?.from_other_inputs ?? 0),
    rejectRatio,
  });
  return { result, stored: counter.stored };
}

async function fileResult(
  ctx: PipelineContext,
  file: string,
  counter: LineCounter,
  outcome: { status: 'loaded' | 'rejected'; loaded: number; rejected: number; duplicates: number; conflictsWithOtherInputs: number; rejectRatio: number },
): Promise<FileIngestResult> {
  const samples = await ctx.db.query<{ source_line: number; field: string | null; reason: string }>(
    `SELECT source_line, field, reason FROM ${quoteIdentifier(ctx.schemas.raw)}.quarantine
     WHERE last_run_id = $1 AND source_file = $2 ORDER BY source_line LIMIT ${REJECT_SAMPLE_SIZE}`,
    [ctx.runId, file],
  );
  return {
    file,
    status: outcome.status,
    rows_read: counter.rowsRead,
    loaded: outcome.loaded,
    rejected: outcome.rejected,
    duplicates: outcome.duplicates,
    reject_ratio: outcome.rejectRatio,
    conflicts_with_other_inputs: outcome.conflictsWithOtherInputs,
    first_rejects: samples.rows.map((r) => ({ line: Number(r.source_line), field: r.field, reason: r.reason })),
  };
}

/** The five event columns of a valid line as COPY text: ids, type and timestamp are plain characters; only meta_data may need escapes. */
function encodeEvent(fields: readonly string[]): string {
  return `${fields[0]};${fields[1]};${fields[2]};${fields[3]};${copyTextField(fields[4] as string)}`;
}

/** A rejected line as an `incoming` row: its raw text, field and reason. */
function encodeRejected(line: number, fields: readonly string[], rejection: Rejection): string {
  const raw = quarantinable(fields.join(EVENT_LOG_DELIMITER));
  return `${line};;;;;;${copyTextField(raw)};${copyTextField(rejection.field)};${copyTextField(rejection.reason)}\n`;
}

/** The rejected_* columns of a valid `incoming` row are NULL. */
const INCOMING_VALID_ROW_END = Buffer.from(';;;\n');
/** A line number (an integer) in decimal. */
const MAX_LINE_NUMBER_BYTES = 10;
/** A UTF-16 code unit takes at most 3 bytes in UTF-8. */
const maxUtf8Bytes = (text: string): number => text.length * 3;

/** How one pass over a file turns each line into a COPY text row (or sets it aside). */
interface LineEncoder {
  /** A line isCertainlyValidLine accepted: `bytes[start, end)` is already its five event columns as COPY text. */
  certain(out: CopyBuffer, line: number, bytes: Buffer, start: number, end: number): void;
  /** Any other line, decoded and split into fields, with its verdict (null: valid). */
  checked(out: CopyBuffer, line: number, fields: string[], rejection: Rejection | null): void;
}

/**
 * Reads and validates the file's lines and turns them into COPY text via `encoder`, in chunks
 * (never the whole file), counting lines and rejections and reporting progress. A line that the
 * byte-level check accepts is never decoded: its bytes are copied as they are, which is what makes
 * ingest keep up with COPY itself.
 */
async function* encodeLines(ctx: PipelineContext, object: InputObject, counter: LineCounter, encoder: LineEncoder): AsyncGenerator<Buffer> {
  const out = new CopyBuffer();
  const window = eventDateWindow(ctx.settings);
  for await (const batch of readEventLogLines(eventLogContent(object, counter.stored))) {
    const { bytes, firstLine, count, starts, ends, overlongBytes } = batch;
    for (let i = 0; i < count; i++) {
      const start = starts[i] as number;
      const end = ends[i] as number;
      if (start === end) continue; // a blank line
      counter.rowsRead += 1;
      const line = firstLine + i;
      if (overlongBytes === undefined && isCertainlyValidLine(bytes, start, end, window)) {
        encoder.certain(out, line, bytes, start, end);
        continue;
      }
      const fields = splitFields(bytes.toString('utf8', start, end));
      const rejection =
        overlongBytes !== undefined
          ? { field: null, reason: `line is ${overlongBytes} bytes long (max ${MAX_LINE_BYTES})` }
          : (invalidUtf8(bytes, start, end) ?? findRejection(fields, window));
      if (rejection !== null) counter.invalid += 1;
      encoder.checked(out, line, fields, rejection);
    }
    for (const full of out.takeFull()) yield full;
    out.reclaim(); // copyFrom has read every chunk yielded so far
    ctx.progress.update(counter.rowsRead, counter.stored.bytes);
  }
  const last = out.take();
  if (last) yield last;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The rejection of a line whose bytes are not UTF-8, naming the first such field; null when they
 * are. Decided on the bytes: a decoded line cannot tell a replaced byte from a real U+FFFD.
 */
function invalidUtf8(bytes: Buffer, start: number, end: number): Rejection | null {
  if (isUtf8(bytes.subarray(start, end))) return null;
  // ";" is ASCII, never part of a multi-byte sequence, so fields can be cut at it before decoding.
  let fieldStart = start;
  for (let index = 0; ; index++) {
    let fieldEnd = bytes.indexOf(EVENT_LOG_DELIMITER_BYTE, fieldStart);
    if (fieldEnd < 0 || fieldEnd > end) fieldEnd = end;
    if (!isUtf8(bytes.subarray(fieldStart, fieldEnd))) return { field: EVENT_LOG_HEADER[index] ?? null, reason: 'contains bytes that are not valid UTF-8' };
    if (fieldEnd === end) return { field: null, reason: 'contains bytes that are not valid UTF-8' };
    fieldStart = fieldEnd + 1;
  }
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** The plausible created_at dates (INSTAPRO_EVENT_DATE_MIN / _MAX; the latest defaults to tomorrow, UTC). */
export function eventDateWindow(settings: { eventDateMin: string; eventDateMax?: string | undefined }, now: Date = new Date()): EventDateWindow {
  const max = settings.eventDateMax ?? new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10);
  return {
    from: `${settings.eventDateMin} 00:00:00`,
    // Orders after every time of day `max` has (also for 9999-12-31, which has no next day).
    until: `${max} 24:00:00`,
    describe: `${settings.eventDateMin} .. ${max} (INSTAPRO_EVENT_DATE_MIN .. INSTAPRO_EVENT_DATE_MAX)`,
  };
}

/** PostgreSQL text cannot hold NUL; very long lines are cut so one bad line cannot bloat the table. */
function quarantinable(raw: string): string {
  const text = raw.replaceAll('\u0000', '\\0');
  return text.length > MAX_QUARANTINED_LINE ? `${text.slice(0, MAX_QUARANTINED_LINE)}...[cut at ${MAX_QUARANTINED_LINE} characters]` : text;
}
