/**
 * A database that cannot be reached or refuses the credentials: exit 7 after a bounded number of
 * retries with backoff, the host and port named, and the password never printed anywhere.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_URL } from '../helpers/backends.js';
import { describeResult, jsonSummary, requireBuiltCli, runCli, stackFrames, stderrArrival } from '../helpers/subprocess.js';

const PASSWORD = 's3cr3t-pw';
/** Port 1 on the loopback interface: nothing listens there, connections are refused at once. */
const UNREACHABLE_URL = `postgresql://u:${PASSWORD}@127.0.0.1:1/db`;
const RETRIES = 2;
const FIRST_DELAY_MS = 50;
/** Delays double: 50 ms, then 100 ms. */
const MIN_BACKOFF_MS = FIRST_DELAY_MS * (2 ** RETRIES - 1);
const SAMPLE_ARG = 'data/sample/event_log.csv';

let tmp: string;

beforeAll(async () => {
  requireBuiltCli();
  tmp = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-unreachable-'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const baseEnv = () => ({
  INSTAPRO_CONNECT_RETRIES: String(RETRIES),
  INSTAPRO_CONNECT_RETRY_DELAY_MS: String(FIRST_DELAY_MS),
  // Never the embedded database, even if the URL were ignored.
  INSTAPRO_DATA_DIR: path.join(tmp, 'must-not-be-created'),
  INSTAPRO_SCHEMA: 'e2e_unreachable',
  INSTAPRO_RAW_SCHEMA: 'e2e_unreachable_raw',
  INSTAPRO_STAGING_SCHEMA: 'e2e_unreachable_staging',
});

function expectNoSecret(secret: string, ...texts: string[]): void {
  for (const text of texts) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(encodeURIComponent(secret));
  }
}

describe('database unreachable', () => {
  it('run exits 7 after bounded retries with backoff, names host and port, never prints the password', async () => {
    const args = ['run', '--input', SAMPLE_ARG, '--verbose'];
    const result = await runCli(args, { env: { ...baseEnv(), INSTAPRO_DATABASE_URL: UNREACHABLE_URL } });
    expect(result.code, describeResult(args, result)).toBe(7);

    const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
    const retries = lines.filter((l) => /retrying/.test(l));
    expect(retries, result.stderr).toHaveLength(RETRIES);
    for (const [i, line] of retries.entries()) {
      expect(line).toContain('127.0.0.1:1');
      expect(line).toContain(`attempt ${i + 1}`);
    }
    const errors = lines.filter((l) => /error/.test(l));
    expect(errors, result.stderr).toHaveLength(1);
    expect(errors[0]).toContain('127.0.0.1:1');
    expect(errors[0]).toContain(`${RETRIES + 1} attempts`);
    expect(stackFrames(result.stderr)).toEqual([]);
    expect(result.durationMs).toBeGreaterThanOrEqual(MIN_BACKOFF_MS);
    // The attempts were spaced out: between the first failure and the final error lie the 50 ms
    // and 100 ms delays (measured on arrival, so allow for the pipe: at least the second delay).
    const firstFailure = stderrArrival(result, /attempt 1/);
    const finalError = stderrArrival(result, /error:/);
    expect(firstFailure).toBeDefined();
    expect(finalError).toBeDefined();
    expect(finalError! - firstFailure!).toBeGreaterThanOrEqual(2 ** (RETRIES - 1) * FIRST_DELAY_MS);
    // Bounded: three refused connections and 150 ms of waiting, not a minute of hanging on.
    expect(result.durationMs).toBeLessThan(30_000);
    expectNoSecret(PASSWORD, result.stdout, result.stderr);
  });

  it('the --json summary reports exit 7 and holds no password; the URL may also come from --database-url', async () => {
    const args = ['ingest', '--input', SAMPLE_ARG, '--json', '--database-url', UNREACHABLE_URL];
    const result = await runCli(args, { env: baseEnv() });
    expect(result.code, describeResult(args, result)).toBe(7);
    const summary = jsonSummary(result.stdout);
    expect(summary).toMatchObject({ status: 'failed', exit_code: 7 });
    expect(String(summary.error)).toContain('127.0.0.1:1');
    expect(result.durationMs).toBeGreaterThanOrEqual(MIN_BACKOFF_MS);
    expectNoSecret(PASSWORD, result.stdout, result.stderr);
  });

  it('a server given by INSTAPRO_DB_HOST/PORT/USER/PASSWORD: exit 7, host and port named, no password', async () => {
    const args = ['ingest', '--input', SAMPLE_ARG];
    const env = { ...baseEnv(), INSTAPRO_DB_HOST: '127.0.0.1', INSTAPRO_DB_PORT: '1', INSTAPRO_DB_USER: 'u', INSTAPRO_DB_PASSWORD: PASSWORD };
    const result = await runCli(args, { env });
    expect(result.code, describeResult(args, result)).toBe(7);
    expect(result.stderr).toContain('127.0.0.1:1');
    expect(result.stderr.split('\n').filter((l) => /retrying/.test(l))).toHaveLength(RETRIES);
    expectNoSecret(PASSWORD, result.stdout, result.stderr);
  });

  it.skipIf(!SERVER_URL)('a wrong password against the real server exits 7, without retrying and without echoing the password', async () => {
    const url = new URL(SERVER_URL as string);
    const wrong = 'wr0ng-Pa55word';
    url.password = wrong;
    url.username ||= 'postgres';
    const args = ['ingest', '--input', SAMPLE_ARG];
    const json = ['ingest', '--input', SAMPLE_ARG, '--json'];
    const env = { ...baseEnv(), INSTAPRO_DATABASE_URL: url.toString() };
    const [result, jsonResult] = await Promise.all([runCli(args, { env }), runCli(json, { env })]);
    expect(result.code, describeResult(args, result)).toBe(7);
    expect(jsonResult.code, describeResult(json, jsonResult)).toBe(7);
    expect(result.stderr).toMatch(/password authentication failed/);
    expect(result.stderr).toContain(`${url.hostname}:${url.port || 5432}`);
    // A wrong password is permanent: retrying cannot help.
    expect(result.stderr.split('\n').filter((l) => /retrying/.test(l))).toEqual([]);
    expectNoSecret(wrong, result.stdout, result.stderr, jsonResult.stdout, jsonResult.stderr);
    expect(jsonSummary(jsonResult.stdout)).toMatchObject({ status: 'failed', exit_code: 7 });
  });
});

describe('config masks secrets', () => {
  it('config (text and --json) shows the database URL and INSTAPRO_DB_PASSWORD masked', async () => {
    const withUrl = { ...baseEnv(), INSTAPRO_DATABASE_URL: UNREACHABLE_URL };
    const withParts = { ...baseEnv(), INSTAPRO_DB_HOST: 'db.example', INSTAPRO_DB_USER: 'u', INSTAPRO_DB_PASSWORD: PASSWORD };
    const runs = await Promise.all([
      runCli(['config'], { env: withUrl }),
      runCli(['config', '--json'], { env: withUrl }),
      runCli(['config', '--json', '--database-url', UNREACHABLE_URL], { env: baseEnv() }),
      runCli(['config'], { env: withParts }),
      runCli(['config', '--json'], { env: withParts }),
    ]);
    for (const r of runs) {
      expect(r.code, describeResult(['config'], r)).toBe(0);
      expectNoSecret(PASSWORD, r.stdout, r.stderr);
      expect(r.stdout).toContain('********');
    }
    // Masked, not dropped: the rest of the URL is still there to check.
    expect(runs[0]!.stdout).toContain('postgresql://u:********@127.0.0.1:1/db');
    const summary = jsonSummary(runs[1]!.stdout);
    expect(summary).toMatchObject({ status: 'succeeded', config: { databaseUrl: 'postgresql://u:********@127.0.0.1:1/db' } });
    expect(jsonSummary(runs[4]!.stdout)).toMatchObject({ config: { dbHost: 'db.example', dbUser: 'u', dbPassword: '********' } });
  });

  // libpq and node-postgres both take the password from the URL's query string too.
  it('config masks a password given as a URL query parameter (?password=...)', async () => {
    const url = `postgresql://u@127.0.0.1:1/db?password=${PASSWORD}`;
    const [text, json] = await Promise.all([
      runCli(['config'], { env: { ...baseEnv(), INSTAPRO_DATABASE_URL: url } }),
      runCli(['config', '--json'], { env: { ...baseEnv(), INSTAPRO_DATABASE_URL: url } }),
    ]);
    expect(text.code).toBe(0);
    expect(json.code).toBe(0);
    expectNoSecret(PASSWORD, text.stdout, text.stderr, json.stdout, json.stderr);
  });
});
