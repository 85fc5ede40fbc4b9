/**
 * Two pipeline runs started at the same moment against one database (an overlapping cron job,
 * a retried Airflow task): both must succeed, one after the other, and nothing may be loaded twice.
 * Runs are serialized by an advisory lock (server) and a lock file (embedded).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { HEADER, SAMPLE_EVENT_LOG } from '../helpers/event-log-files.js';
import { describeResult, jsonSummary, requireBuiltCli, runCli, runCliExpecting, sleep, sqlRows, startCli } from '../helpers/subprocess.js';
import { EmbeddedTemplate, cleanupDatabase, eventLogFacts, schemasOf } from './support.js';
import type { EventLogFacts } from './support.js';

let tmp: string;
let sample: EventLogFacts;
const template = new EmbeddedTemplate();

beforeAll(async () => {
  requireBuiltCli();
  tmp = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-concurrent-'));
  sample = await eventLogFacts(SAMPLE_EVENT_LOG);
});

afterAll(async () => {
  await template.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface RunRow {
  run_id: number;
  command: string;
  status: string;
  started_ms: number;
  finished_ms: number | null;
}

interface StepRow {
  run_id: number;
  step: string;
  status: string;
  started_ms: number;
  finished_ms: number;
}

interface RunLogState {
  events: number;
  distinct_events: number;
  runs: RunRow[];
  steps: StepRow[];
}

/** Raw event counts and the run log (times as epoch milliseconds), in one query. */
function runLogQuery(raw: string, extra = ''): string {
  return `SELECT (SELECT count(*)::integer FROM ${raw}.event) AS events,
                 (SELECT count(DISTINCT event_id)::integer FROM ${raw}.event) AS distinct_events,
                 (SELECT coalesce(json_agg(r ORDER BY r.run_id), '[]'::json) FROM (
                    SELECT run_id, command, status, extract(epoch FROM started_at) * 1000 AS started_ms, extract(epoch FROM finished_at) * 1000 AS finished_ms
                    FROM ${raw}.pipeline_run) AS r) AS runs,
                 (SELECT coalesce(json_agg(s ORDER BY s.run_id, s.started_ms), '[]'::json) FROM (
                    SELECT run_id, step, status, extract(epoch FROM started_at) * 1000 AS started_ms, extract(epoch FROM finished_at) * 1000 AS finished_ms
                    FROM ${raw}.pipeline_step_log) AS s) AS steps${extra}`;
}

/** [from, to] intervals that must not overlap: each one ends before the next one starts. */
function expectNoOverlap(intervals: { label: string; from: number; to: number }[]): void {
  const sorted = [...intervals].sort((a, b) => a.from - b.from);
  for (let i = 1; i < sorted.length; i += 1) {
    const previous = sorted[i - 1]!;
    const current = sorted[i]!;
    expect(previous.to, `${previous.label} [${new Date(previous.from).toISOString()}, ${new Date(previous.to).toISOString()}] overlaps ${current.label} starting ${new Date(current.from).toISOString()}`).toBeLessThanOrEqual(current.from);
  }
}

describe.concurrent.each(BACKENDS)('two runs at once on the %s backend', (backend) => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await template.createTestDatabase(backend);
    // The database exists already, as it does when a scheduled run overlaps the previous one.
    await runCliExpecting(0, ['migrate'], { env: db.env });
  });

  afterAll(async () => {
    await cleanupDatabase(db);
  });

  it.sequential('both succeed, nothing is loaded twice, and their steps do not interleave', async () => {
    const { raw, mart } = schemasOf(db);
    const args = ['run', '--input', SAMPLE_EVENT_LOG, '--json'];
    const [first, second] = await Promise.all([runCli(args, { env: db.env }), runCli(args, { env: db.env })]);
    expect(first.code, describeResult(args, first)).toBe(0);
    expect(second.code, describeResult(args, second)).toBe(0);

    const ingests = [first, second].map((r) => jsonSummary(r.stdout).ingest as { loaded: number; duplicates: number; rejected: number; skipped_unchanged: number });
    expect(ingests.map((i) => i.loaded).sort((a, b) => a - b)).toEqual([0, sample.distinctIds]);
    // The run that waited for the lock finds the file in the manifest, unchanged, and skips it unread.
    expect(ingests.map((i) => i.duplicates).sort((a, b) => a - b)).toEqual([0, sample.rows - sample.distinctIds]);
    expect(ingests.map((i) => i.skipped_unchanged).sort((a, b) => a - b)).toEqual([0, 1]);

    const [state] = await sqlRows<RunLogState & { fct_event: number; fct_distinct: number }>(
      db.env,
      runLogQuery(raw, `, (SELECT count(*)::integer FROM ${mart}.fct_event) AS fct_event, (SELECT count(DISTINCT event_id)::integer FROM ${mart}.fct_event) AS fct_distinct`),
    );
    expect(state!.events).toBe(sample.distinctIds);
    expect(state!.distinct_events).toBe(sample.distinctIds);
    expect(state!.fct_event).toBe(sample.distinctIds);
    expect(state!.fct_distinct).toBe(sample.distinctIds);

    const runs = state!.runs.filter((r) => r.command === 'run');
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    const ingestSteps = state!.steps.filter((s) => s.step === 'ingest' && runs.some((r) => r.run_id === s.run_id));
    expect(ingestSteps).toHaveLength(2);
    expect(ingestSteps.map((s) => s.status)).toEqual(['succeeded', 'succeeded']);
    expectNoOverlap(ingestSteps.map((s) => ({ label: `run ${s.run_id} ingest`, from: s.started_ms, to: s.finished_ms })));
    // The lock is held for the whole session: all steps of one run end before the other's begin.
    expectNoOverlap(
      runs.map((r) => {
        const steps = state!.steps.filter((s) => s.run_id === r.run_id);
        return { label: `run ${r.run_id}`, from: Math.min(...steps.map((s) => s.started_ms)), to: Math.max(...steps.map((s) => s.finished_ms)) };
      }),
    );
    expectNoOverlap(runs.map((r) => ({ label: `run ${r.run_id} (run log)`, from: r.started_ms, to: r.finished_ms ?? Number.POSITIVE_INFINITY })));
  });
});

// Embedded only (the server's advisory lock has no heartbeat to miss). Its own database, in
// parallel with the tests above.
describe.concurrent('the embedded lock while its holder runs a long statement', () => {
  const databases: TestDatabase[] = [];

  afterAll(async () => {
    for (const db of databases) await cleanupDatabase(db);
  });

  // PGlite runs inside the CLI's own thread, so while it executes one long statement (a slow
  // analyst query through `instapro sql`, or the classify step of a large load) the lock file's
  // heartbeat cannot fire. A run waiting for the lock must still wait until the holder is done,
  // not decide that the lock is stale and open the same data directory a second time.
  it('a run started while `sql` runs a 14 s query waits for it, and its rows are kept', async () => {
    const db = await template.createTestDatabase('embedded');
    databases.push(db);
    const { raw } = schemasOf(db);
    const lockFile = `${path.resolve(db.env.INSTAPRO_DATA_DIR!)}.flock`;
    await runCliExpecting(0, ['migrate'], { env: db.env });
    const small = path.join(tmp, 'small.csv');
    const ids = [900_001, 900_002, 900_003, 900_004, 900_005];
    await writeFile(small, [HEADER, ...ids.map((id) => `${id};created_account;${id};2020-01-03 08:00:00;`)].join('\n') + '\n');

    // Longer than a heartbeat lock's usual staleness threshold; the holder reports when its query ended.
    const queryArgs = ['sql', `SELECT pg_sleep(14), clock_timestamp()::text AS ended`, '--format', 'json'];
    const query = startCli(queryArgs, { env: db.env });
    for (;;) {
      if (query.child.exitCode !== null) throw new Error(`the query ended before the run started: ${query.output().stderr}`);
      if (existsSync(lockFile) && spawnSync('flock', ['--nonblock', '--conflict-exit-code', '75', lockFile, 'true']).status === 75) break;
      await sleep(100);
    }
    await sleep(1_000);
    const ingestArgs = ['ingest', '--input', small, '--json'];
    const ingest = await runCli(ingestArgs, { env: db.env });
    const queried = await query.done;
    expect(queried.code, describeResult(queryArgs, queried)).toBe(0);
    expect(ingest.code, describeResult(ingestArgs, ingest)).toBe(0);
    expect(jsonSummary(ingest.stdout).ingest).toMatchObject({ loaded: ids.length });
    const queryEnded = Date.parse((JSON.parse(queried.stdout) as { ended: string }[])[0]!.ended.replace(' ', 'T').replace(/\+00$/, 'Z'));

    const [state] = await sqlRows<RunLogState>(db.env, runLogQuery(raw));
    // The waiting run's rows survived the other process closing its database...
    expect(state!.events).toBe(ids.length);
    const runs = state!.runs.filter((r) => r.command === 'ingest');
    expect(runs.map((r) => r.status)).toEqual(['succeeded']);
    // ...because it only started once the query had finished.
    expect(runs[0]!.started_ms, `the ingest started at ${new Date(runs[0]!.started_ms).toISOString()}, the query ended at ${new Date(queryEnded).toISOString()}`).toBeGreaterThanOrEqual(queryEnded);
  });
});
