/**
 * The pipeline lock under faults (issue 17, items 1, 3 and 7): an owner that stalls is never
 * robbed of the lock, waiting has a limit with its own exit code (8), a signal stops a waiting
 * process (also as PID 1, where there are no default signal handlers), leftovers of a dead owner
 * never block, and `migrate` is serialized like every other command.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cp, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, SERVER_URL } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { CLI, childEnv, describeResult, requireBuiltCli, runCli, runCliExpecting, sleep, sqlRows, startCli, waitFor } from '../helpers/subprocess.js';
import { EmbeddedTemplate, schemasOf } from './support.js';

const EVENTS = 40_000;
const LOCK_BUSY = 75;
const template = new EmbeddedTemplate();
const holders: ChildProcess[] = [];
let tmp: string;
let eventLog: string;

beforeAll(async () => {
  requireBuiltCli();
  tmp = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-locking-'));
  eventLog = path.join(tmp, 'events.csv');
  await runCliExpecting(0, ['generate', '--events', String(EVENTS), '--seed', '3', '--out', eventLog]);
});

afterAll(async () => {
  for (const holder of holders) if (holder.exitCode === null) holder.kill('SIGKILL');
  await template.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** The kernel lock file of an embedded database (docs/reliability.md). */
const lockFile = (db: TestDatabase): string => `${path.resolve(db.env.INSTAPRO_DATA_DIR!)}.flock`;

/** Whether some process holds the embedded database's lock right now (asked with flock(1) itself). */
function embeddedLockHeld(db: TestDatabase): boolean {
  return spawnSync('flock', ['--exclusive', '--nonblock', '--conflict-exit-code', String(LOCK_BUSY), lockFile(db), 'true']).status === LOCK_BUSY;
}

async function serverLockHeld(db: TestDatabase): Promise<boolean> {
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid::bigint = (hashtext($1)::bigint & 4294967295)`,
      [`instapro:${schemasOf(db).raw}`],
    );
    return rows.length > 0;
  } finally {
    await client.end();
  }
}

const lockHeld = (db: TestDatabase): Promise<boolean> => (db.backend === 'embedded' ? Promise.resolve(embeddedLockHeld(db)) : serverLockHeld(db));

/**
 * A stalled owner that never writes anything: holds the lock and sleeps. Embedded: flock(1) on the
 * lock file; server: a session holding the pipeline's advisory lock.
 */
async function holdLock(db: TestDatabase): Promise<() => Promise<void>> {
  if (db.backend === 'embedded') {
    // Its own process group, so that the sleep goes with it.
    const holder = spawn('flock', ['--exclusive', '--close', lockFile(db), 'sleep', '600'], { stdio: 'ignore', detached: true });
    holders.push(holder);
    await waitFor('the stalled owner to hold the lock', () => (embeddedLockHeld(db) ? true : undefined));
    return async () => {
      process.kill(-holder.pid!, 'SIGKILL');
      await waitFor('the stalled owner to be gone', () => (embeddedLockHeld(db) ? undefined : true));
    };
  }
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [`instapro:${schemasOf(db).raw}`]);
  return () => client.end();
}

interface RunLogRow {
  command: string;
  status: string;
  steps: string[];
}

async function runLog(db: TestDatabase): Promise<RunLogRow[]> {
  const { raw } = schemasOf(db);
  return sqlRows<RunLogRow>(
    db.env,
    `SELECT r.command, r.status, coalesce(array_agg(s.step || ':' || s.status ORDER BY s.started_at) FILTER (WHERE s.step IS NOT NULL), '{}') AS steps
     FROM ${raw}.pipeline_run r LEFT JOIN ${raw}.pipeline_step_log s USING (run_id) GROUP BY r.run_id, r.command, r.status ORDER BY r.run_id`,
  );
}

/** Runs the CLI as PID 1 of a new PID namespace, as in a container; undefined where that is not allowed. */
function pidOneCommand(): string[] | undefined {
  // --kill-child: the CLI dies with unshare, as a container's PID 1 dies with the container.
  const command = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];
  const probe = spawnSync(command[0]!, [...command.slice(1), 'sh', '-c', 'echo $$']);
  return probe.status === 0 && probe.stdout.toString().trim() === '1' ? command : undefined;
}

describe.concurrent.each(BACKENDS)('the pipeline lock on the %s backend', (backend) => {
  it('a stalled owner keeps the lock: a second run gives up after INSTAPRO_LOCK_TIMEOUT with exit 8, the owner finishes and keeps all its rows', async () => {
    const db = await template.createTestDatabase(backend);
    await runCliExpecting(0, ['migrate'], { env: db.env });
    const ownerArgs = ['run', '--input', eventLog];
    const owner = startCli(ownerArgs, { env: db.env });
    await waitFor('the first run to hold the lock', async () => ((await lockHeld(db)) ? true : undefined), { timeoutMs: 120_000, intervalMs: 20 });
    owner.child.kill('SIGSTOP'); // stalled: alive, holding the lock, doing nothing
    try {
      const waiterArgs = ['run', '--input', eventLog];
      const waiter = await runCli(waiterArgs, { env: { ...db.env, INSTAPRO_LOCK_TIMEOUT: '2' }, timeoutMs: 60_000 });
      expect(waiter.code, describeResult(waiterArgs, waiter)).toBe(8);
      expect(waiter.stderr).toMatch(/after waiting 2 s/);
      expect(waiter.stderr).toMatch(/INSTAPRO_LOCK_TIMEOUT/);
      expect(waiter.durationMs).toBeLessThan(30_000);
    } finally {
      owner.child.kill('SIGCONT');
    }
    const finished = await owner.done;
    expect(finished.code, describeResult(ownerArgs, finished)).toBe(0);
    // The owner's whole run is there: nothing of it was lost to a second process opening the database.
    expect(await runLog(db)).toEqual([{ command: 'run', status: 'succeeded', steps: ['ingest:succeeded', 'model:succeeded', 'snapshot:succeeded', 'test:succeeded'] }]);
  });

  it('an owner that holds the lock without having written anything is waited for, not robbed; --lock-timeout 0 does not wait', async () => {
    const db = await template.createTestDatabase(backend);
    await runCliExpecting(0, ['migrate'], { env: db.env });
    const release = await holdLock(db);
    let released = false;
    try {
      const noWait = await runCli(['ingest', '--input', eventLog, '--lock-timeout', '0'], { env: db.env, timeoutMs: 60_000 });
      expect(noWait.code, describeResult(['ingest'], noWait)).toBe(8);
      const waiterArgs = ['ingest', '--input', eventLog];
      const waiter = startCli(waiterArgs, { env: { ...db.env, INSTAPRO_LOCK_TIMEOUT: '120' } });
      await waitFor('the second process to wait', () => (/waiting up to 120 s/.test(waiter.output().stderr) ? true : undefined), { timeoutMs: 60_000 });
      await sleep(1_500); // the old lock took over an owner-less lock after 200 ms
      expect(waiter.child.exitCode, waiter.output().stderr).toBeNull();
      await release();
      released = true;
      const result = await waiter.done;
      expect(result.code, describeResult(waiterArgs, result)).toBe(0);
    } finally {
      if (!released) await release();
    }
    const [loaded] = await sqlRows<{ n: number }>(db.env, `SELECT count(*)::integer AS n FROM ${schemasOf(db).raw}.event`);
    expect(loaded!.n).toBe(EVENTS);
  });

  it('SIGTERM stops a process waiting for the lock, also when it runs as PID 1 of a container', async () => {
    const db = await template.createTestDatabase(backend);
    await runCliExpecting(0, ['migrate'], { env: db.env });
    const release = await holdLock(db);
    try {
      const pidOne = pidOneCommand();
      const command = [...(pidOne ?? []), process.execPath, CLI, 'ingest', '--input', eventLog];
      const waiter = spawn(command[0]!, command.slice(1), { env: childEnv({ ...db.env, INSTAPRO_LOCK_TIMEOUT: '600' }), stdio: ['ignore', 'ignore', 'pipe'] });
      holders.push(waiter);
      let stderr = '';
      waiter.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      const exited = new Promise<number | null>((resolve) => waiter.on('close', (code) => resolve(code)));
      await waitFor('the CLI to wait for the lock', () => (/waiting up to 600 s/.test(stderr) ? true : undefined), { timeoutMs: 60_000 });
      // The CLI itself: unshare's child when it runs as PID 1 in its own namespace.
      const cliPid = pidOne ? Number((await readFile(`/proc/${waiter.pid}/task/${waiter.pid}/children`, 'utf8')).trim().split(/\s+/)[0]) : waiter.pid!;
      const signalledAt = Date.now();
      process.kill(cliPid, 'SIGTERM');
      const code = await Promise.race([exited, sleep(10_000).then(() => 'still running' as const)]);
      expect(code, stderr).not.toBe('still running');
      expect(Date.now() - signalledAt).toBeLessThan(10_000);
      expect(stderr).toMatch(/stopped by SIGTERM/);
    } finally {
      await release();
    }
  });

  it('concurrent `migrate`s (and a run beside them) all succeed', async () => {
    const db = await template.createTestDatabase(backend);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const results = await Promise.all([runCli(['migrate'], { env: db.env }), runCli(['migrate'], { env: db.env }), runCli(['run', '--input', eventLog], { env: db.env })]);
      for (const result of results) expect(result.code, describeResult(['migrate / run'], result)).toBe(0);
      if (backend === 'server') await dropSchemas(db);
      else await resetEmbedded(db);
    }
  });
});

describe('leftovers of a dead owner (embedded)', () => {
  it('a lock left by PID 1 of a previous container with the same host name does not block its successor', async () => {
    const db = await template.createTestDatabase('embedded');
    const dataDir = path.resolve(db.env.INSTAPRO_DATA_DIR!);
    const leftover = JSON.stringify({ pid: 1, host: hostname(), acquiredAt: '2020-01-01T00:00:00.000Z' });
    await writeFile(lockFile(db), leftover);
    // The lock of earlier versions: a directory with owner.json.
    await mkdir(`${dataDir}.lock`, { recursive: true });
    await writeFile(path.join(`${dataDir}.lock`, 'owner.json'), leftover);
    const pidOne = pidOneCommand();
    const command = [...(pidOne ?? []), process.execPath, CLI, 'sql', 'SELECT 1 AS one', '--format', 'json'];
    const child = spawn(command[0]!, command.slice(1), { env: childEnv({ ...db.env, INSTAPRO_LOCK_TIMEOUT: '5' }), stdio: ['ignore', 'pipe', 'pipe'] });
    holders.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await Promise.race([new Promise<number | null>((resolve) => child.on('close', resolve)), sleep(60_000).then(() => 'still waiting' as const)]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual([{ one: 1 }]);
  });
});

async function dropSchemas(db: TestDatabase): Promise<void> {
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    const { mart, raw, staging } = schemasOf(db);
    await client.query(`DROP SCHEMA IF EXISTS ${mart}, ${raw}, ${staging} CASCADE`);
  } finally {
    await client.end();
  }
}

async function resetEmbedded(db: TestDatabase): Promise<void> {
  const dataDir = db.env.INSTAPRO_DATA_DIR!;
  await rm(dataDir, { recursive: true, force: true });
  await cp(await template.get(), dataDir, { recursive: true });
}
