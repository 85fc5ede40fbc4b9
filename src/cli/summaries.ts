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
  return `model: ${Object.entries(r.tables)
    .map(([table, count]) => `${table} ${n(count)}`)
    .join(', ')}`;
}

export function describeSnapshot(r: SnapshotResult): string {
  return r.from === null ? 'snapshot: no events, nothing to compute' : `snapshot: ${n(r.days_written)} days written (${r.from} .. ${r.to})${r.full_rebuild ? ', full rebuild' : ''}`;
}

export function describeDataTests(r: DataTestReport): string {
  const lines = [`test: ${r.passed} passed, ${r.warnings} warnings, ${r.errors} failed`];
  for (const t of r.results.filter((x) => x.status !== 'pass')) {
    lines.push(`  ${t.status.toUpperCase()} ${t.name}${t.error ? `: ${t.error}` : `: ${n(t.failing_rows)} failing row${t.failing_rows === 1 ? '' : 's'}`}`);
    for (const row of t.sample) lines.push(`    ${JSON.stringify(row)}`);
  }
  return lines.join('\n');
}
