/**
 * The report as one self-contained HTML document: inline CSS, Chart.js and the page script
 * inline, the data as a JSON block. A Content-Security-Policy allows exactly those two scripts
 * (by hash) and no network at all, so the file opens anywhere, offline, and injected markup
 * could neither run nor load anything even if escaping had a hole.
 */
import type { DataTestResult } from '../quality/run-data-tests.js';
import { CLIENT_SCRIPT, REPORT_DATA_ELEMENT_ID } from './client-script.js';
import type { ChartJsAsset } from './chart-js.js';
import { SafeHtml, html, inlineScript, jsonScriptTag, scriptHash } from './html.js';
import type { HtmlValue } from './html.js';
import type { DailySnapshotRow, IngestFigures, PeriodSnapshotRow, ReportData, TableCount } from './report-data.js';

const int = (value: number): string => value.toLocaleString('en-US');
const decimal = (value: number): string => value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const signed = (value: number): string => (value > 0 ? `+${int(value)}` : value < 0 ? `−${int(-value)}` : '±0');
/** `2026-01-02T03:04:05.678Z` → `2026-01-02 03:04:05 UTC`. */
const utc = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') + ' UTC';
/** A timestamptz as the database printed it, without fractions of a second. */
const dbTime = (value: string): string => value.replace(/\.\d+(?=[+-]\d\d(:\d\d)?$)/, '');
const duration = (ms: number): string => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);
const plural = (n: number, word: string): string => `${int(n)} ${word}${n === 1 ? '' : 's'}`;

const CSS = `
:root { --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --bg: #f8fafc; --card: #ffffff; --accent: #2563eb;
        --ok: #15803d; --ok-bg: #dcfce7; --warn: #a16207; --warn-bg: #fef9c3; --bad: #b91c1c; --bad-bg: #fee2e2; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: #0f172a; color: #f8fafc; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; letter-spacing: -0.01em; }
header h1 span { color: #93c5fd; font-weight: 500; }
header dl { display: flex; flex-wrap: wrap; gap: 4px 24px; margin: 8px 0 0; color: #cbd5e1; font-size: 13px; }
header dl div { display: flex; gap: 6px; }
header dt { color: #94a3b8; }
header dd { margin: 0; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 32px 48px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 22px; margin: 0 0 20px; }
h2 { font-size: 17px; margin: 0 0 4px; }
h3 { font-size: 14px; margin: 18px 0 6px; }
p.note { color: var(--muted); margin: 0 0 12px; font-size: 13px; }
.banner { border-radius: 8px; padding: 10px 14px; margin: 0 0 20px; font-weight: 500; }
.banner.bad { background: var(--bad-bg); color: var(--bad); border: 1px solid #fecaca; }
.banner.warn { background: var(--warn-bg); color: var(--warn); border: 1px solid #fde68a; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; margin: 0 0 20px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; }
.card .value { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; margin: 2px 0; }
.card .sub { color: var(--muted); font-size: 12px; }
.chart { position: relative; height: 340px; }
.chart.small { height: 220px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 20px; }
.grid2 > section { margin: 0 0 20px; min-width: 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; background: #f1f5f9; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.partial td { color: var(--muted); font-style: italic; }
.scroll { max-height: 360px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
details { margin-top: 12px; }
summary { cursor: pointer; color: var(--accent); font-weight: 500; }
dl.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; margin: 12px 0; }
dl.figures div { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
dl.figures dt { color: var(--muted); font-size: 12px; }
dl.figures dd { margin: 0; font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600; line-height: 20px; }
.badge.pass, .badge.succeeded { background: var(--ok-bg); color: var(--ok); }
.badge.warn, .badge.running { background: var(--warn-bg); color: var(--warn); }
.badge.fail, .badge.failed { background: var(--bad-bg); color: var(--bad); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
pre { margin: 4px 0 0; white-space: pre-wrap; word-break: break-all; background: #f8fafc; padding: 6px 8px; border-radius: 4px; }
.empty { color: var(--muted); font-style: italic; padding: 24px 0; text-align: center; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 0 0 32px; }
@media print { header { background: none; color: var(--ink); } .scroll { max-height: none; } }
`;

function badge(status: string): SafeHtml {
  return html`<span class="badge ${status}">${status}</span>`;
}

function card(label: string, value: HtmlValue, sub: HtmlValue, id: string): SafeHtml {
  return html`<div class="card" data-card="${id}"><div class="label">${label}</div><div class="value">${value}</div><div class="sub">${sub}</div></div>`;
}

function summaryCards(data: ReportData): SafeHtml {
  const daily = data.snapshot.daily;
  const last = daily.at(-1);
  const weekBefore = daily.length > 7 ? daily[daily.length - 8] : undefined;
  const peak = daily.reduce<DailySnapshotRow | undefined>((best, d) => (best === undefined || d.active_professionals_count > best.active_professionals_count ? d : best), undefined);
  const tests = data.tests.report;
  const cards: SafeHtml[] = [];
  if (last) {
    cards.push(
      card('Active professionals', int(last.active_professionals_count), [`end of ${last.date}`, weekBefore ? `, ${signed(last.active_professionals_count - weekBefore.active_professionals_count)} in 7 days` : ''], 'active'),
      card('Able at any moment', int(last.able_at_any_moment_count), `during ${last.date}`, 'able'),
    );
  }
  if (peak) cards.push(card('Peak active', int(peak.active_professionals_count), `on ${peak.date}`, 'peak'));
  cards.push(card('Snapshot', plural(daily.length, 'day'), daily.length > 0 ? `${daily[0]?.date} – ${last?.date}` : 'no rows yet', 'days'));
  if (data.ingest) cards.push(card('Latest ingest', int(data.ingest.loaded), `loaded of ${int(data.ingest.rows_read)} read (run #${data.ingest.run_id})`, 'ingest'));
  cards.push(
    card(
      'Data tests',
      tests.errors > 0 ? html`<span class="badge fail">${int(tests.errors)} failed</span>` : tests.warnings > 0 ? html`<span class="badge warn">${plural(tests.warnings, 'warning')}</span>` : html`<span class="badge pass">all pass</span>`,
      `${int(tests.passed)} passed, ${int(tests.warnings)} warnings, ${int(tests.errors)} failed`,
      'tests',
    ),
  );
  return html`<div class="cards">${cards}</div>`;
}

function dailySection(daily: DailySnapshotRow[]): SafeHtml {
  if (daily.length === 0) {
    return html`<section id="daily"><h2>Daily active professionals</h2><p class="empty">The snapshot has no rows yet: run <code>instapro run --input FILE</code> first.</p></section>`;
  }
  const rows = daily.map(
    (d) =>
      html`<tr data-date="${d.date}"><td>${d.date}</td><td class="num">${int(d.active_professionals_count)}</td><td class="num">${int(d.able_at_any_moment_count)}</td><td class="num">${int(d.became_active_count)}</td><td class="num">${int(d.became_inactive_count)}</td></tr>`,
  );
  return html`<section id="daily">
<h2>Daily active professionals</h2>
<p class="note"><strong>Active</strong>: able to propose at the end of the day (<code>active_professionals_count</code>). <strong>Able at any moment</strong>: able at the start of the day or became able during it (<code>able_at_any_moment_count</code>). One point per day of <code>availability_snapshot</code>, ${plural(daily.length, 'day')}.</p>
<div class="chart"><canvas id="chart-daily" role="img" aria-label="Line chart of active professionals per day"></canvas></div>
<h3>Daily changes</h3>
<p class="note">Professionals who became active (not able at the day's start, able at its end) and who became inactive (the reverse), per day.</p>
<div class="chart small"><canvas id="chart-changes" role="img" aria-label="Bar chart of professionals becoming active and inactive per day"></canvas></div>
<details><summary>Daily values (${plural(daily.length, 'day')})</summary>
<div class="scroll"><table id="daily-table"><thead><tr><th>Date</th><th class="num">Active (end of day)</th><th class="num">Able at any moment</th><th class="num">Became active</th><th class="num">Became inactive</th></tr></thead>
<tbody>${rows}</tbody></table></div></details>
</section>`;
}

function periodSection(id: 'weekly' | 'monthly', rows: PeriodSnapshotRow[]): SafeHtml {
  const title = id === 'weekly' ? 'Weekly' : 'Monthly';
  const view = `availability_snapshot_${id}`;
  const periodHeader = id === 'weekly' ? 'Week (Monday)' : 'Month';
  if (rows.length === 0) return html`<section id="${id}"><h2>${title}</h2><p class="empty">No rows in <code>${view}</code>.</p></section>`;
  const body = rows.map((r) => {
    const partial = r.days_in_snapshot < r.days_in_period;
    const period = id === 'weekly' ? r.period_start : r.period_start.slice(0, 7);
    return html`<tr class="${partial ? 'partial' : ''}" data-period="${r.period_start}"><td>${period}</td><td class="num">${int(r.days_in_snapshot)} / ${int(r.days_in_period)}</td><td class="num">${int(r.active_at_period_end)}</td><td class="num">${decimal(r.avg_daily_active)}</td><td class="num">${int(r.max_daily_active)}</td></tr>`;
  });
  return html`<section id="${id}">
<h2>${title}</h2>
<p class="note">From <code>${view}</code>: average and highest daily active count, and the count on the period's last day. Lighter bars and italic rows are partial periods at the edges of the data.</p>
<div class="chart small"><canvas id="chart-${id}" role="img" aria-label="${title} active professionals"></canvas></div>
<div class="scroll"><table id="${id}-table"><thead><tr><th>${periodHeader}</th><th class="num">Days</th><th class="num">Active at end</th><th class="num">Avg daily</th><th class="num">Max daily</th></tr></thead>
<tbody>${body}</tbody></table></div>
</section>`;
}

function figure(label: string, key: string, value: number): SafeHtml {
  return html`<div><dt>${label}</dt><dd data-figure="${key}" data-value="${value}">${int(value)}</dd></div>`;
}

function ingestSection(ingest: IngestFigures | null): SafeHtml {
  if (!ingest) return html`<section id="ingest"><h2>Latest ingest</h2><p class="empty">No ingest has run against this database yet.</p></section>`;
  const files = ingest.files.map(
    (f) =>
      html`<tr><td><code>${f.file}</code></td><td>${badge(f.status === 'loaded' ? 'succeeded' : 'failed')} ${f.status}</td><td class="num">${int(f.rows_read)}</td><td class="num">${int(f.loaded)}</td><td class="num">${int(f.rejected)}</td><td class="num">${int(f.duplicates)}</td></tr>`,
  );
  const reasons = ingest.quarantine.top_reasons;
  const shown = reasons.reduce((sum, r) => sum + r.rows, 0);
  const reasonTable =
    reasons.length === 0
      ? html`<p class="note">No rows of this run are in <code>${ingest.quarantine.table}</code>.</p>`
      : html`<h3>Top reasons for rejected rows</h3>
<p class="note">Rows of <code>${ingest.quarantine.table}</code> last seen in run #${ingest.run_id}: ${plural(ingest.quarantine.rows, 'row')}${ingest.quarantine.rows > shown ? `, ${int(ingest.quarantine.rows - shown)} of them with less frequent reasons not listed` : ''}.</p>
<table id="reject-reasons"><thead><tr><th class="num">Rows</th><th>Field</th><th>Reason</th><th>First at</th></tr></thead><tbody>${reasons.map(
          (r) => html`<tr><td class="num">${int(r.rows)}</td><td><code>${r.field ?? '(line)'}</code></td><td>${r.reason}</td><td><code>${r.example_file}:${r.example_line}</code></td></tr>`,
        )}</tbody></table>`;
  return html`<section id="ingest">
<h2>Latest ingest <span class="badge ${ingest.status}">${ingest.status}</span></h2>
<p class="note">The <code>ingest</code> step of run #${ingest.run_id} (<code>instapro ${ingest.command}</code>, ${ingest.run_status === 'running' ? 'the run that wrote this report' : `run ${ingest.run_status}`}), from <code>pipeline_step_log</code>: ${dbTime(ingest.started_at)}, took ${duration(ingest.duration_ms)}.</p>
${ingest.error ? html`<div class="banner bad">${ingest.error}</div>` : ''}
<dl class="figures">${[figure('Rows read', 'rows_read', ingest.rows_read), figure('Loaded', 'loaded', ingest.loaded), figure('Rejected', 'rejected', ingest.rejected), figure('Duplicates', 'duplicates', ingest.duplicates)]}</dl>
${
  files.length > 0
    ? html`<table id="ingest-files"><thead><tr><th>File</th><th>Status</th><th class="num">Read</th><th class="num">Loaded</th><th class="num">Rejected</th><th class="num">Duplicates</th></tr></thead><tbody>${files}</tbody></table>`
    : ''
}
${reasonTable}
</section>`;
}

function tablesSection(tables: TableCount[]): SafeHtml {
  const rows = tables.map(
    (t) => html`<tr data-table="${t.table}" data-schema="${t.schema}"><td>${t.layer}</td><td><code>${t.schema}.${t.table}</code></td><td class="num" data-rows="${t.rows}">${int(t.rows)}</td></tr>`,
  );
  return html`<section id="tables">
<h2>Table row counts</h2>
<p class="note">The star schema, the snapshot and the raw layer, counted when the report was written.</p>
<table id="table-counts"><thead><tr><th>Layer</th><th>Table</th><th class="num">Rows</th></tr></thead><tbody>${rows}</tbody></table>
</section>`;
}

function testRow(t: DataTestResult, withDetail: boolean): SafeHtml {
  const where = [t.table, t.column].filter((x) => x !== null).join('.');
  const detail = t.error ? html`<pre>${t.error}</pre>` : t.sample.length > 0 ? html`<pre>${t.sample.map((row) => JSON.stringify(row)).join('\n')}</pre>` : '';
  return html`<tr data-test="${t.name}" data-status="${t.status}"><td>${badge(t.status)}</td><td><code>${t.name}</code>${withDetail ? detail : ''}</td><td>${t.type}</td><td><code>${where}</code></td><td>${t.severity}</td><td class="num">${t.failing_rows < 0 ? 'error' : int(t.failing_rows)}</td></tr>`;
}

function testsSection(data: ReportData): SafeHtml {
  const { report, ran_at, duration_ms, source } = data.tests;
  const when =
    source === 'report'
      ? html`<strong>run when this report was written</strong> (${utc(ran_at)}, ${duration(duration_ms)})`
      : html`<strong>run by the test step of the run that wrote this report</strong> (${utc(ran_at)}, ${duration(duration_ms)}${report.scope === 'incremental' ? '; on the rows its model build merged, where schema.yml declares how' : ''})`;
  const notPassing = report.results.filter((t) => t.status !== 'pass');
  const head = html`<thead><tr><th>Status</th><th>Test</th><th>Type</th><th>Table</th><th>Severity</th><th class="num">Failing rows</th></tr></thead>`;
  return html`<section id="tests">
<h2>Data tests</h2>
<p class="note">The schema and data tests of <code>sql/models/schema.yml</code>, ${when}, so they describe exactly the data above. Severity <code>error</code> fails the pipeline's quality gate; <code>warn</code> is reported only.</p>
<dl class="figures">${[figure('Passed', 'tests_passed', report.passed), figure('Warnings', 'tests_warnings', report.warnings), figure('Failed', 'tests_failed', report.errors)]}</dl>
${
  notPassing.length > 0
    ? html`<h3>Failing and warning tests</h3><table id="tests-not-passing">${head}<tbody>${notPassing.map((t) => testRow(t, true))}</tbody></table>`
    : html`<p class="note">Every test passes.</p>`
}
<details><summary>All ${plural(report.results.length, 'test')}</summary>
<div class="scroll"><table id="tests-all">${head}<tbody>${report.results.map((t) => testRow(t, false))}</tbody></table></div></details>
</section>`;
}

/** Builds the whole document. Pure: the same data and Chart.js give the same bytes. */
export function renderReport(data: ReportData, chartJs: ChartJsAsset): string {
  const csp = [
    "default-src 'none'",
    `script-src ${scriptHash(chartJs.source)} ${scriptHash(CLIENT_SCRIPT)}`,
    "style-src 'unsafe-inline'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const tests = data.tests.report;
  const ingestFailed = data.ingest !== null && data.ingest.status !== 'succeeded';
  const document = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="instapro report">
<link rel="icon" href="data:,">
<title>instapro availability report · ${utc(data.generated_at)}</title>
<style>${new SafeHtml(CSS)}</style>
</head>
<body>
<header>
<h1>instapro <span>availability report</span></h1>
<dl>
<div><dt>Generated</dt><dd id="generated-at">${utc(data.generated_at)}</dd></div>
<div><dt>Database</dt><dd id="database">${data.database}</dd></div>
<div><dt>Schemas</dt><dd>${data.schemas.mart}, ${data.schemas.raw}, ${data.schemas.staging}</dd></div>
<div><dt>Report run</dt><dd>#${data.report_run_id}</dd></div>
</dl>
</header>
<main>
${tests.errors > 0 ? html`<div class="banner bad" id="gate-failed">${plural(tests.errors, 'data test')} with severity error failed: this data did not pass the quality gate. See <a href="#tests">Data tests</a>.</div>` : ''}
${ingestFailed ? html`<div class="banner warn">The latest ingest (run #${data.ingest?.run_id}) failed; see <a href="#ingest">Latest ingest</a>.</div>` : ''}
${summaryCards(data)}
${dailySection(data.snapshot.daily)}
<div class="grid2">
${periodSection('weekly', data.snapshot.weekly)}
${periodSection('monthly', data.snapshot.monthly)}
</div>
${ingestSection(data.ingest)}
${tablesSection(data.tables)}
${testsSection(data)}
</main>
<footer>Written by <code>instapro report</code>. Self-contained: charts drawn with Chart.js ${chartJs.version} (MIT License), inlined.</footer>
${jsonScriptTag(REPORT_DATA_ELEMENT_ID, data)}
${inlineScript(chartJs.source)}
${inlineScript(CLIENT_SCRIPT)}
</body>
</html>
`;
  return document.value;
}
