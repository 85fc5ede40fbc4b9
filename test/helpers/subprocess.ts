/**
 * Runs the BUILT command line (dist/cli/main.js) as a subprocess, the way an operator, a cron job
 * or the Airflow task does. The e2e tests never import src/: they see exit codes, stdout, stderr
 * and the database, nothing else. `npm run build` must have run first (the test command does it).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** Fails with an actionable message instead of a confusing "Cannot find module" from a child. */
export function requireBuiltCli(): void {
  if (!existsSync(CLI)) {
    throw new Error(`${path.relative(REPO_ROOT, CLI)} does not exist: build the CLI with \`npm run build\` before running the e2e tests`);
  }
}

export interface CliResult {
  /** Exit code, or null when the process was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** stderr as it arrived: each chunk with the milliseconds since the start. */
  stderrChunks: { atMs: number; text: string }[];
}

export interface CliOptions {
  /** Variables for the child, on top of the parent's environment without any INSTAPRO_* variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** The child is killed (SIGKILL) and the promise rejected after this long. */
  timeoutMs?: number;
  /** Another build of the CLI (a copy of the package) instead of this repository's dist/cli/main.js. */
  cli?: string;
}

export interface RunningCli {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  done: Promise<CliResult>;
}

/**
 * The parent's environment minus every INSTAPRO_* variable (a developer's shell may point
 * INSTAPRO_DATABASE_URL at a real database), plus `extra`. Undefined values are removed.
 */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('INSTAPRO_')) env[key] = value;
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Starts `node dist/cli/main.js ...args` and returns at once. */
export function startCli(args: readonly string[], options: CliOptions = {}): RunningCli {
  requireBuiltCli();
  const started = Date.now();
  const child = spawn(process.execPath, [options.cli ?? CLI, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stderrChunks: { atMs: number; text: string }[] = [];
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => {
    err.push(chunk);
    stderrChunks.push({ atMs: Date.now() - started, text: chunk.toString('utf8') });
  });
  const output = () => ({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });

  const done = new Promise<CliResult>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        const { stdout, stderr } = output();
        reject(new Error(`instapro ${args.join(' ')} did not finish within ${options.timeoutMs} ms\nstdout:\n${stdout.slice(-2000)}\nstderr:\n${stderr.slice(-2000)}`));
      }, options.timeoutMs);
    }
    child.on('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, ...output(), durationMs: Date.now() - started, stderrChunks });
    });
  });
  return { child, output, done };
}

/** Runs the CLI to completion. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, { timeoutMs: 240_000, ...options }).done;
}

/** Describes a finished command for assertion messages. */
export function describeResult(args: readonly string[], result: CliResult): string {
  return `instapro ${args.join(' ')} -> exit ${result.code}${result.signal ? ` (${result.signal})` : ''} in ${result.durationMs} ms\nstdout (end):\n${result.stdout.slice(-3000)}\nstderr (end):\n${result.stderr.slice(-3000)}`;
}

/** Runs the CLI and throws (with its output) unless it exits with `expectedCode`. */
export async function runCliExpecting(expectedCode: number, args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const result = await runCli(args, options);
  if (result.code !== expectedCode) throw new Error(`expected exit ${expectedCode}\n${describeResult(args, result)}`);
  return result;
}

/** The --json summary: the last non-empty line of stdout, parsed. */
export function jsonSummary(stdout: string): Record<string, unknown> {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const last = lines.at(-1);
  if (last === undefined) throw new Error('no output on stdout: expected a JSON summary line');
  try {
    return JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(`the last line of stdout is not JSON: ${last.slice(0, 500)}`);
  }
}

/**
 * Runs `instapro sql QUERY --format json` against the database `env` selects and returns the rows.
 * `write`: a statement that changes data (`sql` is read-only without --write).
 */
export async function sqlRows<T = Record<string, unknown>>(env: Record<string, string | undefined>, query: string, { write = false } = {}): Promise<T[]> {
  const args = ['sql', query, '--format', 'json', ...(write ? ['--write'] : [])];
  const result = await runCliExpecting(0, args, { env });
  try {
    return JSON.parse(result.stdout) as T[];
  } catch {
    throw new Error(`instapro sql did not print a JSON array\n${describeResult(args, result)}`);
  }
}

/** Lines of stderr that look like a JavaScript stack frame. */
export function stackFrames(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^\s+at .+(\(|:\d+)/.test(l));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, { timeoutMs = 60_000, intervalMs = 100 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** When (ms since the start) the first stderr chunk containing `pattern` arrived. */
export function stderrArrival(result: CliResult, pattern: RegExp): number | undefined {
  return result.stderrChunks.find((c) => pattern.test(c.text))?.atMs;
}
