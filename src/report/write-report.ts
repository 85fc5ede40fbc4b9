import { randomBytes } from 'node:crypto';
import { access, constants, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PipelineContext } from '../pipeline/context.js';
import { ConfigurationError } from '../util/errors.js';
import { loadChartJs } from './chart-js.js';
import { collectReportData } from './report-data.js';
import type { ShownDataTests } from './report-data.js';
import { renderReport } from './render-report.js';

export interface ReportResult {
  file: string;
  bytes: number;
  days: number;
  weeks: number;
  months: number;
  /** The data tests the report shows (not a gate: the report is written either way). */
  tests: { passed: number; warnings: number; errors: number };
}

/**
 * Fails early (exit 3) when the report could not be written: the folder is missing or not
 * writable, or the path is a folder. `run --report` checks before loading anything.
 */
export async function checkReportTarget(file: string): Promise<void> {
  const resolved = path.resolve(file);
  const dir = path.dirname(resolved);
  const dirStat = await stat(dir).catch(() => undefined);
  if (!dirStat?.isDirectory()) throw new ConfigurationError(`cannot write the report to ${file}: folder ${dir} does not exist`);
  const existing = await stat(resolved).catch(() => undefined);
  if (existing?.isDirectory()) throw new ConfigurationError(`cannot write the report to ${file}: it is a folder`);
  await access(dir, constants.W_OK).catch(() => {
    throw new ConfigurationError(`cannot write the report to ${file}: folder ${dir} is not writable`);
  });
}

/**
 * Reads the database, runs the data tests (unless `tests` brings the run's) and writes the HTML
 * report. The file is written next to its final name and renamed, so a reader never sees half a report.
 */
export async function writeReport(ctx: PipelineContext, file: string, options: { tests?: ShownDataTests } = {}): Promise<ReportResult> {
  await checkReportTarget(file);
  const [data, chartJs] = await Promise.all([collectReportData(ctx, options), loadChartJs()]);
  const document = renderReport(data, chartJs);
  const resolved = path.resolve(file);
  const temporary = path.join(path.dirname(resolved), `.${path.basename(resolved)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, document, 'utf8');
    await rename(temporary, resolved);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
  const { passed, warnings, errors } = data.tests.report;
  return {
    file,
    bytes: Buffer.byteLength(document, 'utf8'),
    days: data.snapshot.daily.length,
    weeks: data.snapshot.weekly.length,
    months: data.snapshot.monthly.length,
    tests: { passed, warnings, errors },
  };
}

export function describeReport(r: ReportResult): string {
  return `report: wrote ${r.file} (${(r.bytes / 1024).toFixed(0)} KiB; ${r.days} days, ${r.weeks} weeks, ${r.months} months; data tests ${r.tests.passed} passed, ${r.tests.warnings} warnings, ${r.tests.errors} failed)`;
}
