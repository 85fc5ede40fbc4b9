import { mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EVENT_LOG_HEADER } from '../../src/ingest/event-log-format.js';

export const HEADER = EVENT_LOG_HEADER.join(';');
export const REAL_EVENT_LOG = path.resolve(import.meta.dirname, '../../../shared/data/event_log.csv');
export const SAMPLE_EVENT_LOG = path.resolve(import.meta.dirname, '../../data/sample/event_log.csv');

let dir: string | undefined;

/** Writes an event log (header added) to a fresh temporary file and returns its path. */
export async function writeEventLogFile(lines: readonly string[], options: { header?: boolean; name?: string; eol?: string; bom?: boolean } = {}): Promise<string> {
  dir ??= await mkdtemp(path.join(tmpdir(), 'instapro-logs-'));
  const file = path.join(dir, options.name ?? `log-${Math.random().toString(36).slice(2)}.csv`);
  const eol = options.eol ?? '\n';
  const content = [...(options.header === false ? [] : [HEADER]), ...lines].join(eol) + (lines.length > 0 ? eol : '');
  await writeFile(file, (options.bom ? '\uFEFF' : '') + content);
  return file;
}

/** One event line; `meta` defaults to a valid proposal meta for proposed events. */
export function eventLine(id: number, type: string, professional: number, at: string, meta?: string): string {
  return [id, type, professional, at, meta ?? (type === 'proposed' ? '60_tuinonderhoud_maintain-garden_7.63' : '')].join(';');
}

let redeliveries = 0;
/**
 * The same file delivered again (a new modification time, as a fresh copy or upload gets): the
 * manifest then no longer skips it as unchanged, so its rows are read and classified again.
 */
export async function redeliver(file: string): Promise<string> {
  redeliveries += 1;
  const later = new Date(Date.now() + redeliveries * 1000);
  await utimes(file, later, later);
  return file;
}
