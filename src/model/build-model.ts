import { inTransaction } from '../db/database.js';
import { deferrableConstraintsAndIndexes, dropDeferred, recreateDeferred } from '../db/deferred-ddl.js';
import { listSqlFiles, quoteIdentifier, readSql } from '../db/sql-files.js';
import type { PipelineContext } from '../pipeline/context.js';

/** The star schema as analysts query it: its tables, and fct_proposal, a view of fct_event's proposals. */
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
  /** Row count of every star-schema table (and of the fct_proposal view) after the build. */
  tables: Record<string, number>;
}

/** The tables sql/models rebuilds: dim_event_type is reference data owned by a migration, fct_proposal a view. */
const REBUILT_TABLES = MART_TABLES.filter((t) => t !== 'dim_event_type' && t !== 'fct_proposal');

/**
 * Rebuilds the star schema from the raw layer: the files in sql/models, in order, in one
 * transaction, so readers see the old or the new version and a failure leaves the old one.
 */
export async function buildModel(ctx: PipelineContext): Promise<ModelResult> {
  const { db, schemas, progress } = ctx;
  const mart = quoteIdentifier(schemas.mart);
  const rebuiltTables = REBUILT_TABLES.map((t) => `${mart}.${quoteIdentifier(t)}`).join(', ');
  const files = await listSqlFiles('models');
  try {
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
      const deferred = await deferrableConstraintsAndIndexes(db, schemas.mart, REBUILT_TABLES);
      await dropDeferred(db, deferred);
      for (const [i, file] of files.entries()) {
        progress.activity(`model: ${file} (${i + 1}/${files.length})`);
        await db.exec(await readSql(`models/${file}`, schemas));
      }
      // Statistics of the new rows before the keys come back: re-adding a foreign key runs a query
      // over both tables, and with row counts and distributions the planner picks a cheaper plan
      // (at 10M events, keys between facts took 18 s without, 11 s with). A sample of 30,000 rows
      // per table: well under a second. The data tests and the first queries gain too.
      progress.activity('model: analyze');
      await db.exec(`ANALYZE ${rebuiltTables}`);
      await recreateDeferred(db, deferred, (ddl, position, count) => progress.activity(`model: keys and indexes, ${ddl.name} (${position}/${count})`));
    });
    // Sets the visibility map and the hint bits of the new rows once, now, instead of leaving it to
    // the first readers (every page the data tests or an analyst first read would be written again)
    // and to an autovacuum that would start on the fresh tables while the next steps run. With the
    // visibility map set, index-only scans work at once: the test comparing fct_event with the raw
    // events merges the two primary keys instead of hashing 10M keys in batches.
    // ANALYZE again: the one in the transaction ran before its rows were committed, so the
    // statistics still count them all as changed since the last analyze, and autovacuum would
    // analyze every table again seconds later, in the middle of the next steps.
    // VACUUM cannot run inside a transaction; killed midway it leaves nothing to undo.
    progress.activity('model: vacuum and analyze');
    await db.exec(`VACUUM (ANALYZE) ${rebuiltTables}`);
    progress.activity('model: counting rows');
    const counts = await db.query<Record<string, number>>(
      `SELECT ${MART_TABLES.map((t) => `(SELECT count(*)::integer FROM ${mart}.${quoteIdentifier(t)}) AS ${quoteIdentifier(t)}`).join(', ')}`,
    );
    return { tables: Object.fromEntries(MART_TABLES.map((t) => [t, Number(counts.rows[0]?.[t] ?? 0)])) };
  } finally {
    progress.stop();
  }
}
