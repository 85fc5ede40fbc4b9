import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.js';
import { buildModel } from '../../src/model/build-model.js';
import type { PipelineContext } from '../../src/pipeline/context.js';
import { RunLog } from '../../src/pipeline/run-log.js';
import type { PipelineSession } from '../../src/pipeline/session.js';
import { runDataTests } from '../../src/quality/run-data-tests.js';
import { buildAvailabilitySnapshot } from '../../src/snapshot/availability-snapshot.js';
import { BACKENDS, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { HEADER, REAL_EVENT_LOG, eventLine, writeEventLogFile } from '../helpers/event-log-files.js';
import type { ReferenceEvent } from '../reference/availability-snapshot.mjs';
import { referenceSnapshot } from '../reference/availability-snapshot.mjs';

const ABLE = 'became_able_to_propose';
const UNABLE = 'became_unable_to_propose';

/** Every model table and the snapshot, by primary key; computed_at is when, not what. */
const MODEL_TABLES: Record<string, string> = {
  dim_date: 'SELECT * FROM {{mart}}.dim_date ORDER BY date_key',
  dim_professional: 'SELECT * FROM {{mart}}.dim_professional ORDER BY professional_id',
  dim_service: 'SELECT * FROM {{mart}}.dim_service ORDER BY service_id',
  dim_service_name: 'SELECT * FROM {{mart}}.dim_service_name ORDER BY service_id, service_name_nl, service_name_en',
  fct_event: 'SELECT * FROM {{mart}}.fct_event ORDER BY event_id',
  professional_availability_history: 'SELECT * FROM {{mart}}.professional_availability_history ORDER BY professional_id, valid_from',
  availability_snapshot:
    'SELECT date, active_professionals_count, able_at_any_moment_count, became_active_count, became_inactive_count FROM {{mart}}.availability_snapshot ORDER BY date',
};

/**
 * Day 1..9 of the drawn period: 2020-01-28 .. 2020-02-05, so the period crosses a month and
 * fct_event's partitions differ by mode (a full refresh makes January one month partition, earlier
 * incremental builds gave it day partitions).
 */
function dateOfDay(day: number): string {
  const date = new Date(Date.UTC(2020, 0, 27 + day));
  return date.toISOString().slice(0, 10);
}

/** Services with two name pairs each, so renames and ties between name pairs happen often. */
const SERVICE_META = ['60_tuinonderhoud_maintain-garden', '60_tuin-onderhoud_garden-maintenance', '34_tegels_tiling', '34_tegelwerk_tile-work'];

const drawnEvent = fc.record({
  professionalId: fc.integer({ min: 1, max: 6 }),
  eventType: fc.constantFrom(ABLE, UNABLE, ABLE, 'proposed', 'proposed', 'created_account'),
  day: fc.integer({ min: 1, max: 9 }),
  // Few instants: equal timestamps (ties broken by event_id) and midnight edges are common.
  time: fc.constantFrom('00:00:00', '09:30:00', '12:00:00', '23:59:59'),
  service: fc.integer({ min: 0, max: SERVICE_META.length - 1 }),
  fee: fc.integer({ min: 0, max: 999 }),
});

/** A log cut into batches delivered in order, with the ways real deliveries go wrong. */
const delivery = fc
  .array(drawnEvent, { minLength: 1, maxLength: 45 })
  .chain((drawn) =>
    fc.record({
      drawn: fc.constant(drawn),
      // Event ids are unrelated to time and to delivery order.
      ids: fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: drawn.length, maxLength: drawn.length }),
      batches: fc.integer({ min: 2, max: 5 }),
      // Per event: delivered with its day's batch (0), or 1..3 batches late.
      lateness: fc.array(fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }), { minLength: drawn.length, maxLength: drawn.length }),
      // Per event: also sent again, identical, in a later batch.
      resent: fc.array(fc.boolean(), { minLength: drawn.length, maxLength: drawn.length }),
      badLinesPerBatch: fc.integer({ min: 0, max: 2 }),
      deliveredTwice: fc.nat(),
    }),
  );

describe.each(BACKENDS)('incremental model on the %s backend', (backend) => {
  let db: TestDatabase;
  let session: PipelineSession;
  let runLog: RunLog;
  const mart = () => `"${session.ctx.schemas.mart}"`;

  /** A new run on the session's database, as each CLI invocation starts one. */
  async function nextRun(): Promise<PipelineContext> {
    const runId = await runLog.start('test');
    return { ...session.ctx, runId, settings: { ...session.ctx.settings, maxRejectRatio: 0.9 } };
  }

  async function dumpModel(): Promise<Record<string, unknown[]>> {
    const dump: Record<string, unknown[]> = {};
    for (const [table, sql] of Object.entries(MODEL_TABLES)) dump[table] = (await session.ctx.db.query(sql.replaceAll('{{mart}}', mart()))).rows;
    return dump;
  }

  async function startOver(): Promise<void> {
    const raw = `"${session.ctx.schemas.raw}"`;
    await session.ctx.db.exec(`TRUNCATE ${raw}.event, ${raw}.quarantine`);
  }

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    session = await db.session();
    runLog = new RunLog(session.ctx.db, session.ctx.schemas);
  });
  afterAll(async () => {
    await session?.close({ ok: true });
    await db?.cleanup();
  });

  it('gives exactly the tables of one full refresh, whatever the batches (property)', async () => {
    await fc.assert(
      fc.asyncProperty(delivery, async ({ drawn, ids, batches, lateness, resent, badLinesPerBatch, deliveredTwice }) => {
        const events = drawn.map((e, i) => {
          const eventId = ids[i] as number;
          const meta = e.eventType === 'proposed' ? `${SERVICE_META[e.service]}_${(e.fee / 100).toFixed(2)}` : '';
          const createdAt = `${dateOfDay(e.day)} ${e.time}`;
          return { eventId, eventType: e.eventType, professionalId: e.professionalId, createdAt, day: e.day, line: eventLine(eventId, e.eventType, e.professionalId, createdAt, meta) };
        });
        // Batch b holds the days up to its share of the period, plus the late and resent events.
        const onTime = (day: number) => Math.min(batches - 1, Math.floor(((day - 1) * batches) / 9));
        const files: string[][] = Array.from({ length: batches }, () => []);
        events.forEach((e, i) => {
          const batch = Math.min(batches - 1, onTime(e.day) + (lateness[i] as number));
          files[batch]?.push(e.line);
          if (resent[i] && batch + 1 < batches) files[batch + 1]?.push(e.line);
        });
        for (const [b, lines] of files.entries()) for (let k = 0; k < badLinesPerBatch; k += 1) lines.splice(k, 0, `bad line ${b}.${k};not an event`);

        await startOver();
        const twice = deliveredTwice % batches;
        for (const [b, lines] of files.entries()) {
          const file = await writeEventLogFile(lines);
          const ctx = await nextRun();
          const { rows } = await ctx.db.query<{ loaded: boolean }>(`SELECT EXISTS (SELECT 1 FROM "${ctx.schemas.raw}".event) AS loaded`);
          await ingest(ctx, [file]);
          if (b === twice) await ingest(ctx, [file]);
          const model = await buildModel(ctx);
          // The first load into an empty raw.event truncates it (COPY FREEZE), which asks for a full refresh.
          if (rows[0]?.loaded) expect(model.mode).toBe('incremental');
          await buildAvailabilitySnapshot(ctx);
        }
        const incremental = await dumpModel();

        const ctx = await nextRun();
        expect((await buildModel(ctx, { fullRefresh: true })).mode).toBe('full-refresh');
        await buildAvailabilitySnapshot(ctx, { fullRefresh: true });
        expect(incremental).toEqual(await dumpModel());

        // And both are right: the snapshot against the plain reference implementation.
        const loaded: ReferenceEvent[] = events.map(({ eventId, eventType, professionalId, createdAt }) => ({ eventId, eventType, professionalId, createdAt }));
        const days = incremental.availability_snapshot as { date: string; active_professionals_count: number; able_at_any_moment_count: number }[];
        const first = days[0]?.date;
        const last = days.at(-1)?.date;
        if (first && last) {
          expect(days.map((d) => ({ date: d.date, active: d.active_professionals_count, ableAtAnyMoment: d.able_at_any_moment_count }))).toEqual(referenceSnapshot(loaded, first, last));
        }
      }),
      { numRuns: backend === 'embedded' ? 25 : 40, seed: 20261203 },
    );
  });

  it.skipIf(!existsSync(REAL_EVENT_LOG))('the real event log delivered day by day, some days late, gives the tables of one full refresh', async () => {
    const [header, ...lines] = (await readFile(REAL_EVENT_LOG, 'utf8')).split(/\r?\n/).filter((l) => l.length > 0);
    expect(header).toBe(HEADER);
    const byDay = new Map<string, string[]>();
    for (const line of lines) {
      const day = (line.split(';')[3] ?? '').slice(0, 10);
      byDay.set(day, [...(byDay.get(day) ?? []), line]);
    }
    // Every seventh day is delivered two days late, together with that later day's own file.
    const days = [...byDay.keys()].sort();
    const deliveries = days.map((day) => [day]);
    for (let i = 0; i + 2 < days.length; i += 7) deliveries[i + 2]?.push(...(deliveries[i]?.splice(0) ?? []));
    await startOver();
    for (const delivery of deliveries.filter((d) => d.length > 0)) {
      const ctx = await nextRun();
      await ingest(ctx, [await writeEventLogFile(delivery.flatMap((day) => byDay.get(day) ?? []))]);
      await buildModel(ctx);
      await buildAvailabilitySnapshot(ctx);
    }
    const incremental = await dumpModel();
    expect(incremental.fct_event).toHaveLength(lines.length);
    const ctx = await nextRun();
    await buildModel(ctx, { fullRefresh: true });
    await buildAvailabilitySnapshot(ctx, { fullRefresh: true });
    expect(incremental).toEqual(await dumpModel());
  });

  it('merges only the new events, recomputes the snapshot from the day of a late event, and says so', async () => {
    await startOver();
    const first = await nextRun();
    await ingest(first, [
      await writeEventLogFile([
        eventLine(1, 'created_account', 10, '2020-01-01 08:00:00'),
        eventLine(2, ABLE, 10, '2020-01-01 09:00:00'),
        eventLine(3, ABLE, 20, '2020-01-02 09:00:00'),
        eventLine(4, 'proposed', 10, '2020-01-05 10:00:00', '60_tuinonderhoud_maintain-garden_7.63'),
      ]),
    ]);
    expect(await buildModel(first)).toMatchObject({ mode: 'full-refresh', events_merged: 4 });
    expect(await buildAvailabilitySnapshot(first)).toMatchObject({ mode: 'full-refresh', from: '2020-01-01', to: '2020-01-05', days_written: 5 });

    // A day later: a new day's proposal, and a late became_unable for January 3rd.
    const second = await nextRun();
    await ingest(second, [await writeEventLogFile([eventLine(5, 'proposed', 20, '2020-01-06 10:00:00', '34_tegels_tiling_0.22'), eventLine(6, UNABLE, 10, '2020-01-03 12:00:00')])]);
    const model = await buildModel(second);
    expect(model).toMatchObject({ mode: 'incremental', full_refresh_reason: null, events_merged: 2, after_run_id: first.runId, built_through_run_id: second.runId, snapshot_from: '2020-01-03' });
    expect(model.tables).toBeNull();
    expect(model.changes).toMatchObject({ fct_event: { inserted: 2, deleted: 0 }, dim_date: { inserted: 1 }, dim_service: { inserted: 1, updated: 0 } });
    expect(await buildAvailabilitySnapshot(second)).toMatchObject({ mode: 'incremental', from: '2020-01-03', to: '2020-01-06', days_written: 4 });
    const active = await session.ctx.db.query(`SELECT date, active_professionals_count FROM ${mart()}.availability_snapshot ORDER BY date`);
    expect(active.rows.map((r) => r.active_professionals_count)).toEqual([1, 2, 1, 1, 1, 1]);

    // Nothing new: nothing merged, no day recomputed.
    const third = await nextRun();
    expect(await buildModel(third)).toMatchObject({ mode: 'incremental', events_merged: 0, snapshot_from: null });
    expect(await buildAvailabilitySnapshot(third)).toMatchObject({ mode: 'incremental', from: null, days_written: 0 });
  });

  it('attaches a new day as a partition of fct_event, puts late events in their day, and lays out months on a full refresh', async () => {
    await startOver();
    const partitions = async () =>
      (
        await session.ctx.db.query<{ partition: string; events: number; foreign_keys: number; indexes: number }>(
          `SELECT c.relname AS partition,
                  (SELECT count(*)::integer FROM ${mart()}.fct_event AS f WHERE f.tableoid = c.oid) AS events,
                  (SELECT count(*)::integer FROM pg_constraint AS k WHERE k.conrelid = c.oid AND k.contype = 'f') AS foreign_keys,
                  (SELECT count(*)::integer FROM pg_index AS i WHERE i.indrelid = c.oid AND i.indisvalid) AS indexes
           FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
           WHERE i.inhparent = to_regclass($1) ORDER BY 1`,
          [`${mart()}.fct_event`],
        )
      ).rows;
    const keysAndIndexes = { foreign_keys: 4, indexes: 6 };
    const first = await nextRun();
    await ingest(first, [
      await writeEventLogFile([eventLine(1, 'created_account', 10, '2020-01-30 08:00:00'), eventLine(2, ABLE, 10, '2020-02-01 09:00:00'), eventLine(3, ABLE, 20, '2020-02-02 23:59:59')]),
    ]);
    expect(await buildModel(first)).toMatchObject({ mode: 'full-refresh' });
    // Months before the last event's month, then that month's days (none skipped, even without events).
    expect(await partitions()).toEqual([
      { partition: 'fct_event_202001', events: 1, ...keysAndIndexes },
      { partition: 'fct_event_20200201', events: 1, ...keysAndIndexes },
      { partition: 'fct_event_20200202', events: 1, ...keysAndIndexes },
    ]);

    // A new day, a new month's day and a late event for February 1st.
    const second = await nextRun();
    await ingest(second, [
      await writeEventLogFile([
        eventLine(4, 'proposed', 10, '2020-02-04 00:00:00', '60_tuinonderhoud_maintain-garden_7.63'),
        eventLine(5, UNABLE, 10, '2020-02-01 12:00:00'),
        eventLine(6, 'proposed', 20, '2020-03-01 10:00:00', '34_tegels_tiling_0.22'),
      ]),
    ]);
    expect(await buildModel(second)).toMatchObject({ mode: 'incremental', events_merged: 3, changes: { fct_event: { inserted: 3 } } });
    expect(await partitions()).toEqual([
      { partition: 'fct_event_202001', events: 1, ...keysAndIndexes },
      { partition: 'fct_event_20200201', events: 2, ...keysAndIndexes },
      { partition: 'fct_event_20200202', events: 1, ...keysAndIndexes },
      { partition: 'fct_event_20200204', events: 1, ...keysAndIndexes },
      { partition: 'fct_event_20200301', events: 1, ...keysAndIndexes },
    ]);
    await buildAvailabilitySnapshot(second);
    expect((await runDataTests(second, { scope: { kind: 'incremental', afterRunId: first.runId } })).errors).toBe(0);

    // A build that fails after attaching its day leaves no partition behind; the next one attaches it.
    const third = await nextRun();
    await ingest(third, [await writeEventLogFile([eventLine(7, 'proposed', 20, '2020-03-02 10:00:00', '34_tegels_tiling_0.50')])]);
    const before = await partitions();
    await session.ctx.db.exec(`ALTER TABLE ${mart()}.professional_availability_history RENAME TO history_away`);
    await expect(buildModel(third)).rejects.toThrow(/professional_availability_history/);
    await session.ctx.db.exec(`ALTER TABLE ${mart()}.history_away RENAME TO professional_availability_history`);
    expect(await partitions()).toEqual(before);
    expect(await buildModel(await nextRun())).toMatchObject({ mode: 'incremental', events_merged: 1 });
    expect((await partitions()).at(-1)).toEqual({ partition: 'fct_event_20200302', events: 1, ...keysAndIndexes });

    const full = await nextRun();
    expect(await buildModel(full, { fullRefresh: true })).toMatchObject({ mode: 'full-refresh' });
    expect((await partitions()).map((p) => [p.partition, p.events])).toEqual([
      ['fct_event_202001', 1],
      ['fct_event_202002', 4],
      ['fct_event_20200301', 1],
      ['fct_event_20200302', 1],
    ]);
    await buildAvailabilitySnapshot(full);
    expect((await runDataTests(full)).errors).toBe(0);
  });

  it('recomputes, with a range asked for, the earlier days a late event changed', async () => {
    await startOver();
    const first = await nextRun();
    await ingest(first, [await writeEventLogFile([eventLine(1, ABLE, 10, '2020-01-01 08:00:00'), eventLine(2, 'created_account', 20, '2020-01-03 08:00:00')])]);
    await buildModel(first);
    await buildAvailabilitySnapshot(first);
    const second = await nextRun();
    await ingest(second, [await writeEventLogFile([eventLine(3, 'created_account', 30, '2020-01-04 08:00:00'), eventLine(4, UNABLE, 10, '2020-01-02 08:00:00')])]);
    await buildModel(second);
    // The orchestrator's interval is the new day; the late event's day and those after it come along.
    expect(await buildAvailabilitySnapshot(second, { from: '2020-01-04', to: '2020-01-04' })).toMatchObject({ mode: 'range', from: '2020-01-02', to: '2020-01-04', days_written: 3 });
    const active = await session.ctx.db.query(`SELECT active_professionals_count AS n FROM ${mart()}.availability_snapshot ORDER BY date`);
    expect(active.rows.map((r) => r.n)).toEqual([1, 0, 0, 0]);
    // Nothing left over: the next range is just the range.
    expect(await buildAvailabilitySnapshot(await nextRun(), { from: '2020-01-04', to: '2020-01-04' })).toMatchObject({ from: '2020-01-04', to: '2020-01-04', days_written: 1 });
  });

  it('checks the new rows only after an incremental build, and every row on a full refresh', async () => {
    await startOver();
    const first = await nextRun();
    await ingest(first, [await writeEventLogFile([eventLine(1, 'created_account', 10, '2020-01-01 08:00:00'), eventLine(2, ABLE, 10, '2020-01-01 09:00:00')])]);
    await buildModel(first);
    await buildAvailabilitySnapshot(first);
    // An old row broken behind the constraints' back (a column the incremental checks cannot see).
    await session.ctx.db.exec(`DELETE FROM ${mart()}.fct_event WHERE event_id = 1`);
    const second = await nextRun();
    await ingest(second, [await writeEventLogFile([eventLine(3, 'proposed', 10, '2020-01-02 10:00:00', '34_tegels_tiling_0.22')])]);
    const model = await buildModel(second);
    expect(model.mode).toBe('incremental');
    const scoped = await runDataTests(second, { scope: { kind: 'incremental', afterRunId: model.after_run_id as number } });
    expect(scoped.scope).toBe('incremental');
    expect(scoped.results.find((t) => t.name === 'reconcile_fct_event_with_raw')?.status).toBe('pass');
    const full = await runDataTests(second);
    expect(full.results.find((t) => t.name === 'reconcile_fct_event_with_raw')).toMatchObject({ status: 'fail', failing_rows: 1 });
  });

  it('rebuilds in full when the loaded events were changed other than by appending, or the model definition changed', async () => {
    await startOver();
    const first = await nextRun();
    await ingest(first, [await writeEventLogFile([eventLine(1, 'created_account', 10, '2020-01-01 08:00:00'), eventLine(2, 'created_account', 20, '2020-01-02 08:00:00')])]);
    await buildModel(first);
    await session.ctx.db.exec(`DELETE FROM "${session.ctx.schemas.raw}".event WHERE event_id = 2`);
    const second = await nextRun();
    const model = await buildModel(second);
    expect(model).toMatchObject({ mode: 'full-refresh', full_refresh_reason: 'loaded events changed other than by appending' });
    expect(model.tables).toMatchObject({ fct_event: 1, dim_professional: 1 });
    expect((await buildModel(await nextRun())).mode).toBe('incremental');

    await session.ctx.db.exec(`UPDATE "${session.ctx.schemas.raw}".model_state SET model_fingerprint = 'an older model'`);
    expect(await buildModel(await nextRun())).toMatchObject({ mode: 'full-refresh', full_refresh_reason: 'model definition changed' });
  });

  it('leaves the model and its state as they were when a build fails midway, and the next build completes the work', async () => {
    await startOver();
    const first = await nextRun();
    await ingest(first, [await writeEventLogFile([eventLine(1, ABLE, 10, '2020-01-01 08:00:00')])]);
    await buildModel(first);
    await buildAvailabilitySnapshot(first);
    const before = await dumpModel();
    const second = await nextRun();
    await ingest(second, [await writeEventLogFile([eventLine(2, UNABLE, 10, '2020-01-02 08:00:00'), eventLine(3, ABLE, 20, '2020-01-02 09:00:00')])]);
    // A failure in the last model statement, after every table was written in the transaction.
    const failing = { ...second, db: { ...second.db, exec: async (sql: string) => (sql.includes('UPDATE') && sql.includes('dim_professional AS p') ? Promise.reject(new Error('killed')) : second.db.exec(sql)) } };
    await expect(buildModel(failing)).rejects.toThrow('killed');
    expect(await dumpModel()).toEqual(before);
    const third = await nextRun();
    expect(await buildModel(third)).toMatchObject({ mode: 'incremental', events_merged: 2, after_run_id: first.runId });
    await buildAvailabilitySnapshot(third);
    const active = await session.ctx.db.query(`SELECT date, active_professionals_count FROM ${mart()}.availability_snapshot ORDER BY date`);
    expect(active.rows).toEqual([
      { date: '2020-01-01', active_professionals_count: 1 },
      { date: '2020-01-02', active_professionals_count: 1 },
    ]);
  });
});
