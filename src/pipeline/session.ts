import type { Settings } from '../config/settings.js';
import type { Database } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { openDatabase } from '../db/open.js';
import type { PipelineContext, ProgressReporter } from './context.js';
import { schemaNames } from './context.js';
import type { StepCounts } from './run-log.js';
import { RunLog } from './run-log.js';

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
    const db = await openDatabase(settings, { onRetry: options.log });
    try {
      const schemas = schemaNames(settings);
      await acquirePipelineLock(db, schemas.raw, options.log);
      await migrate(db, schemas);
      const runLog = new RunLog(db, schemas);
      const runId = await runLog.start(command);
      return new PipelineSession({ db, schemas, settings, runId, log: options.log, progress: options.progress }, runLog);
    } catch (error) {
      await db.close().catch(() => undefined);
      throw error;
    }
  }

  /** Runs one step and records it in the run log, whether it succeeds or fails. */
  async step<T>(name: string, work: () => Promise<T>, counts: (result: T) => StepCounts = () => ({}), details: (result: T) => Record<string, unknown> = () => ({})): Promise<T> {
    const startedAt = new Date();
    try {
      const result = await work();
      await this.runLog.step(this.ctx.runId, { step: name, status: 'succeeded', startedAt, finishedAt: new Date(), ...counts(result), details: details(result) });
      return result;
    } catch (error) {
      const partial = (error as { partialResult?: T }).partialResult;
      await this.runLog
        .step(this.ctx.runId, {
          step: name,
          status: 'failed',
          startedAt,
          finishedAt: new Date(),
          ...(partial === undefined ? {} : counts(partial)),
          details: partial === undefined ? {} : details(partial),
          error: (error as Error).message,
        })
        .catch(() => undefined);
      throw error;
    }
  }

  async close(outcome: { ok: true } | { ok: false; error: string }): Promise<void> {
    try {
      await this.runLog.finish(this.ctx.runId, outcome.ok ? 'succeeded' : 'failed', outcome.ok ? undefined : outcome.error);
    } finally {
      await this.ctx.db.close();
    }
  }
}

async function acquirePipelineLock(db: Database, rawSchema: string, log: (message: string) => void): Promise<void> {
  const key = `instapro:${rawSchema}`;
  const { rows } = await db.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [key]);
  if (rows[0]?.locked) return;
  log('another instapro run holds the pipeline lock on this database; waiting for it to finish');
  await db.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
}
