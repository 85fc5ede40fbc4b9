/**
 * Test backends: the embedded database always, a PostgreSQL server whenever
 * INSTAPRO_TEST_DATABASE_URL is set (CI sets it). Every test pipeline gets schemas of its own,
 * so test files run in parallel against one server without seeing each other's rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadSettings } from '../../src/config/settings.js';
import type { Settings } from '../../src/config/settings.js';
import { PipelineSession } from '../../src/pipeline/session.js';
import { silentProgress } from '../../src/pipeline/context.js';

export type BackendName = 'embedded' | 'server';

export const SERVER_URL = process.env.INSTAPRO_TEST_DATABASE_URL;
export const BACKENDS: BackendName[] = SERVER_URL ? ['embedded', 'server'] : ['embedded'];

export interface TestDatabase {
  backend: BackendName;
  /** Environment for the CLI as a subprocess: selects this database and these schemas. */
  env: Record<string, string>;
  settings(overrides?: Partial<Record<string, string>>): Settings;
  /** Opens a pipeline session (lock, migrations, run) like a CLI command does. */
  session(command?: string, overrides?: Partial<Record<string, string>>): Promise<PipelineSession>;
  cleanup(): Promise<void>;
}

export async function createTestDatabase(backend: BackendName): Promise<TestDatabase> {
  const prefix = `t_${randomBytes(5).toString('hex')}`;
  const dataDir = backend === 'embedded' ? await mkdtemp(path.join(tmpdir(), 'instapro-test-')) : undefined;
  const env: Record<string, string> = {
    INSTAPRO_SCHEMA: prefix,
    INSTAPRO_RAW_SCHEMA: `${prefix}_raw`,
    INSTAPRO_STAGING_SCHEMA: `${prefix}_staging`,
    INSTAPRO_CONNECT_RETRIES: '0',
    ...(backend === 'server' ? { INSTAPRO_DATABASE_URL: SERVER_URL as string } : { INSTAPRO_DATA_DIR: dataDir as string }),
  };
  const settings = (overrides: Partial<Record<string, string>> = {}): Settings => loadSettings({ ...env, ...overrides });
  return {
    backend,
    env,
    settings,
    session: (command = 'test', overrides = {}) => PipelineSession.open(command, settings(overrides), { log: () => undefined, progress: silentProgress }),
    async cleanup() {
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
      if (backend === 'server') {
        const client = new pg.Client({ connectionString: SERVER_URL });
        await client.connect();
        try {
          for (const schema of [prefix, `${prefix}_raw`, `${prefix}_staging`]) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await client.end();
        }
      }
    },
  };
}
