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

/** The tables sql/models rebuilds (dim_event_type is reference data owned by a migration). */
const REBUILT_TABLES = MART_TABLES.filter((t) => t !== 'dim_event_type');

interface DeferredDdl {
  drop: string;
  create: string;
}

/**
 * Foreign keys and secondary indexes of the rebuilt tables, as the migrations created them, read
 * from the catalog. A full rebuild drops them, loads, and re-creates them: PostgreSQL then checks
 * each foreign key with one join and builds each index with one sort, instead of a trigger call
 * and an index insertion per row (several times faster on large logs). Primary keys stay.
 */
async function deferredConstraintsAndIndexes(ctx: PipelineContext): Promise<DeferredDdl[]> {
  const { rows: foreignKeys } = await ctx.db.query<{ tbl: string; name: string; def: string }>(
    `SELECT c.conrelid::regclass::text AS tbl, quote_ident(c.conname) AS name, pg_get_constraintdef(c.oid) AS def
     FROM pg_constraint AS c JOIN pg_class AS t ON t.oid = c.conrelid JOIN pg_namespace AS n ON n.oid = t.relnamespace
     WHERE c.contype = 'f' AND n.nspname = $1 AND t.relname = ANY ($2::text[])
     ORDER BY 1, 2`,
    [ctx.schemas.mart, REBUILT_TABLES],
  );
  const { rows: indexes } = await ctx.db.query<{ name: string; def: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
     FROM pg_index AS i JOIN pg_class AS t ON t.oid = i.indrelid JOIN pg_namespace AS n ON n.oid = t.relnamespace
     WHERE NOT i.indisprimary AND NOT i.indisunique AND n.nspname = $1 AND t.relname = ANY ($2::text[])
     ORDER BY 1`,
    [ctx.schemas.mart, REBUILT_TABLES],
  );
  return [
    ...foreignKeys.map((fk) => ({ drop: `ALTER TABLE ${fk.tbl} DROP CONSTRAINT ${fk.name}`, create: `ALTER TABLE ${fk.tbl} ADD CONSTRAINT ${fk.name} ${fk.def}` })),
    ...indexes.map((ix) => ({ drop: `DROP INDEX ${ix.name}`, create: ix.def })),
  ];
}

/**
 * Rebuilds the star schema from the raw layer: the files in sql/models, in order, in one
 * transaction, so readers see the old or the new version and a failure leaves the old one.
 */
export async function buildModel(ctx: PipelineContext): Promise<ModelResult> {
  const { db, schemas } = ctx;
  const files = await listSqlFiles('models');
  await inTransaction(db, async () => {
    const deferred = await deferredConstraintsAndIndexes(ctx);
    for (const ddl of deferred) await db.exec(ddl.drop);
    for (const file of files) await db.exec(await readSql(`models/${file}`, schemas));
    for (const ddl of deferred) await db.exec(ddl.create);
  });
  const mart = quoteIdentifier(schemas.mart);
  const counts = await db.query<Record<string, number>>(
    `SELECT ${MART_TABLES.map((t) => `(SELECT count(*)::integer FROM ${mart}.${quoteIdentifier(t)}) AS ${quoteIdentifier(t)}`).join(', ')}`,
  );
  return { tables: Object.fromEntries(MART_TABLES.map((t) => [t, Number(counts.rows[0]?.[t] ?? 0)])) };
}
