/**
 * A new embedded database is unpacked from the prepared data directory that `npm run build`
 * makes (dist/data-dir-archive/), so the user's process never runs PGlite's initdb (a ~700 MB
 * peak). What the CLI says is the evidence: it names how it created the directory. An archive
 * made for another PGlite, or damaged, is not used: the CLI says why and runs initdb instead. A
 * directory whose creation was cut short carries a marker and is created again.
 */
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { SAMPLE_EVENT_LOG } from '../helpers/event-log-files.js';
import { REPO_ROOT, describeResult, requireBuiltCli, runCli, sqlRows } from '../helpers/subprocess.js';
import { cleanupDatabase, eventLogFacts, schemasOf } from './support.js';

const ARCHIVE_DIR = path.join(REPO_ROOT, 'dist', 'data-dir-archive');
const MARKER = '.instapro-creating';
const FROM_ARCHIVE = /created the embedded database in (.+) from the prepared data directory \(PGlite ([^,]+), no initdb\)/;
const WITH_INITDB = /creating the embedded database in (.+) with PGlite's initdb in this process/;

let tmp: string;
let pgliteVersion: string;
const databases: TestDatabase[] = [];

beforeAll(async () => {
  requireBuiltCli();
  if (!existsSync(path.join(ARCHIVE_DIR, 'manifest.json'))) throw new Error('dist/data-dir-archive/ is missing: `npm run build` prepares it');
  tmp = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-datadir-'));
  pgliteVersion = (JSON.parse(await readFile(path.join(REPO_ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')) as { version: string }).version;
});

afterAll(async () => {
  for (const db of databases) await cleanupDatabase(db).catch(() => undefined);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** An embedded test database whose data directory does not exist yet (two levels below an empty one). */
async function newDatabase(): Promise<{ db: TestDatabase; env: Record<string, string>; dataDir: string }> {
  const db = await createTestDatabase('embedded');
  databases.push(db);
  const dataDir = path.join(db.env.INSTAPRO_DATA_DIR as string, 'nested', 'db');
  return { db, env: { ...db.env, INSTAPRO_DATA_DIR: dataDir }, dataDir };
}

/** The pipeline worked on it: every sample event is in raw.event and the tests passed. */
async function expectSampleLoaded(db: TestDatabase, env: Record<string, string>): Promise<void> {
  const facts = await eventLogFacts(SAMPLE_EVENT_LOG);
  const rows = await sqlRows<{ n: number }>(env, `SELECT count(*)::integer AS n FROM ${schemasOf(db).raw}.event`);
  expect(rows).toEqual([{ n: facts.distinctIds }]);
}

/** shared_buffers as initdb wrote it into postgresql.conf, and as the running database has it. */
async function expectInitdbSettings(env: Record<string, string>, dataDir: string): Promise<void> {
  const conf = await readFile(path.join(dataDir, 'postgresql.conf'), 'utf8');
  expect(conf).toMatch(/^shared_buffers = 16MB/m);
  expect(await sqlRows(env, 'SHOW shared_buffers')).toEqual([{ shared_buffers: '16MB' }]);
}

describe('a new embedded data directory', () => {
  it('is unpacked from the prepared data directory (no initdb), once, and the pipeline runs on it', async () => {
    const { db, env, dataDir } = await newDatabase();
    const args = ['run', '--input', SAMPLE_EVENT_LOG];
    const first = await runCli(args, { env });
    expect(first.code, describeResult(args, first)).toBe(0);
    expect(first.stderr.match(FROM_ARCHIVE)?.slice(1), first.stderr).toEqual([dataDir, pgliteVersion]);
    expect(first.stderr).not.toMatch(WITH_INITDB);
    expect(await readdir(dataDir)).not.toContain(MARKER);
    await expectSampleLoaded(db, env);
    await expectInitdbSettings(env, dataDir);

    const again = await runCli(args, { env });
    expect(again.code, describeResult(args, again)).toBe(0);
    expect(again.stderr).not.toMatch(/created the embedded database|creating the embedded database/);
  });

  it('is created again when an earlier process stopped while creating it (the marker is still there)', async () => {
    const { db, env, dataDir } = await newDatabase();
    // What a process killed in the middle of unpacking leaves: the marker and some of the files.
    await mkdir(path.join(dataDir, 'base', '1'), { recursive: true });
    await writeFile(path.join(dataDir, MARKER), '');
    await writeFile(path.join(dataDir, 'PG_VERSION'), '18\n');
    await writeFile(path.join(dataDir, 'base', '1', '1259'), Buffer.alloc(100));
    const args = ['run', '--input', SAMPLE_EVENT_LOG];
    const result = await runCli(args, { env });
    expect(result.code, describeResult(args, result)).toBe(0);
    expect(result.stderr).toContain(`the embedded database in ${dataDir} was left half-created by a process that stopped; creating it again`);
    expect(result.stderr).toMatch(FROM_ARCHIVE);
    expect(await readdir(dataDir)).not.toContain(MARKER);
    await expectSampleLoaded(db, env);
  });
});

describe('a prepared data directory that does not fit', () => {
  /**
   * A copy of the built package (dist/ copied, sql/ and node_modules/ linked), so its archive can
   * be changed without touching this repository's. The CLI finds the archive relative to itself.
   */
  async function packageCopy(name: string, spoil: (archiveDir: string) => Promise<void>): Promise<string> {
    const root = path.join(tmp, name);
    await mkdir(root);
    await cp(path.join(REPO_ROOT, 'package.json'), path.join(root, 'package.json'));
    await cp(path.join(REPO_ROOT, 'dist'), path.join(root, 'dist'), { recursive: true });
    await symlink(path.join(REPO_ROOT, 'sql'), path.join(root, 'sql'));
    await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'));
    await spoil(path.join(root, 'dist', 'data-dir-archive'));
    return path.join(root, 'dist', 'cli', 'main.js');
  }

  it.each([
    {
      what: 'made for another PGlite version',
      spoil: async (dir: string) => {
        const file = path.join(dir, 'manifest.json');
        const manifest = JSON.parse(await readFile(file, 'utf8')) as { pglite: string };
        await writeFile(file, JSON.stringify({ ...manifest, pglite: '0.0.1-stale' }));
      },
      reason: () => `was made for PGlite 0.0.1-stale, this is PGlite ${pgliteVersion}`,
    },
    {
      what: 'damaged',
      spoil: async (dir: string) => {
        const file = path.join(dir, 'pgdata.tar.gz');
        const bytes = await readFile(file);
        const middle = Math.floor(bytes.length / 2);
        bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
        await writeFile(file, bytes);
      },
      reason: () => 'pgdata.tar.gz does not match its manifest',
    },
  ])('($what) is not used: the CLI says why, creates the database with initdb, and it works', async ({ what, spoil, reason }) => {
    const cli = await packageCopy(what.replace(/\W+/g, '-'), spoil);
    const { db, env, dataDir } = await newDatabase();
    const args = ['run', '--input', SAMPLE_EVENT_LOG];
    const result = await runCli(args, { env, cli });
    expect(result.code, describeResult(args, result)).toBe(0);
    expect(result.stderr).toContain(reason());
    expect(result.stderr.match(WITH_INITDB)?.[1], result.stderr).toBe(dataDir);
    expect(result.stderr).not.toMatch(FROM_ARCHIVE);
    expect(await readdir(dataDir)).not.toContain(MARKER);
    await expectSampleLoaded(db, env);
    await expectInitdbSettings(env, dataDir);
  });
});
