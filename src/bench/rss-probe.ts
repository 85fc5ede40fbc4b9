/**
 * Preloaded into a measured process (`node --import <this file> ...`): when the process exits,
 * writes its peak resident set size (getrusage ru_maxrss, the kernel's own high-water mark, so no
 * short spike is missed) and CPU times to the file named by INSTAPRO_BENCH_PROBE_FILE.
 * Loaded on its own, it does nothing.
 */
import { writeFileSync } from 'node:fs';

export interface ProbeReport {
  /** Peak RSS in kilobytes (process.resourceUsage().maxRSS). */
  maxRssKb: number;
  userCpuSeconds: number;
  systemCpuSeconds: number;
}

const file = process.env.INSTAPRO_BENCH_PROBE_FILE;
if (file) {
  delete process.env.INSTAPRO_BENCH_PROBE_FILE;
  process.on('exit', () => {
    const usage = process.resourceUsage();
    const report: ProbeReport = { maxRssKb: usage.maxRSS, userCpuSeconds: usage.userCPUTime / 1e6, systemCpuSeconds: usage.systemCPUTime / 1e6 };
    try {
      writeFileSync(file, JSON.stringify(report));
    } catch {
      // The bench falls back to what it polled from /proc.
    }
  });
}
