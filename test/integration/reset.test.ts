import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/open.js';
import { schemaNames } from '../../src/pipeline/context.js';
import { resetPipeline } from '../../src/pipeline/reset.js';
import { ConfigurationError } from '../../src/util/errors.js';
import { BACKENDS, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';

describe.each(BACKENDS)('reset on the %s backend', (backend) => {
  let testDb: TestDatabase | undefined;
  let db: Database | undefined;
  afterEach(async () => {
    await db?.close();
    await testDb?.cleanup();
  });

  const open = async () => {
    testDb = await createTestDatabase(backend);
    const settings = testDb.settings();
    db = await openDatabase(settings);
    return { db, schemas: schemaNames(settings) };
  };
  const existing = async (db: Database, names: string[]) =>
    (await db.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[]) ORDER BY nspname', [names])).rows.map((r) => r.nspname);

  it('drops the three schemas of a migrated pipeline, and nothing else; a second reset finds nothing', async () => {
    const { db, schemas } = await open();
    await migrate(db, schemas);
    const bystander = `${schemas.mart}_bystander`;
    await db.exec(`CREATE SCHEMA "${bystander}"; CREATE TABLE "${bystander}".kept (id integer)`);
    try {
      expect(await resetPipeline(db, schemas)).toEqual({ dropped: [schemas.mart, schemas.staging, schemas.raw] });
      expect(await existing(db, [schemas.mart, schemas.staging, schemas.raw, bystander])).toEqual([bystander]);
      expect(await resetPipeline(db, schemas)).toEqual({ dropped: [] });
      // A fresh start: the migrations apply from the first one again.
      expect((await migrate(db, schemas)).alreadyApplied).toBe(0);
    } finally {
      await db.exec(`DROP SCHEMA IF EXISTS "${bystander}" CASCADE`);
    }
  });

  it('refuses a raw schema instapro did not create, and drops nothing', async () => {
    const { db, schemas } = await open();
    await db.exec(`CREATE SCHEMA "${schemas.raw}"; CREATE SCHEMA "${schemas.mart}"`);
    await expect(resetPipeline(db, schemas)).rejects.toThrow(new ConfigurationError(
      `invalid configuration: the schema ${schemas.raw} (INSTAPRO_RAW_SCHEMA) has no schema_migration table, so instapro did not create it; nothing was dropped`,
    ));
    expect(await existing(db, [schemas.mart, schemas.raw])).toEqual([schemas.mart, schemas.raw].sort());
  });

  it('refuses mart and staging names other than those the raw schema recorded, and drops nothing', async () => {
    const { db, schemas } = await open();
    await migrate(db, schemas);
    const other = { ...schemas, mart: `${schemas.mart}_other` };
    await expect(resetPipeline(db, other)).rejects.toThrow(`the raw schema ${schemas.raw} belongs to INSTAPRO_SCHEMA=${schemas.mart}`);
    expect(await existing(db, [schemas.mart, schemas.staging, schemas.raw])).toHaveLength(3);
  });
});
