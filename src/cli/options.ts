import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { loadSettings } from '../config/settings.js';
import type { Settings } from '../config/settings.js';

/**
 * Options shared by several commands, declared once. The environment is read by loadSettings
 * alone (src/config/settings.ts), not by commander's .env(): there an empty variable means unset
 * and INSTAPRO_INPUT is a comma-separated list; the options only override it.
 */
export interface CommonOptions {
  databaseUrl?: string;
  dataDir?: string;
  lockTimeout?: string;
  json?: boolean;
  verbose?: boolean;
}

/** The options of commands that read input. */
export interface InputOptions {
  input?: string[];
  maxRejectRatio?: string;
}

/** The options every command takes, after its own. */
export function withCommonOptions(command: Command): Command {
  return command
    .option('--database-url <url>', 'PostgreSQL server URL (env INSTAPRO_DATABASE_URL); without it the embedded database is used')
    .option('--data-dir <dir>', 'embedded database directory (env INSTAPRO_DATA_DIR, default .instapro/db)')
    .option('--lock-timeout <seconds>', 'how long to wait for another run holding the pipeline lock, then exit 8 (env INSTAPRO_LOCK_TIMEOUT, default 1800; 0: do not wait)')
    .option('--json', 'print one JSON object with the results on the last line of stdout')
    .option('--verbose', 'print stack traces of unexpected errors');
}

export const inputOption = (): Option =>
  new Option('-i, --input <inputs...>', 'event logs: files (.csv, .csv.gz), directories, glob patterns, s3://bucket/prefix (env INSTAPRO_INPUT, comma-separated)');
export const maxRejectRatioOption = (): Option =>
  new Option('--max-reject-ratio <ratio>', 'largest share of rejected rows per file before the load fails (env INSTAPRO_MAX_REJECT_RATIO, default 0.001)');
export const fromOption = (): Option => new Option('--from <date>', 'first snapshot day, YYYY-MM-DD (default: first event date); days the model builds changed are recomputed too');
export const toOption = (): Option => new Option('--to <date>', 'last snapshot day, inclusive (default: last event date)');
export const fullRefreshOption = (what: string): Option => new Option('--full-refresh', what);

/** The settings: the environment, overridden by the options given. */
export function settingsFrom(options: CommonOptions & InputOptions): Settings {
  return loadSettings(process.env, {
    databaseUrl: options.databaseUrl,
    dataDir: options.dataDir,
    input: options.input,
    maxRejectRatio: options.maxRejectRatio,
    lockTimeout: options.lockTimeout,
  });
}

/** A commander argument parser for a positive integer option. */
export function positiveInteger(option: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${option} must be a positive integer, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}
