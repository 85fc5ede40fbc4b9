/**
 * kill -9 in the middle of an incremental model build: the model and its state must be exactly as
 * before that run, and the next run must merge the same events and end with the tables a full
 * refresh gives. On the server, where another session can hold the build at a known statement.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVER_URL, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { HEADER, eventLine } from '../helpers/event-log-files.js';
import { jsonSummary, requireBuiltCli, runCliExpecting, startCli, waitFor } from '../helpers/subprocess.js';
import { cleanupDatabase, schemasOf } from './support.js';

const MODEL_TABLES = ['dim_date', 'dim_professional', 'dim_service', 'dim_service_name', 'fct_event', 'professional_availability_history', 'availability_snapshot'];

let db: TestDatabase | undefined;
let tmp: string | undefined;

afterAll(async () => {
  await cleanupDatabase(db).catch(() => undefined);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Every row of every model table (computed_at aside), as one comparable value. */
async function dumpModel(client: pg.Client, mart: string, raw: string): Promise<unknown> {
  const dump: Record<string, unknown> = {};
  for (const table of MODEL_TABLES) {
    const { rows } = await client.query(`SELECT to_jsonb(t) - 'computed_at' AS row FROM "${mart}"."${table}" AS t ORDER BY 1`);
    dump[table] = rows.map((r) => r.row);
  }
  dump.state = (await client.query(`SELECT built_through_run_id, model_fingerprint, snapshot_pending_from FROM "${raw}".model_state`)).rows;
  return dump;
}

async function logFile(name: string, lines: string[]): Promise<string> {
  tmp ??= await mkdtemp(path.join(tmpdir(), 'instapro-e2e-killed-model-'));
  const file = path.join(tmp, name);
  await writeFile(file, `${[HEADER, ...lines].join('\n')}\n`);
  return file;
}

describe('kill -9 during an incremental model build', () => {
  it.skipIf(!SERVER_URL)('leaves the model and its state as before the run; the next run completes the work', async () => {
    requireBuiltCli();
    db = await createTestDatabase('server');
    const { mart, raw } = schemasOf(db);
    const history = await logFile('history.csv', [
      eventLine(1, 'created_account', 10, '2020-01-01 08:00:00'),
      eventLine(2, 'became_able_to_propose', 10, '2020-01-01 09:00:00'),
      eventLine(3, 'proposed', 10, '2020-01-02 10:00:00', '34_tegels_tiling_0.22'),
      eventLine(4, 'became_able_to_propose', 20, '2020-01-02 11:00:00'),
    ]);
    const day = await logFile('day.csv', [
      eventLine(5, 'proposed', 20, '2020-01-03 10:00:00', '60_tuinonderhoud_maintain-garden_7.63'),
      eventLine(6, 'became_unable_to_propose', 10, '2020-01-02 12:00:00'), // late
      eventLine(7, 'created_account', 30, '2020-01-03 12:00:00'),
    ]);
    await runCliExpecting(0, ['run', '--input', history], { env: db.env });

    const client = new pg.Client({ connectionString: SERVER_URL });
    const blocker = new pg.Client({ connectionString: SERVER_URL });
    await client.connect();
    await blocker.connect();
    try {
      const before = await dumpModel(client, mart, raw);
      // Holds the build at dim_service, after dim_professional and dim_date were written in its
      // transaction. Another session watches: pg_stat_activity is read once per transaction.
      const blockerPid = (await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      await blocker.query('BEGIN');
      await blocker.query(`LOCK TABLE "${mart}".dim_service IN SHARE MODE`);
      const victim = startCli(['run', '--input', day], { env: db.env });
      await waitFor('the model build to wait on dim_service', async () => {
        const { rows } = await client.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%dim_service%' AND pid <> pg_backend_pid()`);
        return rows.length > 0 ? true : undefined;
      });
      victim.child.kill('SIGKILL');
      await new Promise((resolve) => victim.child.once('exit', resolve));
      await blocker.query('ROLLBACK');
      // The server ends the killed session's transaction once it notices the closed connection.
      await waitFor('the killed session to end', async () => {
        const { rows } = await client.query(`SELECT 1 FROM pg_locks AS l JOIN pg_class AS c ON c.oid = l.relation WHERE c.relname = 'dim_service' AND l.pid NOT IN (pg_backend_pid(), $1)`, [blockerPid]);
        return rows.length === 0 ? true : undefined;
      });
      expect(await dumpModel(client, mart, raw)).toEqual(before);

      // The day's events were ingested and committed before the kill: the next run merges them.
      const next = jsonSummary((await runCliExpecting(0, ['run', '--input', day, '--json'], { env: db.env })).stdout);
      expect(next.model).toMatchObject({ mode: 'incremental', events_merged: 3 });
      expect(next.snapshot).toMatchObject({ mode: 'incremental', from: '2020-01-02', to: '2020-01-03' });
      const incremental = await dumpModel(client, mart, raw);
      // `test --incremental` checks what the last build merged; `test` every row.
      expect(jsonSummary((await runCliExpecting(0, ['test', '--incremental', '--json'], { env: db.env })).stdout).tests).toMatchObject({ scope: 'incremental', errors: 0 });
      expect(jsonSummary((await runCliExpecting(0, ['test', '--json'], { env: db.env })).stdout).tests).toMatchObject({ scope: 'full', errors: 0 });
      const full = jsonSummary((await runCliExpecting(0, ['run', '--full-refresh', '--json'], { env: db.env })).stdout);
      expect(full.model).toMatchObject({ mode: 'full-refresh', full_refresh_reason: 'requested' });
      const rebuilt = (await dumpModel(client, mart, raw)) as Record<string, unknown>;
      const { state: _incrementalState, ...incrementalTables } = incremental as Record<string, unknown>;
      const { state: _rebuiltState, ...rebuiltTables } = rebuilt;
      expect(incrementalTables).toEqual(rebuiltTables);
      const snapshot = rebuilt.availability_snapshot as { date: string; active_professionals_count: number }[];
      expect(snapshot.map((s) => [s.date, s.active_professionals_count])).toEqual([
        ['2020-01-01', 1],
        ['2020-01-02', 1],
        ['2020-01-03', 1],
      ]);
    } finally {
      await blocker.end();
      await client.end();
    }
  });
});
