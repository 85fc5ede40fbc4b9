import type { Database, Row } from '../db/database.js';
import type { PipelineContext } from '../pipeline/context.js';
import type { CompiledTest, TestScope } from './compile-tests.js';
import { FULL_SCOPE, compileTests } from './compile-tests.js';
import { loadSchemaFile } from './schema-file.js';
import { DataTestsFailedError } from '../util/errors.js';

export interface DataTestResult {
  name: string;
  type: CompiledTest['type'];
  table: string | null;
  column: string | null;
  severity: CompiledTest['severity'];
  /** pass; fail (an error-severity test found rows); warn (a warn-severity test found rows). */
  status: 'pass' | 'fail' | 'warn';
  failing_rows: number;
  sample: Row[];
  /** True when a constraint guaranteed the check, so the test read no rows. */
  guarded_by_constraint?: true;
  error?: string;
}

export interface DataTestReport {
  /** full: every row; incremental: the rows of the last incremental build where declared (schema.yml). */
  scope: TestScope['kind'];
  passed: number;
  warnings: number;
  errors: number;
  results: DataTestResult[];
}

const SAMPLE_ROWS = 5;

/** The quality gate: its failure when a test of severity error failed; undefined when none did. */
export function qualityGateFailure(report: DataTestReport): DataTestsFailedError | undefined {
  if (report.errors === 0) return undefined;
  const failed = report.results.filter((t) => t.status === 'fail').map((t) => t.name);
  return new DataTestsFailedError(`${report.errors} data test${report.errors === 1 ? '' : 's'} failed: ${failed.join(', ')}`, report);
}

/** Runs one compiled test; a query that errors counts as a failure with the database's message. */
export async function runCompiledTest(db: Database, test: CompiledTest): Promise<DataTestResult> {
  const base = { name: test.name, type: test.type, table: test.table, column: test.column, severity: test.severity };
  try {
    if (test.guard !== undefined) {
      const { rows } = await db.query<{ guarded: boolean }>(`SELECT (${test.guard}) AS guarded`);
      if (rows[0]?.guarded === true) return { ...base, status: 'pass', failing_rows: 0, sample: [], guarded_by_constraint: true };
    }
    const counted = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM (${test.sql}) AS failing`, test.params);
    const failing = Number(counted.rows[0]?.n ?? 0);
    const sample = failing > 0 ? (await db.query(`SELECT * FROM (${test.sql}) AS failing LIMIT ${SAMPLE_ROWS}`, test.params)).rows : [];
    return { ...base, status: failing === 0 ? 'pass' : test.severity === 'warn' ? 'warn' : 'fail', failing_rows: failing, sample };
  } catch (error) {
    return { ...base, status: test.severity === 'warn' ? 'warn' : 'fail', failing_rows: -1, sample: [], error: (error as Error).message };
  }
}

export async function runTests(db: Database, tests: readonly CompiledTest[], onEach?: (test: CompiledTest, position: number, count: number) => void): Promise<DataTestReport> {
  const results: DataTestResult[] = [];
  await withoutJit(db, async () => {
    for (const [i, test] of tests.entries()) {
      onEach?.(test, i + 1, tests.length);
      results.push(await runCompiledTest(db, test));
    }
  });
  return {
    scope: 'full',
    passed: results.filter((r) => r.status === 'pass').length,
    warnings: results.filter((r) => r.status === 'warn').length,
    errors: results.filter((r) => r.status === 'fail').length,
    results,
  };
}

/**
 * JIT compilation costs tens of milliseconds per plan the planner thinks large, more than it
 * saves on these short checks (docs/data-tests.md). The session's setting is restored afterwards;
 * inside a transaction that a failing test aborted, its rollback restores it.
 */
async function withoutJit(db: Database, body: () => Promise<void>): Promise<void> {
  const previous = await db.query<{ jit: string }>(`SELECT current_setting('jit') AS jit, set_config('jit', 'off', false)`).catch(() => null);
  try {
    await body();
  } finally {
    if (previous?.rows[0]) await db.query(`SELECT set_config('jit', $1, false)`, [previous.rows[0].jit]).catch(() => undefined);
  }
}

/** The quality gate: every test declared in sql/models/schema.yml, on the rows of `scope`. */
export async function runDataTests(ctx: PipelineContext, options: { schemaFile?: string; scope?: TestScope } = {}): Promise<DataTestReport> {
  const declarations = await loadSchemaFile(options.schemaFile);
  const scope = options.scope ?? FULL_SCOPE;
  try {
    const report = await runTests(ctx.db, compileTests(declarations, ctx.schemas, scope), (test, position, count) => ctx.progress.activity(`test: ${test.name} (${position}/${count})`));
    return { ...report, scope: scope.kind };
  } finally {
    ctx.progress.stop();
  }
}
