import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.js';
import { buildModel } from '../../src/model/build-model.js';
import type { PipelineSession } from '../../src/pipeline/session.js';
import { compileTests } from '../../src/quality/compile-tests.js';
import { runDataTests, runTests } from '../../src/quality/run-data-tests.js';
import type { TestScope } from '../../src/quality/compile-tests.js';
import { loadSchemaFile } from '../../src/quality/schema-file.js';
import { buildAvailabilitySnapshot } from '../../src/snapshot/availability-snapshot.js';
import { BACKENDS, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { SAMPLE_EVENT_LOG } from '../helpers/event-log-files.js';

/**
 * Each kind of data test is shown catching a table broken on purpose, so none of them is a test
 * that cannot fail. Every case breaks a fresh build inside a transaction that is rolled back.
 */
describe.each(BACKENDS)('data tests on the %s backend', (backend) => {
  let db: TestDatabase;
  let session: PipelineSession;
  const mart = () => `"${session.ctx.schemas.mart}"`;
  const raw = () => `"${session.ctx.schemas.raw}"`;

  /** Breaks the database with `sql`, runs all declared tests, rolls back; returns the failures. */
  async function failuresAfter(sql: string, scope?: TestScope): Promise<{ name: string; status: string; failing_rows: number }[]> {
    await session.ctx.db.exec('BEGIN');
    try {
      await session.ctx.db.exec(sql);
      const report = await runDataTests(session.ctx, { scope });
      return report.results.filter((r) => r.status !== 'pass').map((r) => ({ name: r.name, status: r.status, failing_rows: r.failing_rows }));
    } finally {
      await session.ctx.db.exec('ROLLBACK');
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    session = await db.session();
    await ingest(session.ctx, [SAMPLE_EVENT_LOG]);
    await buildModel(session.ctx);
    await buildAvailabilitySnapshot(session.ctx);
  });
  afterAll(async () => {
    await session?.close({ ok: true });
    await db?.cleanup();
  });

  beforeEach(async () => {
    // The reconciliation test reads the run log; record the sample's ingest as a succeeded step.
    await session.ctx.db.query(
      `INSERT INTO ${raw()}.pipeline_step_log (run_id, step, status, started_at, finished_at, duration_ms, rows_read, loaded, rejected, duplicates)
       SELECT $1, 'ingest', 'succeeded', now(), now(), 0, count(*), count(*), 0, 0 FROM ${raw()}.event
       ON CONFLICT DO NOTHING`,
      [session.ctx.runId],
    );
  });

  it('passes on a correct build', async () => {
    const report = await runDataTests(session.ctx);
    expect(report.results.filter((r) => r.status !== 'pass')).toEqual([]);
    expect(report.passed).toBeGreaterThan(100);
  });

  it('run with JIT off, and leave the setting of the session as it was', async () => {
    const jit = async () => (await session.ctx.db.query<{ jit: string }>(`SELECT current_setting('jit') AS jit`)).rows[0]?.jit;
    // A test that fails while JIT is on.
    const jitOn = compileTests({ version: 1, tables: [], tests: [{ name: 'jit_is_on', description: 'x', severity: 'error', sql: "SELECT 1 WHERE current_setting('jit') = 'on'" }] }, session.ctx.schemas);
    for (const setting of ['on', 'off']) {
      await session.ctx.db.query(`SELECT set_config('jit', $1, false)`, [setting]);
      const report = await runTests(session.ctx.db, jitOn);
      expect(report.results.map((r) => r.status)).toEqual(['pass']);
      expect(await jit()).toBe(setting);
    }
  });

  it('a test whose constraint is in place reads no rows; the others run', async () => {
    const report = await runDataTests(session.ctx);
    const guarded = new Set(report.results.filter((r) => r.guarded_by_constraint).map((r) => r.name));
    expect(guarded).toContain('not_null_fct_event_event_type');
    expect(guarded).toContain('unique_event_event_id');
    expect(guarded).toContain('relationships_fct_event_professional_id_to_dim_professional');
    expect(guarded).toContain('lead_fee_non_negative');
    expect(guarded).not.toContain('accepted_values_event_event_type');
    expect(guarded).not.toContain('reconcile_fct_event_with_raw');
  });

  it('reports each test as progress while it runs, and clears the line at the end', async () => {
    const reported: string[] = [];
    const progress = { start: () => undefined, update: () => undefined, activity: (label: string) => reported.push(label), stop: () => reported.push('(stop)') };
    const report = await runDataTests({ ...session.ctx, progress });
    const count = report.results.length;
    expect(reported).toEqual([...report.results.map((r, i) => `test: ${r.name} (${i + 1}/${count})`), '(stop)']);
  });

  it('unique catches a duplicated key (with the primary key dropped)', async () => {
    const failures = await failuresAfter(`
      ALTER TABLE ${mart()}.dim_date DROP CONSTRAINT dim_date_date_key;
      UPDATE ${mart()}.dim_date SET date = date + 1 WHERE date_key = (SELECT min(date_key) FROM ${mart()}.dim_date)`);
    expect(failures).toContainEqual({ name: 'unique_dim_date_date', status: 'fail', failing_rows: 1 });
    expect(failures).toContainEqual({ name: 'schema_dim_date_column_constraints', status: 'fail', failing_rows: 1 });
  });

  it('not_null catches a null (with the NOT NULL constraint dropped)', async () => {
    const failures = await failuresAfter(`
      ALTER TABLE ${mart()}.dim_service ALTER COLUMN service_name_en DROP NOT NULL;
      UPDATE ${mart()}.dim_service SET service_name_en = NULL WHERE service_id = (SELECT min(service_id) FROM ${mart()}.dim_service)`);
    expect(failures).toContainEqual({ name: 'not_null_dim_service_service_name_en', status: 'fail', failing_rows: 1 });
    expect(failures).toContainEqual({ name: 'schema_dim_service_column_constraints', status: 'fail', failing_rows: 1 });
  });

  it('a constraint that guards a column test is required even when the data is still clean', async () => {
    // With the constraints in place the column tests read no rows; dropping one must not go unnoticed.
    const failures = await failuresAfter(`
      ALTER TABLE ${mart()}.fct_event ALTER COLUMN event_date DROP NOT NULL;
      ALTER TABLE ${mart()}.professional_availability_history DROP CONSTRAINT professional_availability_history_started_by_event_id_key;
      ALTER TABLE ${mart()}.fct_event DROP CONSTRAINT fct_event_date_key_fkey`);
    expect(failures).toEqual([
      { name: 'schema_fct_event_fk_date_key', status: 'fail', failing_rows: 1 },
      { name: 'schema_fct_event_column_constraints', status: 'fail', failing_rows: 2 },
      { name: 'schema_professional_availability_history_column_constraints', status: 'fail', failing_rows: 1 },
    ]);
  });

  it('accepted_values catches an unexpected value', async () => {
    const failures = await failuresAfter(`UPDATE ${raw()}.event SET event_type = 'signed_up' WHERE event_id = (SELECT min(event_id) FROM ${raw()}.event)`);
    expect(failures).toContainEqual({ name: 'accepted_values_event_event_type', status: 'fail', failing_rows: 1 });
  });

  it('relationships catches an orphan (with the foreign key dropped)', async () => {
    const failures = await failuresAfter(`
      ALTER TABLE ${mart()}.fct_event DROP CONSTRAINT fct_event_service_id_fkey;
      DELETE FROM ${mart()}.dim_service WHERE service_id = (SELECT service_id FROM ${mart()}.fct_proposal LIMIT 1)`);
    expect(failures.map((f) => f.name)).toContain('relationships_fct_event_service_id_to_dim_service');
    expect(failures.map((f) => f.name)).toContain('schema_fct_event_fk_service_id');
    expect(failures.map((f) => f.name)).toContain('schema_fct_event_column_constraints');
  });

  it('schema tests catch a wrong type, a missing column, a missing primary key and a missing table', async () => {
    const failures = await failuresAfter(`
      DROP VIEW ${mart()}.fct_proposal;
      CREATE VIEW ${mart()}.fct_proposal AS
        SELECT event_id, professional_id, service_id, date_key, created_at, lead_fee::numeric(12, 4) AS lead_fee
        FROM ${mart()}.fct_event WHERE event_type = 'proposed';
      ALTER TABLE ${mart()}.dim_date DROP COLUMN is_weekend;
      ALTER TABLE ${mart()}.dim_event_type DROP CONSTRAINT dim_event_type_pkey CASCADE;
      DROP VIEW ${mart()}.availability_snapshot_monthly`);
    const names = failures.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['schema_fct_proposal_columns', 'schema_dim_date_columns', 'schema_dim_event_type_primary_key', 'schema_availability_snapshot_monthly_columns']));
  });

  it('custom reconciliation tests catch facts that drifted from raw', async () => {
    const failures = await failuresAfter(`
      DELETE FROM ${mart()}.professional_availability_history WHERE started_by_event_id IN (SELECT event_id FROM ${mart()}.fct_event ORDER BY event_id DESC LIMIT 1);
      UPDATE ${mart()}.fct_proposal SET lead_fee = lead_fee + 1 WHERE event_id = (SELECT min(event_id) FROM ${mart()}.fct_proposal);
      DELETE FROM ${mart()}.fct_event WHERE event_id = (SELECT max(event_id) FROM ${mart()}.fct_event WHERE event_type = 'created_account')`);
    expect(failures.map((f) => f.name)).toEqual(expect.arrayContaining(['reconcile_fct_event_with_raw', 'reconcile_fct_proposal_with_raw']));
  });

  it('availability_period_started_by_its_event catches a period pointing at another event, in both scopes', async () => {
    // A period now claims one of its professional's proposals started it.
    const repointed = `
      UPDATE ${mart()}.professional_availability_history AS h
      SET started_by_event_id = (SELECT min(p.event_id) FROM ${mart()}.fct_proposal AS p WHERE p.professional_id = h.professional_id)
      WHERE h.started_by_event_id = (SELECT min(x.started_by_event_id) FROM ${mart()}.professional_availability_history AS x
                                     WHERE EXISTS (SELECT 1 FROM ${mart()}.fct_proposal AS p WHERE p.professional_id = x.professional_id))`;
    expect(await failuresAfter(repointed)).toContainEqual({ name: 'availability_period_started_by_its_event', status: 'fail', failing_rows: 1 });
    const everythingNew: TestScope = { kind: 'incremental', afterRunId: session.ctx.runId - 1 };
    expect(await failuresAfter(repointed, everythingNew)).toContainEqual({ name: 'availability_period_started_by_its_event', status: 'fail', failing_rows: 1 });
  });

  it('in the incremental scope, a new event or proposal missing from the facts is caught', async () => {
    const everythingNew: TestScope = { kind: 'incremental', afterRunId: session.ctx.runId - 1 };
    const dropNewest = (where: string) => `
      DELETE FROM ${mart()}.professional_availability_history WHERE started_by_event_id IN (SELECT event_id FROM ${mart()}.fct_event WHERE ${where});
      DELETE FROM ${mart()}.fct_event WHERE event_id = (SELECT max(event_id) FROM ${mart()}.fct_event WHERE ${where})`;
    expect((await failuresAfter(dropNewest(`event_type = 'created_account'`), everythingNew)).map((f) => f.name)).toContain('reconcile_fct_event_with_raw');
    expect((await failuresAfter(dropNewest(`event_type = 'proposed'`), everythingNew)).map((f) => f.name)).toContain('reconcile_fct_proposal_with_raw');
  });

  it('lead_fee_non_negative catches a negative fee (with the check constraint dropped)', async () => {
    const failures = await failuresAfter(`
      ALTER TABLE ${mart()}.fct_event DROP CONSTRAINT fct_event_lead_fee_check;
      UPDATE ${mart()}.fct_event SET lead_fee = -1 WHERE event_id = (SELECT min(event_id) FROM ${mart()}.fct_proposal)`);
    expect(failures).toContainEqual({ name: 'lead_fee_non_negative', status: 'fail', failing_rows: 1 });
  });

  it('proposal_measures_only_on_proposals catches a proposal without a fee and an event with one (with the checks dropped)', async () => {
    const failures = await failuresAfter(`
      ALTER TABLE ${mart()}.fct_event DROP CONSTRAINT fct_event_lead_fee_only_on_proposals;
      UPDATE ${mart()}.fct_event SET lead_fee = NULL WHERE event_id = (SELECT min(event_id) FROM ${mart()}.fct_proposal);
      UPDATE ${mart()}.fct_event SET lead_fee = 1 WHERE event_id = (SELECT min(event_id) FROM ${mart()}.fct_event WHERE event_type <> 'proposed')`);
    expect(failures).toContainEqual({ name: 'proposal_measures_only_on_proposals', status: 'fail', failing_rows: 2 });
  });

  it('custom tests catch a model build whose fact rows do not match the events it merged', async () => {
    const failures = await failuresAfter(`
      INSERT INTO ${raw()}.pipeline_step_log (run_id, step, status, started_at, finished_at, duration_ms, details)
      VALUES (${session.ctx.runId}, 'model', 'succeeded', now(), now(), 0, '{"mode": "incremental", "events_merged": 5, "changes": {"fct_event": {"inserted": 4}}}')`);
    expect(failures).toEqual([{ name: 'reconcile_model_counts', status: 'fail', failing_rows: 1 }]);
  });

  it('custom tests catch ingest counts that do not add up', async () => {
    const failures = await failuresAfter(`UPDATE ${raw()}.pipeline_step_log SET loaded = loaded - 1 WHERE step = 'ingest'`);
    expect(failures.map((f) => f.name)).toContain('reconcile_ingest_counts');
  });

  it('snapshot invariants catch a gap, an impossible count and a jump without transitions', async () => {
    const failures = await failuresAfter(`
      DELETE FROM ${mart()}.availability_snapshot WHERE date = (SELECT min(date) + 3 FROM ${mart()}.availability_snapshot);
      UPDATE ${mart()}.availability_snapshot SET active_professionals_count = active_professionals_count + 5000,
                                                able_at_any_moment_count = able_at_any_moment_count + 5000
      WHERE date = (SELECT max(date) FROM ${mart()}.availability_snapshot)`);
    expect(failures.map((f) => f.name)).toEqual(
      expect.arrayContaining(['snapshot_dates_contiguous', 'snapshot_count_within_professionals', 'snapshot_change_equals_net_transitions', 'snapshot_matches_availability_history']),
    );
  });

  it('the snapshot is checked against a broken availability history', async () => {
    const failures = await failuresAfter(`
      UPDATE ${mart()}.professional_availability_history SET is_able = false
      WHERE started_by_event_id = (SELECT min(started_by_event_id) FROM ${mart()}.professional_availability_history
                                   WHERE is_able AND (valid_to IS NULL OR valid_to::date > valid_from::date))`);
    expect(failures.map((f) => f.name)).toContain('snapshot_matches_availability_history');
  });

  it('a warn-severity test is reported as a warning, not a failure', async () => {
    const failures = await failuresAfter(`
      INSERT INTO ${mart()}.dim_service_name
      SELECT service_id, 'hernoemd', 'renamed', first_proposed_at, first_proposed_at, 1 FROM ${mart()}.dim_service WHERE service_id = (SELECT min(service_id) FROM ${mart()}.dim_service);
      UPDATE ${mart()}.dim_service SET names_seen = names_seen + 1 WHERE service_id = (SELECT min(service_id) FROM ${mart()}.dim_service)`);
    expect(failures).toEqual([{ name: 'service_name_changed', status: 'warn', failing_rows: 1 }]);
  });

  it('service names must add up to each service and its names_seen', async () => {
    const failures = await failuresAfter(`DELETE FROM ${mart()}.dim_service_name WHERE service_id = (SELECT min(service_id) FROM ${mart()}.dim_service)`);
    expect(failures).toEqual([{ name: 'service_names_belong_to_a_service', status: 'fail', failing_rows: 1 }]);
  });

  it('in the incremental scope, column tests read the new rows only (incremental_filter)', async () => {
    const breakOldRow = `UPDATE ${raw()}.event SET event_type = 'signed_up' WHERE event_id = (SELECT min(event_id) FROM ${raw()}.event)`;
    // Every sample event was loaded by the session's run: after it nothing is new, before it everything.
    expect(await failuresAfter(breakOldRow, { kind: 'incremental', afterRunId: session.ctx.runId })).toEqual([]);
    expect(await failuresAfter(breakOldRow, { kind: 'incremental', afterRunId: session.ctx.runId - 1 })).toContainEqual({ name: 'accepted_values_event_event_type', status: 'fail', failing_rows: 1 });
  });

  it('a test whose query errors is a failure carrying the database message', async () => {
    const declarations = await loadSchemaFile();
    const broken = compileTests({ ...declarations, tables: [], tests: [{ name: 'broken_sql', description: 'x', severity: 'error', sql: 'SELECT * FROM no_such_table' }] }, session.ctx.schemas);
    const report = await runTests(session.ctx.db, broken);
    expect(report.errors).toBe(1);
    expect(report.results[0]?.error).toMatch(/no_such_table/);
  });
});
