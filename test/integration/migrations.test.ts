import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/open.js';
import { schemaNames } from '../../src/pipeline/context.js';
import { BACKENDS, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { ConfigurationError } from '../../src/util/errors.js';

describe.each(BACKENDS)('migrations on the %s backend', (backend) => {
  let testDb: TestDatabase | undefined;
  let db: Database | undefined;
  afterEach(async () => {
    await db?.close();
    await testDb?.cleanup();
  });

  it('0007 keeps the proposals of a star schema built before it: same rows through the fct_proposal view', async () => {
    testDb = await createTestDatabase(backend);
    const settings = testDb.settings();
    const schemas = schemaNames(settings);
    db = await openDatabase(settings);
    const mart = `"${schemas.mart}"`;
    await migrate(db, schemas, { through: 6 });
    // A star schema as the model wrote it while fct_proposal was a table.
    await db.exec(`
      INSERT INTO ${mart}.dim_date (date_key, date, iso_year, iso_week, week_start, month, month_start, month_name, quarter, year, iso_weekday, weekday_name, is_weekend)
      VALUES (20200104, '2020-01-04', 2020, 1, '2019-12-30', 1, '2020-01-01', 'January', 1, 2020, 6, 'Saturday', true);
      INSERT INTO ${mart}.dim_professional (professional_id, account_created_at, first_event_at, last_event_at, is_currently_able, last_availability_change_at, proposals_count)
      VALUES (100, '2020-01-04 08:00', '2020-01-04 08:00', '2020-01-04 11:00', true, '2020-01-04 09:00', 2);
      INSERT INTO ${mart}.dim_service (service_id, service_name_nl, service_name_en, names_seen, first_proposed_at, last_proposed_at)
      VALUES (60, 'tuinonderhoud', 'garden-maintenance', 1, '2020-01-04 10:00', '2020-01-04 11:00');
      INSERT INTO ${mart}.fct_event (event_id, event_type, professional_id, date_key, created_at, event_date) VALUES
        (1, 'created_account', 100, 20200104, '2020-01-04 08:00', '2020-01-04'),
        (2, 'became_able_to_propose', 100, 20200104, '2020-01-04 09:00', '2020-01-04'),
        (3, 'proposed', 100, 20200104, '2020-01-04 10:00', '2020-01-04'),
        (4, 'proposed', 100, 20200104, '2020-01-04 11:00', '2020-01-04');
      INSERT INTO ${mart}.fct_proposal (event_id, professional_id, service_id, date_key, created_at, lead_fee) VALUES
        (3, 100, 60, 20200104, '2020-01-04 10:00', 7.63),
        (4, 100, 60, 20200104, '2020-01-04 11:00', 0.25);`);
    const before = (await db.query(`SELECT * FROM ${mart}.fct_proposal ORDER BY event_id`)).rows;

    expect((await migrate(db, schemas)).applied).toContain('0007_proposal_measures_on_fct_event.sql');

    expect((await db.query(`SELECT * FROM ${mart}.fct_proposal ORDER BY event_id`)).rows).toEqual(before);
    expect((await db.query(`SELECT event_id, service_id, lead_fee FROM ${mart}.fct_event ORDER BY event_id`)).rows).toEqual([
      { event_id: 1, service_id: null, lead_fee: null },
      { event_id: 2, service_id: null, lead_fee: null },
      { event_id: 3, service_id: 60, lead_fee: '7.63' },
      { event_id: 4, service_id: 60, lead_fee: '0.25' },
    ]);
    // The CHECKs now hold the measures to the proposals.
    await expect(db.exec(`UPDATE ${mart}.fct_event SET lead_fee = 1 WHERE event_id = 1`)).rejects.toThrow(/fct_event_lead_fee_only_on_proposals/);
    await expect(db.exec(`UPDATE ${mart}.fct_event SET service_id = NULL WHERE event_id = 3`)).rejects.toThrow(/fct_event_service_only_on_proposals/);
  });

  it('0011 keeps the facts and the history of a star schema built before it, in a fct_event partitioned by month', async () => {
    testDb = await createTestDatabase(backend);
    const settings = testDb.settings();
    const schemas = schemaNames(settings);
    db = await openDatabase(settings);
    const mart = `"${schemas.mart}"`;
    await migrate(db, schemas, { through: 10 });
    await db.exec(`
      INSERT INTO ${mart}.dim_date (date_key, date, iso_year, iso_week, week_start, month, month_start, month_name, quarter, year, iso_weekday, weekday_name, is_weekend) VALUES
        (20200131, '2020-01-31', 2020, 5, '2020-01-27', 1, '2020-01-01', 'January', 1, 2020, 5, 'Friday', false),
        (20200201, '2020-02-01', 2020, 5, '2020-01-27', 2, '2020-02-01', 'February', 1, 2020, 6, 'Saturday', true);
      INSERT INTO ${mart}.dim_professional (professional_id, account_created_at, first_event_at, last_event_at, is_currently_able, last_availability_change_at, proposals_count)
      VALUES (100, '2020-01-31 08:00', '2020-01-31 08:00', '2020-02-01 10:00', true, '2020-01-31 09:00', 1);
      INSERT INTO ${mart}.dim_service (service_id, service_name_nl, service_name_en, names_seen, first_proposed_at, last_proposed_at)
      VALUES (60, 'tuinonderhoud', 'garden-maintenance', 1, '2020-02-01 10:00', '2020-02-01 10:00');
      INSERT INTO ${mart}.fct_event (event_id, event_type, professional_id, date_key, created_at, event_date, service_id, lead_fee) VALUES
        (1, 'created_account', 100, 20200131, '2020-01-31 08:00', '2020-01-31', NULL, NULL),
        (2, 'became_able_to_propose', 100, 20200131, '2020-01-31 09:00', '2020-01-31', NULL, NULL),
        (3, 'proposed', 100, 20200201, '2020-02-01 10:00', '2020-02-01', 60, 7.63);
      INSERT INTO ${mart}.professional_availability_history (professional_id, valid_from, valid_to, is_able, started_by_event_id, is_current)
      VALUES (100, '2020-01-31 09:00', NULL, true, 2, true);`);
    const facts = (await db.query(`SELECT * FROM ${mart}.fct_event ORDER BY event_id`)).rows;
    const proposals = (await db.query(`SELECT * FROM ${mart}.fct_proposal ORDER BY event_id`)).rows;

    expect((await migrate(db, schemas)).applied).toContain('0011_fct_event_partitioned_by_day.sql');

    expect((await db.query(`SELECT * FROM ${mart}.fct_event ORDER BY event_id`)).rows).toEqual(facts);
    expect((await db.query(`SELECT * FROM ${mart}.fct_proposal ORDER BY event_id`)).rows).toEqual(proposals);
    expect((await db.query(`SELECT count(*)::integer AS n FROM ${mart}.professional_availability_history`)).rows).toEqual([{ n: 1 }]);
    expect((await db.query(`SELECT c.relname AS partition, f.event_id FROM ${mart}.fct_event AS f JOIN pg_class AS c ON c.oid = f.tableoid ORDER BY f.event_id`)).rows).toEqual([
      { partition: 'fct_event_202001', event_id: 1 },
      { partition: 'fct_event_202001', event_id: 2 },
      { partition: 'fct_event_202002', event_id: 3 },
    ]);
    // The key holds the partition key; the foreign keys and CHECKs are those of before.
    await expect(db.exec(`INSERT INTO ${mart}.fct_event (event_id, event_type, professional_id, date_key, created_at, event_date) VALUES (1, 'created_account', 100, 20200131, '2020-01-31 08:00', '2020-01-31')`)).rejects.toThrow(/fct_event_202001_pkey|duplicate key/);
    await expect(db.exec(`INSERT INTO ${mart}.fct_event (event_id, event_type, professional_id, date_key, created_at, event_date) VALUES (9, 'created_account', 999, 20200131, '2020-01-31 10:00', '2020-01-31')`)).rejects.toThrow(/fct_event_professional_id_fkey/);
    await expect(db.exec(`UPDATE ${mart}.fct_event SET lead_fee = 1 WHERE event_id = 1`)).rejects.toThrow(/fct_event_lead_fee_only_on_proposals/);
  });

  it('a database migrated before the schema names were recorded: a missing mart schema is a configuration error, nothing runs', async () => {
    testDb = await createTestDatabase(backend);
    const schemas = schemaNames(testDb.settings());
    db = await openDatabase(testDb.settings());
    await migrate(db, schemas, { through: 7 });
    const renamed = { ...schemas, mart: `${schemas.mart}_renamed` };
    await expect(migrate(db, renamed)).rejects.toThrow(ConfigurationError);
    await expect(migrate(db, renamed)).rejects.toThrow(`INSTAPRO_SCHEMA=${renamed.mart} does not exist, but the raw schema ${schemas.raw} was migrated already`);
    expect((await db.query('SELECT to_regnamespace($1) IS NULL AS absent', [renamed.mart])).rows).toEqual([{ absent: true }]);
    // With the names it was set up with, the remaining migrations apply and record them.
    expect((await migrate(db, schemas)).applied).toContain('0009_schema_names.sql');
    expect((await db.query(`SELECT mart_schema, staging_schema FROM "${schemas.raw}".schema_names`)).rows).toEqual([{ mart_schema: schemas.mart, staging_schema: schemas.staging }]);
  });
});
