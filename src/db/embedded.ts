import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { Database, QueryResult, Row } from './database.js';
import { TEXT_TYPE_OIDS, identity, parseInt8 } from './database.js';
import { lockDataDir } from './data-dir-lock.js';
import { describeTarget } from '../config/settings.js';

/** COPY on PGlite reads a whole blob, so rows are sent in bounded batches to keep memory flat. */
const COPY_BATCH_BYTES = 8 * 1024 * 1024;

/**
 * Opens the embedded database. PGlite can only be opened by one process at a time, so a lock next
 * to the data directory serializes concurrent CLI invocations (the server backend relies on an
 * advisory lock instead).
 */
export async function openEmbedded(dataDir: string, onWait?: (message: string) => void): Promise<Database> {
  await mkdir(dataDir, { recursive: true });
  const lock = await lockDataDir(dataDir, onWait);
  const release = () => lock.release();
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

  const copyBatch = async (copySql: string, text: string): Promise<number> => {
    const result = await pg.query(`${copySql} FROM '/dev/blob' WITH (FORMAT csv)`, [], { blob: new Blob([text]) });
    return result.affectedRows ?? 0;
  };

  return {
    kind: 'embedded',
    description: describeTarget({ kind: 'embedded', dataDir }),
    async query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
      const result = await pg.query<T>(sql, params);
      return { rows: result.rows, fields: result.fields.map((f) => f.name) };
    },
    async exec(sql: string): Promise<void> {
      await pg.exec(sql);
    },
    async copyCsv(copySql: string, csv: AsyncIterable<string> | Iterable<string>): Promise<number> {
      let batch: string[] = [];
      let size = 0;
      let copied = 0;
      for await (const chunk of csv) {
        batch.push(chunk);
        size += chunk.length;
        if (size >= COPY_BATCH_BYTES) {
          copied += await copyBatch(copySql, batch.join(''));
          batch = [];
          size = 0;
        }
      }
      if (size > 0) copied += await copyBatch(copySql, batch.join(''));
      return copied;
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
