import type { Database } from '../db/database.js';
import type { SchemaNames } from '../db/sql-files.js';
import { quoteIdentifier } from '../db/sql-files.js';

export interface StepCounts {
  rows_read?: number;
  loaded?: number;
  rejected?: number;
  duplicates?: number;
}

export interface StepRecord extends StepCounts {
  step: string;
  status: 'succeeded' | 'failed';
  startedAt: Date;
  finishedAt: Date;
  details?: Record<string, unknown>;
  error?: string;
}

/**
 * The run log (`{{raw}}.pipeline_run` and `pipeline_step_log`). Rows are written outside the
 * steps' transactions so a failed step is still on record.
 */
export class RunLog {
  private readonly raw: string;

  constructor(
    private readonly db: Database,
    schemas: SchemaNames,
  ) {
    this.raw = quoteIdentifier(schemas.raw);
  }

  /**
   * Opens a run. Called while holding the pipeline lock, so any run still marked running belongs
   * to a process that died: it is closed as failed first.
   */
  async start(command: string): Promise<number> {
    await this.db.query(
      `UPDATE ${this.raw}.pipeline_run SET status = 'failed', finished_at = clock_timestamp(), error = 'interrupted: the process ended before the run finished' WHERE status = 'running'`,
    );
    const { rows } = await this.db.query<{ run_id: number }>(`INSERT INTO ${this.raw}.pipeline_run (command) VALUES ($1) RETURNING run_id`, [command]);
    return Number(rows[0]?.run_id);
  }

  async step(runId: number, record: StepRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.raw}.pipeline_step_log
         (run_id, step, status, started_at, finished_at, duration_ms, rows_read, loaded, rejected, duplicates, details, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (run_id, step) DO UPDATE SET
         status = excluded.status, finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
         rows_read = excluded.rows_read, loaded = excluded.loaded, rejected = excluded.rejected,
         duplicates = excluded.duplicates, details = excluded.details, error = excluded.error`,
      [
        runId,
        record.step,
        record.status,
        record.startedAt.toISOString(),
        record.finishedAt.toISOString(),
        record.finishedAt.getTime() - record.startedAt.getTime(),
        record.rows_read ?? null,
        record.loaded ?? null,
        record.rejected ?? null,
        record.duplicates ?? null,
        JSON.stringify(record.details ?? {}),
        record.error ?? null,
      ],
    );
  }

  async finish(runId: number, status: 'succeeded' | 'failed', error?: string): Promise<void> {
    await this.db.query(`UPDATE ${this.raw}.pipeline_run SET status = $2, finished_at = clock_timestamp(), error = $3 WHERE run_id = $1`, [
      runId,
      status,
      error ?? null,
    ]);
  }
}
