/**
 * s3:// inputs against a real S3-compatible server (SeaweedFS; see test/helpers/s3.ts): listing,
 * streaming plain and gzip objects, the manifest by ETag, and every failure the issue names.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.js';
import type { PipelineContext } from '../../src/pipeline/context.js';
import type { PipelineSession } from '../../src/pipeline/session.js';
import { ConfigurationError, EXIT_CODES, InputFileError, InputStorageUnavailableError, PipelineError } from '../../src/util/errors.js';
import { BACKENDS, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { HEADER, eventLine } from '../helpers/event-log-files.js';
import { S3_REQUIRED, S3_SERVER, TestBucket, s3Environment } from '../helpers/s3.js';

const logText = (lines: readonly string[]): string => [HEADER, ...lines].join('\n') + '\n';
const day = (id: number, at: string) => eventLine(id, 'created_account', 10 + id, at);

describe('the S3 test server', () => {
  it.runIf(S3_REQUIRED)('is configured (INSTAPRO_REQUIRE_S3=1: scripts/ci/start-seaweedfs.sh must have run)', () => {
    expect(S3_SERVER, 'INSTAPRO_TEST_S3_ENDPOINT, INSTAPRO_TEST_S3_ACCESS_KEY and INSTAPRO_TEST_S3_SECRET_KEY').toBeDefined();
  });
});

describe.skipIf(!S3_SERVER).each(BACKENDS)('s3:// inputs on the %s backend', (backend) => {
  const server = S3_SERVER!;
  let db: TestDatabase;
  let session: PipelineSession;
  let bucket: TestBucket;

  const raw = () => `"${session.ctx.schemas.raw}"`;
  const events = async () =>
    (await session.ctx.db.query<{ event_id: number; source_file: string; source_line: number }>(`SELECT event_id, source_file, source_line FROM ${raw()}.event ORDER BY event_id`)).rows;
  const manifestSources = async () => (await session.ctx.db.query<{ source: string; version: string }>(`SELECT source, version FROM ${raw()}.input_manifest ORDER BY source`)).rows;
  /** The session's context with other settings (environment variables), as another run would have. */
  const withEnv = async (env: Record<string, string>): Promise<PipelineContext> => ({ ...session.ctx, settings: db.settings({ ...s3Environment(server), ...env }) });
  const failureOf = async (promise: Promise<unknown>): Promise<PipelineError> => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PipelineError);
    return error as PipelineError;
  };

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    session = await db.session('ingest', s3Environment(server));
  });
  afterAll(async () => {
    await session?.close({ ok: true });
    await db?.cleanup();
  });
  beforeEach(async () => {
    await session.ctx.db.exec(`TRUNCATE ${raw()}.event, ${raw()}.quarantine, ${raw()}.input_manifest`);
    bucket = await new TestBucket(server).create();
    return () => bucket.destroy();
  });

  it('loads every *.csv and *.csv.gz object under the prefix, sorted by key, streamed, with its URL as source', async () => {
    await bucket.put('events/date=2020-01-02/part-0.csv.gz', gzipSync(logText([day(3, '2020-01-02 09:00:00')])));
    await bucket.put('events/date=2020-01-01/part-1.csv', logText([day(2, '2020-01-01 10:00:00')]));
    await bucket.put('events/date=2020-01-01/part-0.csv', logText([day(1, '2020-01-01 09:00:00')]));
    await bucket.put('events/date=2020-01-01/_SUCCESS', '');
    await bucket.put('other/date=2020-01-01/part-0.csv', logText([day(9, '2020-01-01 09:00:00')]));

    const result = await ingest(session.ctx, [bucket.url('events/')]);
    expect(result.files.map((f) => [f.file, f.status, f.loaded])).toEqual([
      [bucket.url('events/date=2020-01-01/part-0.csv'), 'loaded', 1],
      [bucket.url('events/date=2020-01-01/part-1.csv'), 'loaded', 1],
      [bucket.url('events/date=2020-01-02/part-0.csv.gz'), 'loaded', 1],
    ]);
    expect((await events()).map((e) => [e.event_id, e.source_file, e.source_line])).toEqual([
      [1, bucket.url('events/date=2020-01-01/part-0.csv'), 2],
      [2, bucket.url('events/date=2020-01-01/part-1.csv'), 2],
      [3, bucket.url('events/date=2020-01-02/part-0.csv.gz'), 2],
    ]);
    expect((await manifestSources()).every((m) => /^etag:.+/.test(m.version))).toBe(true);
  });

  it('skips unchanged objects unread and reads an overwritten one again, classifying its rows', async () => {
    await bucket.put('day/a.csv', logText([day(1, '2020-01-01 09:00:00')]));
    await bucket.put('day/b.csv', logText([day(2, '2020-01-01 10:00:00')]));
    await ingest(session.ctx, [bucket.url('day/')]);

    const unchanged = await ingest(session.ctx, [bucket.url('day/')]);
    expect(unchanged).toMatchObject({ rows_read: 0, loaded: 0, skipped_unchanged: 2 });
    expect(unchanged.files.map((f) => f.status)).toEqual(['skipped_unchanged', 'skipped_unchanged']);

    // A late event lands in b.csv: b is read again (new ETag), its old row is a duplicate.
    await bucket.put('day/b.csv', logText([day(2, '2020-01-01 10:00:00'), day(4, '2020-01-01 23:00:00')]));
    const changed = await ingest(session.ctx, [bucket.url('day/')]);
    expect(changed).toMatchObject({ rows_read: 2, loaded: 1, duplicates: 1, skipped_unchanged: 1 });
    expect(changed.files.map((f) => [f.file, f.status])).toEqual([
      [bucket.url('day/a.csv'), 'skipped_unchanged'],
      [bucket.url('day/b.csv'), 'loaded'],
    ]);
    expect((await events()).map((e) => e.event_id)).toEqual([1, 2, 4]);
  });

  it('fails on an empty partition, naming the URL (exit 4)', async () => {
    await bucket.put('events/date=2020-01-01/part-0.csv', logText([day(1, '2020-01-01 09:00:00')]));
    const url = bucket.url('events/date=2020-01-02/');
    const error = await failureOf(ingest(session.ctx, [url]));
    expect(error).toBeInstanceOf(InputFileError);
    expect(error.exitCode).toBe(EXIT_CODES.input);
    expect(error.message).toBe(`${url}: no *.csv or *.csv.gz object under this prefix (an empty partition)`);
  });

  it('fails on a missing bucket at once, without retrying (exit 4)', async () => {
    const url = `s3://${bucket.name}-missing/events/`;
    const ctx = await withEnv({ INSTAPRO_CONNECT_RETRIES: '3', INSTAPRO_CONNECT_RETRY_DELAY_MS: '2000' });
    const started = Date.now();
    const error = await failureOf(ingest(ctx, [url]));
    // Three retries would have waited 2 + 4 + 8 seconds.
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error).toBeInstanceOf(InputFileError);
    expect(error.message).toMatch(new RegExp(`^s3://${bucket.name}-missing/events/: bucket ${bucket.name}-missing does not exist at the S3 store at ${server.endpoint}$`));
  });

  it('fails on wrong credentials at once, without retrying, naming the URL and never a key (exit 3)', async () => {
    await bucket.put('day/a.csv', logText([day(1, '2020-01-01 09:00:00')]));
    const wrongSecret = 'wrong-secret-0123456789abcdef';
    const ctx = await withEnv({ AWS_SECRET_ACCESS_KEY: wrongSecret, INSTAPRO_CONNECT_RETRIES: '3', INSTAPRO_CONNECT_RETRY_DELAY_MS: '2000' });
    const started = Date.now();
    const error = await failureOf(ingest(ctx, [bucket.url('day/')]));
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.exitCode).toBe(EXIT_CODES.configuration);
    expect(error.message).toMatch(new RegExp(`^${bucket.url('day/')}: access denied by the S3 store at .*: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY$`));
    expect(error.message).not.toContain(wrongSecret);
    expect(error.message).not.toContain(server.accessKey);
    const unknownKey = await failureOf(ingest(await withEnv({ AWS_ACCESS_KEY_ID: 'AKIAUNKNOWNKEY0000' }), [bucket.url('day/')]));
    expect(unknownKey).toBeInstanceOf(ConfigurationError);
    expect(unknownKey.message).not.toContain('AKIAUNKNOWNKEY0000');
    expect(await events()).toEqual([]);
  });

  it('retries an unreachable store, then fails naming the URL and the endpoint (exit 9)', async () => {
    // The discard port: nothing listens there on a test machine.
    const endpoint = 'http://127.0.0.1:9';
    const ctx = await withEnv({ AWS_ENDPOINT_URL_S3: endpoint, INSTAPRO_CONNECT_RETRIES: '2', INSTAPRO_CONNECT_RETRY_DELAY_MS: '50' });
    const error = await failureOf(ingest(ctx, [bucket.url('day/')]));
    expect(error).toBeInstanceOf(InputStorageUnavailableError);
    expect(error.exitCode).toBe(EXIT_CODES.inputStorage);
    expect(error.message).toBe(`${bucket.url('day/')}: cannot reach the S3 store at ${endpoint}: ECONNREFUSED (after 3 attempts)`);
  });

  it('fails on an object that disappears or changes after listing, loads nothing of it, and the next run completes the work', async () => {
    await bucket.put('day/a.csv', logText([day(1, '2020-01-01 09:00:00')]));
    await bucket.put('day/b.csv', logText([day(2, '2020-01-01 10:00:00')]));
    await bucket.put('day/c.csv', logText([day(3, '2020-01-01 11:00:00')]));
    /**
     * The context with `action` run once, just before the load of `url` starts (its transaction
     * names it as the source file), i.e. after every object was listed and its header checked.
     */
    const beforeLoadOf = (url: string, action: () => Promise<void>): PipelineContext => {
      let done = false;
      const db = Object.create(session.ctx.db) as PipelineContext['db'];
      db.query = async (sql, params) => {
        if (!done && params?.includes(url)) {
          done = true;
          await action();
        }
        return session.ctx.db.query(sql, params);
      };
      return { ...session.ctx, db };
    };

    const gone = await failureOf(ingest(beforeLoadOf(bucket.url('day/b.csv'), () => bucket.remove('day/b.csv')), [bucket.url('day/')]));
    expect(gone).toBeInstanceOf(InputFileError);
    expect(gone.message).toBe(`${bucket.url('day/b.csv')}: object no longer exists (removed after it was listed); run again`);
    // a.csv was loaded (and recorded) in its own transaction before; nothing of b or c.
    expect((await events()).map((e) => e.event_id)).toEqual([1]);
    expect((await manifestSources()).map((m) => m.source)).toEqual([bucket.url('day/a.csv')]);

    // Delivered again, b.csv is replaced after listing: the GET asks for the listed ETag, so the
    // newer version is refused rather than read as if it were the listed one.
    await bucket.put('day/b.csv', logText([day(2, '2020-01-01 10:00:00')]));
    const replaced = await failureOf(
      ingest(beforeLoadOf(bucket.url('day/b.csv'), async () => void (await bucket.put('day/b.csv', logText([day(2, '2020-01-01 10:00:00'), day(5, '2020-01-01 12:00:00')])))), [bucket.url('day/')]),
    );
    expect(replaced).toBeInstanceOf(InputFileError);
    expect(replaced.message).toBe(`${bucket.url('day/b.csv')}: object changed after it was listed; run again`);
    expect((await events()).map((e) => e.event_id)).toEqual([1]);

    const done = await ingest(session.ctx, [bucket.url('day/')]);
    expect(done.files.map((f) => f.status)).toEqual(['skipped_unchanged', 'loaded', 'loaded']);
    expect((await events()).map((e) => e.event_id)).toEqual([1, 2, 3, 5]);
  });
});
