import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { SQL_ROOT } from '../db/sql-files.js';
import { PipelineError, EXIT_CODES } from '../util/errors.js';

/**
 * The declarations in sql/models/schema.yml, next to the model SQL (as dbt's schema files are):
 * tables with their columns, types, keys and column tests, plus custom SQL tests that return
 * failing rows.
 */
const severity = z.enum(['error', 'warn']);
const layer = z.enum(['mart', 'raw', 'staging']);

const columnTest = z.union([
  z.enum(['unique', 'not_null']),
  z.object({ unique: z.object({ severity: severity.optional() }) }).strict(),
  z.object({ not_null: z.object({ severity: severity.optional() }) }).strict(),
  z.object({ accepted_values: z.object({ values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1), severity: severity.optional() }).strict() }).strict(),
  z.object({ relationships: z.object({ to: z.string(), field: z.string(), severity: severity.optional() }).strict() }).strict(),
]);

const column = z
  .object({
    name: z.string(),
    type: z.string(),
    description: z.string().optional(),
    tests: z.array(columnTest).default([]),
  })
  .strict();

const foreignKey = z.object({ columns: z.array(z.string()).min(1), references: z.object({ table: z.string(), columns: z.array(z.string()).min(1) }).strict() }).strict();

const table = z
  .object({
    name: z.string().regex(/^[a-z_][a-z0-9_]*$/),
    layer: layer.default('mart'),
    kind: z.enum(['table', 'view']).default('table'),
    description: z.string(),
    grain: z.string().optional(),
    primary_key: z.array(z.string()).optional(),
    /** After an incremental build, the column tests read only the rows this predicate selects. */
    incremental_filter: z.string().optional(),
    foreign_keys: z.array(foreignKey).default([]),
    columns: z.array(column).min(1),
  })
  .strict();

const customTest = z
  .object({
    name: z.string().regex(/^[a-z_][a-z0-9_]*$/),
    description: z.string(),
    severity: severity.default('error'),
    sql: z.string(),
    /** After an incremental build, run instead of `sql`: the same check on the new rows. */
    incremental_sql: z.string().optional(),
    /** SQL that is true when a constraint already guarantees the check: the test then reads no rows. */
    guarded_by: z.string().optional(),
  })
  .strict();

export const schemaFileSchema = z.object({ version: z.literal(1), tables: z.array(table), tests: z.array(customTest).default([]) }).strict();

export type SchemaFile = z.infer<typeof schemaFileSchema>;
export type TableDeclaration = z.infer<typeof table>;
export type ColumnTest = z.infer<typeof columnTest>;
export type Severity = z.infer<typeof severity>;

export const DEFAULT_SCHEMA_FILE = path.join(SQL_ROOT, 'models', 'schema.yml');

export async function loadSchemaFile(file = DEFAULT_SCHEMA_FILE): Promise<SchemaFile> {
  const parsed = schemaFileSchema.safeParse(parse(await readFile(file, 'utf8')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new PipelineError(`${file}: invalid test declarations: ${problems}`, EXIT_CODES.configuration);
  }
  return parsed.data;
}
