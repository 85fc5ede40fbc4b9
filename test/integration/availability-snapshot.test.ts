import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEvents } from '../../src/generate/generate-event-log.js';
import { ingest } from '../../src/ingest/ingest.js';
import { buildModel } from '../../src/model/build-model.js';
import type { PipelineSession } from '../../src/pipeline/session.js';
import { buildAvailabilitySnapshot } from '../../src/snapshot/availability-snapshot.js';
import { BACKENDS, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { eventLine, writeEventLogFile } from '../helpers/event-log-files.js';
import type { ReferenceEvent } from '../reference/availability-snapshot.mjs';
import { referenceSnapshot } from '../reference/availability-snapshot.mjs';

const ABLE = 'became_able_to_propose';
const UNABLE = 'became_unable_to_propose';

/**
 * Hand-made fixture; professional n has ids in the n0s. The expected counts below were worked
 * out by hand from the semantics (docs/availability.md), not computed by code.
 * Lines are deliberately not in time order.
 */
const FIXTURE = [
  eventLine(70, 'created_account', 7, '2020-01-01 08:00:00'), // P7 proposes but never toggles
  eventLine(10, ABLE, 1, '2020-01-01 10:00:00'), // P1 able from Jan 1
  eventLine(22, UNABLE, 2, '2020-01-02 12:00:00'), // P2: equal timestamps, the higher event_id (unable) wins
  eventLine(21, ABLE, 2, '2020-01-02 12:00:00'),
  eventLine(82, ABLE, 8, '2020-01-03 13:00:00'), // P8: equal timestamps, the higher event_id (able) wins
  eventLine(81, UNABLE, 8, '2020-01-03 13:00:00'),
  eventLine(30, ABLE, 3, '2020-01-01 09:00:00'), // P3: repeated became_able changes nothing
  eventLine(33, ABLE, 3, '2020-01-03 09:00:00'),
  eventLine(40, UNABLE, 4, '2020-01-02 08:00:00'), // P4: unable before any able, able on Jan 4
  eventLine(41, ABLE, 4, '2020-01-04 08:00:00'),
  eventLine(50, ABLE, 5, '2020-01-03 00:00:00'), // P5: at 00:00:00 and 23:59:59
  eventLine(51, UNABLE, 5, '2020-01-04 23:59:59'),
  eventLine(62, UNABLE, 6, '2020-01-05 18:00:00'), // P6: out of order in the file, able 10:00-18:00 on Jan 5
  eventLine(61, ABLE, 6, '2020-01-05 10:00:00'),
  // Jan 6 has no events at all.
  eventLine(71, 'proposed', 7, '2020-01-07 12:00:00'),
];

//            date          active  any  became_active  became_inactive
const EXPECTED = [
  ['2020-01-01', 2, 2, 2, 0], // P1, P3 became able
  ['2020-01-02', 2, 3, 0, 0], // P2 ends unable (tie) but had a became_able during the day; P4's unable changes nothing
  ['2020-01-03', 4, 4, 2, 0], // + P5 at 00:00:00, + P8 (tie); P3's repeat changes nothing
  ['2020-01-04', 4, 5, 1, 1], // + P4, - P5 at 23:59:59 (P5 able at the start)
  ['2020-01-05', 4, 5, 0, 0], // P6 able during the day only
  ['2020-01-06', 4, 4, 0, 0], // no events
  ['2020-01-07', 4, 4, 0, 0], // P7's proposal changes nothing
].map(([date, active, any, up, down]) => ({
  date,
  active_professionals_count: active,
  able_at_any_moment_count: any,
  became_active_count: up,
  became_inactive_count: down,
}));

describe.each(BACKENDS)('availability snapshot on the %s backend', (backend) => {
  let db: TestDatabase;
  let session: PipelineSession;
  const mart = () => `"${session.ctx.schemas.mart}"`;
  const snapshotRows = async (where = 'true') =>
    (
      await session.ctx.db.query(
        `SELECT date, active_professionals_count, able_at_any_moment_count, became_active_count, became_inactive_count FROM ${mart()}.availability_snapshot WHERE ${where} ORDER BY date`,
      )
    ).rows;
  const loadOnly = async (lines: string[]) => {
    await session.ctx.db.exec(`TRUNCATE "${session.ctx.schemas.raw}".event, "${session.ctx.schemas.raw}".quarantine`);
    await ingest(session.ctx, [await writeEventLogFile(lines)]);
    await buildModel(session.ctx);
  };

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    session = await db.session();
  });
  afterAll(async () => {
    await session?.close({ ok: true });
    await db?.cleanup();
  });

  it('gives the hand-computed counts for the edge-case fixture', async () => {
    await loadOnly(FIXTURE);
    const result = await buildAvailabilitySnapshot(session.ctx);
    expect(result).toMatchObject({ from: '2020-01-01', to: '2020-01-07', days_written: 7, full_rebuild: true });
    expect(await snapshotRows()).toEqual(EXPECTED);
  });

  it('builds the availability history the fixture implies', async () => {
    await loadOnly(FIXTURE);
    const { rows } = await session.ctx.db.query(
      `SELECT professional_id, valid_from, valid_to, is_able, is_current FROM ${mart()}.professional_availability_history ORDER BY professional_id, valid_from`,
    );
    expect(rows).toEqual([
      { professional_id: 1, valid_from: '2020-01-01 10:00:00', valid_to: null, is_able: true, is_current: true },
      { professional_id: 3, valid_from: '2020-01-01 09:00:00', valid_to: null, is_able: true, is_current: true },
      { professional_id: 4, valid_from: '2020-01-04 08:00:00', valid_to: null, is_able: true, is_current: true },
      { professional_id: 5, valid_from: '2020-01-03 00:00:00', valid_to: '2020-01-04 23:59:59', is_able: true, is_current: false },
      { professional_id: 5, valid_from: '2020-01-04 23:59:59', valid_to: null, is_able: false, is_current: true },
      { professional_id: 6, valid_from: '2020-01-05 10:00:00', valid_to: '2020-01-05 18:00:00', is_able: true, is_current: false },
      { professional_id: 6, valid_from: '2020-01-05 18:00:00', valid_to: null, is_able: false, is_current: true },
      { professional_id: 8, valid_from: '2020-01-03 13:00:00', valid_to: null, is_able: true, is_current: true },
    ]);
    const professionals = await session.ctx.db.query(`SELECT professional_id, is_currently_able FROM ${mart()}.dim_professional ORDER BY 1`);
    expect(professionals.rows.filter((r) => r.is_currently_able).map((r) => r.professional_id)).toEqual([1, 3, 4, 8]);
    expect(professionals.rows).toHaveLength(8);
  });

  it('recomputes a range exactly as a full rebuild, leaving other days untouched', async () => {
    await loadOnly(FIXTURE);
    await buildAvailabilitySnapshot(session.ctx);
    await session.ctx.db.exec(`UPDATE ${mart()}.availability_snapshot SET active_professionals_count = 99, able_at_any_moment_count = 99`);
    await buildAvailabilitySnapshot(session.ctx, { from: '2020-01-03', to: '2020-01-05' });
    const rows = await snapshotRows();
    expect(rows.filter((r) => (r.date as string) >= '2020-01-03' && (r.date as string) <= '2020-01-05')).toEqual(EXPECTED.slice(2, 5));
    expect(rows.filter((r) => r.active_professionals_count === 99).map((r) => r.date)).toEqual(['2020-01-01', '2020-01-02', '2020-01-06', '2020-01-07']);
  });

  it('extends beyond the data with the carried-over state, and rejects an inverted range', async () => {
    await loadOnly(FIXTURE);
    await buildAvailabilitySnapshot(session.ctx, { from: '2019-12-31', to: '2020-01-09' });
    const rows = await snapshotRows();
    expect(rows[0]).toEqual({ date: '2019-12-31', active_professionals_count: 0, able_at_any_moment_count: 0, became_active_count: 0, became_inactive_count: 0 });
    expect(rows.at(-1)).toEqual({ date: '2020-01-09', active_professionals_count: 4, able_at_any_moment_count: 4, became_active_count: 0, became_inactive_count: 0 });
    await expect(buildAvailabilitySnapshot(session.ctx, { from: '2020-01-05', to: '2020-01-01' })).rejects.toThrow('--from 2020-01-05 is after --to 2020-01-01');
    await expect(buildAvailabilitySnapshot(session.ctx, { from: '2020-02-30' })).rejects.toThrow('--from must be a date YYYY-MM-DD');
  });

  it('matches the TypeScript reference on generated logs (property)', async () => {
    for (const seed of [1, 2, 3]) {
      const events = [...generateEvents({ events: 400, seed, start: '2020-01-01', days: 12 })];
      await loadOnly(events.map((e) => eventLine(e.eventId, e.eventType, e.professionalId, e.createdAt, e.metaData)));
      await buildAvailabilitySnapshot(session.ctx);
      const reference = referenceSnapshot(events, '2020-01-01', '2020-01-12');
      const actual = (await snapshotRows()).map((r) => ({ date: r.date, active: r.active_professionals_count, ableAtAnyMoment: r.able_at_any_moment_count }));
      expect(actual, `seed ${seed}`).toEqual(reference);
    }
  });

  it('matches the TypeScript reference on random toggles with frequent ties and day boundaries (property)', async () => {
    // Few professionals, days and instants, so equal timestamps and midnight edges are common.
    const event = fc.record({
      professionalId: fc.integer({ min: 1, max: 4 }),
      eventType: fc.constantFrom(ABLE, UNABLE, ABLE, 'proposed'),
      day: fc.integer({ min: 1, max: 4 }),
      time: fc.constantFrom('00:00:00', '12:00:00', '23:59:59'),
    });
    const log = fc
      .array(event, { minLength: 1, maxLength: 40 })
      // Event ids are unrelated to time and file order: ties must be broken by event_id.
      .chain((drawn) => fc.tuple(fc.constant(drawn), fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: drawn.length, maxLength: drawn.length })));
    await fc.assert(
      fc.asyncProperty(log, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 4 }), async ([drawn, ids], fromDay, span) => {
        const events: ReferenceEvent[] = drawn.map((e, i) => ({
          eventId: ids[i] as number,
          eventType: e.eventType,
          professionalId: e.professionalId,
          createdAt: `2020-01-0${e.day} ${e.time}`,
        }));
        await loadOnly(events.map((e) => eventLine(e.eventId, e.eventType, e.professionalId, e.createdAt)));
        const from = `2020-01-0${fromDay}`;
        const to = `2020-01-0${Math.min(fromDay + span, 7)}`;
        await buildAvailabilitySnapshot(session.ctx, { from, to });
        const actual = (await snapshotRows(`date BETWEEN '${from}' AND '${to}'`)).map((r) => ({ date: r.date, active: r.active_professionals_count, ableAtAnyMoment: r.able_at_any_moment_count }));
        expect(actual).toEqual(referenceSnapshot(events, from, to));
      }),
      { numRuns: 25, seed: 20200101 },
    );
  });
});
