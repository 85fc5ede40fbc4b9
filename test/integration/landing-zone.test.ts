/**
 * The local landing zone: directories, glob patterns and gzip as inputs, and the manifest that
 * skips an object delivered again unchanged. Expected rows are written by the test itself.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.js';
import type { PipelineSession } from '../../src/pipeline/session.js';
import { InputFileError } from '../../src/util/errors.js';
import { BACKENDS, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { HEADER, eventLine } from '../helpers/event-log-files.js';

const logText = (lines: readonly string[]): string => [HEADER, ...lines].join('\n') + '\n';

describe.each(BACKENDS)('the local landing zone on the %s backend', (backend) => {
  let db: TestDatabase;
  let session: PipelineSession;
  let zone: string;

  const raw = () => `"${session.ctx.schemas.raw}"`;
  const events = async () =>
    (await session.ctx.db.query<{ event_id: number; source_file: string; source_line: number }>(`SELECT event_id, source_file, source_line FROM ${raw()}.event ORDER BY event_id`)).rows;
  const manifest = async () =>
    (
      await session.ctx.db.query<{ source: string; size_bytes: number; sha256: string; status: string; rows_read: number; loaded: number; duplicates: number; run_id: number }>(
        `SELECT source, size_bytes, sha256, status, rows_read, loaded, duplicates, run_id FROM ${raw()}.input_manifest ORDER BY source`,
      )
    ).rows.map((r) => ({ ...r, size_bytes: Number(r.size_bytes), rows_read: Number(r.rows_read), loaded: Number(r.loaded), duplicates: Number(r.duplicates), run_id: Number(r.run_id) }));
  const write = async (relative: string, content: string | Buffer): Promise<string> => {
    const file = path.join(zone, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
    return file;
  };
  const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    session = await db.session('ingest', { INSTAPRO_MAX_REJECT_RATIO: '0.5' });
  });
  afterAll(async () => {
    await session?.close({ ok: true });
    await db?.cleanup();
  });
  beforeEach(async () => {
    await session.ctx.db.exec(`TRUNCATE ${raw()}.event, ${raw()}.quarantine, ${raw()}.input_manifest`);
    zone = await mkdtemp(path.join(tmpdir(), 'instapro-logs-zone-'));
    return () => rm(zone, { recursive: true, force: true });
  });

  it('reads every *.csv and *.csv.gz below a directory, sorted by path, and nothing else', async () => {
    await write('date=2020-01-02/part-1.csv.gz', gzipSync(logText([eventLine(3, 'created_account', 12, '2020-01-02 09:00:00')])));
    await write('date=2020-01-01/part-2.csv', logText([eventLine(2, 'created_account', 11, '2020-01-01 10:00:00')]));
    await write('date=2020-01-01/part-1.csv', logText([eventLine(1, 'created_account', 10, '2020-01-01 09:00:00')]));
    await write('date=2020-01-01/README.txt', 'not an event log');
    await write('date=2020-01-01/.part-3.csv.uploading', 'half an upload');
    await write('date=2020-01-01/.hidden.csv', 'a partial upload named with a dot');

    const result = await ingest(session.ctx, [zone]);
    expect(result.files.map((f) => path.relative(zone, f.file))).toEqual(['date=2020-01-01/part-1.csv', 'date=2020-01-01/part-2.csv', 'date=2020-01-02/part-1.csv.gz']);
    expect(result).toMatchObject({ rows_read: 3, loaded: 3, rejected: 0, skipped_unchanged: 0 });
    expect((await events()).map((e) => [e.event_id, path.relative(zone, e.source_file), e.source_line])).toEqual([
      [1, 'date=2020-01-01/part-1.csv', 2],
      [2, 'date=2020-01-01/part-2.csv', 2],
      [3, 'date=2020-01-02/part-1.csv.gz', 2],
    ]);
  });

  it('expands glob patterns (*, ?, [..], **) to the files they match, sorted', async () => {
    const a = await write('in/2020-01-01.csv', logText([eventLine(1, 'created_account', 10, '2020-01-01 09:00:00')]));
    const b = await write('in/2020-01-02.csv', logText([eventLine(2, 'created_account', 10, '2020-01-02 09:00:00')]));
    const c = await write('in/deep/er/2020-01-03.csv', logText([eventLine(3, 'created_account', 10, '2020-01-03 09:00:00')]));
    await write('in/2020-02-01.csv', logText([eventLine(4, 'created_account', 10, '2020-02-01 09:00:00')]));

    expect((await ingest(session.ctx, [path.join(zone, 'in/2020-01-0[12].csv')])).files.map((f) => f.file)).toEqual([a, b]);
    expect((await ingest(session.ctx, [path.join(zone, 'in/**/2020-01-?3.csv')])).files.map((f) => f.file)).toEqual([c]);
    // "**" also matches no directory at all; a file named twice (by two patterns) is read once.
    const both = await ingest(session.ctx, [path.join(zone, 'in/**/*-01-*.csv'), path.join(zone, 'in/*.csv')]);
    expect(both.files.map((f) => [f.file, f.status])).toEqual([
      [a, 'skipped_unchanged'],
      [b, 'skipped_unchanged'],
      [c, 'skipped_unchanged'],
      [path.join(zone, 'in/2020-02-01.csv'), 'loaded'],
    ]);
    expect((await events()).map((e) => e.event_id)).toEqual([1, 2, 3, 4]);
  });

  it('reads a gzip file as a stream exactly as the plain file', async () => {
    const lines = Array.from({ length: 30_000 }, (_, i) => eventLine(i + 1, 'proposed', 100 + (i % 50), '2020-01-05 10:00:00', `${i % 300}_naam_name-${i}_1.${String(i % 100).padStart(2, '0')}`));
    const gz = await write('big.csv.gz', gzipSync(logText(lines)));
    const result = await ingest(session.ctx, [gz]);
    expect(result).toMatchObject({ rows_read: lines.length, loaded: lines.length, rejected: 0 });
    const { rows } = await session.ctx.db.query<{ n: number; ids: string; metas: string }>(
      `SELECT count(*)::integer AS n, sum(event_id)::text AS ids, sum(length(meta_data))::text AS metas FROM ${raw()}.event`,
    );
    expect(rows[0]).toEqual({
      n: lines.length,
      ids: String((lines.length * (lines.length + 1)) / 2),
      metas: String(lines.reduce((sum, l) => sum + (l.split(';')[4] as string).length, 0)),
    });
    // The manifest holds the stored (compressed) size and the SHA-256 of the stored bytes.
    expect(await manifest()).toEqual([
      { source: gz, size_bytes: (await stat(gz)).size, sha256: await sha256(gz), status: 'loaded', rows_read: lines.length, loaded: lines.length, duplicates: 0, run_id: session.ctx.runId },
    ]);
  });

  it('records each file in the manifest and skips it unread while its size, mtime and inode stay the same', async () => {
    const file = await write('day.csv', logText([eventLine(1, 'created_account', 10, '2020-01-01 09:00:00'), eventLine(2, 'created_account', 11, '2020-01-01 10:00:00')]));
    // A whole second, so that it can be set again exactly below (utimes takes no nanoseconds).
    const delivered = new Date('2026-01-01T00:00:00Z');
    await utimes(file, delivered, delivered);
    expect(await ingest(session.ctx, [file])).toMatchObject({ loaded: 2, skipped_unchanged: 0 });
    expect(await manifest()).toEqual([{ source: file, size_bytes: (await stat(file)).size, sha256: await sha256(file), status: 'loaded', rows_read: 2, loaded: 2, duplicates: 0, run_id: session.ctx.runId }]);

    // Same size, same mtime, same inode, different bytes: skipped means not read, so event 9 stays out.
    await writeFile(file, logText([eventLine(9, 'created_account', 10, '2020-01-01 09:00:00'), eventLine(2, 'created_account', 11, '2020-01-01 10:00:00')]));
    await utimes(file, delivered, delivered);
    const again = await ingest(session.ctx, [file]);
    expect(again).toMatchObject({ rows_read: 0, loaded: 0, duplicates: 0, skipped_unchanged: 1, files: [{ file, status: 'skipped_unchanged', rows_read: 0 }] });
    expect((await events()).map((e) => e.event_id)).toEqual([1, 2]);
  });

  it('reads a changed file again and classifies its rows as new, duplicate or conflicting', async () => {
    const file = await write('day.csv', logText([eventLine(1, 'created_account', 10, '2020-01-01 09:00:00'), eventLine(2, 'created_account', 11, '2020-01-01 10:00:00')]));
    await ingest(session.ctx, [file]);
    // A late event appended, and event 2 delivered with different content.
    await writeFile(file, logText([eventLine(1, 'created_account', 10, '2020-01-01 09:00:00'), eventLine(2, 'created_account', 99, '2020-01-01 10:00:00'), eventLine(3, 'created_account', 12, '2020-01-01 23:59:00')]));
    const again = await ingest(session.ctx, [file]);
    // The conflict is with the file's own earlier delivery, not another input.
    expect(again).toMatchObject({ rows_read: 3, loaded: 1, duplicates: 1, rejected: 1, skipped_unchanged: 0, files: [{ conflicts_with_other_inputs: 0 }] });
    expect((await events()).map((e) => e.event_id)).toEqual([1, 2, 3]);
    expect(await manifest()).toMatchObject([{ source: file, size_bytes: (await stat(file)).size, sha256: await sha256(file), rows_read: 3, loaded: 1, duplicates: 1 }]);
  });

  it('reads a file whose last load was rejected (reject ratio) again, and records the rejection', async () => {
    const file = await write('bad.csv', logText([eventLine(1, 'created_account', 10, '2020-01-01 09:00:00'), 'garbage', 'more garbage']));
    expect(await ingest(session.ctx, [file])).toMatchObject({ loaded: 0, files: [{ status: 'rejected' }] });
    expect(await manifest()).toMatchObject([{ source: file, status: 'rejected', loaded: 0 }]);
    expect(await ingest(session.ctx, [file])).toMatchObject({ skipped_unchanged: 0, rows_read: 3 });
  });

  it('fails on an empty directory, a pattern matching nothing and a directory without event logs, naming the input', async () => {
    const empty = path.join(zone, 'empty');
    await mkdir(empty);
    await write('other/notes.txt', 'no logs here');
    await expect(ingest(session.ctx, [empty])).rejects.toThrow(new InputFileError(`${empty}: directory holds no *.csv or *.csv.gz file`));
    await expect(ingest(session.ctx, [path.join(zone, 'other')])).rejects.toThrow(/other: directory holds no \*\.csv or \*\.csv\.gz file$/);
    const pattern = path.join(zone, 'nowhere/*.csv');
    await expect(ingest(session.ctx, [pattern])).rejects.toThrow(new InputFileError(`${pattern}: no file matches this pattern`));
  });

  it('refuses a file that is not gzip, or a gzip cut short, with the file named, and loads nothing of it or of the files before it', async () => {
    const good = await write('a.csv', logText([eventLine(1, 'created_account', 10, '2020-01-01 09:00:00')]));
    const notGzip = await write('b.csv.gz', logText([eventLine(2, 'created_account', 10, '2020-01-01 09:00:00')]));
    const error = await ingest(session.ctx, [good, notGzip]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputFileError);
    expect((error as Error).message).toMatch(new RegExp(`^${notGzip.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a readable gzip file`));
    expect(await events()).toEqual([]);

    // Cut short: its header is fine, so the failure comes mid-load, after rows went to COPY.
    const lines = Array.from({ length: 50_000 }, (_, i) => eventLine(100 + i, 'created_account', 10, '2020-01-01 09:00:00'));
    const cut = await write('c.csv.gz', gzipSync(logText(lines)));
    await truncate(cut, Math.floor((await stat(cut)).size / 2));
    const failure = await ingest(session.ctx, [cut]).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(InputFileError);
    expect((failure as Error).message).toContain(`${cut}: not a readable gzip file`);
    expect(await events()).toEqual([]);
    expect(await manifest()).toEqual([]);
  });
});
