import { createHash } from 'node:crypto';
import type { Database } from './database.js';
import { inTransaction } from './database.js';
import type { SchemaNames } from './sql-files.js';
import { listSqlFiles, quoteIdentifier, readSqlTemplate, renderSql } from './sql-files.js';
import { PipelineError, EXIT_CODES } from '../util/errors.js';

const MIGRATIONS_DIR = 'migrations';

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

export interface MigrateOptions {
  /** Apply migrations up to and including this version only (default: all). */
  through?: number;
}

/**
 * Versioned, forward-only migrations (`sql/migrations/NNNN_name.sql`), each applied once in its
 * own transaction and recorded with a checksum. Editing an applied migration is refused: schema
 * changes are new files. Callers hold the pipeline lock, so two processes never race here.
 */
export async function migrate(db: Database, schemas: SchemaNames, options: MigrateOptions = {}): Promise<MigrationResult> {
  const raw = quoteIdentifier(schemas.raw);
  await db.exec(`
    CREATE SCHEMA IF NOT EXISTS ${raw};
    CREATE TABLE IF NOT EXISTS ${raw}.schema_migration (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    );`);
  const { rows } = await db.query<{ version: number; name: string; checksum: string }>(
    `SELECT version, name, checksum FROM ${raw}.schema_migration ORDER BY version`,
  );
  const applied = new Map(rows.map((r) => [r.version, r]));

  const result: MigrationResult = { applied: [], alreadyApplied: 0 };
  for (const file of await listSqlFiles(MIGRATIONS_DIR)) {
    const match = /^(\d+)_(.+)\.sql$/.exec(file);
    if (!match) throw new PipelineError(`migration file name must be NNNN_name.sql: ${file}`, EXIT_CODES.internal);
    const version = Number(match[1]);
    if (options.through !== undefined && version > options.through) break;
    const name = match[2] as string;
    const template = await readSqlTemplate(`${MIGRATIONS_DIR}/${file}`);
    // The checksum is of the file as written, so it does not depend on the schema names.
    const checksum = createHash('sha256').update(template).digest('hex').slice(0, 16);
    const sql = renderSql(template, schemas);
    const previous = applied.get(version);
    if (previous) {
      if (previous.checksum !== checksum) {
        throw new PipelineError(
          `migration ${file} was changed after it was applied (checksum ${previous.checksum} in the database, ${checksum} on disk); add a new migration instead`,
          EXIT_CODES.internal,
        );
      }
      result.alreadyApplied += 1;
      continue;
    }
    await inTransaction(db, async () => {
      await db.exec(sql);
      await db.query(`INSERT INTO ${raw}.schema_migration (version, name, checksum) VALUES ($1, $2, $3)`, [version, name, checksum]);
    });
    result.applied.push(file);
  }
  return result;
}
