import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import lockfile from 'proper-lockfile';
import type { Database, QueryResult, Row } from './database.js';
import { TEXT_TYPE_OIDS, identity, parseInt8 } from './database.js';

/**
 * PGlite can only be opened by one process at a time, so a lock file next to the data directory
 * serializes concurrent CLI runs (the server backend uses an advisory lock instead). The lock is
 * refreshed while held and considered stale when its owner was killed.
 */
const LOCK_OPTIONS = { stale: 10_000, update: 2_000, retries: { retries: 600, minTimeout: 250, maxTimeout: 1_000 } };

/** COPY on PGlite reads a whole blob, so rows are sent in bounded batches to keep memory flat. */
const COPY_BATCH_BYTES = 8 * 1024 * 1024;

export async function openEmbedded(dataDir: string): Promise<Database> {
  await mkdir(dataDir, { recursive: true });
  const release = await lockfile.lock(dataDir, LOCK_OPTIONS);
  let pg: PGlite;
  try {
    pg = await PGlite.create(dataDir, {
      parsers: {
        [TEXT_TYPE_OIDS.int8]: parseInt8,
        [TEXT_TYPE_OIDS.date]: identity,
        [TEXT_TYPE_OIDS.timestamp]: identity,
        [TEXT_TYPE_OIDS.timestamptz]: identity,
        [TEXT_TYPE_OIDS.numeric]: identity,
      },
    });
  } catch (error) {
    await release();
    throw error;
  }

  const copyBatch = async (copySql: string, text: string): Promise<void> => {
    await pg.query(`${copySql} FROM '/dev/blob' WITH (FORMAT csv)`, [], { blob: new Blob([text]) });
  };

  return {
    kind: 'embedded',
    description: `embedded PostgreSQL (PGlite) at ${dataDir}`,
    async query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
      const result = await pg.query<T>(sql, params);
      return { rows: result.rows, fields: result.fields.map((f) => f.name) };
    },
    async exec(sql: string): Promise<void> {
      await pg.exec(sql);
    },
    async copyCsv(copySql: string, csv: AsyncIterable<string>): Promise<void> {
      let batch: string[] = [];
      let size = 0;
      for await (const chunk of csv) {
        batch.push(chunk);
        size += chunk.length;
        if (size >= COPY_BATCH_BYTES) {
          await copyBatch(copySql, batch.join(''));
          batch = [];
          size = 0;
        }
      }
      if (size > 0) await copyBatch(copySql, batch.join(''));
    },
    async close(): Promise<void> {
      try {
        await pg.close();
      } finally {
        await release().catch(() => undefined);
      }
    },
  };
}
