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
 * Keys, foreign keys and secondary indexes of the rebuilt tables, as the migrations created them,
 * read from the catalog. A full rebuild drops them, loads, and re-creates them: PostgreSQL then
 * builds each key and index with one sort and checks each foreign key with one join, instead of
 * an index insertion and a trigger call per row (several times faster on large logs). Returned in
 * drop order (foreign keys first, as they depend on the keys they reference); re-create in
 * reverse (keys before the foreign keys that need them). A key's NOT NULL stays on its columns.
 */
async function deferredConstraintsAndIndexes(ctx: PipelineContext): Promise<DeferredDdl[]> {
  const { rows: constraints } = await ctx.db.query<{ tbl: string; name: string; def: string }>(
    `SELECT c.conrelid::regclass::text AS tbl, quote_ident(c.conname) AS name, pg_get_constraintdef(c.oid) AS def
     FROM pg_constraint AS c JOIN pg_class AS t ON t.oid = c.conrelid JOIN pg_namespace AS n ON n.oid = t.relnamespace
     WHERE c.contype IN ('f', 'p', 'u') AND n.nspname = $1 AND t.relname = ANY ($2::text[])
     ORDER BY c.contype = 'f' DESC, 1, 2`,
    [ctx.schemas.mart, REBUILT_TABLES],
  );
  const { rows: indexes } = await ctx.db.query<{ name: string; def: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
     FROM pg_index AS i JOIN pg_class AS t ON t.oid = i.indrelid JOIN pg_namespace AS n ON n.oid = t.relnamespace
     WHERE NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
       AND n.nspname = $1 AND t.relname = ANY ($2::text[])
     ORDER BY 1`,
    [ctx.schemas.mart, REBUILT_TABLES],
  );
  return [
    ...constraints.map((c) => ({ drop: `ALTER TABLE ${c.tbl} DROP CONSTRAINT ${c.name}`, create: `ALTER TABLE ${c.tbl} ADD CONSTRAINT ${c.name} ${c.def}` })),
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
    // Memory for this transaction only (SET LOCAL): hash aggregates and joins that fit in memory
    // instead of spilling to disk, and key and index builds sorted in memory. Server only: the
    // embedded database's memory is the CLI's own, kept small by its start settings (embedded.ts).
    if (db.kind === 'server') {
      await db.query(`SELECT set_config('work_mem', $1, true), set_config('maintenance_work_mem', $2, true)`, [
        ctx.settings.modelWorkMem,
        ctx.settings.modelMaintenanceWorkMem,
      ]);
    }
    const deferred = await deferredConstraintsAndIndexes(ctx);
    for (const ddl of deferred) await db.exec(ddl.drop);
    for (const file of files) await db.exec(await readSql(`models/${file}`, schemas));
    for (const ddl of [...deferred].reverse()) await db.exec(ddl.create);
  });
  const mart = quoteIdentifier(schemas.mart);
  const counts = await db.query<Record<string, number>>(
    `SELECT ${MART_TABLES.map((t) => `(SELECT count(*)::integer FROM ${mart}.${quoteIdentifier(t)}) AS ${quoteIdentifier(t)}`).join(', ')}`,
  );
  return { tables: Object.fromEntries(MART_TABLES.map((t) => [t, Number(counts.rows[0]?.[t] ?? 0)])) };
}
