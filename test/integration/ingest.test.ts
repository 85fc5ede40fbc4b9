import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRejectedFile, ingest } from '../../src/ingest/ingest.js';
import { MAX_LINE_BYTES } from '../../src/ingest/read-event-log.js';
import type { PipelineSession } from '../../src/pipeline/session.js';
import { InputFileError } from '../../src/util/errors.js';
import { BACKENDS, SERVER_URL, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { eventLine, redeliver, writeEventLogFile } from '../helpers/event-log-files.js';

describe.each(BACKENDS)('ingest on the %s backend', (backend) => {
  let db: TestDatabase;
  let session: PipelineSession;

  const raw = () => `"${session.ctx.schemas.raw}"`;
  const count = async (sql: string): Promise<number> => Number((await session.ctx.db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM ${sql}`)).rows[0]?.n);
  const reset = async () => session.ctx.db.exec(`TRUNCATE ${raw()}.event, ${raw()}.quarantine, ${raw()}.input_manifest`);

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    session = await db.session('ingest', { INSTAPRO_MAX_REJECT_RATIO: '1' });
  });
  afterAll(async () => {
    await session?.close({ ok: true });
    await db?.cleanup();
  });

  it('loads valid rows with their source file and line, typed', async () => {
    await reset();
    const file = await writeEventLogFile([
      eventLine(1, 'created_account', 10, '2020-01-01 09:00:00'),
      eventLine(2, 'proposed', 10, '2020-01-02 10:11:12', '211_keuken-gereedmaken_prepare-kitchen_5.14'),
    ]);
    const result = await ingest(session.ctx, [file]);
    expect(result).toMatchObject({ rows_read: 2, loaded: 2, rejected: 0, duplicates: 0 });
    const { rows } = await session.ctx.db.query(`SELECT event_id, event_type, professional_id, created_at, meta_data, source_file, source_line FROM ${raw()}.event ORDER BY event_id`);
    expect(rows).toEqual([
      { event_id: 1, event_type: 'created_account', professional_id: 10, created_at: '2020-01-01 09:00:00', meta_data: null, source_file: file, source_line: 2 },
      { event_id: 2, event_type: 'proposed', professional_id: 10, created_at: '2020-01-02 10:11:12', meta_data: '211_keuken-gereedmaken_prepare-kitchen_5.14', source_file: file, source_line: 3 },
    ]);
  });

  it('loads text COPY would read differently exactly as written, on both load paths', async () => {
    await reset();
    // Non-ASCII names, a backslash, a quote, a lone CR and a tab are valid; they are sent escaped.
    const metas = ['7_één keer\\schoonmaak_clean "once"_12.50', 'note \\N with\ra tab\tand \\. inside'];
    const lines = [
      eventLine(1, 'proposed', 10, '2020-01-01 09:00:00', metas[0]),
      eventLine(2, 'created_account', 10, '2020-01-01 09:00:00', metas[1]),
      `3;proposed;10;2020-01-01 09:00:00;8_tuin\\;x`, // rejected: 6 fields; its raw line holds a backslash and a ";"
    ];
    const file = await writeEventLogFile(lines);
    const expectLoaded = async () => {
      const { rows } = await session.ctx.db.query(`SELECT event_id, meta_data FROM ${raw()}.event ORDER BY event_id`);
      expect(rows).toEqual([
        { event_id: 1, meta_data: metas[0] },
        { event_id: 2, meta_data: metas[1] },
      ]);
      const q = await session.ctx.db.query(`SELECT source_line, raw_line FROM ${raw()}.quarantine`);
      expect(q.rows).toEqual([{ source_line: 4, raw_line: lines[2] }]);
    };
    expect(await ingest(session.ctx, [file])).toMatchObject({ loaded: 2, rejected: 1 });
    await expectLoaded();
    // Again: every event_id is taken, so the direct load gives way to the classifying load.
    expect(await ingest(session.ctx, [await redeliver(file)])).toMatchObject({ loaded: 0, rejected: 1, duplicates: 2 });
    await expectLoaded();
  });

  it('is idempotent: the same file again adds nothing and counts duplicates', async () => {
    await reset();
    const file = await writeEventLogFile([eventLine(1, 'created_account', 10, '2020-01-01 09:00:00'), eventLine(2, 'became_able_to_propose', 10, '2020-01-01 10:00:00')]);
    await ingest(session.ctx, [file]);
    const again = await ingest(session.ctx, [await redeliver(file)]);
    expect(again).toMatchObject({ rows_read: 2, loaded: 0, rejected: 0, duplicates: 2, skipped_unchanged: 0 });
    expect(await count(`${raw()}.event`)).toBe(2);
  });

  it('loads only the new part of an overlapping file', async () => {
    await reset();
    const first = await writeEventLogFile([eventLine(1, 'created_account', 10, '2020-01-01 09:00:00'), eventLine(2, 'created_account', 11, '2020-01-01 09:30:00')]);
    const overlapping = await writeEventLogFile([eventLine(2, 'created_account', 11, '2020-01-01 09:30:00'), eventLine(3, 'created_account', 12, '2020-01-01 10:00:00')]);
    await ingest(session.ctx, [first]);
    const result = await ingest(session.ctx, [overlapping]);
    expect(result).toMatchObject({ rows_read: 2, loaded: 1, duplicates: 1, rejected: 0 });
    expect(await count(`${raw()}.event`)).toBe(3);
  });

  it('skips a row identical to an earlier one in the same file as a duplicate', async () => {
    await reset();
    const line = eventLine(5, 'became_able_to_propose', 10, '2020-01-01 10:00:00');
    const file = await writeEventLogFile([line, eventLine(6, 'created_account', 10, '2020-01-01 09:00:00'), line]);
    expect(await ingest(session.ctx, [file])).toMatchObject({ rows_read: 3, loaded: 2, duplicates: 1, rejected: 0 });
  });

  it('quarantines a conflicting duplicate within a file; the first seen wins', async () => {
    await reset();
    const file = await writeEventLogFile([eventLine(7, 'became_able_to_propose', 10, '2020-01-01 10:00:00'), eventLine(7, 'became_unable_to_propose', 10, '2020-01-01 10:00:00')]);
    const result = await ingest(session.ctx, [file]);
    expect(result).toMatchObject({ rows_read: 2, loaded: 1, duplicates: 0, rejected: 1, files: [{ conflicts_with_other_inputs: 0 }] });
    expect(describeRejectedFile(result.files[0]!, result.quarantine, 0)).not.toContain('instapro reset');
    const { rows } = await session.ctx.db.query(`SELECT event_type FROM ${raw()}.event WHERE event_id = 7`);
    expect(rows).toEqual([{ event_type: 'became_able_to_propose' }]);
    const q = await session.ctx.db.query<{ source_line: number; field: string; reason: string; raw_line: string }>(`SELECT source_line, field, reason, raw_line FROM ${raw()}.quarantine`);
    expect(q.rows).toEqual([
      { source_line: 3, field: 'event_id', reason: `conflicting duplicate: event_id 7 was first seen at ${file}:2 with different content`, raw_line: '7;became_unable_to_propose;10;2020-01-01 10:00:00;' },
    ]);
  });

  it('quarantines a row conflicting with an already loaded event and keeps the loaded one', async () => {
    await reset();
    const first = await writeEventLogFile([eventLine(8, 'proposed', 10, '2020-01-01 10:00:00', '60_tuin_garden_7.63')]);
    const second = await writeEventLogFile([eventLine(8, 'proposed', 10, '2020-01-01 10:00:00', '60_tuin_garden_9.99')]);
    await ingest(session.ctx, [first]);
    const result = await ingest(session.ctx, [second]);
    expect(result).toMatchObject({ loaded: 0, duplicates: 0, rejected: 1, files: [{ conflicts_with_other_inputs: 1 }] });
    // Over the reject ratio, the message points at a fresh start for what may be another data set.
    expect(describeRejectedFile(result.files[0]!, result.quarantine, 0)).toMatch(/1 of them reuse event_ids loaded from other inputs .*to start over, run `instapro reset`$/);
    const { rows } = await session.ctx.db.query(`SELECT meta_data FROM ${raw()}.event WHERE event_id = 8`);
    expect(rows).toEqual([{ meta_data: '60_tuin_garden_7.63' }]);
    const q = await session.ctx.db.query<{ reason: string }>(`SELECT reason FROM ${raw()}.quarantine`);
    expect(q.rows[0]?.reason).toContain(`first seen at ${first}:2`);
  });

  it('quarantines invalid rows with file, line, raw line, field and reason; loads the rest', async () => {
    await reset();
    const file = await writeEventLogFile([
      eventLine(1, 'created_account', 10, '2020-01-01 09:00:00'),
      '2;proposed;10;2020-01-01 09:00:00;60_tuin_7.63',
      'x;created_account;10;2020-01-01 09:00:00;',
      eventLine(4, 'created_account', 11, '2020-02-30 09:00:00'),
      '5;created_account;10',
    ]);
    const result = await ingest(session.ctx, [file]);
    expect(result).toMatchObject({ rows_read: 5, loaded: 1, rejected: 4, duplicates: 0 });
    const { rows } = await session.ctx.db.query(`SELECT source_file, source_line, raw_line, field FROM ${raw()}.quarantine ORDER BY source_line`);
    expect(rows).toEqual([
      { source_file: file, source_line: 3, raw_line: '2;proposed;10;2020-01-01 09:00:00;60_tuin_7.63', field: 'meta_data' },
      { source_file: file, source_line: 4, raw_line: 'x;created_account;10;2020-01-01 09:00:00;', field: 'event_id' },
      { source_file: file, source_line: 5, raw_line: '4;created_account;11;2020-02-30 09:00:00;', field: 'created_at' },
      { source_file: file, source_line: 6, raw_line: '5;created_account;10', field: null },
    ]);
    expect(result.files[0]?.first_rejects.map((r) => r.line)).toEqual([3, 4, 5, 6]);
  });

  it('does not quarantine the same bad line twice when the file is loaded again', async () => {
    await reset();
    const file = await writeEventLogFile([eventLine(1, 'created_account', 10, '2020-01-01 09:00:00'), 'garbage']);
    await ingest(session.ctx, [file]);
    const again = await ingest(session.ctx, [await redeliver(file)]);
    expect(again).toMatchObject({ rows_read: 2, rejected: 1, duplicates: 1 });
    expect(await count(`${raw()}.quarantine`)).toBe(1);
  });

  it('ignores blank lines, accepts CRLF line endings and a byte order mark, and keeps physical line numbers', async () => {
    await reset();
    const file = await writeEventLogFile(['', eventLine(1, 'created_account', 10, '2020-01-01 09:00:00'), '', '', 'bad line', eventLine(2, 'proposed', 11, '2020-01-01 09:00:00', '60_tuin_garden_7.63')], {
      eol: '\r\n',
      bom: true,
    });
    const result = await ingest(session.ctx, [file]);
    expect(result).toMatchObject({ rows_read: 3, loaded: 2, rejected: 1 });
    const { rows } = await session.ctx.db.query(`SELECT source_line, raw_line FROM ${raw()}.quarantine`);
    expect(rows).toEqual([{ source_line: 6, raw_line: 'bad line' }]);
    const loaded = await session.ctx.db.query(`SELECT event_id, source_line, meta_data FROM ${raw()}.event ORDER BY 1`);
    expect(loaded.rows).toEqual([
      { event_id: 1, source_line: 3, meta_data: null },
      { event_id: 2, source_line: 7, meta_data: '60_tuin_garden_7.63' },
    ]);
  });

  it('fails a whole-file error before loading any file', async () => {
    await reset();
    const good = await writeEventLogFile([eventLine(1, 'created_account', 10, '2020-01-01 09:00:00')]);
    const wrongHeader = await writeEventLogFile(['id;type;pro;at;meta', eventLine(2, 'created_account', 10, '2020-01-01 09:00:00')], { header: false });
    const empty = await writeEventLogFile([], { header: false });
    await expect(ingest(session.ctx, [good, '/nonexistent/event_log.csv'])).rejects.toThrow(new InputFileError('/nonexistent/event_log.csv: file not found'));
    await expect(ingest(session.ctx, [good, wrongHeader])).rejects.toThrow(/:1: wrong header: expected "event_id;event_type;professional_id_anonymized;created_at;meta_data", found "id;type;pro;at;meta"/);
    await expect(ingest(session.ctx, [good, empty])).rejects.toThrow(/file is empty/);
    expect(await count(`${raw()}.event`)).toBe(0);
  });

  it('numbers lines exactly across read chunks and rejects a line too long to hold without losing the lines after it', async () => {
    await reset();
    // Several MB, so the reader cuts it into many chunks; bad and blank lines are spread over it.
    const lines: string[] = [];
    const expectedRejectLines: number[] = [];
    let valid = 0;
    for (let i = 1; i <= 6000; i++) {
      const physicalLine = lines.length + 2; // line 1 is the header
      if (i % 997 === 0) {
        lines.push(`${i};created_account;not-a-number;2020-01-01 09:00:00;`);
        expectedRejectLines.push(physicalLine);
      } else if (i % 1499 === 0) {
        lines.push('');
      } else if (i === 3000) {
        lines.push(`${i};proposed;10;2020-01-01 09:00:00;60_${'x'.repeat(2 * MAX_LINE_BYTES)}`);
        expectedRejectLines.push(physicalLine);
      } else {
        lines.push(eventLine(i, 'proposed', 10 + (i % 7), '2020-01-01 09:00:00', `60_tuinonderhoud_maintain-garden_${i % 100}.25`));
        valid += 1;
      }
    }
    const file = await writeEventLogFile(lines);
    const result = await ingest(session.ctx, [file]);
    expect(result).toMatchObject({ loaded: valid, rejected: expectedRejectLines.length, duplicates: 0 });

    const q = await session.ctx.db.query<{ source_line: number; reason: string; raw_length: number }>(
      `SELECT source_line, reason, length(raw_line) AS raw_length FROM ${raw()}.quarantine ORDER BY source_line`,
    );
    expect(q.rows.map((r) => r.source_line)).toEqual(expectedRejectLines);
    const overlong = q.rows.find((r) => r.source_line === 3001);
    expect(overlong?.reason).toBe(`line is ${lines[2999]?.length} bytes long (max ${MAX_LINE_BYTES})`);
    expect(overlong?.raw_length).toBeLessThan(11_000);
    // Every loaded event sits on the physical line its id was written on.
    const writtenOn = new Map(lines.map((l, index) => [Number(l.split(';')[0]), index + 2]));
    const loaded = await session.ctx.db.query<{ event_id: number; source_line: number }>(`SELECT event_id, source_line FROM ${raw()}.event`);
    expect(loaded.rows.filter((r) => writtenOn.get(r.event_id) !== r.source_line)).toEqual([]);
    expect(loaded.rows).toHaveLength(valid);
  });

  it('keeps raw.event keyed and indexed after loading into an empty table, also when a repeated event_id sends the file to classification', async () => {
    await reset();
    const line = eventLine(1, 'created_account', 10, '2020-01-01 09:00:00');
    const file = await writeEventLogFile([line, eventLine(2, 'created_account', 11, '2020-01-01 09:00:00'), line]);
    expect(await ingest(session.ctx, [file])).toMatchObject({ loaded: 2, duplicates: 1, rejected: 0 });
    const { rows } = await session.ctx.db.query(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = '${raw()}.event'::regclass AND contype = 'p'`,
    );
    expect(rows).toEqual([{ def: 'PRIMARY KEY (event_id)' }]);
    const indexes = await session.ctx.db.query(
      `SELECT c.relname AS name FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid WHERE i.indrelid = '${raw()}.event'::regclass ORDER BY 1`,
    );
    expect(indexes.rows).toEqual([{ name: 'event_pkey' }, { name: 'event_run_id_idx' }]);
    await expect(session.ctx.db.exec(`INSERT INTO ${raw()}.event SELECT * FROM ${raw()}.event LIMIT 1`)).rejects.toThrow(/duplicate key/);
  });

  it('stays within memory for a file with megabytes of rejected lines, and quarantines them all', async () => {
    await reset();
    const bad = Array.from({ length: 40_000 }, (_, i) => `${i + 1};created_account;10;2020-01-01 09:00:00 and some trailing garbage that makes it long;`);
    const file = await writeEventLogFile([...bad, eventLine(50_000, 'created_account', 10, '2020-01-01 09:00:00')]);
    expect(await ingest(session.ctx, [file])).toMatchObject({ rows_read: 40_001, loaded: 1, rejected: 40_000 });
    expect(await count(`${raw()}.quarantine`)).toBe(40_000);
  });

  it('loads over 10 MB exactly as written, also while the database is not reading (COPY buffers are reused)', async () => {
    await reset();
    // Every line differs in id, professional, time and meta data, so a byte sent twice, or a
    // buffer written again before the database read it, changes the sums below.
    const lines = Array.from({ length: 200_000 }, (_, i) =>
      eventLine(i + 1, 'proposed', 1_000 + (i % 977), `2020-01-${String(1 + (i % 28)).padStart(2, '0')} 0${i % 10}:00:00`, `${i % 1000}_naam-${i}_name-${i}_${i % 100}.${String(i % 97).padStart(2, '0')}`),
    );
    const expected = {
      n: lines.length + 1,
      ids: lines.reduce((sum, _, i) => sum + (i + 1), 0) + 999_999,
      meta_chars: lines.reduce((sum, l) => sum + (l.split(';')[4] as string).length, 0) + '60_tuinonderhoud_maintain-garden_7.63'.length,
    };
    const sums = async () =>
      (
        await session.ctx.db.query<{ n: number; ids: number; meta_chars: number }>(
          `SELECT count(*)::integer AS n, sum(event_id)::bigint AS ids, sum(length(meta_data))::bigint AS meta_chars FROM ${raw()}.event`,
        )
      ).rows[0];
    // One event first, so the big load is not a first load (which would drop the key and wait for
    // the lock below before its COPY starts).
    await ingest(session.ctx, [await writeEventLogFile([eventLine(999_999, 'proposed', 1, '2020-01-01 00:00:00')])]);
    const file = await writeEventLogFile(lines);

    // On the server, a SHARE lock held elsewhere lets ingest start its COPY but keeps the database
    // from reading it: the rows pile up in the client and its socket, where reused buffers would
    // be overwritten if copyFrom did not take them over.
    const blocker = backend === 'server' ? new pg.Client({ connectionString: SERVER_URL }) : null;
    if (blocker) {
      await blocker.connect();
      await blocker.query(`BEGIN; LOCK TABLE ${raw()}.event IN SHARE MODE`);
    }
    const loading = ingest(session.ctx, [file]);
    if (blocker) {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await blocker.query('COMMIT');
      await blocker.end();
    }
    expect(await loading).toMatchObject({ loaded: lines.length, rejected: 0 });
    expect(await sums()).toEqual(expected);
    // The same file again goes through the classifying load (every id is taken) and adds nothing.
    expect(await ingest(session.ctx, [await redeliver(file)])).toMatchObject({ loaded: 0, duplicates: lines.length, rejected: 0 });
    expect(await sums()).toEqual(expected);
  });

  it('reads a header-only file as zero rows', async () => {
    await reset();
    const file = await writeEventLogFile([]);
    expect(await ingest(session.ctx, [file])).toMatchObject({ rows_read: 0, loaded: 0 });
  });
});

describe.each(BACKENDS)('reject ratio on the %s backend', (backend) => {
  it('loads none of a file over --max-reject-ratio, keeps its quarantine rows, and stops before later files', async () => {
    const db = await createTestDatabase(backend);
    const session = await db.session('ingest', { INSTAPRO_MAX_REJECT_RATIO: '0.25' });
    try {
      const raw = `"${session.ctx.schemas.raw}"`;
      const within = await writeEventLogFile([eventLine(1, 'created_account', 10, '2020-01-01 09:00:00'), eventLine(2, 'created_account', 11, '2020-01-01 09:00:00'), eventLine(3, 'created_account', 12, '2020-01-01 09:00:00'), 'bad']);
      const over = await writeEventLogFile([eventLine(4, 'created_account', 13, '2020-01-01 09:00:00'), 'bad one', 'bad two']);
      const later = await writeEventLogFile([eventLine(5, 'created_account', 14, '2020-01-01 09:00:00')]);
      const result = await ingest(session.ctx, [within, over, later]);
      expect(result.files.map((f) => [f.status, f.loaded, f.rejected])).toEqual([
        ['loaded', 3, 1],
        ['rejected', 0, 2],
      ]);
      const { rows } = await session.ctx.db.query(`SELECT event_id FROM ${raw}.event ORDER BY 1`);
      expect(rows).toEqual([{ event_id: 1 }, { event_id: 2 }, { event_id: 3 }]);
      const q = await session.ctx.db.query(`SELECT source_file, source_line FROM ${raw}.quarantine ORDER BY source_file = $1 DESC, source_line`, [within]);
      expect(q.rows).toEqual([
        { source_file: within, source_line: 5 },
        { source_file: over, source_line: 3 },
        { source_file: over, source_line: 4 },
      ]);
    } finally {
      await session.close({ ok: true });
      await db.cleanup();
    }
  });
});
