import { inTransaction } from '../db/database.js';
import { quoteIdentifier, readSql } from '../db/sql-files.js';
import type { PipelineContext } from '../pipeline/context.js';
import { ConfigurationError } from '../util/errors.js';
import { csvField } from './copy-csv.js';
import { EVENT_LOG_DELIMITER } from './event-log-format.js';
import { checkEventLogFile, readEventLog } from './read-event-log.js';
import { validateEvent } from './validate-event.js';

export interface RejectSample {
  line: number;
  field: string | null;
  reason: string;
}

export interface FileIngestResult {
  file: string;
  status: 'loaded' | 'rejected';
  rows_read: number;
  loaded: number;
  rejected: number;
  duplicates: number;
  reject_ratio: number;
  /** The first rejected lines; the full list is in the quarantine table. */
  first_rejects: RejectSample[];
}

export interface IngestResult {
  rows_read: number;
  loaded: number;
  rejected: number;
  duplicates: number;
  files: FileIngestResult[];
  /** Where to find every rejected line. */
  quarantine: string;
}

const COPY_CHUNK_CHARS = 256 * 1024;
/** Quarantined raw lines are kept whole up to this length; longer ones are cut (their reason says why). */
const MAX_QUARANTINED_LINE = 10_000;
const REJECT_SAMPLE_SIZE = 5;

const INCOMING_COLUMNS = 'COPY incoming (line, event_id, event_type, professional_id, created_at, meta_data, raw_line, rejected_field, rejected_reason)';

/**
 * Loads event log files into the raw layer. Every file is checked first (exists, not empty,
 * right header), so a whole-file error loads nothing. Each file is then one transaction: stream,
 * validate, COPY into a temporary table, classify set-based, and append its new events only if
 * its rejected share is within --max-reject-ratio (its quarantine rows are kept either way).
 */
export async function ingest(ctx: PipelineContext, files: readonly string[]): Promise<IngestResult> {
  if (files.length === 0) throw new ConfigurationError('no input: pass --input FILE or set INSTAPRO_INPUT');
  const sizes = new Map<string, number>();
  for (const file of files) sizes.set(file, (await checkEventLogFile(file)).bytes);

  const result: IngestResult = {
    rows_read: 0,
    loaded: 0,
    rejected: 0,
    duplicates: 0,
    files: [],
    quarantine: `${ctx.schemas.raw}.quarantine (run_id ${ctx.runId})`,
  };
  for (const file of files) {
    const fileResult = await ingestFile(ctx, file, sizes.get(file) ?? 0);
    result.files.push(fileResult);
    result.rows_read += fileResult.rows_read;
    result.loaded += fileResult.loaded;
    result.rejected += fileResult.rejected;
    result.duplicates += fileResult.duplicates;
    // A file over the reject ratio stops the run: later files are not loaded either.
    if (fileResult.status === 'rejected') break;
  }
  return result;
}

async function ingestFile(ctx: PipelineContext, file: string, bytes: number): Promise<FileIngestResult> {
  const { db, schemas } = ctx;
  const [createIncoming, classify, loadNew] = await Promise.all([
    readSql('ingest/01_create_incoming.sql', schemas),
    readSql('ingest/02_classify_incoming.sql', schemas),
    readSql('ingest/03_load_new_events.sql', schemas),
  ]);
  const counter = { rowsRead: 0, invalid: 0, bytes: 0 };

  ctx.progress.start(`ingest ${file}`, bytes);
  try {
    return await inTransaction(db, async () => {
      await db.query(`SELECT set_config('instapro.run_id', $1, true), set_config('instapro.source_file', $2, true)`, [String(ctx.runId), file]);
      await db.exec(createIncoming);
      await db.copyCsv(INCOMING_COLUMNS, encodeIncoming(ctx, file, counter));
      await db.exec(classify);

      const { rows } = await db.query<{ outcome: string; n: number }>(`SELECT outcome, count(*)::integer AS n FROM incoming_outcome GROUP BY outcome`);
      const byOutcome = Object.fromEntries(rows.map((r) => [r.outcome, Number(r.n)]));
      const rejected = counter.invalid + (byOutcome.conflict ?? 0);
      const rejectRatio = counter.rowsRead === 0 ? 0 : rejected / counter.rowsRead;
      const withinRatio = rejectRatio <= ctx.settings.maxRejectRatio;
      if (withinRatio) await db.exec(loadNew);

      const samples = await db.query<{ source_line: number; field: string | null; reason: string }>(
        `SELECT source_line, field, reason FROM ${quoteIdentifier(schemas.raw)}.quarantine
         WHERE last_run_id = $1 AND source_file = $2 ORDER BY source_line LIMIT ${REJECT_SAMPLE_SIZE}`,
        [ctx.runId, file],
      );
      return {
        file,
        status: withinRatio ? 'loaded' : 'rejected',
        rows_read: counter.rowsRead,
        loaded: withinRatio ? (byOutcome.new ?? 0) : 0,
        rejected,
        duplicates: byOutcome.duplicate ?? 0,
        reject_ratio: rejectRatio,
        first_rejects: samples.rows.map((r) => ({ line: Number(r.source_line), field: r.field, reason: r.reason })),
      } satisfies FileIngestResult;
    });
  } finally {
    ctx.progress.stop();
  }
}

/** Validates each line and encodes it as a CSV row for COPY, in chunks (never the whole file). */
async function* encodeIncoming(
  ctx: PipelineContext,
  file: string,
  counter: { rowsRead: number; invalid: number; bytes: number },
): AsyncGenerator<string> {
  let chunk = '';
  for await (const line of readEventLog(file, (n) => {
    counter.bytes += n;
  })) {
    counter.rowsRead += 1;
    const validation = validateEvent(line.fields);
    if (validation.ok) {
      const e = validation.event;
      // Ids, type and timestamp are validated to plain characters; only meta_data needs quoting.
      chunk += `${line.line},${e.eventId},${e.eventType},${e.professionalId},${e.createdAt},${e.metaData === null ? '' : csvField(e.metaData)},,,\n`;
    } else {
      counter.invalid += 1;
      const { field, reason } = validation.rejection;
      chunk += `${line.line},,,,,,${csvField(quarantinable(line.fields.join(EVENT_LOG_DELIMITER)))},${csvField(field)},${csvField(reason)}\n`;
    }
    if (chunk.length >= COPY_CHUNK_CHARS) {
      ctx.progress.update(counter.rowsRead, counter.bytes);
      yield chunk;
      chunk = '';
    }
  }
  ctx.progress.update(counter.rowsRead, counter.bytes);
  if (chunk.length > 0) yield chunk;
}

/** PostgreSQL text cannot hold NUL; very long lines are cut so one bad line cannot bloat the table. */
function quarantinable(raw: string): string {
  const text = raw.replaceAll('\u0000', '\\0');
  return text.length > MAX_QUARANTINED_LINE ? `${text.slice(0, MAX_QUARANTINED_LINE)}...[cut at ${MAX_QUARANTINED_LINE} of ${text.length} characters]` : text;
}
