/**
 * The CLI with s3:// inputs, as an operator or the Airflow task runs it: documented exit codes,
 * one error line naming the URL, the S3 keys never printed. The unreachable store needs no server;
 * the rest runs against the S3 test server (test/helpers/s3.ts) when there is one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER, eventLine } from '../helpers/event-log-files.js';
import { S3_SERVER, TestBucket, s3Environment } from '../helpers/s3.js';
import { describeResult, jsonSummary, requireBuiltCli, runCli } from '../helpers/subprocess.js';

const SECRET = 'never-print-this-secret-7f3a';
const ACCESS_KEY = 'AKIANEVERPRINTTHIS7F3A';
let tmp: string;

beforeAll(async () => {
  requireBuiltCli();
  tmp = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-s3-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const embeddedEnv = () => ({ INSTAPRO_DATA_DIR: path.join(tmp, 'db'), INSTAPRO_CONNECT_RETRY_DELAY_MS: '20' });

describe('s3:// inputs from the CLI', () => {
  it('exits 9 after the retries when the store is unreachable, with one error line naming the URL, and never prints the keys', async () => {
    const args = ['ingest', '--input', 's3://landing/events/date=2020-01-01/'];
    const env = {
      ...embeddedEnv(),
      INSTAPRO_CONNECT_RETRIES: '2',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      AWS_ACCESS_KEY_ID: ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: SECRET,
      INSTAPRO_S3_FORCE_PATH_STYLE: 'true',
    };
    const result = await runCli(args, { env });
    expect(result.code, describeResult(args, result)).toBe(9);
    const lines = result.stderr.trim().split('\n');
    expect(lines.filter((l) => l.includes('retrying'))).toHaveLength(2);
    expect(lines.at(-1)).toBe('instapro: error: s3://landing/events/date=2020-01-01/: cannot reach the S3 store at http://127.0.0.1:9: ECONNREFUSED (after 3 attempts)');
    for (const text of [result.stdout, result.stderr]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(ACCESS_KEY);
    }

    const config = await runCli(['config', '--json'], { env });
    expect(config.code, describeResult(['config'], config)).toBe(0);
    expect(config.stdout).not.toContain(SECRET);
    expect(config.stdout).not.toContain(ACCESS_KEY);
    expect(jsonSummary(config.stdout).config).toMatchObject({ awsAccessKeyId: '********', awsSecretAccessKey: '********', awsEndpointUrlS3: 'http://127.0.0.1:9', s3ForcePathStyle: true });
  });

  it('lists the S3 settings among the environment variables, the keys as secret', async () => {
    const result = await runCli(['config', '--env-vars', '--json'], { env: embeddedEnv() });
    expect(result.code).toBe(0);
    const variables = JSON.parse(result.stdout) as { name: string; secret: boolean }[];
    const s3 = variables.filter((v) => v.name.startsWith('AWS_') || v.name.includes('_S3_'));
    expect(s3.map((v) => [v.name, v.secret])).toEqual([
      ['AWS_ACCESS_KEY_ID', true],
      ['AWS_SECRET_ACCESS_KEY', true],
      ['AWS_REGION', false],
      ['AWS_ENDPOINT_URL_S3', false],
      ['AWS_ENDPOINT_URL', false],
      ['INSTAPRO_S3_FORCE_PATH_STYLE', false],
    ]);
  });

  describe.skipIf(!S3_SERVER)('against the S3 test server', () => {
    let bucket: TestBucket;
    beforeAll(async () => {
      bucket = await new TestBucket(S3_SERVER!).create();
      await bucket.put('events/date=2020-01-01/part-0.csv', `${HEADER}\n${eventLine(1, 'created_account', 10, '2020-01-01 09:00:00')}\n`);
    });
    afterAll(async () => {
      await bucket?.destroy();
    });

    it('runs the pipeline on a partition, then skips it unchanged (skipped_unchanged in the JSON)', async () => {
      const env = { ...embeddedEnv(), ...s3Environment(S3_SERVER!), INSTAPRO_DATA_DIR: path.join(tmp, 'db-run') };
      const args = ['run', '--input', bucket.url('events/date=2020-01-01/'), '--json'];
      const first = await runCli(args, { env });
      expect(first.code, describeResult(args, first)).toBe(0);
      expect(jsonSummary(first.stdout).ingest).toMatchObject({ rows_read: 1, loaded: 1, skipped_unchanged: 0 });
      const second = await runCli(args, { env });
      expect(second.code, describeResult(args, second)).toBe(0);
      expect(jsonSummary(second.stdout).ingest).toMatchObject({ rows_read: 0, loaded: 0, skipped_unchanged: 1, files: [{ file: bucket.url('events/date=2020-01-01/part-0.csv'), status: 'skipped_unchanged' }] });
    });

    it('exits 3 on wrong credentials, at once, naming the URL and never the keys', async () => {
      const env = { ...embeddedEnv(), ...s3Environment(S3_SERVER!), AWS_SECRET_ACCESS_KEY: SECRET, INSTAPRO_CONNECT_RETRIES: '5', INSTAPRO_CONNECT_RETRY_DELAY_MS: '2000' };
      const args = ['ingest', '--input', bucket.url('events/')];
      const result = await runCli(args, { env });
      expect(result.code, describeResult(args, result)).toBe(3);
      expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^instapro: error: ${bucket.url('events/')}: access denied by the S3 store at `))]);
      expect(result.stderr).not.toContain(SECRET);
      expect(result.stderr).not.toContain(S3_SERVER!.accessKey);
    });

    it('exits 4 on a missing bucket and on an empty partition', async () => {
      const env = { ...embeddedEnv(), ...s3Environment(S3_SERVER!) };
      const missing = await runCli(['ingest', '--input', `s3://${bucket.name}-missing/events/`], { env });
      expect(missing.code, describeResult(['ingest'], missing)).toBe(4);
      expect(missing.stderr).toContain(`instapro: error: s3://${bucket.name}-missing/events/: bucket ${bucket.name}-missing does not exist`);
      const empty = await runCli(['ingest', '--input', bucket.url('events/date=2020-01-02/')], { env });
      expect(empty.code, describeResult(['ingest'], empty)).toBe(4);
      expect(empty.stderr).toContain(`${bucket.url('events/date=2020-01-02/')}: no *.csv or *.csv.gz object under this prefix`);
    });
  });
});
