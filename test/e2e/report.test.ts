/**
 * The HTML report as a person sees it: written by the built CLI (`run --report`, `report --out`),
 * opened from disk in headless Chromium with every non-file request blocked (so it must be
 * self-contained), and compared with the database read through `instapro sql`. A screenshot goes
 * to test-artifacts/ (CI uploads it). Without a browser at /usr/bin/chromium (or
 * $INSTAPRO_CHROMIUM) the browser tests are skipped with that reason; the rest still runs.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { eventLine, writeEventLogFile } from '../helpers/event-log-files.js';
import { REPO_ROOT, describeResult, jsonSummary, requireBuiltCli, runCli, sqlRows } from '../helpers/subprocess.js';
import { cleanupDatabase, schemasOf } from './support.js';
import type { Schemas } from './support.js';

const SAMPLE_ARG = 'data/sample/event_log.csv';
const CHROMIUM = process.env.INSTAPRO_CHROMIUM || '/usr/bin/chromium';
const NO_BROWSER = existsSync(CHROMIUM) ? undefined : `no headless browser: ${CHROMIUM} is missing (install Debian's chromium package, as CI does)`;
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Injected through the input file; if any of it ran, window.__pwned would be set. */
const HOSTILE_EVENT_TYPE = '<img src=x onerror=window.__pwned=1>';
const HOSTILE_PROFESSIONAL = '<script>window.__pwned=2</script>';

let tmp: string;
let browser: BrowserContext | undefined;

beforeAll(async () => {
  requireBuiltCli();
  tmp = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-report-'));
});

afterAll(async () => {
  await browser?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface OpenedReport {
  page: Page;
  /** Every request the page made that was not for a file:// or data: URL (all were blocked). */
  blocked: string[];
  /** Uncaught exceptions and console errors (a CSP violation is one). */
  errors: string[];
}

async function openReport(file: string): Promise<OpenedReport> {
  browser ??= await chromium.launchPersistentContext(await mkdtemp(path.join(tmp, 'chromium-profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    serviceWorkers: 'block',
  });
  const blocked: string[] = [];
  const errors: string[] = [];
  const page = await browser.newPage();
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file://') || url.startsWith('data:')) return route.continue();
    blocked.push(url);
    return route.abort('blockedbyclient');
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('requestfailed', (request) => {
    if (!blocked.includes(request.url())) errors.push(`request failed: ${request.url()}`);
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  await page.waitForFunction('window.instaproCharts !== undefined', undefined, { timeout: 30_000 });
  return { page, blocked, errors };
}

/** What the page shows, read in the browser (a string: the test's tsconfig has no DOM types). */
interface PageReading {
  chartNames: string[];
  daily: { points: number[]; xy: [number, number][]; labels: string[]; active: number[]; able: number[] } | null;
  periodPoints: { weekly: number | null; monthly: number | null };
  figures: Record<string, number>;
  tables: Record<string, number>;
  tests: Record<string, string>;
  scripts: number;
  images: number;
  pwned: unknown;
  gateFailed: boolean;
  ingestText: string;
}

const READ_PAGE = `(() => {
  const charts = window.instaproCharts;
  const daily = charts.daily;
  const numberIn = (el) => Number(el.textContent.replace(/,/g, ''));
  return {
    chartNames: Object.keys(charts).sort(),
    daily: daily ? {
      points: daily.data.datasets.map((_, i) => daily.getDatasetMeta(i).data.length),
      xy: daily.getDatasetMeta(0).data.map((p) => [p.x, p.y]),
      labels: daily.data.labels,
      active: daily.data.datasets[0].data,
      able: daily.data.datasets[1].data,
    } : null,
    periodPoints: {
      weekly: charts.weekly ? charts.weekly.getDatasetMeta(0).data.length : null,
      monthly: charts.monthly ? charts.monthly.getDatasetMeta(0).data.length : null,
    },
    figures: Object.fromEntries([...document.querySelectorAll('#ingest [data-figure]')].map((el) => [el.dataset.figure, numberIn(el)])),
    tables: Object.fromEntries([...document.querySelectorAll('#table-counts tr[data-table]')].map((tr) => [tr.dataset.schema + '.' + tr.dataset.table, numberIn(tr.querySelector('td.num'))])),
    tests: Object.fromEntries([...document.querySelectorAll('#tests-all tr[data-test]')].map((tr) => [tr.dataset.test, tr.dataset.status])),
    scripts: document.scripts.length,
    images: document.images.length,
    pwned: window.__pwned,
    gateFailed: document.getElementById('gate-failed') !== null,
    ingestText: document.getElementById('ingest').textContent,
  };
})()`;

/** The data block of a report file, parsed: what the charts are drawn from. */
function embeddedData(document: string): { ingest: { run_id: number; rows_read: number; loaded: number; rejected: number; duplicates: number } | null; snapshot: { daily: unknown[] }; tests: { source: string; report: { errors: number } } } {
  const json = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(document)?.[1];
  if (json === undefined) throw new Error('the report has no data block');
  return JSON.parse(json);
}

describe.each(BACKENDS)('HTML report on the %s backend', (backend) => {
  let db: TestDatabase;
  let schemas: Schemas;
  let firstReport: string;
  let failingReport: string;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    schemas = schemasOf(db);
    firstReport = path.join(tmp, `${backend}-run.html`);
    failingReport = path.join(tmp, `${backend}-failing-gate.html`);
  });

  afterAll(async () => {
    await cleanupDatabase(db);
  });

  const latestIngestStep = async () => {
    const [row] = await sqlRows<{ run_id: number; rows_read: number; loaded: number; rejected: number; duplicates: number }>(
      db.env,
      `SELECT run_id, rows_read, loaded, rejected, duplicates FROM ${schemas.raw}.pipeline_step_log WHERE step = 'ingest' ORDER BY run_id DESC LIMIT 1`,
    );
    return row!;
  };

  const stepsOf = async (runId: number) =>
    Object.fromEntries(
      (await sqlRows<{ step: string; status: string }>(db.env, `SELECT step, status FROM ${schemas.raw}.pipeline_step_log WHERE run_id = ${runId} ORDER BY started_at`)).map((r) => [r.step, r.status]),
    );

  /** Row counts of every table the report lists, keyed schema.table. */
  const tableCounts = async (): Promise<Record<string, number>> => {
    const { mart, raw } = schemas;
    const tables = [
      ...['dim_date', 'dim_event_type', 'dim_professional', 'dim_service', 'dim_service_name', 'fct_event', 'fct_proposal', 'professional_availability_history', 'availability_snapshot'].map((t) => `${mart}.${t}`),
      `${raw}.event`,
      `${raw}.quarantine`,
    ];
    const [row] = await sqlRows<Record<string, number>>(db.env, `SELECT ${tables.map((t) => `(SELECT count(*)::integer FROM ${t}) AS "${t}"`).join(', ')}`);
    return row!;
  };

  it('run --report writes the report after the test step and logs it as step "report"', async () => {
    const args = ['run', '--input', SAMPLE_ARG, '--report', firstReport, '--json'];
    const result = await runCli(args, { env: db.env });
    expect(result.code, describeResult(args, result)).toBe(0);
    const summary = jsonSummary(result.stdout);
    expect(summary.report).toMatchObject({ file: firstReport, tests: { errors: 0 } });
    expect(await stepsOf(summary.run_id as number)).toEqual({ ingest: 'succeeded', model: 'succeeded', snapshot: 'succeeded', test: 'succeeded', report: 'succeeded' });

    const document = await readFile(firstReport, 'utf8');
    expect(document).not.toMatch(/(src|href)="(https?:)?\/\//);
    const password = db.env.INSTAPRO_DATABASE_URL ? decodeURIComponent(new URL(db.env.INSTAPRO_DATABASE_URL).password) : '';
    if (password !== '') expect(document).not.toContain(password);
    const data = embeddedData(document);
    // The run's own test results, not the tests run a second time.
    expect(data.tests.source).toBe('run');
    expect(data.tests.report).toEqual(summary.tests);
    expect(data.ingest).toMatchObject(await latestIngestStep());
  });

  it('in a browser, offline: one point per snapshot day with the database values, the ingest figures and the table counts', async ({ skip }) => {
    if (NO_BROWSER) skip(NO_BROWSER);
    expect(existsSync(firstReport), 'the run before must have written the report').toBe(true);
    const { page, blocked, errors } = await openReport(firstReport);
    try {
      const shown = (await page.evaluate(READ_PAGE)) as PageReading;
      const snapshot = await sqlRows<{ date: string; active_professionals_count: number; able_at_any_moment_count: number }>(
        db.env,
        `SELECT date::text AS date, active_professionals_count, able_at_any_moment_count FROM ${schemas.mart}.availability_snapshot ORDER BY date`,
      );
      const [periods] = await sqlRows<{ weeks: number; months: number }>(
        db.env,
        `SELECT (SELECT count(*)::integer FROM ${schemas.mart}.availability_snapshot_weekly) AS weeks, (SELECT count(*)::integer FROM ${schemas.mart}.availability_snapshot_monthly) AS months`,
      );

      expect(blocked, 'requests other than file://').toEqual([]);
      expect(errors).toEqual([]);
      expect(shown.chartNames).toEqual(['changes', 'daily', 'monthly', 'weekly']);
      expect(snapshot.length).toBeGreaterThan(0);

      // The daily chart: exactly one drawn point per snapshot day, in date order, with its values.
      const daily = shown.daily!;
      expect(daily.points).toEqual([snapshot.length, snapshot.length]);
      expect(daily.labels).toEqual(snapshot.map((r) => r.date));
      expect(daily.active).toEqual(snapshot.map((r) => r.active_professionals_count));
      expect(daily.able).toEqual(snapshot.map((r) => r.able_at_any_moment_count));
      for (const [i, [x, y]] of daily.xy.entries()) {
        expect(Number.isFinite(x) && Number.isFinite(y), `point ${i} has a position`).toBe(true);
        if (i > 0) expect(x).toBeGreaterThan(daily.xy[i - 1]![0]);
      }
      expect(shown.periodPoints).toEqual({ weekly: periods!.weeks, monthly: periods!.months });

      // The latest ingest and the table counts, as shown, equal the database.
      const step = await latestIngestStep();
      expect(shown.figures).toEqual({ rows_read: step.rows_read, loaded: step.loaded, rejected: step.rejected, duplicates: step.duplicates });
      expect(shown.tables).toEqual(await tableCounts());

      expect(Object.keys(shown.tests).length).toBeGreaterThan(50);
      expect(Object.values(shown.tests).every((status) => status === 'pass')).toBe(true);
      expect(shown.gateFailed).toBe(false);

      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, backend === 'embedded' ? 'report.png' : `report-${backend}.png`), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('when the quality gate fails, run --report exits 6 and still writes the report, which shows the failure', async () => {
    // Break a reconciliation test (an earlier ingest's counts no longer add up) and feed lines that
    // (besides a copy of the sample's first event, a duplicate)
    // are rejected with reasons quoting hostile markup, from a file whose name is markup too.
    await sqlRows(db.env, `UPDATE ${schemas.raw}.pipeline_step_log SET rows_read = rows_read + 1 WHERE step = 'ingest' RETURNING run_id`, { write: true });
    const hostileFile = await writeEventLogFile(
      [eventLine(1, 'created_account', 1, '2020-01-19 13:18:38'), `9000000001;${HOSTILE_EVENT_TYPE};9;2020-01-05 10:00:00;`, `9000000002;became_able_to_propose;${HOSTILE_PROFESSIONAL};2020-01-05 10:00:00;`],
      { name: `hostile-<b>"name"&.csv` },
    );
    const args = ['run', '--input', SAMPLE_ARG, hostileFile, '--max-reject-ratio', '0.9', '--report', failingReport, '--json'];
    const result = await runCli(args, { env: db.env });
    expect(result.code, describeResult(args, result)).toBe(6);
    const summary = jsonSummary(result.stdout);
    expect(summary.report).toMatchObject({ file: failingReport });
    expect((summary.report as { tests: { errors: number } }).tests.errors).toBeGreaterThan(0);
    expect(await stepsOf(summary.run_id as number)).toMatchObject({ ingest: 'succeeded', test: 'failed', report: 'succeeded' });

    const document = await readFile(failingReport, 'utf8');
    expect(document).not.toContain(HOSTILE_EVENT_TYPE);
    expect(document).not.toContain(HOSTILE_PROFESSIONAL);
    expect(document.match(/<script/g)).toHaveLength(3);
    const data = embeddedData(document);
    expect(data.tests).toMatchObject({ source: 'run', report: summary.tests });
    const step = await latestIngestStep();
    expect(step.run_id).toBe(summary.run_id);
    expect(data.ingest).toMatchObject(step);
    // The sample is skipped unread (unchanged since the first run): only the hostile file's 3 lines are read.
    expect(step).toMatchObject({ rows_read: 3, loaded: 0, rejected: 2, duplicates: 1 });
  });

  it('in a browser: the failing gate, the ingest of that run and the rejected lines, all as text', async ({ skip }) => {
    if (NO_BROWSER) skip(NO_BROWSER);
    expect(existsSync(failingReport), 'the run before must have written the report').toBe(true);
    const { page, blocked, errors } = await openReport(failingReport);
    try {
      const shown = (await page.evaluate(READ_PAGE)) as PageReading;
      expect(blocked).toEqual([]);
      expect(errors).toEqual([]);
      expect(shown.pwned).toBeUndefined();
      expect(shown.scripts).toBe(3);
      expect(shown.images).toBe(0);
      expect(shown.gateFailed).toBe(true);
      expect(shown.tests.reconcile_ingest_counts).toBe('fail');
      const step = await latestIngestStep();
      expect(shown.figures).toEqual({ rows_read: step.rows_read, loaded: step.loaded, rejected: step.rejected, duplicates: step.duplicates });
      // The reasons quote the hostile values and the file name verbatim, as text.
      expect(shown.ingestText).toContain(HOSTILE_EVENT_TYPE);
      expect(shown.ingestText).toContain(HOSTILE_PROFESSIONAL);
      expect(shown.ingestText).toContain('hostile-<b>"name"&.csv');
      expect(shown.tables).toEqual(await tableCounts());
      if (backend === 'embedded') {
        await mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: path.join(ARTIFACTS, 'report-failing-gate.png'), fullPage: true });
      }
    } finally {
      await page.close();
    }
  });

  it('instapro report writes the report on its own: the latest ingest is that of the last run with one, and failing tests do not fail it', async () => {
    const out = path.join(tmp, `${backend}-standalone.html`);
    const args = ['report', '--out', out, '--json'];
    const result = await runCli(args, { env: db.env });
    expect(result.code, describeResult(args, result)).toBe(0);
    const summary = jsonSummary(result.stdout);
    expect(summary.status).toBe('succeeded');
    expect(await stepsOf(summary.run_id as number)).toEqual({ report: 'succeeded' });
    const data = embeddedData(await readFile(out, 'utf8'));
    expect(data.ingest?.run_id).toBe((await latestIngestStep()).run_id);
    expect(data.ingest?.run_id).toBeLessThan(summary.run_id as number);
    expect(data.tests.source).toBe('report');
    expect(data.tests.report.errors).toBeGreaterThan(0);
  });

  it('a report path that cannot be written is a configuration error (exit 3), found before anything is loaded', async () => {
    const before = await latestIngestStep();
    const missingFolder = path.join(tmp, 'no-such-folder', 'report.html');
    const runArgs = ['run', '--input', SAMPLE_ARG, '--report', missingFolder];
    const run = await runCli(runArgs, { env: db.env });
    expect(run.code, describeResult(runArgs, run)).toBe(3);
    expect(run.stderr).toContain('no-such-folder');
    expect((await latestIngestStep()).run_id).toBe(before.run_id);

    const reportArgs = ['report', '--out', tmp];
    const report = await runCli(reportArgs, { env: db.env });
    expect(report.code, describeResult(reportArgs, report)).toBe(3);
    expect(report.stderr).toContain('it is a folder');
  });
});
