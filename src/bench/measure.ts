import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../db/sql-files.js';
import type { ProbeReport } from './rss-probe.js';

const PROBE = fileURLToPath(new URL('./rss-probe.js', import.meta.url));
/** The product's build (`npm run build`), which the bench measures; the bench itself is built apart, into dist-bench/. */
export const CLI = path.join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');
const POLL_MS = 100;
const KEEP_OUTPUT_CHARS = 1 << 20;

export interface Measured {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  wallSeconds: number;
  /** Peak RSS in MB: the child's own getrusage figure, or the highest /proc VmHWM polled. */
  peakRssMb: number | null;
  /** Where peakRssMb came from. */
  rssSource: 'getrusage' | 'proc-vmhwm' | 'none';
  cpuSeconds: number | null;
  stdout: string;
  stderr: string;
}

/** The child process running now, so an interrupted bench can stop it (and only it). */
export let currentChild: ChildProcess | undefined;

/**
 * Runs a command to completion and measures its wall time and peak memory. Node commands get
 * the RSS probe preloaded; every command's /proc/<pid>/status VmHWM is also polled, as a
 * fallback (and for non-Node commands such as psql).
 */
export async function measure(command: string, args: readonly string[], options: { env: NodeJS.ProcessEnv; probeDir: string; timeoutMs: number; node?: boolean }): Promise<Measured> {
  const probeFile = path.join(options.probeDir, `probe-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  const isNode = options.node ?? false;
  const argv = isNode ? ['--import', PROBE, ...args] : [...args];
  const env = isNode ? { ...options.env, INSTAPRO_BENCH_PROBE_FILE: probeFile } : options.env;
  const started = performance.now();
  const child = spawn(isNode ? process.execPath : command, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  currentChild = child;
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout = (stdout + d).slice(-KEEP_OUTPUT_CHARS);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-KEEP_OUTPUT_CHARS);
  });

  let polledKb = 0;
  const poll = async (): Promise<void> => {
    if (child.pid === undefined) return;
    try {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
      if (match) polledKb = Math.max(polledKb, Number(match[1]));
    } catch {
      // Not Linux, or the process is gone.
    }
  };
  const timer = setInterval(() => void poll(), POLL_MS);
  const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);

  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve({ code: c, signal: s }));
  }).finally(() => {
    clearInterval(timer);
    clearTimeout(killer);
    currentChild = undefined;
  });
  const wallSeconds = (performance.now() - started) / 1000;

  let probe: ProbeReport | undefined;
  if (isNode) {
    try {
      probe = JSON.parse(await readFile(probeFile, 'utf8')) as ProbeReport;
    } catch {
      probe = undefined;
    }
    await rm(probeFile, { force: true });
  }
  const kb = probe ? Math.max(probe.maxRssKb, polledKb) : polledKb;
  return {
    exitCode: code,
    signal,
    wallSeconds,
    peakRssMb: kb > 0 ? kb / 1024 : null,
    rssSource: probe ? 'getrusage' : polledKb > 0 ? 'proc-vmhwm' : 'none',
    cpuSeconds: probe ? probe.userCpuSeconds + probe.systemCpuSeconds : null,
    stdout,
    stderr,
  };
}

/** The CLI's --json summary: the last line of its stdout. */
export function lastJsonLine(stdout: string): Record<string, unknown> | undefined {
  const lines = stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? '').trim();
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
