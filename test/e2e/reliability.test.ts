/**
 * Faults and hostile input against the CLI (issue 17): secrets in `config`, the `sql` policy, a
 * closed stdout, the exit code of every fault (a lost server, an unreadable file, a full disk),
 * sslmode, U+FFFD, implausible dates and changed schema names. Every expectation is written
 * out here, never computed by the code under test.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, SERVER_URL } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { HEADER, SAMPLE_EVENT_LOG, eventLine } from '../helpers/event-log-files.js';
import { CLI, childEnv, describeResult, jsonSummary, requireBuiltCli, runCli, runCliExpecting, sqlRows, stackFrames } from '../helpers/subprocess.js';
import { EmbeddedTemplate, schemasOf } from './support.js';

const template = new EmbeddedTemplate();
let tmp: string;
/** Five valid events, 2020-01-01 .. 2020-01-03. */
let smallLog: string;

beforeAll(async () => {
  requireBuiltCli();
  tmp = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-reliability-'));
  smallLog = path.join(tmp, 'small.csv');
  await writeFile(
    smallLog,
    [
      HEADER,
      eventLine(1, 'created_account', 10, '2020-01-01 08:00:00'),
      eventLine(2, 'became_able_to_propose', 10, '2020-01-01 09:00:00'),
      eventLine(3, 'proposed', 10, '2020-01-02 10:00:00'),
      eventLine(4, 'created_account', 11, '2020-01-02 11:00:00'),
      eventLine(5, 'became_unable_to_propose', 10, '2020-01-03 12:00:00'),
    ].join('\n') + '\n',
  );
});

afterAll(async () => {
  await template.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function eventCount(db: TestDatabase): Promise<number> {
  const [row] = await sqlRows<{ n: number }>(db.env, `SELECT count(*)::integer AS n FROM ${schemasOf(db).raw}.event`);
  return row!.n;
}

describe('`instapro config` never prints a password (item 2)', () => {
  it.each([
    ['postgresql://postgres:secret@pw-123@db.internal/warehouse', 'secret@pw-123'],
    ['postgresql://postgres:secret pw-123@db.internal/warehouse', 'secret pw-123'],
    [`postgresql://postgres:${encodeURIComponent('s/e:c#r?e%t é')}@db.internal/warehouse`, 's/e:c#r?e%t é'],
  ])('%s', async (url, password) => {
    for (const args of [['config'], ['config', '--json']]) {
      const result = await runCliExpecting(0, args, { env: { INSTAPRO_DATABASE_URL: url } });
      for (const form of [password, encodeURIComponent(password), 'pw-123', 'secret']) {
        expect(result.stdout + result.stderr).not.toContain(form);
      }
      expect(result.stdout).toContain('postgresql://postgres:********@db.internal:5432/warehouse');
    }
  });
});

describe.concurrent.each(BACKENDS)('`instapro sql` on the %s backend (item 4)', (backend) => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await template.createTestDatabase(backend);
    await runCliExpecting(0, ['ingest', '--input', smallLog], { env: db.env });
  });

  it.sequential('is read-only by default: DELETE and DROP exit 2 with PostgreSQL\'s message, nothing changes', async () => {
    const { raw, staging } = schemasOf(db);
    for (const query of [`delete from ${raw}.event`, `drop schema ${staging} cascade`, `truncate ${raw}.event`]) {
      const args = ['sql', query];
      const result = await runCli(args, { env: db.env });
      expect(result.code, describeResult(args, result)).toBe(2);
      expect(result.stderr).toMatch(/read-only transaction/);
      expect(result.stderr).toMatch(/--write/);
      expect(stackFrames(result.stderr)).toEqual([]);
    }
    expect(await eventCount(db)).toBe(5);
    expect(await sqlRows(db.env, `SELECT to_regnamespace('${staging}') IS NOT NULL AS present`)).toEqual([{ present: true }]);
  });

  it.sequential('refuses several statements with one clear message and runs none of them', async () => {
    const { raw } = schemasOf(db);
    for (const query of [`select 1; delete from ${raw}.event`, `commit; delete from ${raw}.event`]) {
      for (const args of [['sql', query], ['sql', '--write', query]]) {
        const result = await runCli(args, { env: db.env });
        expect(result.code, describeResult(args, result)).toBe(2);
        expect(result.stderr).toMatch(/one statement per call/);
        expect(result.stderr).not.toMatch(/Cannot read properties/);
      }
    }
    expect(await eventCount(db)).toBe(5);
  });

  it.sequential('a SQL error exits 2 with PostgreSQL\'s message and position, no stack trace', async () => {
    const args = ['sql', 'selec 1', '--verbose'];
    const result = await runCli(args, { env: db.env });
    expect(result.code, describeResult(args, result)).toBe(2);
    expect(result.stderr).toMatch(/syntax error at or near "selec"/);
    expect(result.stderr).toMatch(/SQLSTATE 42601, at character 1/);
    expect(stackFrames(result.stderr)).toEqual([]);
    const missing = await runCli(['sql', 'select * from no_such_table'], { env: db.env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/relation "no_such_table" does not exist \(SQLSTATE 42P01, at character 15/);
  });

  it.sequential('--write allows a change; --json prints the rows as JSON on the last line', async () => {
    const { raw } = schemasOf(db);
    const deleted = await runCliExpecting(0, ['sql', '--write', `delete from ${raw}.event where event_id = 5 returning event_id`, '--format', 'json'], { env: db.env });
    expect(JSON.parse(deleted.stdout)).toEqual([{ event_id: 5 }]);
    expect(await eventCount(db)).toBe(4);
    const result = await runCliExpecting(0, ['sql', `select event_id from ${raw}.event order by event_id`, '--json'], { env: db.env });
    expect(jsonSummary(result.stdout)).toMatchObject({ status: 'succeeded', fields: ['event_id'], rows: [{ event_id: 1 }, { event_id: 2 }, { event_id: 3 }, { event_id: 4 }], row_count: 4 });
    const failed = await runCli(['sql', 'selec 1', '--json'], { env: db.env });
    expect(failed.code).toBe(2);
    expect(jsonSummary(failed.stdout)).toMatchObject({ status: 'failed', exit_code: 2 });
  });
});

describe.concurrent.each(BACKENDS)('a closed stdout on the %s backend (item 5)', (backend) => {
  it('`run | head -1`: the run still finishes every step, records them, and exits with its own code', async () => {
    const db = await template.createTestDatabase(backend);
    const child = spawn(process.execPath, [CLI, 'run', '--input', SAMPLE_EVENT_LOG], { env: childEnv(db.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    // The reader takes the first line and goes away, as `head -1` does.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code, stderr).toBe(0);
    const { raw } = schemasOf(db);
    const runs = await sqlRows<{ status: string; steps: string[] }>(
      db.env,
      `SELECT r.status, array_agg(s.step || ':' || s.status ORDER BY s.started_at) AS steps FROM ${raw}.pipeline_run r JOIN ${raw}.pipeline_step_log s USING (run_id) GROUP BY r.run_id, r.status`,
    );
    expect(runs).toEqual([{ status: 'succeeded', steps: ['ingest:succeeded', 'model:succeeded', 'snapshot:succeeded', 'test:succeeded'] }]);
  });
});

describe.concurrent.each(BACKENDS)('exit codes of faults on the %s backend (item 8)', (backend) => {
  it('an unreadable input file is an input-file error (exit 4), not a raw EACCES; nothing is loaded', async () => {
    const db = await template.createTestDatabase(backend);
    // A directory anyone may enter, so that the file is found and only reading it fails.
    const dir = path.join(tmp, `unreadable-${backend}`);
    await mkdir(dir);
    await chmod(tmp, 0o755);
    await chmod(dir, 0o755);
    const unreadable = path.join(dir, 'events.csv');
    await writeFile(unreadable, `${HEADER}\n${eventLine(1, 'created_account', 1, '2020-01-01 00:00:00')}\n`);
    await chmod(unreadable, 0o000);
    const args = ['ingest', '--input', unreadable];
    let result: { code: number | null; stderr: string };
    if (process.getuid?.() === 0) {
      // root reads any file: run the CLI as nobody, on a database nobody may use.
      if (db.env.INSTAPRO_DATA_DIR) await chownTree(db.env.INSTAPRO_DATA_DIR, 65534);
      const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, ...args], { env: childEnv(db.env), stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      result = { code, stderr };
    } else {
      result = await runCli(args, { env: db.env });
    }
    expect(result.code, result.stderr).toBe(4);
    expect(result.stderr).toContain(`instapro: error: ${unreadable}: permission denied`);
    expect(result.stderr).not.toMatch(/unexpected/);
  });
});

async function chownTree(dir: string, uid: number): Promise<void> {
  spawnSync('chown', ['-R', `${uid}:${uid}`, dir]);
  await chown(dir, uid, uid);
}

describe.runIf(SERVER_URL)('the server going away mid-run (item 8)', () => {
  it('is "database unreachable" (exit 7) with a clear message, and a later run completes the work', async () => {
    const db = await template.createTestDatabase('server');
    const target = new URL(SERVER_URL!);
    // A proxy in front of the server, cut mid-run: the connection breaks as if the server had gone.
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxied = new URL(SERVER_URL!);
    proxied.hostname = '127.0.0.1';
    proxied.port = String((proxy.address() as net.AddressInfo).port);
    const env = { ...db.env, INSTAPRO_DATABASE_URL: proxied.toString() };
    const child = spawn(process.execPath, [CLI, 'run', '--input', SAMPLE_EVENT_LOG], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdout.once('data', () => {
      // The ingest is done and committed; the model is starting: the server "goes away".
      proxy.close();
      for (const socket of sockets) socket.destroy();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code, stderr).toBe(7);
    expect(stderr).toMatch(/lost the connection to PostgreSQL at 127\.0\.0\.1:\d+\/postgres/);
    expect(stderr).not.toMatch(/unexpected/);
    // The committed ingest stays; a run against the server itself completes the rest.
    await runCliExpecting(0, ['run', '--input', SAMPLE_EVENT_LOG], { env: db.env });
  });
});

describe('a full disk while creating the embedded database (item 8)', () => {
  const mountPoint = path.join(tmpdir(), `instapro-test-tmpfs-${process.pid}`);
  let mounted = false;

  beforeAll(async () => {
    await mkdir(mountPoint, { recursive: true });
    mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mountPoint]).status === 0;
  });

  afterAll(async () => {
    if (mounted) spawnSync('umount', [mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });

  it('exits 7 naming the directory and ENOSPC (also with --verbose: never "[object Object]"), and leaves no half-made database', async (context) => {
    if (!mounted) context.skip('this machine does not allow mounting a tmpfs');
    const dataDir = path.join(mountPoint, 'db');
    for (const args of [['sql', 'select 1'], ['sql', 'select 1', '--verbose']]) {
      const result = await runCli(args, { env: { INSTAPRO_DATA_DIR: dataDir } });
      expect(result.code, describeResult(args, result)).toBe(7);
      expect(result.stderr).toContain(`instapro: error: cannot open the embedded database in ${dataDir}: ENOSPC: no space left on device`);
      expect(result.stderr).not.toContain('[object Object]');
      const left = spawnSync('du', ['-sk', dataDir]).stdout.toString();
      expect(Number(left.split('\t')[0])).toBeLessThan(64);
    }
  });
});

describe.runIf(SERVER_URL)('sslmode (item 12)', () => {
  it('sslmode=bogus in a URL is a configuration error (exit 3), as in INSTAPRO_DB_SSLMODE', async () => {
    const url = new URL(SERVER_URL!);
    url.searchParams.set('sslmode', 'bogus');
    const result = await runCli(['sql', 'select 1'], { env: { INSTAPRO_DATABASE_URL: url.toString() } });
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/sslmode must be one of disable, require, verify-full/);
  });

  it('a certificate failure is not retried: exit 7 after one attempt', async () => {
    const url = new URL(SERVER_URL!);
    url.searchParams.set('sslmode', 'verify-full');
    const args = ['sql', 'select 1'];
    const result = await runCli(args, { env: { INSTAPRO_DATABASE_URL: url.toString(), INSTAPRO_CONNECT_RETRIES: '3', INSTAPRO_CONNECT_RETRY_DELAY_MS: '1000' } });
    expect(result.code, describeResult(args, result)).toBe(7);
    expect(result.stderr).toMatch(/after 1 attempt:/);
    expect(result.stderr).not.toMatch(/retrying/);
    // Three retries would have waited 1 + 2 + 4 s.
    expect(result.durationMs).toBeLessThan(6_000);
  });
});

describe.concurrent.each(BACKENDS)('changing INSTAPRO_SCHEMA or INSTAPRO_STAGING_SCHEMA after the first run on the %s backend (item 6)', (backend) => {
  it('is refused up front with a configuration error (exit 3) naming the schemas in use; nothing is created', async () => {
    const db = await template.createTestDatabase(backend);
    const { mart, raw, staging } = schemasOf(db);
    await runCliExpecting(0, ['ingest', '--input', smallLog], { env: db.env });
    try {
      for (const changed of [{ INSTAPRO_SCHEMA: `${mart}_b` }, { INSTAPRO_STAGING_SCHEMA: `${staging}_b` }]) {
        const args = ['run', '--input', smallLog];
        const result = await runCli(args, { env: { ...db.env, ...changed } });
        expect(result.code, describeResult(args, result)).toBe(3);
        expect(result.stderr).toContain(`the raw schema ${raw} belongs to INSTAPRO_SCHEMA=${mart} and INSTAPRO_STAGING_SCHEMA=${staging}`);
      }
      expect(await sqlRows(db.env, `SELECT to_regnamespace('${mart}_b') IS NULL AND to_regnamespace('${staging}_b') IS NULL AS absent`)).toEqual([{ absent: true }]);
      // The configured names still work.
      await runCliExpecting(0, ['run', '--input', smallLog], { env: db.env });
    } finally {
      if (backend === 'server') await runCli(['sql', '--write', `DROP SCHEMA IF EXISTS ${mart}_b, ${staging}_b CASCADE`], { env: db.env });
    }
  });
});

describe.concurrent.each(BACKENDS)('event content on the %s backend (items 10, 11)', (backend) => {
  it('a literal U+FFFD (valid UTF-8, EF BF BD) is loaded as it is; a byte that is not UTF-8 is quarantined naming the field', async () => {
    const db = await template.createTestDatabase(backend);
    const file = path.join(tmp, `replacement-character-${backend}.csv`);
    await writeFile(
      file,
      Buffer.concat([
        Buffer.from(`${HEADER}\n${eventLine(1, 'created_account', 10, '2020-01-01 08:00:00')}\n`),
        Buffer.from(`${eventLine(2, 'proposed', 10, '2020-01-02 10:00:00', '60_tuin\uFFFDonderhoud_garden_7.63')}\n`),
        Buffer.from('3;proposed;10;2020-01-02 11:00:00;60_tuin'),
        Buffer.from([0xff]),
        Buffer.from('_garden_7.63\n'),
      ]),
    );
    await runCliExpecting(0, ['ingest', '--input', file, '--max-reject-ratio', '0.5'], { env: db.env });
    const { raw } = schemasOf(db);
    expect(await sqlRows(db.env, `SELECT event_id, meta_data FROM ${raw}.event ORDER BY event_id`)).toEqual([
      { event_id: 1, meta_data: null },
      { event_id: 2, meta_data: '60_tuin\uFFFDonderhoud_garden_7.63' },
    ]);
    expect(await sqlRows(db.env, `SELECT source_line, field, reason FROM ${raw}.quarantine`)).toEqual([{ source_line: 4, field: 'meta_data', reason: 'contains bytes that are not valid UTF-8' }]);
  });

  it('events dated 0001-01-01 and 9999-12-31 are quarantined with the window in the reason; the model and snapshot stay the size of the real dates', async () => {
    const db = await template.createTestDatabase(backend);
    const file = path.join(tmp, `implausible-dates-${backend}.csv`);
    await writeFile(
      file,
      [
        HEADER,
        eventLine(1, 'created_account', 10, '2020-01-01 08:00:00'),
        eventLine(2, 'became_able_to_propose', 10, '2020-01-01 09:00:00'),
        eventLine(3, 'created_account', 11, '0001-01-01 00:00:00'),
        eventLine(4, 'became_able_to_propose', 11, '9999-12-31 23:59:59'),
        eventLine(5, 'became_unable_to_propose', 10, '2020-01-03 12:00:00'),
      ].join('\n') + '\n',
    );
    const args = ['run', '--input', file, '--max-reject-ratio', '0.5', '--json'];
    const result = await runCli(args, { env: { ...db.env, INSTAPRO_EVENT_DATE_MAX: '2030-12-31' }, timeoutMs: 120_000 });
    expect(result.code, describeResult(args, result)).toBe(0);
    const { raw, mart } = schemasOf(db);
    expect(await sqlRows(db.env, `SELECT source_line, field, reason FROM ${raw}.quarantine ORDER BY source_line`)).toEqual([
      { source_line: 4, field: 'created_at', reason: 'created_at is outside the plausible dates 2000-01-01 .. 2030-12-31 (INSTAPRO_EVENT_DATE_MIN .. INSTAPRO_EVENT_DATE_MAX), got "0001-01-01 00:00:00"' },
      { source_line: 5, field: 'created_at', reason: 'created_at is outside the plausible dates 2000-01-01 .. 2030-12-31 (INSTAPRO_EVENT_DATE_MIN .. INSTAPRO_EVENT_DATE_MAX), got "9999-12-31 23:59:59"' },
    ]);
    const [sizes] = await sqlRows<{ snapshot_days: number; events: number }>(
      db.env,
      `SELECT (SELECT count(*)::integer FROM ${mart}.availability_snapshot) AS snapshot_days, (SELECT count(*)::integer FROM ${raw}.event) AS events`,
    );
    expect(sizes).toEqual({ snapshot_days: 3, events: 3 });
    // A wider window is a setting away (the file delivered again, so the manifest does not skip it).
    const delivered = new Date(Date.now() + 1000);
    await utimes(file, delivered, delivered);
    const wide = await runCli(['ingest', '--input', file, '--json'], { env: { ...db.env, INSTAPRO_EVENT_DATE_MIN: '0001-01-01', INSTAPRO_EVENT_DATE_MAX: '9999-12-31' } });
    expect(wide.code, wide.stderr).toBe(0);
    expect(jsonSummary(wide.stdout).ingest).toMatchObject({ loaded: 2 });
  });
});
