/**
 * The pipeline steps as the commands run them: each in the run log, its result in the --json
 * summary and, for a person, on stdout. `run` chains them; the single-step commands run one.
 */
import type { Database } from '../db/database.js';
import { openDatabase } from '../db/open.js';
import type { Settings } from '../config/settings.js';
import { ingest, rejectRatioFailure } from '../ingest/ingest.js';
import type { IngestResult } from '../ingest/ingest.js';
import { buildModel } from '../model/build-model.js';
import type { ModelOptions, ModelResult } from '../model/build-model.js';
import { PipelineSession, acquirePipelineLock } from '../pipeline/session.js';
import { FULL_SCOPE } from '../quality/compile-tests.js';
import type { TestScope } from '../quality/compile-tests.js';
import { qualityGateFailure, runDataTests } from '../quality/run-data-tests.js';
import type { DataTestReport } from '../quality/run-data-tests.js';
import type { ShownDataTests } from '../report/report-data.js';
import { describeReport, writeReport } from '../report/write-report.js';
import { buildAvailabilitySnapshot } from '../snapshot/availability-snapshot.js';
import type { SnapshotOptions } from '../snapshot/availability-snapshot.js';
import { DataTestsFailedError, RejectRatioExceededError } from '../util/errors.js';
import type { CommonOptions, InputOptions } from './options.js';
import { settingsFrom } from './options.js';
import type { Output } from './output.js';
import { terminalProgress } from './progress.js';
import { describeDataTests, describeIngest, describeModel, describeSnapshot } from './summaries.js';

/** Opens a session, runs the command's steps, closes the run as succeeded or failed. */
export async function withSession(command: string, options: CommonOptions & InputOptions, out: Output, body: (session: PipelineSession) => Promise<void>): Promise<void> {
  const settings = settingsFrom(options);
  const session = await PipelineSession.open(command, settings, { log: out.log, progress: terminalProgress(!options.json) });
  out.summary.run_id = session.ctx.runId;
  out.summary.database = session.ctx.db.description;
  try {
    await body(session);
    await session.close({ ok: true });
  } catch (error) {
    await session.close({ ok: false, error: (error as Error).message }).catch(() => undefined);
    throw error;
  }
}

/**
 * Opens the configured database and takes the pipeline lock for a command outside the run log
 * (migrate, reset): beside a run, either would race on the catalogs.
 */
export async function withLockedDatabase<T>(options: CommonOptions, out: Output, body: (db: Database, settings: Settings) => Promise<T>): Promise<T> {
  const settings = settingsFrom(options);
  const db = await openDatabase(settings, { log: out.log });
  try {
    await acquirePipelineLock(db, settings.rawSchema, settings.lockTimeoutSeconds, out.log);
    return await body(db, settings);
  } finally {
    await db.close();
  }
}

export async function ingestStep(session: PipelineSession, out: Output): Promise<IngestResult> {
  try {
    const result = await session.step('ingest', () => ingest(session.ctx, session.ctx.settings.input), {
      counts: (r) => ({ rows_read: r.rows_read, loaded: r.loaded, rejected: r.rejected, duplicates: r.duplicates }),
      details: (r) => ({ files: r.files }),
      failure: (r) => rejectRatioFailure(r, session.ctx.settings.maxRejectRatio),
    });
    out.summary.ingest = result;
    out.say(describeIngest(result));
    return result;
  } catch (error) {
    if (error instanceof RejectRatioExceededError) out.summary.ingest = error.ingest;
    throw error;
  }
}

export async function modelStep(session: PipelineSession, out: Output, options: ModelOptions): Promise<ModelResult> {
  const result = await session.step('model', () => buildModel(session.ctx, options), { details: (r) => ({ ...r }) });
  out.summary.model = result;
  out.say(describeModel(result));
  return result;
}

export async function snapshotStep(session: PipelineSession, out: Output, options: SnapshotOptions): Promise<void> {
  const result = await session.step('snapshot', () => buildAvailabilitySnapshot(session.ctx, options), { details: (r) => ({ ...r }) });
  out.summary.snapshot = result;
  out.say(describeSnapshot(result));
}

/** The data tests, a gate: failing ones throw DataTestsFailedError, which carries the report. */
export async function testStep(session: PipelineSession, out: Output, scope: TestScope = FULL_SCOPE): Promise<DataTestReport> {
  let report: DataTestReport;
  try {
    report = await session.step('test', () => runDataTests(session.ctx, { scope }), {
      details: (r) => ({ passed: r.passed, warnings: r.warnings, errors: r.errors }),
      failure: qualityGateFailure,
    });
  } catch (error) {
    if (error instanceof DataTestsFailedError) {
      out.summary.tests = error.report;
      out.say(describeDataTests(error.report));
    }
    throw error;
  }
  out.summary.tests = report;
  out.say(describeDataTests(report));
  return report;
}

/** The HTML report; `tests`: the run's own data-test results, shown instead of running the tests again. */
export async function reportStep(session: PipelineSession, out: Output, file: string, tests?: ShownDataTests): Promise<void> {
  const result = await session.step('report', () => writeReport(session.ctx, file, { tests }), { details: (r) => ({ ...r }) });
  out.summary.report = result;
  out.say(describeReport(result));
}
