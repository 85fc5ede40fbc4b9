import { inTransaction } from '../db/database.js';
import { listSqlFiles, quoteIdentifier, readSql } from '../db/sql-files.js';
import type { PipelineContext } from '../pipeline/context.js';

export const MART_TABLES = [
  'dim_date',
  'dim_event_type',
  'dim_professional',
  'dim_service',
  'fct_event',
  'fct_proposal',
  'professional_availability_history',
] as const;

export interface ModelResult {
  /** Row count of every star-schema table after the build. */
  tables: Record<string, number>;
}

/** Rebuilds the star schema from the raw layer: the files in sql/models, in order, one transaction. */
export async function buildModel(ctx: PipelineContext): Promise<ModelResult> {
  const { db, schemas } = ctx;
  const files = await listSqlFiles('models');
  await inTransaction(db, async () => {
    for (const file of files) await db.exec(await readSql(`models/${file}`, schemas));
  });
  const mart = quoteIdentifier(schemas.mart);
  const counts = await db.query<Record<string, number>>(
    `SELECT ${MART_TABLES.map((t) => `(SELECT count(*)::integer FROM ${mart}.${quoteIdentifier(t)}) AS ${quoteIdentifier(t)}`).join(', ')}`,
  );
  return { tables: Object.fromEntries(MART_TABLES.map((t) => [t, Number(counts.rows[0]?.[t] ?? 0)])) };
}
