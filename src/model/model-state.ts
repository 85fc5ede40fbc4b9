import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '../db/database.js';
import type { SchemaNames } from '../db/sql-files.js';
import { SQL_ROOT, quoteIdentifier } from '../db/sql-files.js';

/** What `{{raw}}.model_state` keeps about one mart schema between builds (migration 0008). */
export interface ModelState {
  builtThroughRunId: number;
  /** The last build merged the events loaded after this run; null when it was a full refresh. */
  incrementAfterRunId: number | null;
  modelFingerprint: string;
  fullRefreshRequired: boolean;
  snapshotRebuildPending: boolean;
  /** YYYY-MM-DD, or null when no day is waiting to be recomputed. */
  snapshotPendingFrom: string | null;
  snapshotFingerprint: string | null;
}

export async function readModelState(db: Database, schemas: SchemaNames): Promise<ModelState | null> {
  const { rows } = await db.query<{
    built_through_run_id: number;
    increment_after_run_id: number | null;
    model_fingerprint: string;
    full_refresh_required: boolean;
    snapshot_rebuild_pending: boolean;
    snapshot_pending_from: string | null;
    snapshot_fingerprint: string | null;
  }>(
    `SELECT built_through_run_id, increment_after_run_id, model_fingerprint, full_refresh_required, snapshot_rebuild_pending, snapshot_pending_from, snapshot_fingerprint
     FROM ${quoteIdentifier(schemas.raw)}.model_state WHERE mart_schema = $1`,
    [schemas.mart],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    builtThroughRunId: Number(row.built_through_run_id),
    incrementAfterRunId: row.increment_after_run_id === null ? null : Number(row.increment_after_run_id),
    modelFingerprint: row.model_fingerprint,
    fullRefreshRequired: row.full_refresh_required,
    snapshotRebuildPending: row.snapshot_rebuild_pending,
    snapshotPendingFrom: row.snapshot_pending_from,
    snapshotFingerprint: row.snapshot_fingerprint,
  };
}

/**
 * Records a finished build, in the build's transaction. The snapshot work it leaves adds to what
 * an earlier build left undone (a killed snapshot step): a rebuild stays a rebuild, and the
 * earliest pending day wins.
 */
export async function recordModelBuild(
  db: Database,
  schemas: SchemaNames,
  build: { builtThroughRunId: number; incrementAfterRunId: number | null; modelFingerprint: string; snapshotRebuild: boolean; snapshotPendingFrom: string | null },
): Promise<void> {
  await db.query(
    `INSERT INTO ${quoteIdentifier(schemas.raw)}.model_state AS s
         (mart_schema, built_through_run_id, increment_after_run_id, model_fingerprint, full_refresh_required, built_at, snapshot_rebuild_pending, snapshot_pending_from)
     VALUES ($1, $2, $6, $3, false, now(), $4, $5::date)
     ON CONFLICT (mart_schema) DO UPDATE SET
         built_through_run_id = excluded.built_through_run_id,
         increment_after_run_id = excluded.increment_after_run_id,
         model_fingerprint = excluded.model_fingerprint,
         full_refresh_required = false,
         built_at = excluded.built_at,
         snapshot_rebuild_pending = s.snapshot_rebuild_pending OR excluded.snapshot_rebuild_pending,
         snapshot_pending_from = least(s.snapshot_pending_from, excluded.snapshot_pending_from)`,
    [schemas.mart, build.builtThroughRunId, build.modelFingerprint, build.snapshotRebuild, build.snapshotPendingFrom, build.incrementAfterRunId],
  );
}

/** Records that the snapshot has done what the builds left it, in the snapshot's transaction. */
export async function recordSnapshotDone(db: Database, schemas: SchemaNames, snapshotFingerprint: string, rebuilt: boolean): Promise<void> {
  await db.query(
    `UPDATE ${quoteIdentifier(schemas.raw)}.model_state
     SET snapshot_rebuild_pending = false, snapshot_pending_from = NULL,
         snapshot_fingerprint = CASE WHEN $3 THEN $2 ELSE snapshot_fingerprint END
     WHERE mart_schema = $1`,
    [schemas.mart, snapshotFingerprint, rebuilt],
  );
}

/** A short hash of the files below sql/ given, by path and content. */
async function fingerprint(relativeDirs: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const dir of relativeDirs) {
    const entries = await readdir(path.join(SQL_ROOT, dir), { recursive: true });
    const files = entries
      .filter((name) => name.endsWith('.sql') || path.basename(name) === 'models.yml')
      .map((name) => path.join(dir, name).split(path.sep).join('/'))
      .sort();
    for (const file of files) hash.update(`${file}\0`).update(await readFile(path.join(SQL_ROOT, file))).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The model definition: the migrations (the tables) and the model SQL with its declarations. The
 * data tests (schema.yml) are not part of it: they check the model, they do not shape it.
 */
export const modelFingerprint = (): Promise<string> => fingerprint(['migrations', 'models']);

export const snapshotFingerprint = (): Promise<string> => fingerprint(['snapshot']);
