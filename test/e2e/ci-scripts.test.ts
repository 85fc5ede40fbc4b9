/**
 * CI on a shared machine (issue 17, item 13): scripts/ci/start-postgres.sh creates and starts a
 * PostgreSQL cluster of its own, leaving every other cluster (and its password) alone, and
 * scripts/ci/cleanup.sh removes exactly what was created: that cluster and the run's state
 * directory, never other runs' schemas or temporary files. Needs root and Debian's
 * postgresql-common (CI has both); skipped elsewhere.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { SERVER_URL } from '../helpers/backends.js';
import { REPO_ROOT } from '../helpers/subprocess.js';

const canCreateClusters = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v pg_createcluster']).status === 0;

interface Cluster {
  version: string;
  name: string;
  port: string;
  status: string;
  dataDir: string;
}

function clusters(): Cluster[] {
  return execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [version, name, port, status, , dataDir] = l.trim().split(/\s+/) as string[];
      return { version: version!, name: name!, port: port!, status: status!, dataDir: dataDir! };
    });
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

function script(name: string, env: Record<string, string>): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'ci', name)], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 300_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.runIf(canCreateClusters)('CI owns its PostgreSQL cluster (item 13)', () => {
  it('start-postgres.sh creates a cluster of its own and touches no other; cleanup.sh removes only what was created', async () => {
    const before = clusters();
    const sharedPassword = SERVER_URL ? await query<{ rolpassword: string }>(SERVER_URL, "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'") : undefined;
    const stateDir = await mkdtemp(path.join(tmpdir(), 'instapro-ci-state-'));
    const suffix = randomBytes(4).toString('hex');
    // The default password: were a script to set it on another cluster, it would at least keep its value.
    const env = { INSTAPRO_CI_STATE_DIR: stateDir, INSTAPRO_CI_PG_CLUSTER: `instapro_ci_test_${suffix}` };
    // What concurrent runs own: a test schema on the shared server, a test directory in /tmp.
    const foreignDir = path.join('/tmp', `instapro-test-foreign-${suffix}`);
    const foreignSchema = `t_${randomBytes(5).toString('hex')}`;
    await mkdir(foreignDir);
    if (SERVER_URL) await query(SERVER_URL, `CREATE SCHEMA ${foreignSchema}`);
    let created: Cluster | undefined;
    try {
      const started = script('start-postgres.sh', env);
      expect(started.code, started.stderr).toBe(0);
      const url = started.stdout.trim().split('\n').at(-1)!;
      const port = new URL(url).port;
      created = clusters().find((c) => c.name === env.INSTAPRO_CI_PG_CLUSTER);
      expect(created, started.stderr).toMatchObject({ port, status: 'online' });
      // Its own port and data directory; every cluster that was there is there as it was.
      expect(before.map((c) => c.port)).not.toContain(port);
      expect(before.map((c) => c.dataDir)).not.toContain(created!.dataDir);
      expect(clusters().filter((c) => c.name !== created!.name)).toEqual(before);
      expect(await query(url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
      if (SERVER_URL) expect(await query(SERVER_URL, "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'")).toEqual(sharedPassword);

      // Idempotent: a second start reuses the cluster.
      const again = script('start-postgres.sh', env);
      expect(again.stdout.trim().split('\n').at(-1)).toBe(url);

      const cleaned = script('cleanup.sh', { ...env, INSTAPRO_TEST_DATABASE_URL: url });
      expect(cleaned.code, cleaned.stderr).toBe(0);
      expect(clusters()).toEqual(before);
      expect(existsSync(stateDir)).toBe(false);
      expect(existsSync(foreignDir), 'another run\'s test directory').toBe(true);
      if (SERVER_URL) expect(await query(SERVER_URL, `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = '${foreignSchema}'`)).toEqual([{ n: 1 }]);
      created = undefined;
    } finally {
      if (created) spawnSync('pg_dropcluster', ['--stop', created.version, created.name]);
      if (SERVER_URL) await query(SERVER_URL, `DROP SCHEMA IF EXISTS ${foreignSchema}`);
      await rm(foreignDir, { recursive: true, force: true });
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
