import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ENVIRONMENT_VARIABLES, databaseTarget, describeTarget, loadSettings, redactUrl, redactedSettings } from '../../src/config/settings.js';
import { ConfigurationError } from '../../src/util/errors.js';

describe('loadSettings', () => {
  it('defaults to the embedded database in .instapro/db', () => {
    const settings = loadSettings({});
    expect(databaseTarget(settings)).toEqual({ kind: 'embedded', dataDir: '.instapro/db' });
    expect(settings).toMatchObject({ maxRejectRatio: 0.001, martSchema: 'instapro', rawSchema: 'instapro_raw', stagingSchema: 'instapro_staging', input: [] });
    expect(settings).toMatchObject({ modelWorkMem: '256MB', modelMaintenanceWorkMem: '512MB' });
  });

  it('reads every documented variable', () => {
    const settings = loadSettings({
      INSTAPRO_DB_HOST: 'db.internal',
      INSTAPRO_DB_PORT: '6543',
      INSTAPRO_DB_NAME: 'warehouse',
      INSTAPRO_DB_USER: 'loader',
      INSTAPRO_DB_PASSWORD: 'p@ss word',
      INSTAPRO_DB_SSLMODE: 'require',
      INSTAPRO_INPUT: 'a.csv, b.csv',
      INSTAPRO_MAX_REJECT_RATIO: '0.05',
      INSTAPRO_SCHEMA: 'analytics',
      INSTAPRO_RAW_SCHEMA: 'landing',
      INSTAPRO_STAGING_SCHEMA: 'staging',
      INSTAPRO_CONNECT_RETRIES: '3',
      INSTAPRO_CONNECT_RETRY_DELAY_MS: '100',
      INSTAPRO_MODEL_WORK_MEM: '64MB',
      INSTAPRO_MODEL_MAINTENANCE_WORK_MEM: '1GB',
    });
    expect(settings).toMatchObject({
      input: ['a.csv', 'b.csv'],
      maxRejectRatio: 0.05,
      martSchema: 'analytics',
      connectRetries: 3,
      connectRetryDelayMs: 100,
      modelWorkMem: '64MB',
      modelMaintenanceWorkMem: '1GB',
    });
    const target = databaseTarget(settings);
    expect(target).toMatchObject({ kind: 'server', host: 'db.internal', port: 6543, database: 'warehouse' });
    if (target.kind !== 'server') throw new Error('expected server');
    const url = new URL(target.connectionString);
    expect(decodeURIComponent(url.password)).toBe('p@ss word');
    expect(url.searchParams.get('sslmode')).toBe('require');
  });

  it('lets CLI options override the environment', () => {
    const settings = loadSettings({ INSTAPRO_INPUT: 'env.csv', INSTAPRO_DATA_DIR: '/env' }, { input: ['cli.csv'], dataDir: '/cli', maxRejectRatio: '0.2' });
    expect(settings).toMatchObject({ input: ['cli.csv'], dataDir: '/cli', maxRejectRatio: 0.2 });
  });

  it('prefers the full URL over the parts', () => {
    const target = databaseTarget(loadSettings({ INSTAPRO_DATABASE_URL: 'postgresql://u:p@h1:5555/d1', INSTAPRO_DB_HOST: 'h2' }));
    expect(target).toMatchObject({ kind: 'server', host: 'h1', port: 5555, database: 'd1' });
  });

  it.each([
    [{ INSTAPRO_SCHEMA: 'Robert"); drop table x;--' }, 'INSTAPRO_SCHEMA'],
    [{ INSTAPRO_RAW_SCHEMA: 'has-dash' }, 'INSTAPRO_RAW_SCHEMA'],
    [{ INSTAPRO_STAGING_SCHEMA: 'x'.repeat(64) }, 'INSTAPRO_STAGING_SCHEMA'],
    [{ INSTAPRO_SCHEMA: 'same', INSTAPRO_RAW_SCHEMA: 'same' }, 'must differ'],
    [{ INSTAPRO_MAX_REJECT_RATIO: '1.5' }, 'INSTAPRO_MAX_REJECT_RATIO'],
    [{ INSTAPRO_MAX_REJECT_RATIO: 'lots' }, 'INSTAPRO_MAX_REJECT_RATIO'],
    [{ INSTAPRO_DB_PORT: '70000' }, 'INSTAPRO_DB_PORT'],
    [{ INSTAPRO_DB_SSLMODE: 'maybe' }, 'INSTAPRO_DB_SSLMODE'],
    [{ INSTAPRO_CONNECT_RETRIES: '-1' }, 'INSTAPRO_CONNECT_RETRIES'],
    [{ INSTAPRO_MODEL_WORK_MEM: "256MB'; reset all; --" }, 'INSTAPRO_MODEL_WORK_MEM'],
    [{ INSTAPRO_MODEL_MAINTENANCE_WORK_MEM: 'lots' }, 'INSTAPRO_MODEL_MAINTENANCE_WORK_MEM'],
  ])('rejects %j naming %s', (env, expected) => {
    expect(() => loadSettings(env)).toThrow(ConfigurationError);
    expect(() => loadSettings(env)).toThrow(expected);
  });

  it('rejects a database URL of another scheme', () => {
    expect(() => databaseTarget(loadSettings({ INSTAPRO_DATABASE_URL: 'mysql://u:p@h/d' }))).toThrow(/postgresql:\/\//);
  });
});

describe('secrets', () => {
  it('masks the password of a URL', () => {
    expect(redactUrl('failed postgresql://user:hunter2@host:5432/db now')).toBe('failed postgresql://user:********@host:5432/db now');
    expect(redactUrl('postgres://user@host/db')).toBe('postgres://user@host/db');
    expect(redactUrl('postgresql://u@h/db?sslmode=require&password=hunter2&x=1')).toBe('postgresql://u@h/db?sslmode=require&password=********&x=1');
    expect(redactUrl('postgresql://u@h/db?password=hunter2')).toBe('postgresql://u@h/db?password=********');
  });

  it('never shows the password in printed settings or target descriptions', () => {
    const settings = loadSettings({ INSTAPRO_DATABASE_URL: 'postgresql://u:hunter2@h:1/d', INSTAPRO_DB_PASSWORD: 'hunter3' });
    expect(JSON.stringify(redactedSettings(settings))).not.toMatch(/hunter[23]/);
    expect(describeTarget(databaseTarget(settings))).toBe('PostgreSQL server h:1/d');
  });

  it('marks exactly the credentials as secret', () => {
    expect(ENVIRONMENT_VARIABLES.filter((v) => v.secret).map((v) => v.name).sort()).toEqual([
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'INSTAPRO_DATABASE_URL',
      'INSTAPRO_DB_PASSWORD',
      'INSTAPRO_DB_USER',
    ]);
  });

  it('never shows the S3 keys in printed settings', () => {
    const settings = loadSettings({ AWS_ACCESS_KEY_ID: 'AKIDhunter4', AWS_SECRET_ACCESS_KEY: 'hunter5secret' });
    const shown = JSON.stringify(redactedSettings(settings));
    expect(shown).not.toMatch(/hunter[45]/);
    expect(redactedSettings(settings)).toMatchObject({ awsAccessKeyId: '********', awsSecretAccessKey: '********' });
  });
});

describe('S3 settings', () => {
  it('reads the standard AWS variables and the path-style switch', () => {
    const settings = loadSettings({ AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:8333', INSTAPRO_S3_FORCE_PATH_STYLE: 'true' });
    expect(settings).toMatchObject({ awsRegion: 'eu-west-1', awsEndpointUrlS3: 'http://127.0.0.1:8333', s3ForcePathStyle: true });
    expect(loadSettings({})).toMatchObject({ awsRegion: 'us-east-1', s3ForcePathStyle: false });
  });

  it('refuses an endpoint that is not an http(s) URL and a path-style value that is not a boolean, naming the variable', () => {
    expect(() => loadSettings({ AWS_ENDPOINT_URL_S3: '127.0.0.1:8333' })).toThrow(/AWS_ENDPOINT_URL_S3: must be an http/);
    expect(() => loadSettings({ INSTAPRO_S3_FORCE_PATH_STYLE: 'yes' })).toThrow(/INSTAPRO_S3_FORCE_PATH_STYLE: must be true or false/);
  });
});

describe('masking passwords (fuzzed)', () => {
  // Characters that break pattern-based masking; the driver (pg) decides what the password is.
  const hostile = fc.constantFrom('@', ':', '/', '%', '#', '?', ' ', 'é', '中', '🔑', 'ß', '&', '=');
  const password = fc
    .array(fc.oneof(hostile, fc.constantFrom('x', 'Q', '7', '-', '_')), { minLength: 8, maxLength: 24 })
    .map((chars) => chars.join(''))
    .filter((p) => /[@:/%#? ]/.test(p) || [...p].some((c) => c.charCodeAt(0) > 0x7f));

  const leaks = (output: string, secret: string): string[] =>
    [secret, encodeURIComponent(secret), encodeURI(secret)].filter((form) => output.includes(form));

  it('`config` never shows a percent-encoded password, whatever it holds', () => {
    fc.assert(
      fc.property(password, (secret) => {
        const url = `postgresql://analyst:${encodeURIComponent(secret)}@db.internal:6432/warehouse?sslmode=require`;
        const shown = JSON.stringify(redactedSettings(loadSettings({ INSTAPRO_DATABASE_URL: url })));
        expect(leaks(shown, secret)).toEqual([]);
        expect(shown).toContain('postgresql://analyst:********@db.internal:6432/warehouse?sslmode=require');
      }),
      { numRuns: 300 },
    );
  });

  it('`config` never shows a password written raw (as the driver accepts it), nor any part of it', () => {
    // Raw, only "@", ":", space and non-ASCII keep the URL's structure (the driver connects with them).
    const raw = fc
      .array(fc.constantFrom('@', ':', ' ', 'é', '中', 'x', 'Q', '7'), { minLength: 8, maxLength: 24 })
      .map((chars) => `s${chars.join('')}9`);
    fc.assert(
      fc.property(raw, (secret) => {
        const shown = JSON.stringify(redactedSettings(loadSettings({ INSTAPRO_DATABASE_URL: `postgresql://postgres:${secret}@host/db` })));
        expect(leaks(shown, secret)).toEqual([]);
        // No fragment of it either (the old masking printed what followed its first "@").
        for (const piece of secret.split(/[@: ]/).filter((p) => p.length >= 4)) expect(shown).not.toContain(piece);
        expect(shown).toContain('@host:5432/db');
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['postgresql://postgres:secret@pw-123@host/db', 'secret@pw-123'],
    ['postgresql://postgres:secret pw-123@host/db', 'secret pw-123'],
  ])('masks %s entirely, in `config` and in messages that quote it', (url, secret) => {
    const settings = loadSettings({ INSTAPRO_DATABASE_URL: url });
    const shown = JSON.stringify(redactedSettings(settings));
    expect(shown).not.toContain('pw-123');
    expect(shown).not.toContain('secret');
    expect(redactUrl(`could not connect with ${url} (password ${secret})`)).not.toMatch(/pw-123|secret/);
  });
});

describe('sslmode', () => {
  it.each(['bogus', 'allow', 'prefer', 'verify-ca', 'VERIFY-FULL', ''])('refuses sslmode=%j in a URL as it does in INSTAPRO_DB_SSLMODE', (mode) => {
    const url = `postgresql://u:p@h/d?sslmode=${mode}`;
    expect(() => loadSettings({ INSTAPRO_DATABASE_URL: url })).toThrow(ConfigurationError);
    expect(() => loadSettings({ INSTAPRO_DATABASE_URL: url })).toThrow(/sslmode must be one of disable, require, verify-full/);
    if (mode !== '') expect(() => loadSettings({ INSTAPRO_DB_HOST: 'h', INSTAPRO_DB_SSLMODE: mode })).toThrow(ConfigurationError);
  });

  it.each(['disable', 'require', 'verify-full'])('accepts sslmode=%s in both places', (mode) => {
    expect(databaseTarget(loadSettings({ INSTAPRO_DATABASE_URL: `postgresql://u:p@h/d?sslmode=${mode}` }))).toMatchObject({ kind: 'server', host: 'h' });
    expect(loadSettings({ INSTAPRO_DB_HOST: 'h', INSTAPRO_DB_SSLMODE: mode }).dbSslMode).toBe(mode);
  });
});

describe('the plausible event dates', () => {
  it('defaults to 2000-01-01 and no fixed maximum; accepts 0001-01-01 .. 9999-12-31', () => {
    expect(loadSettings({}).eventDateMin).toBe('2000-01-01');
    expect(loadSettings({}).eventDateMax).toBeUndefined();
    expect(loadSettings({ INSTAPRO_EVENT_DATE_MIN: '0001-01-01', INSTAPRO_EVENT_DATE_MAX: '9999-12-31' })).toMatchObject({ eventDateMin: '0001-01-01', eventDateMax: '9999-12-31' });
  });

  it.each([
    [{ INSTAPRO_EVENT_DATE_MIN: '2020-02-30' }, 'INSTAPRO_EVENT_DATE_MIN'],
    [{ INSTAPRO_EVENT_DATE_MAX: '20200101' }, 'INSTAPRO_EVENT_DATE_MAX'],
    [{ INSTAPRO_EVENT_DATE_MIN: '0000-01-01' }, 'INSTAPRO_EVENT_DATE_MIN'],
    [{ INSTAPRO_EVENT_DATE_MIN: '2021-01-01', INSTAPRO_EVENT_DATE_MAX: '2020-12-31' }, 'must not be after'],
    [{ INSTAPRO_LOCK_TIMEOUT: '-1' }, 'INSTAPRO_LOCK_TIMEOUT'],
  ])('rejects %j naming %s', (env, expected) => {
    expect(() => loadSettings(env)).toThrow(expected);
  });
});
