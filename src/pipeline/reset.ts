import type { Database } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import type { SchemaNames } from '../db/sql-files.js';
import { quoteIdentifier, readSql } from '../db/sql-files.js';
import { ConfigurationError } from '../util/errors.js';

export interface ResetResult {
  /** The schemas dropped, with everything in them; empty when the database held none. */
  dropped: string[];
}

/** The configured schemas in the order a reset drops them (see sql/reset/drop_pipeline_schemas.sql). */
export function pipelineSchemas(schemas: SchemaNames): string[] {
  return [schemas.mart, schemas.staging, schemas.raw];
}

/**
 * Drops the pipeline's schemas whole, in one transaction, so the next run starts as on a fresh
 * database. Only schemas the pipeline owns: its raw schema must hold the migrations table and
 * record these mart and staging names; without a raw schema nothing is the pipeline's.
 * The caller holds the pipeline lock.
 */
export async function resetPipeline(db: Database, schemas: SchemaNames): Promise<ResetResult> {
  if (pipelineSchemas(schemas).includes('public')) {
    throw new ConfigurationError('invalid configuration: instapro reset drops whole schemas and never the shared schema public; drop the pipeline\'s tables there by hand');
  }
  if (!(await schemaExists(db, schemas.raw))) return { dropped: [] };
  await checkOwnedByPipeline(db, schemas);
  const existing: string[] = [];
  for (const schema of pipelineSchemas(schemas)) if (await schemaExists(db, schema)) existing.push(schema);
  const drop = await readSql('reset/drop_pipeline_schemas.sql', schemas);
  await inTransaction(db, () => db.exec(drop));
  return { dropped: existing };
}

async function schemaExists(db: Database, schema: string): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS present', [quoteIdentifier(schema)]);
  return rows[0]?.present === true;
}

/** Refuses a raw schema the migrations did not create, or one that belongs to other mart and staging schemas. */
async function checkOwnedByPipeline(db: Database, schemas: SchemaNames): Promise<void> {
  const raw = quoteIdentifier(schemas.raw);
  const { rows } = await db.query<{ migrations: boolean; names: boolean }>(
    'SELECT to_regclass($1) IS NOT NULL AS migrations, to_regclass($2) IS NOT NULL AS names',
    [`${raw}.schema_migration`, `${raw}.schema_names`],
  );
  if (!rows[0]?.migrations) {
    throw new ConfigurationError(`invalid configuration: the schema ${schemas.raw} (INSTAPRO_RAW_SCHEMA) has no schema_migration table, so instapro did not create it; nothing was dropped`);
  }
  if (!rows[0].names) return; // migrated before the names were recorded: the configured ones stand
  const recorded = (await db.query<{ mart_schema: string; staging_schema: string }>(`SELECT mart_schema, staging_schema FROM ${raw}.schema_names`)).rows[0];
  if (recorded && (recorded.mart_schema !== schemas.mart || recorded.staging_schema !== schemas.staging)) {
    throw new ConfigurationError(
      `invalid configuration: the raw schema ${schemas.raw} belongs to INSTAPRO_SCHEMA=${recorded.mart_schema} and INSTAPRO_STAGING_SCHEMA=${recorded.staging_schema}, not INSTAPRO_SCHEMA=${schemas.mart}, INSTAPRO_STAGING_SCHEMA=${schemas.staging}; set them back to reset that pipeline; nothing was dropped`,
    );
  }
}
