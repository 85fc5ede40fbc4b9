import type { IngestResult } from '../ingest/ingest.js';
import type { ModelResult } from '../model/build-model.js';
import type { DataTestReport } from '../quality/run-data-tests.js';
import type { SnapshotResult } from '../snapshot/availability-snapshot.js';

const n = (value: number): string => value.toLocaleString('en-US');

/** Human-readable step summaries, printed by the CLI when --json is not given. */
export function describeIngest(r: IngestResult): string {
  const skipped = r.skipped_unchanged > 0 ? `, ${n(r.skipped_unchanged)} file${r.skipped_unchanged === 1 ? '' : 's'} skipped unchanged` : '';
  const lines = [`ingest: ${n(r.rows_read)} rows read, ${n(r.loaded)} loaded, ${n(r.rejected)} rejected, ${n(r.duplicates)} duplicates${skipped}`];
  for (const f of r.files) {
    if (f.status === 'skipped_unchanged') {
      lines.push(`  ${f.file}: skipped, unchanged since it was loaded`);
      continue;
    }
    lines.push(`  ${f.file}: ${n(f.rows_read)} read, ${n(f.loaded)} loaded, ${n(f.rejected)} rejected, ${n(f.duplicates)} duplicates${f.status === 'rejected' ? ' (NOT loaded: too many rejects)' : ''}`);
    for (const s of f.first_rejects) lines.push(`    line ${s.line}: ${s.reason}`);
  }
  if (r.rejected > 0) lines.push(`  rejected lines are in ${r.quarantine}`);
  return lines.join('\n');
}

export function describeModel(r: ModelResult): string {
  const how =
    r.mode === 'incremental'
      ? `incremental, ${n(r.events_merged)} new event${r.events_merged === 1 ? '' : 's'} merged (loaded after run ${r.after_run_id})`
      : `full refresh (${r.full_refresh_reason}), ${n(r.events_merged)} events`;
  if (r.tables !== null) return `model: ${how}\n  ${Object.entries(r.tables).map(([table, count]) => `${table} ${n(count)}`).join(', ')}`;
  const changed = Object.entries(r.changes).filter(([, c]) => c.inserted + c.updated + c.deleted > 0);
  const change = (c: { inserted: number; updated: number; deleted: number }) =>
    [c.inserted > 0 ? `+${n(c.inserted)}` : '', c.updated > 0 ? `~${n(c.updated)}` : '', c.deleted > 0 ? `-${n(c.deleted)}` : ''].filter(Boolean).join(' ');
  return changed.length === 0 ? `model: ${how}` : `model: ${how}\n  ${changed.map(([table, c]) => `${table} ${change(c)}`).join(', ')}`;
}

export function describeSnapshot(r: SnapshotResult): string {
  const mode = r.mode === 'full-refresh' ? 'full refresh' : r.mode === 'incremental' ? 'incremental' : 'range';
  if (r.from === null) return r.mode === 'incremental' ? 'snapshot: incremental, no day changed' : `snapshot: ${mode}, no events, nothing to compute`;
  return `snapshot: ${mode}, ${n(r.days_written)} day${r.days_written === 1 ? '' : 's'} recomputed (${r.from} .. ${r.to})`;
}

export function describeDataTests(r: DataTestReport): string {
  const lines = [`test: ${r.passed} passed, ${r.warnings} warnings, ${r.errors} failed${r.scope === 'incremental' ? ' (new rows only where declared)' : ''}`];
  for (const t of r.results.filter((x) => x.status !== 'pass')) {
    lines.push(`  ${t.status.toUpperCase()} ${t.name}${t.error ? `: ${t.error}` : `: ${n(t.failing_rows)} failing row${t.failing_rows === 1 ? '' : 's'}`}`);
    for (const row of t.sample) lines.push(`    ${JSON.stringify(row)}`);
  }
  return lines.join('\n');
}
