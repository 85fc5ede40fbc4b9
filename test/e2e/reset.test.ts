/**
 * `instapro reset`, the documented way to start over: a run of another data set after the sample
 * fails on conflicting event_ids and points at it; without --yes and without a terminal it refuses
 * and changes nothing; it waits for the pipeline lock like any command; after it, a run builds
 * exactly the tables a fresh database gets.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, SERVER_URL } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { describeResult, jsonSummary, requireBuiltCli, runCli, runCliExpecting, sqlRows, stackFrames, waitFor } from '../helpers/subprocess.js';
import { EmbeddedTemplate, schemasOf } from './support.js';

const SAMPLE_ARG = 'data/sample/event_log.csv';
const LOCK_BUSY = 75;
const template = new EmbeddedTemplate();
const holders: ChildProcess[] = [];
let tmp: string;
/** Another data set: generated with another seed, so its event_ids are the sample's with other content. */
let otherLog: string;

beforeAll(async () => {
  requireBuiltCli();
  tmp = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-reset-'));
  otherLog = path.join(tmp, 'other.csv');
  await runCliExpecting(0, ['generate', '--events', '600', '--seed', '7', '--out', otherLog]);
});

afterAll(async () => {
  for (const holder of holders) if (holder.exitCode === null && holder.signalCode === null) process.kill(-holder.pid!, 'SIGKILL');
  await template.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Columns that record when a row was written: they differ between any two runs. */
const WRITE_TIMES = ['started_at', 'finished_at', 'loaded_at', 'quarantined_at', 'computed_at', 'built_at', 'recorded_at', 'applied_at'];
/** The run log also records durations and the machine's timings: compared by row count only. */
const RUN_LOG = ['pipeline_run', 'pipeline_step_log'];

interface Relation {
  layer: string;
  name: string;
  type: string;
  rows: number;
  digest: string | null;
}

/**
 * Every table and view of the pipeline's three schemas, by layer (so databases with other schema
 * names compare), with its row count and a digest of its rows without their write times.
 */
async function pipelineRelations(db: TestDatabase): Promise<Relation[]> {
  const { mart, raw, staging } = schemasOf(db);
  const layers: Record<string, string> = { [mart]: 'mart', [raw]: 'raw', [staging]: 'staging' };
  const relations = await sqlRows<{ schema: string; name: string; type: string }>(
    db.env,
    `SELECT table_schema AS schema, table_name AS name, table_type AS type FROM information_schema.tables
     WHERE table_schema IN ('${mart}', '${raw}', '${staging}') ORDER BY 1, 2`,
  );
  if (relations.length === 0) return [];
  // Schema names written into rows (schema_names, model_state) as their layer; raw and staging first, as they extend the mart's name.
  const withoutTimes = `replace(replace(replace((to_jsonb(r) ${WRITE_TIMES.map((c) => `- '${c}'`).join(' ')})::text, '${raw}', 'raw'), '${staging}', 'staging'), '${mart}', 'mart')`;
  const select = relations.map(
    ({ schema, name, type }) =>
      `SELECT '${layers[schema]}' AS layer, '${name}' AS name, '${type}' AS type, count(*)::integer AS rows,
              ${RUN_LOG.includes(name) ? 'NULL' : `md5(string_agg(${withoutTimes}, ',' ORDER BY ${withoutTimes}))`} AS digest
       FROM "${schema}"."${name}" AS r`,
  );
  const rows = await sqlRows<Relation>(db.env, select.join('\nUNION ALL\n'));
  return rows.sort((a, b) => `${a.layer}.${a.name}`.localeCompare(`${b.layer}.${b.name}`));
}

const lockFile = (db: TestDatabase): string => `${path.resolve(db.env.INSTAPRO_DATA_DIR!)}.flock`;

/** Holds the database's pipeline lock as a stalled run would; returns its release. */
async function holdLock(db: TestDatabase): Promise<() => Promise<void>> {
  if (db.backend === 'embedded') {
    const held = () => spawnSync('flock', ['--exclusive', '--nonblock', '--conflict-exit-code', String(LOCK_BUSY), lockFile(db), 'true']).status === LOCK_BUSY;
    const holder = spawn('flock', ['--exclusive', '--close', lockFile(db), 'sleep', '600'], { stdio: 'ignore', detached: true });
    holders.push(holder);
    await waitFor('the stalled owner to hold the lock', () => (held() ? true : undefined));
    return async () => {
      process.kill(-holder.pid!, 'SIGKILL');
      await waitFor('the stalled owner to be gone', () => (held() ? undefined : true));
    };
  }
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [`instapro:${schemasOf(db).raw}`]);
  return () => client.end();
}

describe.concurrent.each(BACKENDS)('reset on the %s backend', (backend) => {
  let db: TestDatabase;
  let fresh: TestDatabase;
  let afterSample: Relation[] | undefined;

  beforeAll(async () => {
    [db, fresh] = await Promise.all([template.createTestDatabase(backend), template.createTestDatabase(backend)]);
  });

  it.sequential('another data set after the sample fails on conflicting event_ids (exit 5) and points at instapro reset', async () => {
    await runCliExpecting(0, ['run', '--input', SAMPLE_ARG], { env: db.env });
    afterSample = await pipelineRelations(db);
    const args = ['run', '--input', otherLog];
    const result = await runCli(args, { env: db.env });
    expect(result.code, describeResult(args, result)).toBe(5);
    expect(result.stderr).toMatch(/conflicting duplicate: event_id \d+ was first seen at data\/sample\/event_log\.csv:\d+/);
    expect(result.stderr).toContain('to start over, run `instapro reset`');
  });

  it.sequential('without --yes, on a stdin that is not a terminal, it refuses (exit 2) and changes nothing', async () => {
    const before = await pipelineRelations(db);
    expect(before.length).toBeGreaterThan(0);
    const args = ['reset', '--json'];
    const result = await runCli(args, { env: db.env });
    expect(result.code, describeResult(args, result)).toBe(2);
    expect(result.stderr).toMatch(/stdin is not a terminal .*instapro reset --yes/);
    expect(stackFrames(result.stderr)).toEqual([]);
    expect(jsonSummary(result.stdout)).toMatchObject({ status: 'failed', exit_code: 2 });
    expect(await pipelineRelations(db)).toEqual(before);
  });

  it.sequential('it waits for the pipeline lock like any command: held past --lock-timeout, exit 8 and nothing dropped', async () => {
    const before = await pipelineRelations(db);
    const release = await holdLock(db);
    try {
      const args = ['reset', '--yes', '--lock-timeout', '1'];
      const result = await runCli(args, { env: db.env });
      expect(result.code, describeResult(args, result)).toBe(8);
    } finally {
      await release();
    }
    expect(await pipelineRelations(db)).toEqual(before);
  });

  it.sequential('reset --yes drops the three schemas; a run then builds the same tables as on a fresh database', async () => {
    const { mart, raw, staging } = schemasOf(db);
    const args = ['reset', '--yes', '--json'];
    const result = await runCli(args, { env: db.env });
    expect(result.code, describeResult(args, result)).toBe(0);
    expect(jsonSummary(result.stdout)).toMatchObject({ status: 'succeeded', reset: { dropped: [mart, staging, raw] } });
    expect(await pipelineRelations(db)).toEqual([]);

    const [again, onFresh] = await Promise.all([
      runCliExpecting(0, ['run', '--input', otherLog, '--json'], { env: db.env }),
      runCliExpecting(0, ['run', '--input', otherLog, '--json'], { env: fresh.env }),
    ]);
    // The run log starts over too: the run after a reset is the first.
    expect(jsonSummary(again.stdout)).toMatchObject({ status: 'succeeded', run_id: 1 });
    expect(jsonSummary(onFresh.stdout)).toMatchObject({ status: 'succeeded', run_id: 1 });
    const [afterReset, freshRelations] = await Promise.all([pipelineRelations(db), pipelineRelations(fresh)]);
    expect(afterReset).toEqual(freshRelations);
    expect(afterReset.map((r) => `${r.layer}.${r.name}`)).toEqual(afterSample?.map((r) => `${r.layer}.${r.name}`));
    expect(afterReset.find((r) => r.layer === 'raw' && r.name === 'quarantine')?.rows).toBe(0);
  });
});
