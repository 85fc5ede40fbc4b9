import { createHash } from 'node:crypto';
import type { Database } from './database.js';
import { inTransaction } from './database.js';
import type { SchemaNames } from './sql-files.js';
import { listSqlFiles, quoteIdentifier, readSqlTemplate, renderSql } from './sql-files.js';
import { ConfigurationError, PipelineError, EXIT_CODES } from '../util/errors.js';

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
  if (applied.size > 0) await checkSchemaNames(db, schemas);

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
  if (await hasSchemaNamesTable(db, schemas)) {
    await db.query(`INSERT INTO ${raw}.schema_names (mart_schema, staging_schema) VALUES ($1, $2) ON CONFLICT (only_row) DO NOTHING`, [schemas.mart, schemas.staging]);
  }
  return result;
}

async function hasSchemaNamesTable(db: Database, schemas: SchemaNames): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [`${quoteIdentifier(schemas.raw)}.schema_names`]);
  return rows[0]?.present === true;
}

/**
 * A raw schema with migrations belongs to the mart and staging schemas they created: other names
 * would find those schemas missing (every later run failing half-way), so they are refused before
 * anything runs, naming the schemas in use.
 */
async function checkSchemaNames(db: Database, schemas: SchemaNames): Promise<void> {
  const configured = `INSTAPRO_SCHEMA=${schemas.mart}, INSTAPRO_STAGING_SCHEMA=${schemas.staging}`;
  const advice = `set them back, or choose another INSTAPRO_RAW_SCHEMA for a separate pipeline`;
  if (await hasSchemaNamesTable(db, schemas)) {
    const { rows } = await db.query<{ mart_schema: string; staging_schema: string }>(`SELECT mart_schema, staging_schema FROM ${quoteIdentifier(schemas.raw)}.schema_names`);
    const recorded = rows[0];
    if (recorded && (recorded.mart_schema !== schemas.mart || recorded.staging_schema !== schemas.staging)) {
      throw new ConfigurationError(
        `invalid configuration: the raw schema ${schemas.raw} belongs to INSTAPRO_SCHEMA=${recorded.mart_schema} and INSTAPRO_STAGING_SCHEMA=${recorded.staging_schema}, not ${configured}; ${advice}`,
      );
    }
    if (recorded) return;
  }
  // Set up before the names were recorded: the configured schemas must at least exist.
  const { rows } = await db.query<{ mart: boolean; staging: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS mart, to_regnamespace($2) IS NOT NULL AS staging', [
    quoteIdentifier(schemas.mart),
    quoteIdentifier(schemas.staging),
  ]);
  const missing = [rows[0]?.mart ? undefined : `INSTAPRO_SCHEMA=${schemas.mart}`, rows[0]?.staging ? undefined : `INSTAPRO_STAGING_SCHEMA=${schemas.staging}`].filter(Boolean);
  if (missing.length > 0) {
    throw new ConfigurationError(
      `invalid configuration: ${missing.join(' and ')} does not exist, but the raw schema ${schemas.raw} was migrated already, with other schema names; ${advice}`,
    );
  }
}
