import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Event counts run against the PostgreSQL server, smallest first. */
  sizes: number[];
  /** Event count run on the embedded backend; 0 skips it. */
  embeddedSize: number;
  seed: number;
  quick: boolean;
  /** Where <timestamp>.json and latest.json go; default bench-results/ in the package root. */
  outDir: string | undefined;
  /** Longest a single measured command may run before it is killed. */
  timeoutSeconds: number;
  /** Schemas are <prefix>_<random>[_raw|_staging|_copy]. */
  schemaPrefix: string;
  /** The daily-run scenario (last day held back, then a full refresh) at every size. */
  incremental: boolean;
}

export const BENCH_USAGE = `usage: npm run bench -- [options]

Benchmarks the instapro pipeline on generated event logs against a local PostgreSQL server
(INSTAPRO_BENCH_DATABASE_URL, else INSTAPRO_TEST_DATABASE_URL) and on the embedded backend.

  --sizes <n,n,...>      server runs, events per run          (default 1000000,10000000)
  --embedded-size <n>    embedded (PGlite) run, 0 to skip      (default 1000000)
  --quick                smoke run: 100000 events on both backends
  --seed <n>             generator seed                        (default 1)
  --out-dir <dir>        results directory                     (default <package>/bench-results)
  --timeout <seconds>    kill a measured command after this    (default 3600)
  --schema-prefix <p>    run schemas are <p>_<random>_...      (default bench)
  --no-incremental       skip the daily-run scenario (the log's last day held back and loaded
                         by an incremental run, then a full refresh of the same history)
  -h, --help             this text`;

export class BenchUsageError extends Error {}

function count(option: string, value: string, { allowZero = false } = {}): number {
  const cleaned = value.replace(/_/g, '');
  const n = /^\d+$/.test(cleaned) ? Number(cleaned) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < (allowZero ? 0 : 1)) throw new BenchUsageError(`${option} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(value)}`);
  return n;
}

function schemaPrefix(value: string): string {
  if (!/^[a-z_][a-z0-9_]{0,30}$/.test(value)) throw new BenchUsageError(`--schema-prefix must be a lower-case SQL identifier of at most 31 characters, got ${JSON.stringify(value)}`);
  return value;
}

/** Parses the bench's arguments; returns undefined when help was asked for. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        sizes: { type: 'string' },
        'embedded-size': { type: 'string' },
        quick: { type: 'boolean', default: false },
        seed: { type: 'string' },
        'out-dir': { type: 'string' },
        timeout: { type: 'string' },
        'schema-prefix': { type: 'string' },
        'no-incremental': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return undefined;
  const quick = v.quick ?? false;
  if (quick && (v.sizes !== undefined || v['embedded-size'] !== undefined)) throw new BenchUsageError('--quick runs 100000 events on both backends; it cannot be combined with --sizes or --embedded-size');
  const sizes = quick ? [100_000] : (v.sizes ?? '1000000,10000000').split(',').map((s) => count('--sizes', s.trim()));
  return {
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    embeddedSize: quick ? 100_000 : count('--embedded-size', v['embedded-size'] ?? '1000000', { allowZero: true }),
    seed: count('--seed', v.seed ?? '1'),
    quick,
    outDir: v['out-dir'],
    timeoutSeconds: count('--timeout', v.timeout ?? '3600'),
    schemaPrefix: schemaPrefix(v['schema-prefix'] ?? 'bench'),
    incremental: !(v['no-incremental'] ?? false),
  };
}
