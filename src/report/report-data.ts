/**
 * What the HTML report shows, read from the database in one place. The renderer
 * (render-report.ts) only formats this object, so it can be tested with a made-up one.
 */
import type { Database, Row } from '../db/database.js';
import { quoteIdentifier } from '../db/sql-files.js';
import type { SchemaNames } from '../db/sql-files.js';
import { MART_TABLES } from '../model/build-model.js';
import type { PipelineContext } from '../pipeline/context.js';
import { runDataTests } from '../quality/run-data-tests.js';
import type { DataTestReport } from '../quality/run-data-tests.js';
import { redactUrl } from '../config/settings.js';

/** One day of `availability_snapshot`. */
export interface DailySnapshotRow {
  date: string;
  active_professionals_count: number;
  able_at_any_moment_count: number;
  became_active_count: number;
  became_inactive_count: number;
}

/** One row of `availability_snapshot_weekly` (period_start = week_start) or `_monthly` (= month_start). */
export interface PeriodSnapshotRow {
  period_start: string;
  first_date: string;
  last_date: string;
  days_in_snapshot: number;
  /** Days of the calendar period (7 for a week); fewer days in the snapshot mark a partial period. */
  days_in_period: number;
  active_at_period_end: number;
  avg_daily_active: number;
  max_daily_active: number;
}

export interface IngestFileFigures {
  file: string;
  status: string;
  rows_read: number;
  loaded: number;
  rejected: number;
  duplicates: number;
}

export interface RejectReason {
  field: string | null;
  reason: string;
  rows: number;
  example_file: string;
  example_line: number;
}

/** The `ingest` step of the latest run that has one, from `<raw>.pipeline_step_log`. */
export interface IngestFigures {
  run_id: number;
  command: string;
  run_status: string;
  status: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  rows_read: number;
  loaded: number;
  rejected: number;
  duplicates: number;
  error: string | null;
  files: IngestFileFigures[];
  /** Rows of `<raw>.quarantine` whose latest sighting was this run, and their most frequent reasons. */
  quarantine: { table: string; rows: number; top_reasons: RejectReason[] };
}

export interface TableCount {
  layer: 'raw' | 'star schema' | 'snapshot';
  schema: string;
  table: string;
  rows: number;
}

export interface ReportData {
  generated_at: string;
  /** Safe to show: `host:port/database` or the embedded directory, never a password. */
  database: string;
  schemas: SchemaNames;
  /** The run log entry of the command that wrote the report. */
  report_run_id: number;
  snapshot: { daily: DailySnapshotRow[]; weekly: PeriodSnapshotRow[]; monthly: PeriodSnapshotRow[] };
  ingest: IngestFigures | null;
  tables: TableCount[];
  tests: ShownDataTests;
}

/**
 * The data tests the report shows: run while it was built (source 'report'), or by the test step
 * of the run that writes it (`run --report`, source 'run'), so they describe the data shown.
 */
export interface ShownDataTests {
  source: 'report' | 'run';
  ran_at: string;
  duration_ms: number;
  report: DataTestReport;
}

export const TOP_REJECT_REASONS = 10;

const num = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));
const text = (value: unknown): string => (value === null || value === undefined ? '' : String(value));

function daysInMonth(isoDate: string): number {
  const [year, month] = isoDate.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

async function periodRows(db: Database, view: string, startColumn: string, periodDays: (start: string) => number): Promise<PeriodSnapshotRow[]> {
  const { rows } = await db.query(
    `SELECT ${startColumn} AS period_start, first_date, last_date, days_in_snapshot, active_at_period_end, avg_daily_active, max_daily_active
     FROM ${view} ORDER BY ${startColumn}`,
  );
  return rows.map((r) => ({
    period_start: text(r.period_start),
    first_date: text(r.first_date),
    last_date: text(r.last_date),
    days_in_snapshot: num(r.days_in_snapshot),
    days_in_period: periodDays(text(r.period_start)),
    active_at_period_end: num(r.active_at_period_end),
    avg_daily_active: num(r.avg_daily_active),
    max_daily_active: num(r.max_daily_active),
  }));
}

/** The per-file figures kept in the step's `details` (jsonb), read defensively. */
function ingestFiles(details: unknown): IngestFileFigures[] {
  const files = (details as { files?: unknown } | null)?.files;
  if (!Array.isArray(files)) return [];
  return files.map((f: Row) => ({
    file: text(f.file),
    status: text(f.status),
    rows_read: num(f.rows_read),
    loaded: num(f.loaded),
    rejected: num(f.rejected),
    duplicates: num(f.duplicates),
  }));
}

async function latestIngest(db: Database, schemas: SchemaNames): Promise<IngestFigures | null> {
  const raw = quoteIdentifier(schemas.raw);
  const { rows } = await db.query(
    `SELECT s.run_id, r.command, r.status AS run_status, s.status, s.started_at, s.finished_at, s.duration_ms,
            s.rows_read, s.loaded, s.rejected, s.duplicates, s.details, s.error
     FROM ${raw}.pipeline_step_log AS s JOIN ${raw}.pipeline_run AS r USING (run_id)
     WHERE s.step = 'ingest'
     ORDER BY s.run_id DESC
     LIMIT 1`,
  );
  const step = rows[0];
  if (!step) return null;
  const runId = num(step.run_id);
  const total = await db.query(`SELECT count(*)::integer AS n FROM ${raw}.quarantine WHERE last_run_id = $1`, [runId]);
  const reasons = await db.query(
    `SELECT field, reason, count(*)::integer AS rows,
            (array_agg(source_file ORDER BY source_file, source_line))[1] AS example_file,
            (array_agg(source_line ORDER BY source_file, source_line))[1] AS example_line
     FROM ${raw}.quarantine
     WHERE last_run_id = $1
     GROUP BY field, reason
     ORDER BY rows DESC, reason
     LIMIT ${TOP_REJECT_REASONS}`,
    [runId],
  );
  return {
    run_id: runId,
    command: text(step.command),
    run_status: text(step.run_status),
    status: text(step.status),
    started_at: text(step.started_at),
    finished_at: text(step.finished_at),
    duration_ms: num(step.duration_ms),
    rows_read: num(step.rows_read),
    loaded: num(step.loaded),
    rejected: num(step.rejected),
    duplicates: num(step.duplicates),
    error: step.error === null || step.error === undefined ? null : text(step.error),
    files: ingestFiles(step.details),
    quarantine: {
      table: `${schemas.raw}.quarantine`,
      rows: num(total.rows[0]?.n),
      top_reasons: reasons.rows.map((r) => ({
        field: r.field === null || r.field === undefined ? null : text(r.field),
        reason: text(r.reason),
        rows: num(r.rows),
        example_file: text(r.example_file),
        example_line: num(r.example_line),
      })),
    },
  };
}

async function tableCounts(db: Database, schemas: SchemaNames): Promise<TableCount[]> {
  const tables: Omit<TableCount, 'rows'>[] = [
    ...MART_TABLES.map((table) => ({ layer: 'star schema' as const, schema: schemas.mart, table })),
    { layer: 'snapshot', schema: schemas.mart, table: 'availability_snapshot' },
    { layer: 'raw', schema: schemas.raw, table: 'event' },
    { layer: 'raw', schema: schemas.raw, table: 'quarantine' },
  ];
  const { rows } = await db.query(
    `SELECT ${tables.map((t, i) => `(SELECT count(*)::integer FROM ${quoteIdentifier(t.schema)}.${quoteIdentifier(t.table)}) AS c${i}`).join(', ')}`,
  );
  return tables.map((t, i) => ({ ...t, rows: num(rows[0]?.[`c${i}`]) }));
}

/** Reads everything the report shows and runs the data tests, unless `tests` brings their results. */
export async function collectReportData(ctx: PipelineContext, options: { tests?: ShownDataTests; now?: () => Date } = {}): Promise<ReportData> {
  const now = options.now ?? (() => new Date());
  const { db, schemas } = ctx;
  const mart = quoteIdentifier(schemas.mart);
  const generatedAt = now();

  const daily = await db.query(
    `SELECT date, active_professionals_count, able_at_any_moment_count, became_active_count, became_inactive_count
     FROM ${mart}.availability_snapshot ORDER BY date`,
  );
  const weekly = await periodRows(db, `${mart}.availability_snapshot_weekly`, 'week_start', () => 7);
  const monthly = await periodRows(db, `${mart}.availability_snapshot_monthly`, 'month_start', daysInMonth);
  const ingest = await latestIngest(db, schemas);
  const tables = await tableCounts(db, schemas);

  const tests = options.tests ?? (await runReportTests(ctx, now));

  return {
    generated_at: generatedAt.toISOString(),
    database: redactUrl(db.description),
    schemas: { ...schemas },
    report_run_id: ctx.runId,
    snapshot: {
      daily: daily.rows.map((r) => ({
        date: text(r.date),
        active_professionals_count: num(r.active_professionals_count),
        able_at_any_moment_count: num(r.able_at_any_moment_count),
        became_active_count: num(r.became_active_count),
        became_inactive_count: num(r.became_inactive_count),
      })),
      weekly,
      monthly,
    },
    ingest,
    tables,
    tests,
  };
}

async function runReportTests(ctx: PipelineContext, now: () => Date): Promise<ShownDataTests> {
  const started = now();
  const report = await runDataTests(ctx);
  return { source: 'report', ran_at: started.toISOString(), duration_ms: now().getTime() - started.getTime(), report };
}
