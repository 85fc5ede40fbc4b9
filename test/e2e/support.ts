/**
 * Shared pieces of the e2e tests. Expectations are computed here from the input files with a
 * deliberately naive parser of our own, never with the code under test.
 */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase } from '../helpers/backends.js';
import type { BackendName, TestDatabase } from '../helpers/backends.js';
import { runCliExpecting } from '../helpers/subprocess.js';

export interface EventLogFacts {
  /** Non-blank lines after the header. */
  rows: number;
  /** Distinct event ids. */
  distinctIds: number;
  /** Lines per event_type (of the first occurrence of each id). */
  byType: Record<string, number>;
  /** Sum of the distinct event ids. */
  idSum: bigint;
  maxId: bigint;
}

/** Counts a well-formed event log: one event per line, `;`-separated, header first, LF or CRLF. */
export async function eventLogFacts(file: string): Promise<EventLogFacts> {
  const text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const seen = new Set<string>();
  const byType: Record<string, number> = {};
  let rows = 0;
  let idSum = 0n;
  let maxId = 0n;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    rows += 1;
    const [id, type] = line.split(';');
    if (id === undefined || type === undefined) throw new Error(`unexpected line in ${file}: ${line}`);
    if (seen.has(id)) continue;
    seen.add(id);
    byType[type] = (byType[type] ?? 0) + 1;
    idSum += BigInt(id);
    if (BigInt(id) > maxId) maxId = BigInt(id);
  }
  return { rows, distinctIds: seen.size, byType, idSum, maxId };
}

export interface Schemas {
  mart: string;
  raw: string;
  staging: string;
}

/** The schema names a test database's CLI environment selects. */
export function schemasOf(db: TestDatabase): Schemas {
  const { INSTAPRO_SCHEMA: mart, INSTAPRO_RAW_SCHEMA: raw, INSTAPRO_STAGING_SCHEMA: staging } = db.env;
  if (!mart || !raw || !staging) throw new Error('test database without schema names');
  return { mart, raw, staging };
}

/** Per event type and overall (event_type null): count, sums and a digest of every loaded row. */
export function rawChecksumQuery(raw: string): string {
  return `SELECT event_type,
                 count(*)::integer AS n,
                 count(DISTINCT event_id)::integer AS distinct_ids,
                 sum(event_id)::text AS id_sum,
                 sum(professional_id)::text AS professional_sum,
                 md5(string_agg(concat_ws('|', event_id, event_type, professional_id, created_at, meta_data), ',' ORDER BY event_id)) AS digest
          FROM ${raw}.event
          GROUP BY ROLLUP (event_type)
          ORDER BY event_type NULLS LAST`;
}

export interface ChecksumRow {
  event_type: string | null;
  n: number;
  distinct_ids: number;
  id_sum: string;
  professional_sum: string;
  digest: string;
}

/** Removes a test database and the lock file a killed embedded run may have left next to it. */
export async function cleanupDatabase(db: TestDatabase | undefined): Promise<void> {
  if (!db) return;
  const dataDir = db.env.INSTAPRO_DATA_DIR;
  await db.cleanup();
  if (dataDir) await rm(`${path.resolve(dataDir)}.flock`, { force: true });
}

/**
 * Creating an embedded database (unpacking the prepared data directory, ~0.5 s; PGlite's initdb,
 * ~10 s of CPU, if the build did not prepare one) costs more than copying an initialized, cleanly
 * closed data directory (milliseconds). A test file creates one template
 * (through the CLI, on first use) and starts each embedded test database from a copy of it, so it
 * can afford a database per independent group of tests and run those groups in parallel.
 */
export class EmbeddedTemplate {
  private dir: Promise<string> | undefined;
  private readonly created: TestDatabase[] = [];

  /** The template's data directory, initialized on the first call. */
  get(): Promise<string> {
    this.dir ??= (async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-template-'));
      await runCliExpecting(0, ['sql', 'SELECT 1'], { env: { INSTAPRO_DATA_DIR: dir } });
      return dir;
    })();
    return this.dir;
  }

  /** A test database as createTestDatabase makes it; an embedded one starts from the template. */
  async createTestDatabase(backend: BackendName): Promise<TestDatabase> {
    const db = await createTestDatabase(backend);
    this.created.push(db);
    if (backend === 'embedded') await cp(await this.get(), db.env.INSTAPRO_DATA_DIR!, { recursive: true });
    return db;
  }

  /** Removes every database made from the template (cleaning up twice is harmless), then the template. */
  async dispose(): Promise<void> {
    for (const db of this.created.splice(0)) await cleanupDatabase(db).catch(() => undefined);
    const dir = await this.dir?.catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

