/**
 * kill -9 in the middle of a large ingest, then ingest again: the database must end up exactly
 * as after one uninterrupted ingest (same rows, same checksums), on both backends. The embedded
 * database must also recover from the kill (PGlite opened on a data directory that was not shut
 * down) and the next process must take the lock the killed one held (the kernel released it).
 */
import { cp, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_URL, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { describeResult, jsonSummary, requireBuiltCli, runCli, runCliExpecting, sleep, sqlRows, startCli } from '../helpers/subprocess.js';
import type { RunningCli } from '../helpers/subprocess.js';
import { cleanupDatabase, eventLogFacts, rawChecksumQuery, schemasOf } from './support.js';
import type { ChecksumRow, EventLogFacts } from './support.js';

const EVENTS = 300_000;
const SEED = 7;
/**
 * The first load COPYs straight into raw.event, in a new file (the empty table is truncated for
 * COPY FREEZE) that grows on disk as pages are added (PGlite writes through to the data
 * directory): the database's directory grown by a quarter of the file's events means mid-load.
 */
const EMBEDDED_EVENT_TABLE_BYTES = 8 * 1024 * 1024;
/** On the server: COPY has sent a third of the file, or the load is past COPY (still uncommitted). */
const SERVER_COPIED_TUPLES = EVENTS / 3;
const MID_LOAD_TIMEOUT_MS = 180_000;

let tmp: string;
let bigFile: string;
let facts: EventLogFacts;
const databases: TestDatabase[] = [];
const extraDirs: string[] = [];

beforeAll(async () => {
  requireBuiltCli();
  tmp = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-crash-'));
  bigFile = path.join(tmp, `events-${EVENTS}.csv`);
  await runCliExpecting(0, ['generate', '--events', String(EVENTS), '--seed', String(SEED), '--out', bigFile]);
  facts = await eventLogFacts(bigFile);
  expect(facts.rows).toBe(EVENTS);
  expect(facts.distinctIds).toBe(EVENTS);
});

afterAll(async () => {
  for (const db of databases) await cleanupDatabase(db).catch(() => undefined);
  for (const dir of extraDirs) {
    await rm(dir, { recursive: true, force: true });
    await rm(`${path.resolve(dir)}.flock`, { force: true });
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** The sizes of the files directly in `dir`. */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir).catch(() => [])) total += (await stat(path.join(dir, name)).catch(() => ({ size: 0 }))).size;
  return total;
}

/** Whether some process holds the flock(2) lock on `file` right now, asked with flock(1). */
function lockHeld(file: string): boolean {
  return spawnSync('flock', ['--exclusive', '--nonblock', '--conflict-exit-code', '75', file, 'true']).status === 75;
}

async function testDatabase(backend: 'embedded' | 'server'): Promise<TestDatabase> {
  const db = await createTestDatabase(backend);
  databases.push(db);
  return db;
}

/** Polls until `isMidLoad` says so; fails if the ingest ends first (it was never interrupted). */
async function waitUntilMidLoad(victim: RunningCli, isMidLoad: () => Promise<string | undefined>): Promise<string> {
  const deadline = Date.now() + MID_LOAD_TIMEOUT_MS;
  for (;;) {
    if (victim.child.exitCode !== null || victim.child.signalCode !== null) {
      const { stdout, stderr } = victim.output();
      throw new Error(`the ingest ended (exit ${victim.child.exitCode}) before it was seen mid-load, so it could not be interrupted\n${stdout}\n${stderr}`);
    }
    const evidence = await isMidLoad();
    if (evidence !== undefined) return evidence;
    if (Date.now() > deadline) throw new Error(`the ingest was not seen mid-load within ${MID_LOAD_TIMEOUT_MS} ms`);
    await sleep(150);
  }
}

interface DatabaseState {
  checksum: ChecksumRow[];
  runs: { run_id: number; command: string; status: string; error: string | null }[];
  quarantined: number;
}

async function databaseState(env: Record<string, string>, raw: string): Promise<DatabaseState> {
  const [row] = await sqlRows<DatabaseState>(
    env,
    `SELECT (SELECT coalesce(json_agg(c), '[]'::json) FROM (${rawChecksumQuery(raw)}) AS c) AS checksum,
            (SELECT coalesce(json_agg(r ORDER BY r.run_id), '[]'::json) FROM (SELECT run_id, command, status, error FROM ${raw}.pipeline_run) AS r) AS runs,
            (SELECT count(*)::integer FROM ${raw}.quarantine) AS quarantined`,
  );
  return row!;
}

interface Target {
  env: Record<string, string>;
  /** Its raw schema. */
  raw: string;
}

interface Scenario {
  victim: Target;
  /** Where the uninterrupted reference run goes: other schemas or another data directory. */
  reference: Target;
  /** Called with the running victim; resolves with a description of why it is mid-load. */
  midLoad: (victim: RunningCli) => Promise<string>;
  /** Checks right after the kill, before anything else touches the database. */
  afterKill?: () => void;
}

async function killAndRecover({ victim: target, reference: referenceTarget, midLoad, afterKill }: Scenario): Promise<void> {
  const { env: victimEnv, raw } = target;
  const ingestArgs = ['ingest', '--input', bigFile, '--json'];
  // The uninterrupted reference run, meanwhile, into separate schemas (or a separate data directory).
  const reference = runCli(ingestArgs, { env: referenceTarget.env });

  const victim = startCli(ingestArgs, { env: victimEnv });
  const evidence = await midLoad(victim);
  expect(victim.child.kill('SIGKILL')).toBe(true);
  const killed = await victim.done;
  expect(killed.signal, `${evidence}\n${describeResult(ingestArgs, killed)}`).toBe('SIGKILL');
  afterKill?.();

  // Nothing of the interrupted load is visible: a file is one transaction.
  const [afterKillState] = await sqlRows<{ events: number; running: number; manifest: number }>(
    victimEnv,
    `SELECT (SELECT count(*)::integer FROM ${raw}.event) AS events,
            (SELECT count(*)::integer FROM ${raw}.pipeline_run WHERE status = 'running') AS running,
            (SELECT count(*)::integer FROM ${raw}.input_manifest) AS manifest`,
  );
  // Nor is the file in the manifest (recorded in its transaction), so the rerun reads it.
  expect(afterKillState, `killed mid-load (${evidence})`).toEqual({ events: 0, running: 1, manifest: 0 });

  const rerun = await runCli(ingestArgs, { env: victimEnv });
  expect(rerun.code, describeResult(ingestArgs, rerun)).toBe(0);
  expect(jsonSummary(rerun.stdout).ingest).toMatchObject({ rows_read: EVENTS, loaded: EVENTS, rejected: 0, duplicates: 0 });

  const referenceResult = await reference;
  expect(referenceResult.code, describeResult(ingestArgs, referenceResult)).toBe(0);
  expect(jsonSummary(referenceResult.stdout).ingest).toMatchObject({ rows_read: EVENTS, loaded: EVENTS, rejected: 0, duplicates: 0 });

  const [recovered, uninterrupted] = await Promise.all([databaseState(victimEnv, raw), databaseState(referenceTarget.env, referenceTarget.raw)]);
  // Same rows as the uninterrupted run, down to a digest of every column...
  expect(recovered.checksum).toEqual(uninterrupted.checksum);
  // ...and both as the file says (counted here, not by the pipeline).
  const total = recovered.checksum.find((r) => r.event_type === null);
  expect(total).toMatchObject({ n: EVENTS, distinct_ids: EVENTS, id_sum: String(facts.idSum) });
  expect(Object.fromEntries(recovered.checksum.filter((r) => r.event_type !== null).map((r) => [r.event_type, r.n]))).toEqual(facts.byType);
  expect(recovered.quarantined).toBe(0);

  // The run log: the killed run closed as interrupted by the next session, the rerun succeeded.
  const ingests = recovered.runs.filter((r) => r.command === 'ingest');
  expect(ingests.map((r) => r.status)).toEqual(['failed', 'succeeded']);
  expect(ingests[0]!.error).toMatch(/interrupted/);
  expect(recovered.runs.filter((r) => r.status === 'running')).toEqual([]);
}

describe.concurrent('kill -9 during a 300,000-event ingest, then ingest again', () => {
  it.skipIf(!SERVER_URL)('server: the recovered database equals an uninterrupted run', async () => {
    const victim = await testDatabase('server');
    const reference = await testDatabase('server');
    const raw = schemasOf(victim).raw;
    await runCliExpecting(0, ['migrate'], { env: victim.env });

    const observer = new pg.Client({ connectionString: SERVER_URL });
    await observer.connect();
    try {
      await killAndRecover({
        victim: { env: victim.env, raw },
        reference: { env: reference.env, raw: schemasOf(reference).raw },
        midLoad: (running) =>
          waitUntilMidLoad(running, async () => {
            // The session holding this pipeline's advisory lock is the victim's.
            const { rows } = await observer.query<{ query: string; copied: string | null }>(
              `SELECT a.query, p.tuples_processed::text AS copied
               FROM pg_locks AS l
               JOIN pg_stat_activity AS a ON a.pid = l.pid
               LEFT JOIN pg_stat_progress_copy AS p ON p.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                 AND l.classid::bigint = ((hashtext($1)::bigint >> 32) & 4294967295)
                 AND l.objid::bigint = (hashtext($1)::bigint & 4294967295)`,
              [`instapro:${raw}`],
            );
            const row = rows[0];
            if (!row) return undefined;
            if (row.copied !== null && Number(row.copied) >= SERVER_COPIED_TUPLES) return `COPY had sent ${row.copied} rows`;
            if (/incoming_outcome/.test(row.query)) return `the load was classifying or appending: ${row.query.slice(0, 80)}`;
            return undefined;
          }),
      });
    } finally {
      await observer.end();
    }
  });

  it('embedded: PGlite recovers, the lock is free again, the database equals an uninterrupted run and takes no more room', async () => {
    const victim = await testDatabase('embedded');
    const raw = schemasOf(victim).raw;
    const dataDir = victim.env.INSTAPRO_DATA_DIR!;
    const lockFile = `${path.resolve(dataDir)}.flock`;
    await runCliExpecting(0, ['migrate'], { env: victim.env });
    // The reference starts from a copy of the migrated, cleanly closed data directory (saves creating one).
    const referenceDir = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-crash-reference-'));
    extraDirs.push(referenceDir);
    await cp(dataDir, referenceDir, { recursive: true });
    const [{ file: eventTableFile } = { file: '' }] = await sqlRows<{ file: string }>(victim.env, `SELECT pg_relation_filepath('${raw}.event') AS file`);
    // The database's directory (base/<oid>), where the load's new relation file appears.
    const databaseDir = path.join(dataDir, path.dirname(eventTableFile));
    const databaseBytes = () => directoryBytes(databaseDir);
    const bytesBeforeLoad = await databaseBytes();

    await killAndRecover({
      victim: { env: victim.env, raw },
      reference: { env: { ...victim.env, INSTAPRO_DATA_DIR: referenceDir }, raw },
      midLoad: (running) =>
        waitUntilMidLoad(running, async () => {
          const grown = (await databaseBytes()) - bytesBeforeLoad;
          return lockHeld(lockFile) && grown >= EMBEDDED_EVENT_TABLE_BYTES ? `the database's files had grown by ${(grown / 1e6).toFixed(1)} MB` : undefined;
        }),
      // The kernel released the lock when the process died; only the file (with its owner's pid) is left.
      afterKill: () => {
        expect(existsSync(lockFile), 'the lock file stays').toBe(true);
        expect(lockHeld(lockFile), 'nobody holds the lock of a killed process').toBe(false);
      },
    });
    expect(lockHeld(lockFile)).toBe(false);

    // The killed load's relation file is gone: every relation file of the database is referenced,
    // and the database takes no more room than the uninterrupted one.
    const [catalog] = await sqlRows<{ filenodes: string[] }>(victim.env, `SELECT array(SELECT pg_relation_filenode(oid)::text FROM pg_class WHERE pg_relation_filenode(oid) IS NOT NULL) AS filenodes`);
    const referenced = new Set(catalog!.filenodes);
    const unreferenced = (await readdir(databaseDir)).filter((name) => {
      const filenode = /^(\d+)(?:_(?:fsm|vm|init))?(?:\.\d+)?$/.exec(name)?.[1];
      return filenode !== undefined && Number(filenode) >= 16384 && !referenced.has(filenode);
    });
    expect(unreferenced, 'relation files nothing references').toEqual([]);
    const referenceBytes = await directoryBytes(path.join(referenceDir, path.dirname(eventTableFile)));
    expect(await databaseBytes()).toBeLessThan(referenceBytes + 4 * 1024 * 1024);
  });
});
