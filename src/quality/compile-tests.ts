import type { SchemaNames } from '../db/sql-files.js';
import { quoteIdentifier, renderSql } from '../db/sql-files.js';
import type { ColumnTest, SchemaFile, Severity, TableDeclaration } from './schema-file.js';

/**
 * Which rows the tests read: all of them, or after an incremental build those loaded by runs after
 * `afterRunId` wherever the declarations say how (incremental_filter, incremental_sql).
 */
export type TestScope = { kind: 'full' } | { kind: 'incremental'; afterRunId: number };

export const FULL_SCOPE: TestScope = { kind: 'full' };

/** The scope after a model build that merged the events loaded after `afterRunId` (null: a full refresh). */
export function scopeAfterBuild(afterRunId: number | null): TestScope {
  return afterRunId === null ? FULL_SCOPE : { kind: 'incremental', afterRunId };
}

/** A data test compiled to one query: every row it returns is a failure. */
export interface CompiledTest {
  name: string;
  type: 'schema' | 'unique' | 'not_null' | 'accepted_values' | 'relationships' | 'custom';
  table: string | null;
  column: string | null;
  severity: Severity;
  sql: string;
  params: unknown[];
  /**
   * SQL (no parameters) that is true while a constraint guarantees what the test checks: the
   * runner asks it first and runs the test only when it is false.
   */
  guard?: string;
}

function qualified(schemas: SchemaNames, t: TableDeclaration | { name: string; layer: keyof SchemaNames }): string {
  return `${quoteIdentifier(schemas[t.layer])}.${quoteIdentifier(t.name)}`;
}

function regclassName(schemas: SchemaNames, t: TableDeclaration): string {
  return `${quoteIdentifier(schemas[t.layer])}.${quoteIdentifier(t.name)}`;
}

type GuardedKind = 'unique' | 'not_null' | 'relationships';

/**
 * SQL that is true when a constraint of the database already guarantees what a column test checks:
 * NOT NULL on the column (not_null); a primary key or unique constraint on exactly the column
 * (unique); a validated foreign key from exactly the column to exactly the referenced field
 * (relationships). Deferrable constraints do not count: inside a transaction they may be violated.
 * The arguments are SQL expressions for the names (parameters), resolved through the catalog.
 */
function guardSql(kind: GuardedKind, relation: string, column: string, parent = 'NULL', field = 'NULL'): string {
  const attnum = (rel: string, col: string) => `(SELECT a.attnum FROM pg_attribute AS a WHERE a.attrelid = to_regclass(${rel}) AND a.attname = ${col} AND NOT a.attisdropped)`;
  switch (kind) {
    case 'not_null':
      return `EXISTS (SELECT 1 FROM pg_attribute AS a WHERE a.attrelid = to_regclass(${relation}) AND a.attname = ${column} AND a.attnotnull AND NOT a.attisdropped)`;
    case 'unique':
      return `EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conrelid = to_regclass(${relation}) AND c.contype IN ('p', 'u')
                        AND c.convalidated AND NOT c.condeferrable AND c.conkey = ARRAY[${attnum(relation, column)}])`;
    case 'relationships':
      return `EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conrelid = to_regclass(${relation}) AND c.contype = 'f'
                        AND c.convalidated AND NOT c.condeferrable AND c.confrelid = to_regclass(${parent})
                        AND c.conkey = ARRAY[${attnum(relation, column)}] AND c.confkey = ARRAY[${attnum(parent, field)}])`;
  }
}

/**
 * Schema tests: the declared relation exists with exactly the declared columns and types, the
 * declared primary key and the declared foreign keys. Names travel as parameters.
 */
function schemaTests(schemas: SchemaNames, t: TableDeclaration): CompiledTest[] {
  const relation = regclassName(schemas, t);
  const base = { table: t.name, column: null, severity: 'error' as const, type: 'schema' as const };
  const tests: CompiledTest[] = [
    {
      ...base,
      name: `schema_${t.name}_columns`,
      sql: `SELECT coalesce(expected.column_name, actual.column_name) AS column_name,
                   expected.data_type AS expected_type, actual.data_type AS actual_type
            FROM unnest($2::text[], $3::text[]) AS expected (column_name, data_type)
            FULL JOIN (
                SELECT a.attname::text AS column_name, format_type(a.atttypid, a.atttypmod) AS data_type
                FROM pg_attribute AS a
                WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
            ) AS actual ON actual.column_name = expected.column_name
            WHERE actual.data_type IS DISTINCT FROM expected.data_type
            UNION ALL
            SELECT $1, 'relation exists', NULL WHERE to_regclass($1) IS NULL`,
      params: [relation, t.columns.map((c) => c.name), t.columns.map((c) => c.type)],
    },
  ];
  if (t.primary_key) {
    tests.push({
      ...base,
      name: `schema_${t.name}_primary_key`,
      sql: `SELECT $2::text AS expected_primary_key, actual.columns AS actual_primary_key
            FROM (SELECT (SELECT string_agg(a.attname, ',' ORDER BY array_position(c.conkey, a.attnum))
                          FROM pg_constraint AS c
                          JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                          WHERE c.conrelid = to_regclass($1) AND c.contype = 'p') AS columns) AS actual
            WHERE actual.columns IS DISTINCT FROM $2::text`,
      params: [relation, t.primary_key.join(',')],
    });
  }
  for (const fk of t.foreign_keys) {
    const referenced = `${quoteIdentifier(schemas[t.layer])}.${quoteIdentifier(fk.references.table)}`;
    tests.push({
      ...base,
      name: `schema_${t.name}_fk_${fk.columns.join('_')}`,
      sql: `SELECT $2::text AS columns, $3::text AS references_table, $4::text AS references_columns
            WHERE NOT EXISTS (
                SELECT 1 FROM pg_constraint AS c
                WHERE c.conrelid = to_regclass($1) AND c.contype = 'f' AND c.confrelid = to_regclass($3)
                  AND (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY AS k (attnum, ord)
                       JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) = $2::text
                  AND (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY AS k (attnum, ord)
                       JOIN pg_attribute AS a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) = $4::text)`,
      params: [relation, fk.columns.join(','), referenced, fk.references.columns.join(',')],
    });
  }
  // Every error-severity unique, not_null and relationships test on a table is backed by the
  // constraint that enforces it. Those column tests then read no rows while the constraint is in
  // place (the database has already checked every row); this test makes a missing constraint fail.
  const guarded = t.kind === 'table' ? t.columns.flatMap((c) => c.tests.map((test) => ({ column: c.name, ...describeColumnTest(test) }))).filter((g) => g.guarded && g.severity === 'error') : [];
  if (guarded.length > 0) {
    tests.push({
      ...base,
      name: `schema_${t.name}_column_constraints`,
      sql: `SELECT g.column_name, g.column_test, 'no constraint guards it' AS problem
            FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS g (column_name, column_test, parent, field)
            WHERE NOT CASE g.column_test
                WHEN 'not_null' THEN ${guardSql('not_null', '$1', 'g.column_name')}
                WHEN 'unique' THEN ${guardSql('unique', '$1', 'g.column_name')}
                ELSE ${guardSql('relationships', '$1', 'g.column_name', 'g.parent', 'g.field')}
            END`,
      params: [
        relation,
        guarded.map((g) => g.column),
        guarded.map((g) => g.kind),
        guarded.map((g) => (g.to ? `${quoteIdentifier(schemas[t.layer])}.${quoteIdentifier(g.to)}` : null)),
        guarded.map((g) => g.field ?? null),
      ],
    });
  }
  return tests;
}

interface ColumnTestConfig {
  severity?: Severity;
  values?: unknown[];
  to?: string;
  field?: string;
}

function describeColumnTest(test: ColumnTest): ColumnTestConfig & { kind: CompiledTest['type']; severity: Severity; guarded: boolean } {
  const kind = typeof test === 'string' ? test : (Object.keys(test)[0] as 'unique' | 'not_null' | 'accepted_values' | 'relationships');
  const config = (typeof test === 'string' ? {} : Object.values(test)[0]) as ColumnTestConfig;
  return { ...config, kind, severity: config.severity ?? 'error', guarded: kind !== 'accepted_values' };
}

/**
 * A column test's query. On a table, unique, not_null and relationships carry a guard (see
 * guardSql): with the constraint in place the runner does not read the table at all, and with it
 * dropped the test checks every row as before.
 */
function columnTest(schemas: SchemaNames, t: TableDeclaration, column: string, test: ColumnTest, scope: TestScope): CompiledTest {
  const table = qualified(schemas, t);
  const rel = scope.kind === 'incremental' && t.incremental_filter ? `(SELECT * FROM ${table} WHERE ${renderSql(t.incremental_filter, schemas, scopeFragments(scope))})` : table;
  const col = quoteIdentifier(column);
  const { kind, severity, values, to, field } = describeColumnTest(test);
  const base = { table: t.name, column, severity, type: kind, name: `${kind}_${t.name}_${column}` };
  const onTable = t.kind === 'table';
  // The guard's names are inlined as SQL string literals: guards take no parameters.
  const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
  const guard = (guardKind: GuardedKind, parent?: string, parentField?: string) =>
    onTable ? { guard: guardSql(guardKind, literal(table), literal(column), parent && literal(parent), parentField && literal(parentField)) } : {};
  switch (kind) {
    case 'unique':
      return { ...base, sql: `SELECT ${col} AS value, count(*) AS occurrences FROM ${table} WHERE ${col} IS NOT NULL GROUP BY ${col} HAVING count(*) > 1`, params: [], ...guard('unique') };
    case 'not_null':
      return { ...base, sql: `SELECT * FROM ${rel} AS t WHERE ${col} IS NULL`, params: [], ...guard('not_null') };
    case 'accepted_values':
      return {
        ...base,
        sql: `SELECT ${col} AS value, count(*) AS occurrences FROM ${rel} AS t WHERE ${col} IS NOT NULL AND NOT (${col}::text = ANY ($1::text[])) GROUP BY ${col}`,
        params: [(values ?? []).map(String)],
      };
    case 'relationships': {
      const parent = qualified(schemas, { name: to as string, layer: t.layer });
      const parentField = quoteIdentifier(field as string);
      return {
        ...base,
        name: `relationships_${t.name}_${column}_to_${to}`,
        sql: `SELECT child.${col} AS value FROM ${rel} AS child
              WHERE child.${col} IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM ${parent} AS parent WHERE parent.${parentField} = child.${col})`,
        params: [],
        ...guard('relationships', parent, field),
      };
    }
    default:
      throw new Error(`unknown column test ${kind}`);
  }
}

function scopeFragments(scope: TestScope): Record<string, string> {
  return scope.kind === 'incremental' ? { after_run: String(Math.trunc(scope.afterRunId)) } : {};
}

export function compileTests(file: SchemaFile, schemas: SchemaNames, scope: TestScope = FULL_SCOPE): CompiledTest[] {
  const tests: CompiledTest[] = [];
  for (const t of file.tables) {
    tests.push(...schemaTests(schemas, t));
    for (const c of t.columns) for (const test of c.tests) tests.push(columnTest(schemas, t, c.name, test, scope));
  }
  for (const custom of file.tests) {
    const sql = scope.kind === 'incremental' && custom.incremental_sql ? custom.incremental_sql : custom.sql;
    tests.push({
      name: custom.name,
      type: 'custom',
      table: null,
      column: null,
      severity: custom.severity,
      sql: renderSql(sql, schemas, scopeFragments(scope)),
      params: [],
      ...(custom.guarded_by ? { guard: renderSql(custom.guarded_by, schemas) } : {}),
    });
  }
  return tests;
}
