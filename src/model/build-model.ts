import type { Database } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { deferrableConstraintsAndIndexes, dropDeferred, recreateDeferred } from '../db/deferred-ddl.js';
import { quoteIdentifier, readSql } from '../db/sql-files.js';
import type { PipelineContext } from '../pipeline/context.js';
import type { ModelDeclaration } from './model-graph.js';
import { loadModels, modelSqlPath } from './model-graph.js';
import { availabilityEventTypes } from './event-types.js';
import { modelFingerprint, readModelState, recordModelBuild } from './model-state.js';

/** The star schema as analysts query it: its tables, and fct_proposal, a view of fct_event's proposals. */
export const MART_TABLES = [
  'dim_date',
  'dim_event_type',
  'dim_professional',
  'dim_service',
  'dim_service_name',
  'fct_event',
  'fct_proposal',
  'professional_availability_history',
] as const;

export type ModelMode = 'full-refresh' | 'incremental';

export type FullRefreshReason = 'requested' | 'first build' | 'model definition changed' | 'loaded events changed other than by appending';

export interface ModelOptions {
  /** Rebuild every table from all loaded events (dbt's --full-refresh). */
  fullRefresh?: boolean;
}

export interface ModelResult {
  mode: ModelMode;
  /** Why the build was a full refresh; null for an incremental build. */
  full_refresh_reason: FullRefreshReason | null;
  /** Events merged: those loaded by runs after `after_run_id` (all of them on a full refresh). */
  events_merged: number;
  /** The previous build's watermark (null on a full refresh): events loaded by later runs were new. */
  after_run_id: number | null;
  /** Every event loaded by this run or an earlier one is in the model now. */
  built_through_run_id: number;
  /** The earliest day whose snapshot the build changed ('all' after a full refresh, null if none). */
  snapshot_from: string | null;
  /** Rows each table gained, changed and lost in the build. */
  changes: Record<string, { inserted: number; updated: number; deleted: number }>;
  /**
   * Row count of every star-schema table (and of the fct_proposal view) after a full refresh;
   * null after an incremental build, whose cost must not grow with the tables.
   */
  tables: Record<string, number> | null;
}

/** The events of a build, as {{increment}} names them (models.yml). */
const INCREMENT_TABLE = 'pg_temp.model_increment';

/**
 * Builds the star schema from the raw layer: the models of sql/models/models.yml in dependency
 * order, in one transaction, so readers see the old or the new version and a failed or killed
 * build leaves the old one and its state (the next build merges the same events again).
 * Incremental unless a full refresh is asked for or needed: it merges the events loaded since the
 * last build; a full refresh empties the tables and merges every loaded event. Both run the same
 * SQL, so they give the same tables.
 */
export async function buildModel(ctx: PipelineContext, options: ModelOptions = {}): Promise<ModelResult> {
  const { db, schemas, progress } = ctx;
  const models = await loadModels();
  const fingerprint = await modelFingerprint();
  try {
    const result = await inTransaction(db, async () => {
      const countersBefore = await tableCounters(db, schemas.mart, tablesOf(models));
      const state = await readModelState(db, schemas);
      const reason: FullRefreshReason | null = options.fullRefresh
        ? 'requested'
        : state === null
          ? 'first build'
          : state.modelFingerprint !== fingerprint
            ? 'model definition changed'
            : state.fullRefreshRequired
              ? 'loaded events changed other than by appending'
              : null;
      const afterRunId = reason === null && state !== null ? state.builtThroughRunId : null;
      const build = afterRunId !== null ? await mergeIncrement(ctx, models, afterRunId) : await fullRefresh(ctx, models);
      await recordModelBuild(db, schemas, {
        builtThroughRunId: ctx.runId,
        incrementAfterRunId: afterRunId,
        modelFingerprint: fingerprint,
        snapshotRebuild: reason !== null,
        snapshotPendingFrom: build.snapshotFrom,
      });
      const changes = changesSince(countersBefore, await tableCounters(db, schemas.mart, tablesOf(models)));
      return {
        changes,
        mode: reason === null ? ('incremental' as const) : ('full-refresh' as const),
        full_refresh_reason: reason,
        events_merged: build.events,
        after_run_id: afterRunId,
        built_through_run_id: ctx.runId,
        snapshot_from: reason !== null ? 'all' : build.snapshotFrom,
      };
    });
    // An increment's few pages are left to autovacuum, as its statistics are: a day barely moves them.
    if (result.mode === 'incremental') return { ...result, tables: null };
    // After a full refresh, the new rows' visibility map and hint bits are set once, now (as after
    // ingest, docs/ingest.md step 6); ANALYZE again, as the one inside the transaction counted them
    // uncommitted. Outside the transaction (VACUUM cannot run in one); killed, it leaves nothing to undo.
    progress.activity('model: vacuum and analyze');
    await db.exec(`VACUUM (ANALYZE) ${tablesOf(models).map((t) => `${quoteIdentifier(schemas.mart)}.${quoteIdentifier(t)}`).join(', ')}`);
    progress.activity('model: counting rows');
    const tables = await countRows(db, schemas.mart);
    // A full refresh merged every event it now holds (counted after commit, apart from the row counters).
    return { ...result, events_merged: tables.fct_event ?? 0, tables };
  } finally {
    progress.stop();
  }
}

function tablesOf(models: readonly ModelDeclaration[]): string[] {
  return models.filter((m) => m.layer === 'marts' && m.materialized === 'table').map((m) => m.name);
}

interface BuildOutcome {
  /** Events merged; a full refresh's count is taken from the committed tables (buildModel). */
  events: number;
  /** The earliest event date of an availability event merged (the snapshot recomputes from there). */
  snapshotFrom: string | null;
}

async function runModels(ctx: PipelineContext, models: readonly ModelDeclaration[], fragments: Record<string, string>): Promise<void> {
  for (const [i, model] of models.entries()) {
    ctx.progress.activity(`model: ${model.name} (${i + 1}/${models.length})`);
    await ctx.db.exec(await readSql(modelSqlPath(model), ctx.schemas, fragments));
  }
}

/** Server only: the embedded database's memory is the CLI's own, kept small by its start settings (embedded.ts). */
async function setBuildMemory(ctx: PipelineContext): Promise<void> {
  if (ctx.db.kind !== 'server') return;
  await ctx.db.query(`SELECT set_config('work_mem', $1, true), set_config('maintenance_work_mem', $2, true)`, [ctx.settings.modelWorkMem, ctx.settings.modelMaintenanceWorkMem]);
}

/**
 * Empties the model's tables and merges every loaded event. The large tables (bulk_load) are
 * loaded without their keys and indexes, which are built again afterwards: one sort per index
 * and one join per foreign key instead of work per row (docs/incremental-model.md).
 */
async function fullRefresh(ctx: PipelineContext, models: readonly ModelDeclaration[]): Promise<BuildOutcome> {
  const { db, schemas } = ctx;
  const mart = quoteIdentifier(schemas.mart);
  await setBuildMemory(ctx);
  const tables = tablesOf(models);
  const bulkTables = models.filter((m) => m.bulk_load).map((m) => m.name);
  await db.exec(`TRUNCATE ${tables.map((t) => `${mart}.${quoteIdentifier(t)}`).join(', ')}`);
  const deferred = await deferrableConstraintsAndIndexes(db, schemas.mart, bulkTables);
  await dropDeferred(db, deferred);
  await runModels(ctx, models, {
    increment: `${quoteIdentifier(schemas.staging)}.stg_event`,
    full_refresh: 'true',
    availability_event_types: await availabilityEventTypes(db, schemas),
  });
  // Statistics of the new rows before the keys come back: re-adding a foreign key joins both
  // tables, and the planner picks a cheaper join knowing their sizes (docs/benchmarks.md).
  ctx.progress.activity('model: analyze');
  await db.exec(`ANALYZE ${tables.map((t) => `${mart}.${quoteIdentifier(t)}`).join(', ')}`);
  await recreateDeferred(db, deferred, (ddl, position, count) => ctx.progress.activity(`model: keys and indexes, ${ddl.name} (${position}/${count})`));
  return { events: 0, snapshotFrom: null };
}

/**
 * Merges the events loaded after `afterRunId` (raw events are only ever appended: anything else
 * makes the next build a full refresh, see migration 0008). The staging views are not re-created:
 * a change to them changes the model's fingerprint, which forces a full refresh.
 */
async function mergeIncrement(ctx: PipelineContext, models: readonly ModelDeclaration[], afterRunId: number): Promise<BuildOutcome> {
  const { db, schemas } = ctx;
  await setBuildMemory(ctx);
  // An increment touches few rows of large tables, whose pages the build has just read: priced as
  // on a cached or solid-state disk, lookups by key win over full scans (docs/incremental-model.md).
  // Its statements are small: compiling them (JIT) would cost more than it saves.
  await db.query(`SELECT set_config('random_page_cost', '1.1', true), set_config('jit', 'off', true)`);
  ctx.progress.activity('model: finding the new events');
  // An integer literal, not a parameter: the planner then estimates the increment from run_id's
  // statistics and reads it through the run_id index. meta_data is left out: its fields are the columns after it.
  await db.exec(
    `CREATE TEMP TABLE model_increment ON COMMIT DROP AS
     SELECT event_id, event_type, professional_id, created_at, event_date, service_id, service_name_nl, service_name_en, lead_fee, run_id
     FROM ${quoteIdentifier(schemas.staging)}.stg_event WHERE run_id > ${Math.trunc(afterRunId)};
     ANALYZE ${INCREMENT_TABLE} (event_id, event_type, professional_id, created_at, event_date, service_id);`,
  );
  const { rows } = await db.query<{ events: number; first_availability_date: string | null }>(
    `SELECT count(*)::integer AS events,
            min(i.event_date) FILTER (WHERE t.changes_availability)::text AS first_availability_date
     FROM ${INCREMENT_TABLE} AS i JOIN ${quoteIdentifier(schemas.mart)}.dim_event_type AS t ON t.event_type = i.event_type`,
  );
  const events = Number(rows[0]?.events ?? 0);
  if (events > 0) {
    await runModels(
      ctx,
      models.filter((m) => m.materialized !== 'view'),
      { increment: INCREMENT_TABLE, full_refresh: 'false', availability_event_types: await availabilityEventTypes(db, schemas) },
    );
  }
  return { events, snapshotFrom: rows[0]?.first_availability_date ?? null };
}

/**
 * PostgreSQL's per-session row counters of each table (pg_stat_xact_user_tables). They can still
 * hold earlier transactions' counts not yet flushed, so a build takes the difference of two readings.
 */
async function tableCounters(db: Database, martSchema: string, tables: readonly string[]): Promise<ModelResult['changes']> {
  // A partitioned table's rows are counted on its partitions (fct_event): summed per root table.
  const { rows } = await db.query<{ relname: string; inserted: number; updated: number; deleted: number }>(
    `SELECT t.relname, sum(s.n_tup_ins)::integer AS inserted, sum(s.n_tup_upd)::integer AS updated, sum(s.n_tup_del)::integer AS deleted
     FROM pg_stat_xact_user_tables AS s
     JOIN pg_class AS t ON t.oid = coalesce(pg_partition_root(s.relid), s.relid)
     JOIN pg_namespace AS n ON n.oid = t.relnamespace
     WHERE n.nspname = $1 AND t.relname = ANY ($2::text[])
     GROUP BY t.relname`,
    [martSchema, tables],
  );
  const byTable = new Map(rows.map((r) => [r.relname, r]));
  return Object.fromEntries(
    tables.map((t) => {
      const r = byTable.get(t);
      return [t, { inserted: Number(r?.inserted ?? 0), updated: Number(r?.updated ?? 0), deleted: Number(r?.deleted ?? 0) }];
    }),
  );
}

function changesSince(before: ModelResult['changes'], after: ModelResult['changes']): ModelResult['changes'] {
  return Object.fromEntries(
    Object.entries(after).map(([t, a]) => {
      const b = before[t] ?? { inserted: 0, updated: 0, deleted: 0 };
      return [t, { inserted: a.inserted - b.inserted, updated: a.updated - b.updated, deleted: a.deleted - b.deleted }];
    }),
  );
}

async function countRows(db: Database, martSchema: string): Promise<Record<string, number>> {
  const mart = quoteIdentifier(martSchema);
  const counts = await db.query<Record<string, number>>(
    `SELECT ${MART_TABLES.map((t) => `(SELECT count(*)::integer FROM ${mart}.${quoteIdentifier(t)}) AS ${quoteIdentifier(t)}`).join(', ')}`,
  );
  return Object.fromEntries(MART_TABLES.map((t) => [t, Number(counts.rows[0]?.[t] ?? 0)]));
}
