/**
 * The HTML report's building blocks and the whole document, on a made-up dataset full of
 * hostile strings: everything from the database must come out as text, never as markup, and the
 * embedded JSON must read back exactly.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadChartJs } from '../../src/report/chart-js.js';
import type { ChartJsAsset } from '../../src/report/chart-js.js';
import { CLIENT_SCRIPT } from '../../src/report/client-script.js';
import { SafeHtml, escapeHtml, html, inlineScript, jsonForScript, jsonScriptTag, scriptHash } from '../../src/report/html.js';
import type { ReportData } from '../../src/report/report-data.js';
import { renderReport } from '../../src/report/render-report.js';

const EVIL = `</script><script>window.pwned=1</script><!-- <img src=x onerror="alert('x')"> & \u2028`;

/** A stand-in for Chart.js: small, and recognisable in the output. */
const FAKE_CHART_JS: ChartJsAsset = { version: '4.0.0-test', source: 'window.Chart = function FakeChart() {};' };

function fakeReportData(): ReportData {
  return {
    generated_at: '2026-01-02T03:04:05.678Z',
    database: `PostgreSQL server db${EVIL}:5432/warehouse`,
    schemas: { mart: 'instapro', raw: 'instapro_raw', staging: 'instapro_staging' },
    report_run_id: 7,
    snapshot: {
      daily: [
        { date: '2020-01-01', active_professionals_count: 2, able_at_any_moment_count: 2, became_active_count: 2, became_inactive_count: 0 },
        { date: '2020-01-02', active_professionals_count: 2, able_at_any_moment_count: 3, became_active_count: 1, became_inactive_count: 1 },
        { date: '2020-01-03', active_professionals_count: 1234, able_at_any_moment_count: 1300, became_active_count: 1232, became_inactive_count: 0 },
      ],
      weekly: [
        { period_start: '2019-12-30', first_date: '2020-01-01', last_date: '2020-01-03', days_in_snapshot: 3, days_in_period: 7, active_at_period_end: 1234, avg_daily_active: 412.67, max_daily_active: 1234 },
      ],
      monthly: [
        { period_start: '2020-01-01', first_date: '2020-01-01', last_date: '2020-01-03', days_in_snapshot: 3, days_in_period: 31, active_at_period_end: 1234, avg_daily_active: 412.67, max_daily_active: 1234 },
      ],
    },
    ingest: {
      run_id: 5,
      command: 'run',
      run_status: 'succeeded',
      status: 'succeeded',
      started_at: '2026-01-02 03:00:00.123+00',
      finished_at: '2026-01-02 03:00:01.456+00',
      duration_ms: 1333,
      rows_read: 12345,
      loaded: 12000,
      rejected: 3,
      duplicates: 342,
      error: null,
      files: [{ file: `data/${EVIL}.csv`, status: 'loaded', rows_read: 12345, loaded: 12000, rejected: 3, duplicates: 342 }],
      quarantine: {
        table: 'instapro_raw.quarantine',
        rows: 3,
        top_reasons: [
          { field: 'event_type', reason: `event_type must be one of …, got "${EVIL}"`, rows: 2, example_file: `data/${EVIL}.csv`, example_line: 17 },
          { field: null, reason: 'expected 5 fields separated by ";", found 4', rows: 1, example_file: 'data/a.csv', example_line: 99 },
        ],
      },
    },
    tables: [
      { layer: 'star schema', schema: 'instapro', table: 'fct_event', rows: 12000 },
      { layer: 'snapshot', schema: 'instapro', table: 'availability_snapshot', rows: 3 },
    ],
    tests: {
      source: 'report',
      ran_at: '2026-01-02T03:04:06.000Z',
      duration_ms: 2500,
      report: {
        scope: 'full',
        passed: 1,
        warnings: 1,
        errors: 1,
        results: [
          { name: 'fct_event.event_id.unique', type: 'unique', table: 'fct_event', column: 'event_id', severity: 'error', status: 'pass', failing_rows: 0, sample: [] },
          { name: 'service_name_changed', type: 'custom', table: null, column: null, severity: 'warn', status: 'warn', failing_rows: 1, sample: [{ service_id: 3, service_name_en: EVIL }] },
          { name: `broken${EVIL}`, type: 'custom', table: null, column: null, severity: 'error', status: 'fail', failing_rows: -1, sample: [], error: `syntax error at ${EVIL}` },
        ],
      },
    },
  };
}

/** The text of every <script> element (executed or not) in document order. */
function scripts(document: string): { attributes: string; body: string }[] {
  return [...document.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)].map((m) => ({ attributes: m[1] ?? '', body: m[2] ?? '' }));
}

describe('escapeHtml and the html tag', () => {
  it('escapes the five characters that matter in content and attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });

  it('escapes interpolated values, joins arrays, keeps SafeHtml and drops null, undefined and false', () => {
    const items = ['<b>', new SafeHtml('<i>ok</i>')];
    const out = html`<p title="${'"onmouseover="x'}">${items}${null}${undefined}${false}${0}${html`<br>`}</p>`;
    expect(out).toBeInstanceOf(SafeHtml);
    expect(out.value).toBe('<p title="&quot;onmouseover=&quot;x">&lt;b&gt;<i>ok</i>0<br></p>');
  });
});

describe('JSON embedded in a script element', () => {
  it('contains no character that can end the element or open a comment, and parses back unchanged', () => {
    const data = { text: EVIL, nested: [{ a: '<!--', b: '-->' }], n: 1.5, big: 12345678901234567890n };
    const json = jsonForScript(data);
    expect(json).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(json)).toEqual({ ...data, big: '12345678901234567890' });
  });

  it('is a non-executed application/json block', () => {
    const tag = jsonScriptTag('report-data', { x: '</script>' }).value;
    expect(tag).toMatch(/^<script type="application\/json" id="report-data">/);
    expect(scripts(tag)).toHaveLength(1);
  });

  it('refuses to inline a script that would end its element early', () => {
    expect(() => inlineScript('var s = "</script>";')).toThrow(/cannot be inlined/);
    expect(() => inlineScript('var s = "<!--";')).toThrow(/cannot be inlined/);
    expect(inlineScript('var ok = 1 < 2;').value).toBe('<script>var ok = 1 < 2;</script>');
  });
});

describe('renderReport', () => {
  const data = fakeReportData();
  const document = renderReport(data, FAKE_CHART_JS);

  it('is a whole HTML document with exactly three script elements: the data, Chart.js and the page script', () => {
    expect(document.startsWith('<!DOCTYPE html>')).toBe(true);
    const found = scripts(document);
    expect(found.map((s) => s.attributes.trim())).toEqual(['type="application/json" id="report-data"', '', '']);
    expect(found[1]?.body).toBe(FAKE_CHART_JS.source);
    expect(found[2]?.body).toBe(CLIENT_SCRIPT);
  });

  it('never lets data become markup', () => {
    // The hostile string appears many times; none of its tags survive as tags.
    expect(document).not.toContain('<img');
    expect(document).not.toContain('window.pwned=1</script>');
    expect(document).not.toContain('<!-- <img');
    expect(document.match(/<script/g)).toHaveLength(3);
    // ...but it is all there, escaped, as text.
    expect(document).toContain('&lt;/script&gt;&lt;script&gt;window.pwned=1&lt;/script&gt;&lt;!-- &lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt; &amp;');
    expect(document).toContain('<code>data/&lt;/script&gt;');
  });

  it('embeds the whole dataset as JSON that reads back exactly', () => {
    const body = scripts(document)[0]?.body ?? '';
    expect(JSON.parse(body)).toEqual(data);
  });

  it('allows exactly its two inline scripts by hash and nothing from the network', () => {
    // The attribute as a browser reads it (its quotes are escaped in the markup).
    const attribute = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(document)?.[1] ?? '';
    const csp = attribute.replaceAll('&#39;', "'").replaceAll('&amp;', '&');
    const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
    expect(csp).toContain(`script-src ${hash(FAKE_CHART_JS.source)} ${hash(CLIENT_SCRIPT)};`);
    expect(scriptHash(CLIENT_SCRIPT)).toBe(hash(CLIENT_SCRIPT));
    expect(csp).toContain("default-src 'none'");
    expect(document).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('shows the figures with thousands separators and machine-readable values', () => {
    expect(document).toContain('<dd data-figure="rows_read" data-value="12345">12,345</dd>');
    expect(document).toContain('<dd data-figure="duplicates" data-value="342">342</dd>');
    expect(document).toContain('data-table="fct_event" data-schema="instapro"');
    expect(document).toContain('<td class="num" data-rows="12000">12,000</td>');
    expect(document).toContain('2026-01-02 03:04:05 UTC');
  });

  it('marks a failed quality gate, lists failing tests first and says the tests ran at report time', () => {
    expect(document).toContain('id="gate-failed"');
    const notPassing = /<table id="tests-not-passing">([\s\S]*?)<\/table>/.exec(document)?.[1] ?? '';
    expect(notPassing).toContain('data-status="fail"');
    expect(notPassing).toContain('data-status="warn"');
    expect(notPassing).not.toContain('data-status="pass"');
    expect(document).toContain('run when this report was written');
  });

  it("says when the results are the writing run's own test step, and its incremental scope", () => {
    const fromRun: ReportData = { ...data, tests: { ...data.tests, source: 'run', report: { ...data.tests.report, scope: 'incremental' } } };
    const out = renderReport(fromRun, FAKE_CHART_JS);
    expect(out).toContain('run by the test step of the run that wrote this report');
    expect(out).toContain('on the rows its model build merged, where schema.yml declares how');
    expect(out).not.toContain('run when this report was written');
  });

  it('marks partial weeks and months', () => {
    expect(document).toMatch(/<tr class="partial" data-period="2019-12-30">/);
    expect(document).toContain('3 / 31');
  });

  it('renders an empty database without failing', () => {
    const empty: ReportData = { ...data, snapshot: { daily: [], weekly: [], monthly: [] }, ingest: null, tables: [] };
    const out = renderReport(empty, FAKE_CHART_JS);
    expect(out).toContain('The snapshot has no rows yet');
    expect(out).toContain('No ingest has run against this database yet.');
    expect(out).not.toContain('<canvas id="chart-daily"');
  });
});

describe('loadChartJs', () => {
  it('reads Chart.js 4 UMD build from node_modules, without its source-map comment', async () => {
    const chart = await loadChartJs();
    expect(chart.version).toMatch(/^4\./);
    expect(chart.source).toContain(`Chart.js v${chart.version}`);
    expect(chart.source).toContain('window.Chart=');
    expect(chart.source).not.toContain('sourceMappingURL');
    expect(() => inlineScript(chart.source)).not.toThrow();
  });
});
