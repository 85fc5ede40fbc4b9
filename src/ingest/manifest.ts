import { quoteIdentifier, readSql } from '../db/sql-files.js';
import type { PipelineContext } from '../pipeline/context.js';
import type { FileIngestResult } from './ingest.js';
import type { InputObject } from './sources/input-object.js';
import type { StoredBytes } from './sources/open-content.js';

/**
 * The urls of `objects` that raw.input_manifest shows loaded with the same size and version
 * (local: mtime and inode; S3: ETag): delivered again unchanged, they need not be read. A file
 * whose load was rejected (reject ratio) is read again, so a higher ratio can let it in.
 */
export async function findUnchanged(ctx: PipelineContext, objects: readonly InputObject[]): Promise<Set<string>> {
  if (objects.length === 0) return new Set();
  const { rows } = await ctx.db.query<{ source: string; size_bytes: number | string; version: string }>(
    `SELECT source, size_bytes, version FROM ${quoteIdentifier(ctx.schemas.raw)}.input_manifest WHERE status = 'loaded' AND source = ANY($1::text[])`,
    [objects.map((o) => o.url)],
  );
  const recorded = new Map(rows.map((r) => [r.source, r]));
  return new Set(
    objects
      .filter((o) => {
        const r = recorded.get(o.url);
        return r !== undefined && Number(r.size_bytes) === o.size && r.version === o.version;
      })
      .map((o) => o.url),
  );
}

/** Records what became of one object; the caller runs it in the transaction that loaded the object's rows. */
export async function recordInManifest(ctx: PipelineContext, object: InputObject, stored: StoredBytes, result: FileIngestResult): Promise<void> {
  const sql = await readSql('ingest/04_record_manifest.sql', ctx.schemas);
  await ctx.db.query(sql, [
    object.url,
    object.size,
    object.version,
    stored.sha256(),
    result.status,
    result.rows_read,
    result.loaded,
    result.rejected,
    result.duplicates,
    ctx.runId,
  ]);
}
