/** Bench results, the targets they are judged against, and their text rendering. */

export type Backend = 'server' | 'embedded';
export const STEPS = ['ingest', 'model', 'snapshot', 'test'] as const;
export type Step = (typeof STEPS)[number];

export interface CopyBaseline {
  /** psql's wall time for `\copy ... FROM file` into a plain table with the log's columns. */
  seconds: number;
  rowsPerSecond: number;
}

export interface PipelineMeasurement {
  status: 'succeeded' | 'failed';
  error?: string;
  /** Wall time of `instapro run` as a subprocess: start-up, connect, migrate and the four steps. */
  e2eSeconds: number;
  /** Step durations from <raw>.pipeline_step_log, in seconds. */
  steps: Partial<Record<Step, number>>;
  ingestRowsPerSecond: number | null;
  peakRssMb: number | null;
  rssSource: string;
  cpuSeconds: number | null;
  /** Database size after the run: the run's schemas on the server, the data directory when embedded. */
  databaseMb: number | null;
}

export interface RunResult {
  backend: Backend;
  events: number;
  /** 1-minute load average before and after the run: above the CPU count, other work competed for the machine. */
  loadAverage: { before: number; after: number };
  fileMb: number;
  generate: { seconds: number; eventsPerSecond: number; peakRssMb: number | null };
  copy: CopyBaseline | { error: string } | null;
  pipeline: PipelineMeasurement;
  /** Ingest rows/s divided by \copy rows/s, same file, same run. */
  ingestToCopyRatio: number | null;
}

/** The daily-run scenario: a log with its last day held back, that day loaded incrementally, then a full refresh. */
export interface IncrementalResult {
  backend: Backend;
  /** The whole log: history and day. */
  events: number;
  day: string;
  dayEvents: number;
  loadAverage: { before: number; after: number };
  /** Loading everything but the last day (a first build). */
  history: PipelineMeasurement;
  /** `instapro run --input <the last day>`: an incremental build. */
  daily: PipelineMeasurement;
  /** `instapro run --full-refresh` of the same events, right after. */
  fullRefresh: PipelineMeasurement;
}

export type TargetStatus = 'PASS' | 'MISS' | 'N/A';

export interface TargetResult {
  name: string;
  target: string;
  measured: string;
  status: TargetStatus;
}

export const TARGETS = {
  ingestToCopyRatio: 0.75,
  e2eEvents: 10_000_000,
  e2eSeconds: 30,
  /** A whole first run costs at most this many times the `\copy` of the same file. */
  e2eToCopy: 4,
  peakRssMb: 300,
  /** The embedded backend's end to end time at most this many times the server's, same size. */
  embeddedToServer: 1.5,
  /** The run's schemas at most this many times the input file, at the largest server size. */
  databaseToFile: 2.5,
  /** Snapshot time may grow as events^exponent; 1 is linear, the rest is allowance for timing noise. */
  snapshotMaxExponent: 1.1,
  dailyEvents: 10_000_000,
  dailySeconds: 5,
  fullRefreshToDaily: 20,
} as const;

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtSec = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const fmtMb = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : n.toFixed(0));
const label = (r: RunResult): string => `${r.backend} ${fmtInt(r.events)}`;

function isCopy(c: RunResult['copy']): c is CopyBaseline {
  return c !== null && 'seconds' in c;
}

export function evaluateTargets(runs: readonly RunResult[]): TargetResult[] {
  const server = runs.filter((r) => r.backend === 'server' && r.pipeline.status === 'succeeded');
  const succeeded = runs.filter((r) => r.pipeline.status === 'succeeded');
  const results: TargetResult[] = [];

  const ratios = server.filter((r) => r.ingestToCopyRatio !== null);
  results.push({
    name: 'ingest throughput vs psql \\copy',
    target: `>= ${TARGETS.ingestToCopyRatio}x \\copy rows/s (server)`,
    measured: ratios.length > 0 ? ratios.map((r) => `${(r.ingestToCopyRatio as number).toFixed(2)}x at ${fmtInt(r.events)}`).join(', ') : 'not measured',
    status: ratios.length === 0 ? 'N/A' : ratios.every((r) => (r.ingestToCopyRatio as number) >= TARGETS.ingestToCopyRatio) ? 'PASS' : 'MISS',
  });

  const big = server.filter((r) => r.events >= TARGETS.e2eEvents).sort((a, b) => a.events - b.events)[0];
  const largest = [...server].sort((a, b) => b.events - a.events)[0];
  if (big) {
    results.push({
      name: `end to end, ${fmtInt(TARGETS.e2eEvents)} events`,
      target: `<= ${TARGETS.e2eSeconds} s (server)`,
      measured: `${fmtSec(big.pipeline.e2eSeconds)} s at ${fmtInt(big.events)}`,
      status: big.pipeline.e2eSeconds <= TARGETS.e2eSeconds ? 'PASS' : 'MISS',
    });
  } else {
    const projected = largest ? (largest.pipeline.e2eSeconds / largest.events) * TARGETS.e2eEvents : undefined;
    results.push({
      name: `end to end, ${fmtInt(TARGETS.e2eEvents)} events`,
      target: `<= ${TARGETS.e2eSeconds} s (server)`,
      measured: largest ? `not run; ${fmtSec(projected)} s projected linearly from ${fmtInt(largest.events)}` : 'not run',
      status: 'N/A',
    });
  }

  const withRss = succeeded.filter((r) => r.pipeline.peakRssMb !== null);
  results.push({
    name: 'CLI peak RSS',
    target: `< ${TARGETS.peakRssMb} MB at every size, both backends`,
    measured:
      withRss.length > 0
        ? withRss.map((r) => `${fmtMb(r.pipeline.peakRssMb)} MB ${label(r)}`).join(', ') +
          (withRss.some((r) => r.backend === 'embedded') ? ' (the embedded run creates its data directory)' : '')
        : 'not measured',
    status: withRss.length === 0 ? 'N/A' : withRss.every((r) => (r.pipeline.peakRssMb as number) < TARGETS.peakRssMb) ? 'PASS' : 'MISS',
  });

  const withCopy = server.filter((r) => isCopy(r.copy));
  const e2eToCopy = (r: RunResult): number => r.pipeline.e2eSeconds / (r.copy as CopyBaseline).seconds;
  results.push({
    name: 'end to end vs psql \\copy',
    target: `<= ${TARGETS.e2eToCopy}x the \\copy time of the same file (server)`,
    measured: withCopy.length > 0 ? withCopy.map((r) => `x${e2eToCopy(r).toFixed(1)} at ${fmtInt(r.events)}`).join(', ') : 'not measured',
    status: withCopy.length === 0 ? 'N/A' : withCopy.every((r) => e2eToCopy(r) <= TARGETS.e2eToCopy) ? 'PASS' : 'MISS',
  });

  const pairs = runs
    .filter((r) => r.backend === 'embedded' && r.pipeline.status === 'succeeded')
    .map((embedded) => ({ embedded, server: server.find((r) => r.events === embedded.events) }))
    .filter((pair): pair is { embedded: RunResult; server: RunResult } => pair.server !== undefined);
  const embeddedRatio = (pair: { embedded: RunResult; server: RunResult }): number => pair.embedded.pipeline.e2eSeconds / pair.server.pipeline.e2eSeconds;
  results.push({
    name: 'embedded vs server',
    target: `embedded end to end <= ${TARGETS.embeddedToServer}x the server's, same size`,
    measured: pairs.length > 0 ? pairs.map((p) => `x${embeddedRatio(p).toFixed(2)} at ${fmtInt(p.embedded.events)} (${fmtSec(p.embedded.pipeline.e2eSeconds)} s vs ${fmtSec(p.server.pipeline.e2eSeconds)} s)`).join(', ') : 'needs an embedded and a server run of one size',
    status: pairs.length === 0 ? 'N/A' : pairs.every((p) => embeddedRatio(p) <= TARGETS.embeddedToServer) ? 'PASS' : 'MISS',
  });

  const sized = largest && largest.pipeline.databaseMb !== null ? largest : undefined;
  results.push({
    name: 'database size',
    target: `<= ${TARGETS.databaseToFile}x the input file, largest server size`,
    measured: sized ? `${fmtMb(sized.pipeline.databaseMb)} MB for a ${fmtMb(sized.fileMb)} MB file: x${((sized.pipeline.databaseMb as number) / sized.fileMb).toFixed(1)} at ${fmtInt(sized.events)}` : 'not measured',
    status: !sized ? 'N/A' : (sized.pipeline.databaseMb as number) / sized.fileMb <= TARGETS.databaseToFile ? 'PASS' : 'MISS',
  });

  const snap = server.filter((r) => r.pipeline.steps.snapshot !== undefined).sort((a, b) => a.events - b.events);
  const first = snap[0];
  const last = snap[snap.length - 1];
  if (first && last && last.events > first.events) {
    const eventsRatio = last.events / first.events;
    const timeRatio = (last.pipeline.steps.snapshot as number) / Math.max(first.pipeline.steps.snapshot as number, 0.001);
    const exponent = Math.log(timeRatio) / Math.log(eventsRatio);
    results.push({
      name: 'snapshot time growth',
      target: `no worse than linear: time ratio <= events ratio (exponent <= ${TARGETS.snapshotMaxExponent})`,
      measured: `${fmtSec(first.pipeline.steps.snapshot)} s -> ${fmtSec(last.pipeline.steps.snapshot)} s: x${timeRatio.toFixed(2)} for x${eventsRatio.toFixed(1)} events (exponent ${exponent.toFixed(2)})`,
      status: exponent <= TARGETS.snapshotMaxExponent ? 'PASS' : 'MISS',
    });
  } else {
    results.push({ name: 'snapshot time growth', target: 'no worse than linear', measured: 'needs two server sizes', status: 'N/A' });
  }
  return results;
}

/** Snapshot time ratio between the smallest and largest server run, for the JSON. */
export function snapshotScaling(runs: readonly RunResult[]): { fromEvents: number; toEvents: number; eventsRatio: number; timeRatio: number; exponent: number } | null {
  const snap = runs.filter((r) => r.backend === 'server' && r.pipeline.steps.snapshot !== undefined).sort((a, b) => a.events - b.events);
  const first = snap[0];
  const last = snap[snap.length - 1];
  if (!first || !last || last.events <= first.events) return null;
  const eventsRatio = last.events / first.events;
  const timeRatio = (last.pipeline.steps.snapshot as number) / Math.max(first.pipeline.steps.snapshot as number, 0.001);
  return { fromEvents: first.events, toEvents: last.events, eventsRatio, timeRatio, exponent: Math.log(timeRatio) / Math.log(eventsRatio) };
}

function table(header: string[], rows: string[][], rightAligned: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (rightAligned[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function renderRuns(runs: readonly RunResult[]): string {
  const header = ['backend', 'events', 'file MB', 'gen s', '\\copy s', '\\copy rows/s', 'ingest s', 'ingest rows/s', 'ratio', 'model s', 'snapshot s', 'test s', 'e2e s', 'peak RSS MB', 'db MB', 'load', 'status'];
  const rows = runs.map((r) => {
    const p = r.pipeline;
    return [
      r.backend,
      fmtInt(r.events),
      r.fileMb.toFixed(0),
      fmtSec(r.generate.seconds),
      isCopy(r.copy) ? fmtSec(r.copy.seconds) : '-',
      isCopy(r.copy) ? fmtInt(r.copy.rowsPerSecond) : '-',
      fmtSec(p.steps.ingest),
      p.ingestRowsPerSecond === null ? '-' : fmtInt(p.ingestRowsPerSecond),
      r.ingestToCopyRatio === null ? '-' : `${r.ingestToCopyRatio.toFixed(2)}x`,
      fmtSec(p.steps.model),
      fmtSec(p.steps.snapshot),
      fmtSec(p.steps.test),
      fmtSec(p.e2eSeconds),
      fmtMb(p.peakRssMb),
      fmtMb(p.databaseMb),
      `${r.loadAverage.before.toFixed(1)}/${r.loadAverage.after.toFixed(1)}`,
      p.status === 'succeeded' ? 'ok' : 'FAILED',
    ];
  });
  return table(header, rows, header.map((_, i) => i > 0 && i < header.length - 1));
}

export function renderTargets(targets: readonly TargetResult[]): string {
  return table(
    ['', 'target', 'measured'],
    targets.map((t) => [t.status, `${t.name}: ${t.target}`, t.measured]),
    [false, false, false],
  );
}

const succeededIncremental = (r: IncrementalResult): boolean => r.daily.status === 'succeeded' && r.fullRefresh.status === 'succeeded';

/**
 * The daily run's targets (server): at 10M events at most 5 s end to end and at least 20x cheaper
 * than a full refresh of the same history; and its cost follows the day, not the history: from the
 * smallest to the largest history it grows no more than the day's events do.
 */
export function evaluateIncrementalTargets(results: readonly IncrementalResult[]): TargetResult[] {
  if (results.length === 0) return [];
  const server = results.filter((r) => r.backend === 'server' && succeededIncremental(r)).sort((a, b) => a.events - b.events);
  const big = server.find((r) => r.events >= TARGETS.dailyEvents);
  const out: TargetResult[] = [];
  out.push({
    name: `daily run, ${fmtInt(TARGETS.dailyEvents)}-event history`,
    target: `<= ${TARGETS.dailySeconds} s end to end (server)`,
    measured: big ? `${fmtSec(big.daily.e2eSeconds)} s for ${fmtInt(big.dayEvents)} new events` : 'not run',
    status: big ? (big.daily.e2eSeconds <= TARGETS.dailySeconds ? 'PASS' : 'MISS') : 'N/A',
  });
  out.push({
    name: 'daily run vs full refresh',
    target: `full refresh >= ${TARGETS.fullRefreshToDaily}x the daily run at ${fmtInt(TARGETS.dailyEvents)} (server)`,
    measured:
      server.length > 0 ? server.map((r) => `x${(r.fullRefresh.e2eSeconds / r.daily.e2eSeconds).toFixed(1)} at ${fmtInt(r.events)} (${fmtSec(r.fullRefresh.e2eSeconds)} s vs ${fmtSec(r.daily.e2eSeconds)} s)`).join(', ') : 'not run',
    status: big ? (big.fullRefresh.e2eSeconds / big.daily.e2eSeconds >= TARGETS.fullRefreshToDaily ? 'PASS' : 'MISS') : 'N/A',
  });
  const first = server[0];
  const last = server.at(-1);
  if (first && last && last.events > first.events) {
    const timeRatio = last.daily.e2eSeconds / first.daily.e2eSeconds;
    const dayRatio = last.dayEvents / first.dayEvents;
    out.push({
      name: 'daily run cost follows the day, not the history',
      target: 'daily time ratio <= new-events ratio, smallest to largest history (server)',
      measured: `x${timeRatio.toFixed(2)} time for x${dayRatio.toFixed(1)} new events and x${(last.events / first.events).toFixed(1)} history`,
      status: timeRatio <= dayRatio ? 'PASS' : 'MISS',
    });
  } else {
    out.push({ name: 'daily run cost follows the day, not the history', target: 'two server sizes', measured: 'needs two server sizes', status: 'N/A' });
  }
  return out;
}

export function renderIncremental(results: readonly IncrementalResult[]): string {
  const header = ['backend', 'events', 'day', 'new events', 'history e2e s', 'daily e2e s', 'daily ingest s', 'daily model s', 'daily snapshot s', 'daily test s', 'daily RSS MB', 'full refresh e2e s', 'full / daily', 'load', 'status'];
  const rows = results.map((r) => {
    const ok = succeededIncremental(r);
    return [
      r.backend,
      fmtInt(r.events),
      r.day,
      fmtInt(r.dayEvents),
      fmtSec(r.history.e2eSeconds),
      fmtSec(r.daily.e2eSeconds),
      fmtSec(r.daily.steps.ingest),
      fmtSec(r.daily.steps.model),
      fmtSec(r.daily.steps.snapshot),
      fmtSec(r.daily.steps.test),
      fmtMb(r.daily.peakRssMb),
      fmtSec(r.fullRefresh.e2eSeconds),
      ok ? `x${(r.fullRefresh.e2eSeconds / r.daily.e2eSeconds).toFixed(1)}` : '-',
      `${r.loadAverage.before.toFixed(1)}/${r.loadAverage.after.toFixed(1)}`,
      ok && r.history.status === 'succeeded' ? 'ok' : `FAILED: ${r.history.error ?? r.daily.error ?? r.fullRefresh.error ?? ''}`.slice(0, 200),
    ];
  });
  return table(header, rows, header.map((_, i) => i > 0 && i < header.length - 1));
}
