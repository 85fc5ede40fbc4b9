#!/usr/bin/env node
/**
 * `npm run bench`: the pipeline's throughput, step times and memory on generated event logs, on a
 * local PostgreSQL server and on the embedded backend, judged against the targets in report.ts.
 * Prints a table and writes bench-results/<timestamp>.json and bench-results/latest.json.
 * Missed targets do not fail it (exit 0); a pipeline run that fails does (exit 1).
 * See docs/benchmarks.md.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { checkArchive } from '../db/data-dir-archive.js';
import { INITDB_PARAMS } from '../db/embedded.js';
import { PACKAGE_ROOT } from '../db/sql-files.js';
import { GENERATE_DEFAULTS } from '../generate/generate-event-log.js';
import { currentChild, lastJsonLine, measure, CLI } from './measure.js';
import { BENCH_USAGE, BenchUsageError, parseBenchOptions } from './options.js';
import type { BenchOptions } from './options.js';
import { STEPS, evaluateIncrementalTargets, evaluateTargets, renderIncremental, renderRuns, renderTargets, snapshotScaling } from './report.js';
import type { Backend, CopyBaseline, IncrementalResult, PipelineMeasurement, RunResult, Step } from './report.js';

const SERVER_URL_VARIABLES = ['INSTAPRO_BENCH_DATABASE_URL', 'INSTAPRO_TEST_DATABASE_URL'] as const;

class BenchSetupError extends Error {}
class Interrupted extends Error {}

interface Schemas {
  mart: string;
  raw: string;
  staging: string;
}

interface GeneratedFile {
  file: string;
  bytes: number;
  seconds: number;
  peakRssMb: number | null;
}

const log = (message: string): void => void process.stderr.write(`bench: ${message}\n`);
const fmt = (n: number): string => n.toLocaleString('en-US');
/** A warning when other work is already keeping the machine busy: the figures will be slower than they should. */
const busy = (): string => {
  const load = os.loadavg()[0] ?? 0;
  return load > os.cpus().length ? ` (warning: load average ${load.toFixed(1)} on ${os.cpus().length} CPUs; other work competes, figures will be pessimistic)` : '';
};
const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export function serverUrlFrom(env: NodeJS.ProcessEnv): string {
  for (const name of SERVER_URL_VARIABLES) {
    const value = env[name];
    if (value) return value;
  }
  throw new BenchSetupError(
    [
      'no PostgreSQL server to benchmark against: set INSTAPRO_BENCH_DATABASE_URL (or INSTAPRO_TEST_DATABASE_URL).',
      'To start a local server (installs PostgreSQL from Debian packages if needed; prints its URL on the last line):',
      '  export INSTAPRO_BENCH_DATABASE_URL="$(bash scripts/ci/start-postgres.sh | tail -n 1)"',
      '  npm run bench -- --quick',
    ].join('\n'),
  );
}

/** Environment for a measured CLI: this process's, minus every INSTAPRO_ setting, plus the run's own. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('INSTAPRO_')) env[key] = value;
  return { ...env, INSTAPRO_CONNECT_RETRIES: '2', ...extra };
}

function schemaEnv(s: Schemas): Record<string, string> {
  return { INSTAPRO_SCHEMA: s.mart, INSTAPRO_RAW_SCHEMA: s.raw, INSTAPRO_STAGING_SCHEMA: s.staging };
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** The last day of a generated log (the generator's default period). */
function lastGeneratedDay(): string {
  const d = new Date(`${GENERATE_DEFAULTS.start}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + GENERATE_DEFAULTS.days - 1);
  return d.toISOString().slice(0, 10);
}

/** Splits a log into its events before `day` and the events of `day`, both with the header. */
async function holdBackLastDay(file: string, day: string, dir: string): Promise<{ history: string; day: string; dayDate: string; historyEvents: number; dayEvents: number }> {
  const history = path.join(dir, `history-${path.basename(file)}`);
  const dayFile = path.join(dir, `day-${path.basename(file)}`);
  const historyOut = createWriteStream(history);
  const dayOut = createWriteStream(dayFile);
  let header: string | undefined;
  let historyEvents = 0;
  let dayEvents = 0;
  const write = async (out: NodeJS.WritableStream, line: string) => {
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  };
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (header === undefined) {
      header = line;
      await write(historyOut, line);
      await write(dayOut, line);
      continue;
    }
    // created_at is the fourth field: YYYY-MM-DD HH:MM:SS.
    const createdAt = line.split(';', 4)[3] ?? '';
    if (createdAt.startsWith(day)) {
      dayEvents += 1;
      await write(dayOut, line);
    } else {
      historyEvents += 1;
      await write(historyOut, line);
    }
  }
  await Promise.all([new Promise((resolve) => historyOut.end(resolve)), new Promise((resolve) => dayOut.end(resolve))]);
  return { history, day: dayFile, dayDate: day, historyEvents, dayEvents };
}

class Bench {
  readonly runs: RunResult[] = [];
  readonly incremental: IncrementalResult[] = [];
  private readonly files = new Map<number, GeneratedFile>();
  private readonly createdSchemas = new Set<string>();
  private admin: pg.Client | undefined;
  private psql = false;
  private stopping = false;
  postgresVersion = '';

  constructor(
    readonly options: BenchOptions,
    private readonly serverUrl: string,
    readonly tmp: string,
  ) {}

  async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.serverUrl, connectionTimeoutMillis: 10_000, application_name: 'instapro-bench' });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      const u = new URL(this.serverUrl);
      throw new BenchSetupError(
        `cannot connect to the PostgreSQL server at ${u.hostname}:${u.port || 5432}${u.pathname}: ${(error as Error).message}\nIs it running? Start it with: bash scripts/ci/start-postgres.sh`,
      );
    }
    this.admin = client;
    this.postgresVersion = String((await client.query<{ v: string }>('SELECT version() AS v')).rows[0]?.v ?? '');
    this.psql = spawnSync('psql', ['--version'], { stdio: 'ignore' }).status === 0;
    if (!this.psql) log('psql not found: the \\copy baseline (and the ingest/\\copy ratio) is skipped');
  }

  /** Stops at the next step: kills the command running now; cleanup() then drops what was created. */
  stop(): void {
    this.stopping = true;
    if (currentChild?.pid !== undefined) currentChild.kill('SIGKILL');
  }

  private continueOrStop(): void {
    if (this.stopping) throw new Interrupted('interrupted');
  }

  private get db(): pg.Client {
    if (!this.admin) throw new Error('not connected');
    return this.admin;
  }

  private newSchemas(): Schemas {
    const id = `${this.options.schemaPrefix}_${randomBytes(4).toString('hex')}`;
    return { mart: id, raw: `${id}_raw`, staging: `${id}_staging` };
  }

  private async dropSchemas(names: readonly string[]): Promise<void> {
    for (const name of names) {
      await this.db.query(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`);
      this.createdSchemas.delete(name);
    }
  }

  /** Flushes dirty buffers between phases so one phase's checkpoint does not land in the next one's time. */
  private async checkpoint(): Promise<void> {
    await this.db.query('CHECKPOINT').catch(() => undefined); // needs superuser (or pg_checkpoint); optional
  }

  /** The generated log for a size, made once (by the CLI, so its memory is measured too) and shared by both backends. */
  private async generated(events: number): Promise<GeneratedFile> {
    const existing = this.files.get(events);
    if (existing) return existing;
    this.continueOrStop();
    const file = path.join(this.tmp, `events-${events}.csv`);
    log(`generating ${fmt(events)} events (seed ${this.options.seed})`);
    const m = await measure(process.execPath, [CLI, 'generate', '--events', String(events), '--seed', String(this.options.seed), '--out', file, '--json'], {
      env: childEnv({}),
      probeDir: this.tmp,
      timeoutMs: this.options.timeoutSeconds * 1000,
      node: true,
    });
    if (m.exitCode !== 0) throw new Error(`instapro generate failed (exit ${m.exitCode ?? m.signal}): ${m.stderr.trim().slice(-2000)}`);
    const generated = { file, bytes: (await stat(file)).size, seconds: m.wallSeconds, peakRssMb: m.peakRssMb };
    log(`  ${(generated.bytes / 1e6).toFixed(0)} MB in ${m.wallSeconds.toFixed(1)} s, peak RSS ${m.peakRssMb?.toFixed(0) ?? '?'} MB`);
    this.files.set(events, generated);
    return generated;
  }

  /** Deletes a generated file once no later run needs it. */
  private async release(events: number, stillNeeded: boolean): Promise<void> {
    const f = this.files.get(events);
    if (!f || stillNeeded) return;
    await rm(f.file, { force: true });
    this.files.delete(events);
  }

  /** psql `\copy` of the same file into a bare table with the log's columns and types: the floor for ingest. */
  private async copyBaseline(file: string, events: number): Promise<CopyBaseline | { error: string }> {
    if (!this.psql) return { error: 'psql not found' };
    this.continueOrStop();
    const schema = `${this.newSchemas().mart}_copy`;
    this.createdSchemas.add(schema);
    try {
      await this.db.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
      await this.db.query(
        `CREATE TABLE ${quoteIdent(schema)}.event (event_id bigint, event_type text, professional_id bigint, created_at timestamp, meta_data text)`,
      );
      await this.checkpoint();
      const url = new URL(this.serverUrl);
      const password = decodeURIComponent(url.password);
      url.password = ''; // passed in the environment, not on a command line anyone can read
      const copy = `\\copy ${quoteIdent(schema)}.event (event_id, event_type, professional_id, created_at, meta_data) FROM '${file.replace(/'/g, "''")}' WITH (FORMAT csv, DELIMITER ';', HEADER true)`;
      log(`  psql \\copy baseline`);
      const m = await measure('psql', [url.toString(), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', copy], {
        env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) },
        probeDir: this.tmp,
        timeoutMs: this.options.timeoutSeconds * 1000,
      });
      if (m.exitCode !== 0) return { error: `psql exited ${m.exitCode ?? m.signal}: ${m.stderr.trim().slice(-500)}` };
      const { rows } = await this.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(schema)}.event`);
      if (Number(rows[0]?.n) !== events) return { error: `\\copy loaded ${rows[0]?.n} rows, expected ${events}` };
      log(`  \\copy: ${m.wallSeconds.toFixed(1)} s, ${fmt(Math.round(events / m.wallSeconds))} rows/s`);
      return { seconds: m.wallSeconds, rowsPerSecond: events / m.wallSeconds };
    } finally {
      await this.dropSchemas([schema]);
    }
  }

  /** `instapro run` as a subprocess (with `runArgs`: `--input FILE` or `--full-refresh`); step times from the run log it wrote. */
  private async pipeline(backend: Backend, events: number, runArgs: readonly string[], env: Record<string, string>, stepTimes: (runId: number) => Promise<Partial<Record<Step, number>>>, databaseBytes: () => Promise<number | null>): Promise<PipelineMeasurement> {
    this.continueOrStop();
    log(`  instapro run ${runArgs.map((a) => (a.startsWith('/') ? path.basename(a) : a)).join(' ')} (${backend})`);
    const m = await measure(process.execPath, [CLI, 'run', ...runArgs, '--json'], {
      env: childEnv(env),
      probeDir: this.tmp,
      timeoutMs: this.options.timeoutSeconds * 1000,
      node: true,
    });
    const summary = lastJsonLine(m.stdout);
    const ok = m.exitCode === 0 && summary?.status === 'succeeded';
    const runId = typeof summary?.run_id === 'number' ? summary.run_id : undefined;
    let steps: Partial<Record<Step, number>> = {};
    if (runId !== undefined) {
      try {
        steps = await stepTimes(runId);
      } catch (error) {
        log(`  could not read the run log: ${(error as Error).message}`);
      }
    }
    const ingest = summary?.ingest as { rows_read?: number } | undefined;
    const rowsRead = ingest?.rows_read ?? events;
    let dbBytes: number | null = null;
    try {
      dbBytes = await databaseBytes();
    } catch {
      dbBytes = null;
    }
    const result: PipelineMeasurement = {
      status: ok ? 'succeeded' : 'failed',
      e2eSeconds: m.wallSeconds,
      steps,
      ingestRowsPerSecond: steps.ingest ? rowsRead / steps.ingest : null,
      peakRssMb: m.peakRssMb,
      rssSource: m.rssSource,
      cpuSeconds: m.cpuSeconds,
      databaseMb: dbBytes === null ? null : dbBytes / 1024 / 1024,
    };
    if (!ok) result.error = String(summary?.error ?? (m.stderr.trim().slice(-2000) || `exit ${m.exitCode ?? m.signal}`));
    if (!ok && backend === 'server' && (await this.vanished(env))) {
      result.error = `the run's schemas were dropped by another process while it ran (scripts/ci/cleanup.sh, for one, drops ^bench_ schemas); run again when nothing else cleans up, or with another --schema-prefix. CLI said: ${result.error}`;
    }
    log(
      `  ${ok ? 'done' : 'FAILED'} in ${m.wallSeconds.toFixed(1)} s (${STEPS.map((s) => `${s} ${steps[s]?.toFixed(1) ?? '?'} s`).join(', ')}), peak RSS ${m.peakRssMb?.toFixed(0) ?? '?'} MB${ok ? '' : `: ${result.error}`}`,
    );
    return result;
  }

  private serverStepTimes(schemas: Schemas): (runId: number) => Promise<Partial<Record<Step, number>>> {
    return async (runId) => {
      const { rows } = await this.db.query<{ step: Step; duration_ms: number }>(`SELECT step, duration_ms FROM ${quoteIdent(schemas.raw)}.pipeline_step_log WHERE run_id = $1`, [runId]);
      return Object.fromEntries(rows.map((r) => [r.step, Number(r.duration_ms) / 1000]));
    };
  }

  private serverBytes(schemaNames: readonly string[]): () => Promise<number | null> {
    return async () => {
      const { rows } = await this.db.query<{ bytes: string | null }>(
        `SELECT sum(pg_total_relation_size(c.oid)) AS bytes FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'm')`,
        [schemaNames],
      );
      return rows[0]?.bytes === null || rows[0]?.bytes === undefined ? null : Number(rows[0].bytes);
    };
  }

  private embeddedStepTimes(env: Record<string, string>, schemas: Schemas): (runId: number) => Promise<Partial<Record<Step, number>>> {
    return async (runId) => {
      const m = await measure(process.execPath, [CLI, 'sql', `SELECT step, duration_ms FROM ${quoteIdent(schemas.raw)}.pipeline_step_log WHERE run_id = ${runId}`, '--format', 'json'], {
        env: childEnv(env),
        probeDir: this.tmp,
        timeoutMs: 600_000,
      });
      if (m.exitCode !== 0) throw new Error(m.stderr.trim());
      const rows = JSON.parse(m.stdout) as { step: Step; duration_ms: number }[];
      return Object.fromEntries(rows.map((r) => [r.step, Number(r.duration_ms) / 1000]));
    };
  }

  /**
   * The daily run: the generated log with its last day held back is loaded first (not timed as
   * the daily run), then the run that loads the last day, then a full refresh of the same history.
   */
  async incrementalRun(backend: Backend, events: number, stillNeeded: boolean): Promise<void> {
    this.continueOrStop();
    log(`incremental, ${backend}, ${fmt(events)} events, last day held back${busy()}`);
    const loadBefore = os.loadavg()[0] ?? 0;
    const gen = await this.generated(events);
    const split = await holdBackLastDay(gen.file, lastGeneratedDay(), this.tmp);
    const schemas = this.newSchemas();
    const all = [schemas.mart, schemas.raw, schemas.staging];
    const dataDir = path.join(this.tmp, `pglite-incremental-${events}`);
    const env = backend === 'server' ? { INSTAPRO_DATABASE_URL: this.serverUrl, ...schemaEnv(schemas) } : { INSTAPRO_DATA_DIR: dataDir, ...schemaEnv(schemas) };
    const stepTimes = backend === 'server' ? this.serverStepTimes(schemas) : this.embeddedStepTimes(env, schemas);
    const bytes = backend === 'server' ? this.serverBytes(all) : () => directorySize(dataDir);
    if (backend === 'server') all.forEach((s) => this.createdSchemas.add(s));
    try {
      const history = await this.pipeline(backend, split.historyEvents, ['--input', split.history], env, stepTimes, bytes);
      if (backend === 'server') await this.checkpoint();
      const daily = history.status === 'succeeded' ? await this.pipeline(backend, split.dayEvents, ['--input', split.day], env, stepTimes, bytes) : history;
      if (backend === 'server') await this.checkpoint();
      const fullRefresh = daily.status === 'succeeded' ? await this.pipeline(backend, events, ['--full-refresh'], env, stepTimes, bytes) : daily;
      this.incremental.push({ backend, events, dayEvents: split.dayEvents, day: split.dayDate, loadAverage: { before: loadBefore, after: os.loadavg()[0] ?? 0 }, history, daily, fullRefresh });
    } finally {
      if (backend === 'server') await this.dropSchemas(all);
      await rm(dataDir, { recursive: true, force: true });
      await rm(`${path.resolve(dataDir)}.flock`, { force: true });
      await rm(split.history, { force: true });
      await rm(split.day, { force: true });
      await this.release(events, stillNeeded);
    }
  }

  /** True when a server run's schemas no longer exist: someone else dropped them during the run. */
  private async vanished(env: Record<string, string>): Promise<boolean> {
    const names = [env.INSTAPRO_SCHEMA, env.INSTAPRO_RAW_SCHEMA, env.INSTAPRO_STAGING_SCHEMA].filter((n): n is string => Boolean(n));
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::integer AS n FROM pg_namespace WHERE nspname = ANY ($1)', [names]);
    return Number(rows[0]?.n) < names.length;
  }

  async serverRun(events: number, stillNeeded: boolean): Promise<void> {
    this.continueOrStop();
    log(`server, ${fmt(events)} events${busy()}`);
    const loadBefore = os.loadavg()[0] ?? 0;
    const gen = await this.generated(events);
    const copy = await this.copyBaseline(gen.file, events);
    const schemas = this.newSchemas();
    const all = [schemas.mart, schemas.raw, schemas.staging];
    all.forEach((s) => this.createdSchemas.add(s));
    try {
      await this.checkpoint();
      const pipeline = await this.pipeline('server', events, ['--input', gen.file], { INSTAPRO_DATABASE_URL: this.serverUrl, ...schemaEnv(schemas) }, this.serverStepTimes(schemas), this.serverBytes(all));
      this.record('server', events, gen, copy, pipeline, loadBefore);
    } finally {
      await this.dropSchemas(all);
      await this.release(events, stillNeeded);
    }
  }

  async embeddedRun(events: number, stillNeeded: boolean): Promise<void> {
    this.continueOrStop();
    log(`embedded (PGlite), ${fmt(events)} events${busy()}`);
    const loadBefore = os.loadavg()[0] ?? 0;
    const gen = await this.generated(events);
    const dataDir = path.join(this.tmp, `pglite-${events}`);
    const schemas = this.newSchemas();
    const env = { INSTAPRO_DATA_DIR: dataDir, ...schemaEnv(schemas) };
    try {
      // The data directory does not exist yet: the measured run creates it, as a user's first run does.
      const archive = await checkArchive(INITDB_PARAMS);
      log(`  on a new data directory, which the run creates ${archive.usable ? 'from the prepared one' : `with initdb (no usable prepared one: ${archive.reason})`}`);
      const pipeline = await this.pipeline('embedded', events, ['--input', gen.file], env, this.embeddedStepTimes(env, schemas), () => directorySize(dataDir));
      this.record('embedded', events, gen, null, pipeline, loadBefore);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
      await rm(`${path.resolve(dataDir)}.flock`, { force: true });
      await this.release(events, stillNeeded);
    }
  }

  private record(backend: Backend, events: number, gen: GeneratedFile, copy: RunResult['copy'], pipeline: PipelineMeasurement, loadBefore: number): void {
    const copyRate = copy && 'rowsPerSecond' in copy ? copy.rowsPerSecond : null;
    this.runs.push({
      backend,
      events,
      loadAverage: { before: loadBefore, after: os.loadavg()[0] ?? 0 },
      fileMb: gen.bytes / 1024 / 1024,
      generate: { seconds: gen.seconds, eventsPerSecond: events / gen.seconds, peakRssMb: gen.peakRssMb },
      copy,
      pipeline,
      ingestToCopyRatio: copyRate && pipeline.ingestRowsPerSecond ? pipeline.ingestRowsPerSecond / copyRate : null,
    });
  }

  /** Drops whatever this bench created and is still there; safe to call twice. */
  async cleanup(): Promise<void> {
    if (this.admin) {
      for (const schema of [...this.createdSchemas]) await this.db.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => undefined);
      await this.admin.end().catch(() => undefined);
      this.admin = undefined;
    }
    await rm(this.tmp, { recursive: true, force: true });
  }
}

/** Relative to the working directory when inside it, absolute otherwise. */
function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

async function packageVersion(name: string): Promise<string | null> {
  try {
    const pkg = JSON.parse(await readFile(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    return pkg.dependencies?.[name] ?? null;
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  let options: BenchOptions | undefined;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n${BENCH_USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  if (!existsSync(CLI)) throw new BenchSetupError(`${path.relative(PACKAGE_ROOT, CLI)} does not exist: the bench measures the built CLI, so run \`npm run build\` first`);
  const serverUrl = serverUrlFrom(process.env);
  const startedAt = new Date();
  const bench = new Bench(options, serverUrl, await mkdtemp(path.join(os.tmpdir(), 'instapro-bench-')));

  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) process.exit(130); // a second Ctrl-C: leave now
    interrupted = true;
    log(`${signal}: stopping; dropping the bench's schemas and files (Ctrl-C again to leave at once)`);
    bench.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    await bench.connect();
    log(`${options.quick ? 'quick run' : 'full run'}: server sizes ${options.sizes.map(fmt).join(', ')}; embedded ${options.embeddedSize > 0 ? fmt(options.embeddedSize) : 'skipped'}`);
    for (const events of options.sizes) await bench.serverRun(events, options.incremental || events === options.embeddedSize);
    if (options.embeddedSize > 0) await bench.embeddedRun(options.embeddedSize, options.incremental);
    if (options.incremental) {
      for (const events of options.sizes) await bench.incrementalRun('server', events, events === options.embeddedSize && options.embeddedSize > 0);
      if (options.embeddedSize > 0) await bench.incrementalRun('embedded', options.embeddedSize, false);
    }
  } catch (error) {
    if (!interrupted) throw error;
  } finally {
    await bench.cleanup();
  }
  if (interrupted) return 130;

  const targets = [...evaluateTargets(bench.runs), ...evaluateIncrementalTargets(bench.incremental)];
  const finishedAt = new Date();
  const cpus = os.cpus();
  const result = {
    started_at: startedAt.toISOString(),
    finished_at: finishedAt.toISOString(),
    duration_seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    options: { ...options, outDir: undefined },
    machine: {
      cpus: cpus.length,
      cpu_model: cpus[0]?.model ?? null,
      memory_mb: Math.round(os.totalmem() / 1024 / 1024),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
      postgres: bench.postgresVersion,
      pglite: await packageVersion('@electric-sql/pglite'),
    },
    load_average_at_start: os.loadavg(),
    runs: bench.runs,
    incremental: bench.incremental,
    snapshot_scaling: snapshotScaling(bench.runs),
    targets,
  };

  const outDir = options.outDir ? path.resolve(options.outDir) : path.join(PACKAGE_ROOT, 'bench-results');
  await mkdir(outDir, { recursive: true });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  const stamped = path.join(outDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(stamped, json);
  await writeFile(path.join(outDir, 'latest.json'), json);

  process.stdout.write(
    [
      '',
      `instapro bench, ${startedAt.toISOString().slice(0, 10)}: ${cpus.length} CPUs (${cpus[0]?.model ?? 'unknown'}), ${(os.totalmem() / 1024 ** 3).toFixed(0)} GB RAM, Node ${process.version}`,
      `${bench.postgresVersion.split(' on ')[0] ?? ''}; times in seconds; ratio = ingest rows/s / psql \\copy rows/s`,
      '',
      renderRuns(bench.runs),
      '',
      ...(bench.incremental.length > 0 ? ['daily run (last day held back) vs full refresh of the same history:', renderIncremental(bench.incremental), ''] : []),
      renderTargets(targets),
      '',
      `results: ${shownPath(stamped)} (and latest.json); targets missed do not fail the bench`,
      '',
    ].join('\n'),
  );
  const failed = bench.runs.some((r) => r.pipeline.status === 'failed') || bench.incremental.some((r) => [r.history, r.daily, r.fullRefresh].some((p) => p.status === 'failed'));
  return failed ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  if (error instanceof BenchSetupError) {
    process.stderr.write(`bench: ${error.message}\n`);
    process.exitCode = 3;
  } else {
    process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
