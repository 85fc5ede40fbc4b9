import { setTimeout as sleep } from 'node:timers/promises';
import type { Settings } from '../config/settings.js';
import type { Database } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { openDatabase } from '../db/open.js';
import type { PipelineContext, ProgressReporter } from './context.js';
import { schemaNames } from './context.js';
import type { StepCounts } from './run-log.js';
import { RunLog } from './run-log.js';
import { LockTimeoutError } from '../util/errors.js';

/**
 * One CLI invocation against the database: connect, take the pipeline lock, migrate, open a run
 * in the run log, run the steps, close the run. Two sessions against one database are
 * serialized by the lock (a PostgreSQL advisory lock; the embedded backend also holds a file
 * lock), so runs never interleave.
 */
export class PipelineSession {
  private constructor(
    readonly ctx: PipelineContext,
    private readonly runLog: RunLog,
  ) {}

  static async open(
    command: string,
    settings: Settings,
    options: { log: (message: string) => void; progress: ProgressReporter },
  ): Promise<PipelineSession> {
    const db = await openDatabase(settings, { log: options.log });
    try {
      const schemas = schemaNames(settings);
      await acquirePipelineLock(db, schemas.raw, settings.lockTimeoutSeconds, options.log);
      await migrate(db, schemas);
      const runLog = new RunLog(db, schemas);
      const runId = await runLog.start(command);
      return new PipelineSession({ db, schemas, settings, runId, log: options.log, progress: options.progress }, runLog);
    } catch (error) {
      await db.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Runs one step and records it in the run log, whether it succeeds or fails. A result can fail
   * the step too (`failure`: a reject ratio, the quality gate): it is recorded with its counts
   * and details, then its error is thrown.
   */
  async step<T>(name: string, work: () => Promise<T>, record: StepRecording<T> = {}): Promise<T> {
    const { counts = () => ({}), details = () => ({}), failure = () => undefined } = record;
    const startedAt = new Date();
    let result: T;
    try {
      result = await work();
    } catch (error) {
      // The step's own error is the outcome, also if the run log cannot be written.
      await this.runLog.step(this.ctx.runId, { step: name, status: 'failed', startedAt, finishedAt: new Date(), error: (error as Error).message }).catch(() => undefined);
      throw error;
    }
    const failed = failure(result);
    const entry = { step: name, startedAt, finishedAt: new Date(), ...counts(result), details: details(result) };
    if (failed === undefined) {
      await this.runLog.step(this.ctx.runId, { ...entry, status: 'succeeded' });
      return result;
    }
    await this.runLog.step(this.ctx.runId, { ...entry, status: 'failed', error: failed.message }).catch(() => undefined);
    throw failed;
  }

  async close(outcome: { ok: true } | { ok: false; error: string }): Promise<void> {
    try {
      await this.runLog.finish(this.ctx.runId, outcome.ok ? 'succeeded' : 'failed', outcome.ok ? undefined : outcome.error);
    } finally {
      await this.ctx.db.close();
    }
  }
}

/** What the run log records of a step's result, and whether the result fails the step. */
export interface StepRecording<T> {
  counts?: (result: T) => StepCounts;
  details?: (result: T) => Record<string, unknown>;
  failure?: (result: T) => Error | undefined;
}

const LOCK_POLL_MS = 250;

/**
 * The pipeline lock: a session-level advisory lock, released by the server when the session ends
 * (however the client died). Polled rather than blocked on, so the wait has a limit
 * (INSTAPRO_LOCK_TIMEOUT) and a signal can stop a waiting process.
 */
export async function acquirePipelineLock(db: Database, rawSchema: string, timeoutSeconds: number, log: (message: string) => void): Promise<void> {
  const key = `instapro:${rawSchema}`;
  const tryLock = async () => (await db.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [key])).rows[0]?.locked === true;
  if (await tryLock()) return;
  const deadline = Date.now() + timeoutSeconds * 1000;
  if (timeoutSeconds > 0) log(`another instapro run holds the pipeline lock on this database; waiting up to ${timeoutSeconds} s for it (INSTAPRO_LOCK_TIMEOUT)`);
  while (Date.now() < deadline) {
    await sleep(Math.min(LOCK_POLL_MS, Math.max(0, deadline - Date.now())));
    if (await tryLock()) return;
  }
  throw new LockTimeoutError(
    `another instapro run still holds the pipeline lock on ${db.description} (schema ${rawSchema}) after waiting ${timeoutSeconds} s; raise INSTAPRO_LOCK_TIMEOUT / --lock-timeout to wait longer`,
  );
}
