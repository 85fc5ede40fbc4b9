import type { QueryResult } from '../db/database.js';

export type OutputFormat = 'table' | 'csv' | 'json';

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = cellText(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Query results as psql-style aligned text, RFC 4180 CSV, or a JSON array of row objects. */
export function formatRows(result: QueryResult, format: OutputFormat): string {
  const { rows, fields } = result;
  if (format === 'json') return JSON.stringify(rows, null, 2);
  if (format === 'csv') return [fields.map(csvCell).join(','), ...rows.map((r) => fields.map((f) => csvCell(r[f])).join(','))].join('\n');

  const cells = rows.map((r) => fields.map((f) => cellText(r[f])));
  const widths = fields.map((f, i) => Math.max(f.length, ...cells.map((c) => (c[i] ?? '').length)));
  const numeric = fields.map((f) => rows.length > 0 && rows.every((r) => r[f] === null || typeof r[f] === 'number' || /^-?\d+(\.\d+)?$/.test(cellText(r[f]))));
  const line = (values: string[], alignRight: boolean[]) =>
    ` ${values.map((v, i) => (alignRight[i] ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0))).join(' | ')}`.trimEnd();
  const header = line(
    fields.map((f, i) => {
      const pad = (widths[i] ?? 0) - f.length;
      return ' '.repeat(Math.floor(pad / 2)) + f + ' '.repeat(Math.ceil(pad / 2));
    }),
    fields.map(() => false),
  );
  const separator = widths.map((w) => '-'.repeat(w + 2)).join('+');
  const footer = `(${rows.length} row${rows.length === 1 ? '' : 's'})`;
  return [header, separator, ...cells.map((c) => line(c, numeric)), footer].join('\n');
}
