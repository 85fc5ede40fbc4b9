#!/usr/bin/env node
/**
 * The `instapro` command line: every pipeline step, ad-hoc SQL and the sample generator.
 * Output contract: a human summary on stdout (or, with --json, one JSON object on the last line),
 * diagnostics on stderr, documented exit codes (README, "Exit codes").
 */
import { inspect } from 'node:util';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ENVIRONMENT_VARIABLES, loadSettings, redactUrl, redactedSettings } from '../config/settings.js';
import type { Settings } from '../config/settings.js';
import { openDatabase } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { writeEventLog, GENERATE_DEFAULTS } from '../generate/generate-event-log.js';
import { ingest } from '../ingest/ingest.js';
import type { IngestResult } from '../ingest/ingest.js';
import { buildModel } from '../model/build-model.js';
import type { ModelOptions, ModelResult } from '../model/build-model.js';
import { readModelState } from '../model/model-state.js';
import { schemaNames } from '../pipeline/context.js';
import { PipelineSession, acquirePipelineLock } from '../pipeline/session.js';
import { runDataTests } from '../quality/run-data-tests.js';
import type { DataTestReport } from '../quality/run-data-tests.js';
import { checkReportTarget, describeReport, writeReport } from '../report/write-report.js';
import { buildAvailabilitySnapshot } from '../snapshot/availability-snapshot.js';
import type { SnapshotOptions } from '../snapshot/availability-snapshot.js';
import { FULL_SCOPE, scopeAfterBuild } from '../quality/compile-tests.js';
import type { TestScope } from '../quality/compile-tests.js';
import { EXIT_CODES, DataTestsFailedError, PipelineError, RejectRatioExceededError } from '../util/errors.js';
import { formatRows } from './format-rows.js';
import { tolerateClosedOutput, writeStderr, writeStdout } from './stdout.js';
import { runUserSql } from './user-sql.js';
import type { OutputFormat } from './format-rows.js';
import { terminalProgress } from './progress.js';
import { describeDataTests, describeIngest, describeModel, describeSnapshot } from './summaries.js';

interface CommonOptions {
  databaseUrl?: string;
  dataDir?: string;
  json?: boolean;
  verbose?: boolean;
  maxRejectRatio?: string;
  lockTimeout?: string;
}

/** Everything a command reports; printed as the --json line. */
type Summary = Record<string, unknown> & { status: 'succeeded' | 'failed' };

class Output {
  readonly summary: Summary = { status: 'succeeded' };

  constructor(readonly options: CommonOptions) {}

  /** A line for a person on stdout; suppressed with --json. */
  say(text: string): void {
    if (!this.options.json) writeStdout(`${text}\n`);
  }

  /** Diagnostics on stderr (retries, waiting for a lock); suppressed with --json. */
  log = (message: string): void => {
    if (!this.options.json) writeStderr(`instapro: ${redactUrl(message)}\n`);
  };
}

function withCommonOptions(command: Command): Command {
  return command
    .option('--database-url <url>', 'PostgreSQL server URL (env INSTAPRO_DATABASE_URL); without it the embedded database is used')
    .option('--data-dir <dir>', 'embedded database directory (env INSTAPRO_DATA_DIR, default .instapro/db)')
    .option('--lock-timeout <seconds>', 'how long to wait for another run holding the pipeline lock, then exit 8 (env INSTAPRO_LOCK_TIMEOUT, default 1800; 0: do not wait)')
    .option('--json', 'print one JSON object with the results on the last line of stdout')
    .option('--verbose', 'print stack traces of unexpected errors');
}

function settingsFrom(options: CommonOptions & { input?: string[] }): Settings {
  return loadSettings(process.env, {
    databaseUrl: options.databaseUrl,
    dataDir: options.dataDir,
    input: options.input,
    maxRejectRatio: options.maxRejectRatio,
    lockTimeout: options.lockTimeout,
  });
}

/** Opens a session, runs the command's steps, closes the run as succeeded or failed. */
async function withSession(command: string, options: CommonOptions & { input?: string[] }, out: Output, body: (session: PipelineSession) => Promise<void>): Promise<void> {
  const settings = settingsFrom(options);
  const session = await PipelineSession.open(command, settings, { log: out.log, progress: terminalProgress(!options.json) });
  out.summary.run_id = session.ctx.runId;
  out.summary.database = session.ctx.db.description;
  try {
    await body(session);
    await session.close({ ok: true });
  } catch (error) {
    await session.close({ ok: false, error: (error as Error).message }).catch(() => undefined);
    throw error;
  }
}

async function ingestStep(session: PipelineSession, out: Output): Promise<IngestResult> {
  const result = await session.step(
    'ingest',
    async () => {
      const r = await ingest(session.ctx, session.ctx.settings.input);
      const failed = r.files.find((f) => f.status === 'rejected');
      if (failed) {
        const error = new RejectRatioExceededError(
          `${failed.file}: ${failed.rejected} of ${failed.rows_read} rows rejected (${(failed.reject_ratio * 100).toFixed(2)}%), more than --max-reject-ratio ${session.ctx.settings.maxRejectRatio}; none of the file's events were loaded. First: ${failed.first_rejects
            .map((s) => `line ${s.line}: ${s.reason}`)
            .join('; ')}. Full list: ${r.quarantine}`,
        );
        Object.assign(error, { partialResult: r });
        out.summary.ingest = r;
        throw error;
      }
      return r;
    },
    (r) => ({ rows_read: r.rows_read, loaded: r.loaded, rejected: r.rejected, duplicates: r.duplicates }),
    (r) => ({ files: r.files }),
  );
  out.summary.ingest = result;
  out.say(describeIngest(result));
  return result;
}

async function modelStep(session: PipelineSession, out: Output, options: ModelOptions): Promise<ModelResult> {
  const result = await session.step('model', () => buildModel(session.ctx, options), () => ({}), (r) => ({ ...r }));
  out.summary.model = result;
  out.say(describeModel(result));
  return result;
}

async function snapshotStep(session: PipelineSession, out: Output, options: SnapshotOptions): Promise<void> {
  const result = await session.step('snapshot', () => buildAvailabilitySnapshot(session.ctx, options), () => ({}), (r) => ({ ...r }));
  out.summary.snapshot = result;
  out.say(describeSnapshot(result));
}

async function testStep(session: PipelineSession, out: Output, scope: TestScope = FULL_SCOPE): Promise<DataTestReport> {
  const report = await session.step(
    'test',
    async () => {
      const r = await runDataTests(session.ctx, { scope });
      out.summary.tests = r;
      if (r.errors > 0) {
        const error = new DataTestsFailedError(`${r.errors} data test${r.errors === 1 ? '' : 's'} failed: ${r.results.filter((t) => t.status === 'fail').map((t) => t.name).join(', ')}`);
        Object.assign(error, { partialResult: r });
        out.say(describeDataTests(r));
        throw error;
      }
      return r;
    },
    () => ({}),
    (r) => ({ passed: r.passed, warnings: r.warnings, errors: r.errors }),
  );
  out.say(describeDataTests(report));
  return report;
}

async function reportStep(session: PipelineSession, out: Output, file: string): Promise<void> {
  const result = await session.step('report', () => writeReport(session.ctx, file), () => ({}), (r) => ({ ...r }));
  out.summary.report = result;
  out.say(describeReport(result));
}

function buildProgram(): Command {
  const program = new Command('instapro')
    .description('ELT pipeline for the instapro event log: ingest → model → availability snapshot → data tests')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Set before the commands are added: commander copies these settings into each command.
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text.startsWith('error:') ? `instapro: ${text}` : text) })
    .addHelpText(
      'after',
      `
Backends: a PostgreSQL server via --database-url / INSTAPRO_DATABASE_URL / INSTAPRO_DB_HOST,
otherwise the embedded database (PGlite) in --data-dir (default .instapro/db).

Exit codes: 0 ok, 1 internal error, 2 usage, 3 configuration, 4 input file, 5 reject ratio
exceeded, 6 data tests failed, 7 database unreachable, 8 pipeline lock not acquired within
--lock-timeout, 9 input storage (S3) unreachable, 130/143 stopped by SIGINT/SIGTERM.`,
    );

  const inputOption = () =>
    new Option('-i, --input <inputs...>', 'event logs: files (.csv, .csv.gz), directories, glob patterns, s3://bucket/prefix (env INSTAPRO_INPUT, comma-separated)');
  const rejectOption = () => new Option('--max-reject-ratio <ratio>', 'largest share of rejected rows per file before the load fails (env INSTAPRO_MAX_REJECT_RATIO, default 0.001)');
  const fromOption = () => new Option('--from <date>', 'first snapshot day, YYYY-MM-DD (default: first event date); days the model builds changed are recomputed too');
  const toOption = () => new Option('--to <date>', 'last snapshot day, inclusive (default: last event date)');
  const fullRefreshOption = (what: string) => new Option('--full-refresh', what);

  withCommonOptions(
    program
      .command('run')
      .description('run every step in order: ingest, model, snapshot, test (incremental after the first build)')
      .addOption(inputOption())
      .addOption(rejectOption())
      .addOption(fromOption())
      .addOption(toOption())
      .addOption(fullRefreshOption('rebuild the model and the snapshot from every loaded event and run every data test on every row; without --input, nothing is ingested'))
      .option('--report <file>', 'after the test step, write the HTML report (see `instapro report`) to this file, also when data tests fail'),
  ).action(async (options: CommonOptions & { input?: string[]; from?: string; to?: string; report?: string; fullRefresh?: boolean }) => {
    const out = new Output(options);
    await finish(out, async () => {
      // A report path that cannot be written fails before anything runs.
      if (options.report) await checkReportTarget(options.report);
      await withSession('run', options, out, async (session) => {
        // A full refresh rebuilds from what is loaded: an input is optional there, required elsewhere.
        if (!options.fullRefresh || session.ctx.settings.input.length > 0) await ingestStep(session, out);
        const model = await modelStep(session, out, { fullRefresh: options.fullRefresh });
        const range = options.from !== undefined || options.to !== undefined;
        await snapshotStep(session, out, range ? { from: options.from, to: options.to } : { fullRefresh: options.fullRefresh });
        const scope = scopeAfterBuild(model.after_run_id);
        let gateFailure: unknown;
        try {
          await testStep(session, out, scope);
        } catch (error) {
          gateFailure = error;
        }
        // Written also when the gate fails, so the failing tests can be inspected in it; the
        // gate's failure stays the run's outcome (exit 6) even if the report cannot be written.
        if (options.report) {
          try {
            await reportStep(session, out, options.report);
          } catch (error) {
            if (gateFailure === undefined) throw error;
            out.log(`the report was not written: ${(error as Error).message}`);
          }
        }
        if (gateFailure !== undefined) throw gateFailure;
      });
    });
  });

  withCommonOptions(program.command('ingest').description('load event log files into the raw layer (validated, deduplicated, idempotent)').addOption(inputOption()).addOption(rejectOption())).action(
    async (options: CommonOptions & { input?: string[] }) => {
      const out = new Output(options);
      await finish(out, () => withSession('ingest', options, out, async (session) => void (await ingestStep(session, out))));
    },
  );

  withCommonOptions(
    program
      .command('model')
      .description('build the star schema from the raw layer: merge the events loaded since the last build, or rebuild everything the first time')
      .addOption(fullRefreshOption('rebuild every table from every loaded event')),
  ).action(async (options: CommonOptions & { fullRefresh?: boolean }) => {
    const out = new Output(options);
    await finish(out, () => withSession('model', options, out, async (session) => void (await modelStep(session, out, { fullRefresh: options.fullRefresh }))));
  });

  withCommonOptions(
    program
      .command('snapshot')
      .description('compute instapro.availability_snapshot: the days the model builds changed since it last ran, or a range of days')
      .addOption(fromOption())
      .addOption(toOption())
      .addOption(fullRefreshOption('recompute every day from the first to the last event date')),
  ).action(
    async (options: CommonOptions & { from?: string; to?: string; fullRefresh?: boolean }) => {
      const out = new Output(options);
      await finish(out, () => withSession('snapshot', options, out, (session) => snapshotStep(session, out, options)));
    },
  );

  withCommonOptions(
    program
      .command('test')
      .description('run the schema and data tests declared in sql/models/schema.yml, on every row')
      .option('--incremental', 'after an incremental model build, check the rows it merged where schema.yml says how (as `run` does); every row after a full refresh'),
  ).action(async (options: CommonOptions & { incremental?: boolean }) => {
    const out = new Output(options);
    await finish(out, () =>
      withSession('test', options, out, async (session) => {
        const state = options.incremental ? await readModelState(session.ctx.db, session.ctx.schemas) : null;
        await testStep(session, out, scopeAfterBuild(state?.incrementAfterRunId ?? null));
      }),
    );
  });

  withCommonOptions(
    program
      .command('report')
      .description('write a self-contained HTML report: daily/weekly/monthly active professionals, latest ingest, table counts, data tests (run now, shown, not a gate)')
      .requiredOption('-o, --out <file>', 'HTML file to write'),
  ).action(async (options: CommonOptions & { out: string }) => {
    const out = new Output(options);
    await finish(out, () => withSession('report', options, out, (session) => reportStep(session, out, options.out)));
  });

  withCommonOptions(program.command('migrate').description('apply pending schema migrations')).action(async (options: CommonOptions) => {
    const out = new Output(options);
    await finish(out, async () => {
      const settings = settingsFrom(options);
      const db = await openDatabase(settings, { log: out.log });
      try {
        // Like every pipeline command: a migrate beside another one (or beside a run) would race on the catalogs.
        await acquirePipelineLock(db, settings.rawSchema, settings.lockTimeoutSeconds, out.log);
        const result = await migrate(db, schemaNames(settings));
        out.summary.migrations = result;
        out.say(result.applied.length > 0 ? `applied ${result.applied.join(', ')}` : `up to date (${result.alreadyApplied} migrations applied earlier)`);
      } finally {
        await db.close();
      }
    });
  });

  withCommonOptions(
    program
      .command('sql')
      .description('run one SQL statement against the configured database and print the rows (read-only unless --write)')
      .argument('<query>', 'one SQL statement, e.g. "select * from instapro.availability_snapshot limit 5"')
      .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
      .option('--write', 'allow the statement to change data or schemas (default: it runs in a read-only transaction)'),
  ).action(async (query: string, options: CommonOptions & { format: OutputFormat; write?: boolean }) => {
    const out = new Output(options);
    await finish(out, async () => {
      const db = await openDatabase(settingsFrom(options), { log: out.log });
      try {
        const result = await runUserSql(db, query, { write: options.write === true });
        if (options.json) Object.assign(out.summary, { fields: result.fields, rows: result.rows, row_count: result.rows.length });
        else writeStdout(`${formatRows(result, options.format)}\n`);
      } finally {
        await db.close();
      }
    });
  });

  withCommonOptions(
    program
      .command('generate')
      .description('write a realistic, deterministic event log (same seed, same file)')
      .requiredOption('-n, --events <count>', 'number of events', positiveInteger('--events'))
      .requiredOption('-o, --out <file>', 'output file')
      .option('-s, --seed <seed>', 'random seed', positiveInteger('--seed'), GENERATE_DEFAULTS.seed)
      .option('--start <date>', 'first day of the period', GENERATE_DEFAULTS.start)
      .option('--days <days>', 'length of the period in days', positiveInteger('--days'), GENERATE_DEFAULTS.days),
  ).action(async (options: CommonOptions & { events: number; out: string; seed: number; start: string; days: number }) => {
    const out = new Output(options);
    await finish(out, async () => {
      const result = await writeEventLog(options.out, { events: options.events, seed: options.seed, start: options.start, days: options.days });
      out.summary.generate = { file: options.out, ...result, seed: options.seed };
      out.say(`wrote ${result.events} events to ${options.out} (seed ${options.seed})`);
    });
  });

  withCommonOptions(
    program.command('config').description('print the resolved configuration (secrets masked)').option('--env-vars', 'list the environment variables the CLI reads'),
  ).action(async (options: CommonOptions & { envVars?: boolean }) => {
    const out = new Output(options);
    await finish(out, async () => {
      if (options.envVars) {
        if (options.json) writeStdout(`${JSON.stringify(ENVIRONMENT_VARIABLES)}\n`);
        else for (const v of ENVIRONMENT_VARIABLES) out.say(`${v.name.padEnd(32)} ${v.secret ? 'secret ' : 'config '} ${v.description}${v.default ? ` (default ${v.default})` : ''}`);
        return;
      }
      const settings = redactedSettings(settingsFrom(options));
      out.summary.config = settings;
      for (const [key, value] of Object.entries(settings)) out.say(`${key}: ${JSON.stringify(value)}`);
    }, { printSummary: !options.envVars });
  });

  return program;
}

function positiveInteger(option: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${option} must be a positive integer, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

/** Runs a command body; turns failures into one stderr line, the --json line and an exit code. */
async function finish(out: Output, body: () => Promise<void>, { printSummary = true } = {}): Promise<void> {
  try {
    await body();
  } catch (error) {
    const known = error instanceof PipelineError;
    // Not every thrown value is an Error (PGlite throws plain objects): never "[object Object]".
    const message = redactUrl(error instanceof Error ? error.message : inspect(error, { depth: 2, breakLength: Infinity }));
    out.summary.status = 'failed';
    out.summary.error = message;
    out.summary.exit_code = known ? error.exitCode : EXIT_CODES.internal;
    process.exitCode = out.summary.exit_code as number;
    writeStderr(`instapro: error: ${message}\n`);
    if (!known && out.options.verbose && error instanceof Error && error.stack) writeStderr(`${redactUrl(error.stack)}\n`);
    else if (!known) writeStderr('instapro: this is unexpected; run again with --verbose for details\n');
  }
  if (printSummary && out.options.json) writeStdout(`${JSON.stringify(out.summary)}\n`);
}

/**
 * Explicit handlers, because as PID 1 in a container a process has no default ones: SIGTERM would
 * be ignored, also while waiting for a lock. Exiting releases every lock (the kernel closes the
 * lock file; the server ends the session) and abandons the open transaction, as a kill would.
 */
function exitOnSignals(): void {
  const exitCodes = { SIGINT: 130, SIGTERM: 143 } as const;
  for (const [signal, code] of Object.entries(exitCodes)) {
    process.once(signal, () => {
      process.stderr.write(`instapro: stopped by ${signal}\n`);
      process.exit(code);
    });
  }
}

async function main(): Promise<void> {
  exitOnSignals();
  const program = buildProgram();
  // `instapro | head` closes stdout early: that is the reader's choice, and it stops the output only.
  tolerateClosedOutput();
  if (process.argv.length <= 2) {
    // No command: show what there is, but do not pretend something ran.
    process.stderr.write(program.helpInformation());
    process.exitCode = EXIT_CODES.usage;
    return;
  }
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      const success = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help';
      process.exitCode = success ? EXIT_CODES.ok : EXIT_CODES.usage;
      return;
    }
    throw error;
  }
}

await main();
