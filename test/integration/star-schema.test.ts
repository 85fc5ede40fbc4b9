import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.js';
import { buildModel } from '../../src/model/build-model.js';
import type { PipelineSession } from '../../src/pipeline/session.js';
import { BACKENDS, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { eventLine, writeEventLogFile } from '../helpers/event-log-files.js';

describe.each(BACKENDS)('star schema on the %s backend', (backend) => {
  let db: TestDatabase;
  let session: PipelineSession;
  const q = async (sql: string) => (await session.ctx.db.query(sql.replaceAll('{{mart}}', `"${session.ctx.schemas.mart}"`))).rows;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    session = await db.session();
    const file = await writeEventLogFile([
      eventLine(1, 'created_account', 100, '2020-01-03 08:00:00'),
      eventLine(2, 'proposed', 100, '2020-01-04 10:00:00', '60_tuinonderhoud_maintain-garden_7.63'),
      eventLine(3, 'proposed', 100, '2020-01-05 10:00:00', '60_tuin-onderhoud_garden-maintenance_9.10'), // the service was renamed
      eventLine(4, 'proposed', 200, '2020-01-04 11:00:00', '34_tegels_tiling_0.22'), // 200 has no created_account event
      eventLine(5, 'became_able_to_propose', 100, '2020-01-04 09:00:00'),
      eventLine(6, 'became_unable_to_propose', 100, '2020-01-06 09:00:00'),
      // Service 77 had two names last proposed at the same instant: the higher event_id decides,
      // not a later event_id proposed earlier under a third name.
      eventLine(7, 'created_account', 300, '2020-01-04 07:00:00'),
      eventLine(8, 'proposed', 300, '2020-01-05 12:00:00', '77_a-naam_a-name_1.00'),
      eventLine(9, 'proposed', 300, '2020-01-05 12:00:00', '77_b-naam_b-name_1.00'),
      eventLine(10, 'proposed', 300, '2020-01-04 12:00:00', '77_c-naam_c-name_1.00'),
    ]);
    await ingest(session.ctx, [file]);
    await buildModel(session.ctx);
  });
  afterAll(async () => {
    await session?.close({ ok: true });
    await db?.cleanup();
  });

  it('keeps the lead fee per proposal, as a measure', async () => {
    expect(await q('SELECT event_id, service_id, lead_fee, date_key FROM {{mart}}.fct_proposal ORDER BY event_id')).toEqual([
      { event_id: 2, service_id: 60, lead_fee: '7.63', date_key: 20200104 },
      { event_id: 3, service_id: 60, lead_fee: '9.10', date_key: 20200105 },
      { event_id: 4, service_id: 34, lead_fee: '0.22', date_key: 20200104 },
      { event_id: 8, service_id: 77, lead_fee: '1.00', date_key: 20200105 },
      { event_id: 9, service_id: 77, lead_fee: '1.00', date_key: 20200105 },
      { event_id: 10, service_id: 77, lead_fee: '1.00', date_key: 20200104 },
    ]);
  });

  it('stores a proposal once: its service and fee on its fct_event row, NULL on other events', async () => {
    expect(await q(`SELECT event_id, event_type, service_id, lead_fee FROM {{mart}}.fct_event WHERE event_id IN (1, 2, 5) ORDER BY event_id`)).toEqual([
      { event_id: 1, event_type: 'created_account', service_id: null, lead_fee: null },
      { event_id: 2, event_type: 'proposed', service_id: 60, lead_fee: '7.63' },
      { event_id: 5, event_type: 'became_able_to_propose', service_id: null, lead_fee: null },
    ]);
    expect(await q(`SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = '${session.ctx.schemas.mart}' AND table_name = 'fct_proposal'`)).toEqual([
      { table_name: 'fct_proposal', table_type: 'VIEW' },
    ]);
  });

  it('names a service after its latest proposal and counts the names seen', async () => {
    expect(await q('SELECT service_id, service_name_nl, service_name_en, names_seen FROM {{mart}}.dim_service ORDER BY service_id')).toEqual([
      { service_id: 34, service_name_nl: 'tegels', service_name_en: 'tiling', names_seen: 1 },
      { service_id: 60, service_name_nl: 'tuin-onderhoud', service_name_en: 'garden-maintenance', names_seen: 2 },
      { service_id: 77, service_name_nl: 'b-naam', service_name_en: 'b-name', names_seen: 3 },
    ]);
  });

  it('keeps every name pair a service was proposed under, with when and how often', async () => {
    expect(await q('SELECT * FROM {{mart}}.dim_service_name ORDER BY service_id, first_proposed_at, service_name_nl')).toEqual([
      { service_id: 34, service_name_nl: 'tegels', service_name_en: 'tiling', first_proposed_at: '2020-01-04 11:00:00', last_proposed_at: '2020-01-04 11:00:00', proposals_count: 1 },
      { service_id: 60, service_name_nl: 'tuinonderhoud', service_name_en: 'maintain-garden', first_proposed_at: '2020-01-04 10:00:00', last_proposed_at: '2020-01-04 10:00:00', proposals_count: 1 },
      { service_id: 60, service_name_nl: 'tuin-onderhoud', service_name_en: 'garden-maintenance', first_proposed_at: '2020-01-05 10:00:00', last_proposed_at: '2020-01-05 10:00:00', proposals_count: 1 },
      { service_id: 77, service_name_nl: 'c-naam', service_name_en: 'c-name', first_proposed_at: '2020-01-04 12:00:00', last_proposed_at: '2020-01-04 12:00:00', proposals_count: 1 },
      { service_id: 77, service_name_nl: 'a-naam', service_name_en: 'a-name', first_proposed_at: '2020-01-05 12:00:00', last_proposed_at: '2020-01-05 12:00:00', proposals_count: 1 },
      { service_id: 77, service_name_nl: 'b-naam', service_name_en: 'b-name', first_proposed_at: '2020-01-05 12:00:00', last_proposed_at: '2020-01-05 12:00:00', proposals_count: 1 },
    ]);
  });

  it('describes professionals: account creation, first and last event, current availability', async () => {
    expect(await q('SELECT * FROM {{mart}}.dim_professional ORDER BY professional_id')).toEqual([
      {
        professional_id: 100,
        account_created_at: '2020-01-03 08:00:00',
        first_event_at: '2020-01-03 08:00:00',
        last_event_at: '2020-01-06 09:00:00',
        is_currently_able: false,
        last_availability_change_at: '2020-01-06 09:00:00',
        proposals_count: 2,
      },
      {
        professional_id: 200,
        account_created_at: null,
        first_event_at: '2020-01-04 11:00:00',
        last_event_at: '2020-01-04 11:00:00',
        is_currently_able: false,
        last_availability_change_at: null,
        proposals_count: 1,
      },
      {
        professional_id: 300,
        account_created_at: '2020-01-04 07:00:00',
        first_event_at: '2020-01-04 07:00:00',
        last_event_at: '2020-01-05 12:00:00',
        is_currently_able: false,
        last_availability_change_at: null,
        proposals_count: 3,
      },
    ]);
  });

  it('covers every day from the first to the last event in dim_date, with calendar attributes', async () => {
    const days = await q('SELECT date_key, date, iso_week, week_start, month_start, quarter, iso_weekday, weekday_name, is_weekend FROM {{mart}}.dim_date ORDER BY date');
    expect(days.map((d) => d.date)).toEqual(['2020-01-03', '2020-01-04', '2020-01-05', '2020-01-06']);
    // 2020-01-04 was a Saturday in ISO week 1 starting Monday 2019-12-30.
    expect(days[1]).toEqual({ date_key: 20200104, date: '2020-01-04', iso_week: 1, week_start: '2019-12-30', month_start: '2020-01-01', quarter: 1, iso_weekday: 6, weekday_name: 'Saturday', is_weekend: true });
  });

  it('leaves planner statistics on the raw events and on every rebuilt table', async () => {
    // pg_stats has column statistics only once a table has been analyzed (an index build sets
    // the row count, not these).
    const rows = await session.ctx.db.query<{ schemaname: string; tablename: string }>(
      `SELECT DISTINCT schemaname, tablename FROM pg_stats WHERE schemaname IN ($1, $2) ORDER BY schemaname, tablename`,
      [session.ctx.schemas.mart, session.ctx.schemas.raw],
    );
    const analyzed = rows.rows.map((r) => `${r.schemaname === session.ctx.schemas.raw ? 'raw' : 'mart'}.${r.tablename}`);
    expect(analyzed).toEqual(
      expect.arrayContaining(['raw.event', ...['dim_date', 'dim_professional', 'dim_service', 'dim_service_name', 'fct_event', 'professional_availability_history'].map((t) => `mart.${t}`)]),
    );
  });

  it('leaves the raw events and every rebuilt table vacuumed: each page all-visible, so index-only scans skip the heap', async () => {
    // fct_event's rows are in its partitions (a day without events has an empty one).
    const rows = await session.ctx.db.query<{ relation: string; relpages: number; relallvisible: number; is_partition: boolean }>(
      `SELECT c.oid::regclass::text AS relation, c.relpages, c.relallvisible, c.relispartition AS is_partition
       FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND ((n.nspname = $1 AND c.relname <> 'dim_event_type' AND c.relname <> 'availability_snapshot') OR (n.nspname = $2 AND c.relname = 'event'))
       ORDER BY 1`,
      [session.ctx.schemas.mart, session.ctx.schemas.raw],
    );
    expect(rows.rows.filter((r) => !r.is_partition)).toHaveLength(6);
    expect(rows.rows.filter((r) => r.is_partition && r.relpages > 0).length).toBeGreaterThan(1);
    for (const r of rows.rows) {
      if (!r.is_partition) expect(r.relpages, r.relation).toBeGreaterThan(0);
      expect(r.relallvisible, r.relation).toBe(r.relpages);
    }
  });

  it('reports each statement it runs as progress, and clears the line at the end', async () => {
    const reported: string[] = [];
    const progress = { start: () => undefined, update: () => undefined, activity: (label: string) => reported.push(label), stop: () => reported.push('(stop)') };
    await buildModel({ ...session.ctx, progress }, { fullRefresh: true });
    expect(reported.slice(0, 9)).toEqual([
      'model: stg_event (1/9)',
      'model: stg_proposal (2/9)',
      'model: dim_professional (3/9)',
      'model: dim_date (4/9)',
      'model: dim_service_name (5/9)',
      'model: dim_service (6/9)',
      'model: fct_event (7/9)',
      'model: professional_availability_history (8/9)',
      'model: dim_professional_availability (9/9)',
    ]);
    const keys = reported.filter((label) => label.startsWith('model: keys and indexes, '));
    expect(keys).toContainEqual(expect.stringMatching(/^model: keys and indexes, fct_event_pkey \(\d+\/\d+\)$/));
    expect(keys.at(-1)).toMatch(new RegExp(`\\(${keys.length}/${keys.length}\\)$`));
    expect(reported.slice(-2)).toEqual(['model: counting rows', '(stop)']);
  });

  it('rebuilds to the same rows when run again', async () => {
    const before = await q('SELECT * FROM {{mart}}.fct_event ORDER BY event_id');
    await buildModel(session.ctx, { fullRefresh: true });
    expect(await q('SELECT * FROM {{mart}}.fct_event ORDER BY event_id')).toEqual(before);
    expect(before).toHaveLength(10);
  });
});
