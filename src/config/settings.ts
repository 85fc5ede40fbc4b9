/**
 * The one source of truth for the pipeline's configuration.
 *
 * Every setting can come from an environment variable (this is how the Kubernetes ConfigMap and
 * Secret reach the pods) and most from a CLI option, which wins. The Helm chart's ConfigMap and
 * Secret are tested against ENVIRONMENT_VARIABLES, derived from the SETTINGS table below, so adding
 * a row there is the one place to start.
 */
import { parse as parseConnectionString } from 'pg-connection-string';
import { z } from 'zod';
import { ConfigurationError } from '../util/errors.js';

export interface EnvironmentVariable {
  name: string;
  /** Secret values belong in the Kubernetes Secret and are never printed. */
  secret: boolean;
  description: string;
  default?: string;
  /** The CLI option that overrides it, where one does. */
  option?: string;
}

/**
 * sslmode values accepted, in INSTAPRO_DB_SSLMODE and in a URL alike. Not libpq's `allow`,
 * `prefer` or `verify-ca`: the driver does not implement them as libpq does (it treats the last
 * two as verify-full), so a URL naming them would not get what it asks for.
 */
export const SSL_MODES = ['disable', 'require', 'verify-full'] as const;

/** Schema names are interpolated into SQL as identifiers, so they are restricted to plain ones. */
const identifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier: letters, digits, underscores, at most 63 characters');

/** A PostgreSQL memory setting as SET accepts it: a number of kB, or with a kB/MB/GB unit. */
const memorySize = z.string().regex(/^[1-9][0-9]{0,8}(kB|MB|GB)?$/, 'must be a PostgreSQL memory size such as 64MB, 1GB or 65536 (kB)');

/** A real calendar day, YYYY-MM-DD, year 0001 to 9999 (four digits, so the text orders like the days). */
const calendarDate = z
  .string()
  .regex(/^(?!0000)\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine((value) => {
    const day = new Date(`${value}T00:00:00Z`);
    return !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === value;
  }, 'must be a real calendar date');

/**
 * The settings, one row each: its environment variable, whether it is secret, the CLI option that
 * overrides it (if any), its default, its validation and its description. The list of variables,
 * the validation and the variable named in an error are all derived from this table.
 */
const SETTINGS = {
  databaseUrl: { env: 'INSTAPRO_DATABASE_URL', secret: true, option: '--database-url', schema: z.string().min(1).optional(), description: 'Full PostgreSQL URL; overrides the INSTAPRO_DB_* parts. Unset with no INSTAPRO_DB_HOST: the embedded database is used.' },
  dbHost: { env: 'INSTAPRO_DB_HOST', secret: false, schema: z.string().min(1).optional(), description: 'PostgreSQL server host. Setting it selects the server backend.' },
  dbPort: { env: 'INSTAPRO_DB_PORT', secret: false, default: '5432', schema: z.coerce.number().int().min(1).max(65535), description: 'PostgreSQL server port.' },
  dbName: { env: 'INSTAPRO_DB_NAME', secret: false, default: 'instapro', schema: z.string().min(1), description: 'PostgreSQL database name.' },
  dbSslMode: { env: 'INSTAPRO_DB_SSLMODE', secret: false, default: 'disable', schema: z.enum(SSL_MODES), description: 'disable | require | verify-full (also the only values accepted as sslmode= in a database URL).' },
  dbUser: { env: 'INSTAPRO_DB_USER', secret: true, schema: z.string().optional(), description: 'PostgreSQL user.' },
  dbPassword: { env: 'INSTAPRO_DB_PASSWORD', secret: true, schema: z.string().optional(), description: 'PostgreSQL password.' },
  dataDir: { env: 'INSTAPRO_DATA_DIR', secret: false, option: '--data-dir', default: '.instapro/db', schema: z.string().min(1), description: 'Directory of the embedded (PGlite) database.' },
  input: { env: 'INSTAPRO_INPUT', secret: false, option: '--input', schema: z.array(z.string().min(1)), description: 'Comma-separated inputs read by ingest when --input is not given: files (.csv, .csv.gz), directories, glob patterns, s3://bucket/prefix URLs.' },
  maxRejectRatio: { env: 'INSTAPRO_MAX_REJECT_RATIO', secret: false, option: '--max-reject-ratio', default: '0.001', schema: z.coerce.number().min(0).max(1), description: 'Largest share of rejected rows per file before ingest fails.' },
  martSchema: { env: 'INSTAPRO_SCHEMA', secret: false, default: 'instapro', schema: identifier, description: 'Schema of the analyst-facing tables.' },
  rawSchema: { env: 'INSTAPRO_RAW_SCHEMA', secret: false, default: 'instapro_raw', schema: identifier, description: 'Schema of the raw layer (events as loaded, quarantine, run log).' },
  stagingSchema: { env: 'INSTAPRO_STAGING_SCHEMA', secret: false, default: 'instapro_staging', schema: identifier, description: 'Schema of the staging views.' },
  connectRetries: { env: 'INSTAPRO_CONNECT_RETRIES', secret: false, default: '5', schema: z.coerce.number().int().min(0).max(100), description: 'Connection attempts after the first one fails.' },
  connectRetryDelayMs: { env: 'INSTAPRO_CONNECT_RETRY_DELAY_MS', secret: false, default: '500', schema: z.coerce.number().int().min(0).max(600_000), description: 'First retry delay; it doubles on each attempt.' },
  eventDateMin: { env: 'INSTAPRO_EVENT_DATE_MIN', secret: false, default: '2000-01-01', schema: calendarDate, description: 'Earliest plausible event date (YYYY-MM-DD); earlier rows are quarantined.' },
  eventDateMax: { env: 'INSTAPRO_EVENT_DATE_MAX', secret: false, schema: calendarDate.optional(), description: 'Latest plausible event date (YYYY-MM-DD); later rows are quarantined. Unset: tomorrow (UTC) at the time of the ingest.' },
  lockTimeoutSeconds: { env: 'INSTAPRO_LOCK_TIMEOUT', secret: false, option: '--lock-timeout', default: '1800', schema: z.coerce.number().int().min(0).max(7 * 24 * 3600), description: 'Seconds to wait for another run holding the pipeline lock (or the embedded database) before giving up with exit 8; 0: do not wait.' },
  modelWorkMem: { env: 'INSTAPRO_MODEL_WORK_MEM', secret: false, default: '256MB', schema: memorySize, description: 'PostgreSQL work_mem for the model rebuild transaction only (hash aggregates, joins, foreign-key checks); server backend only.' },
  modelMaintenanceWorkMem: { env: 'INSTAPRO_MODEL_MAINTENANCE_WORK_MEM', secret: false, default: '512MB', schema: memorySize, description: 'PostgreSQL maintenance_work_mem for the model rebuild transaction only (primary keys and indexes re-created after the load); server backend only.' },
  awsAccessKeyId: { env: 'AWS_ACCESS_KEY_ID', secret: true, schema: z.string().optional(), description: 'S3 access key for s3:// inputs. Unset: the AWS SDK default credential chain.' },
  awsSecretAccessKey: { env: 'AWS_SECRET_ACCESS_KEY', secret: true, schema: z.string().optional(), description: 'S3 secret key for s3:// inputs.' },
  awsRegion: { env: 'AWS_REGION', secret: false, default: 'us-east-1', schema: z.string().min(1), description: 'S3 region.' },
  awsEndpointUrlS3: { env: 'AWS_ENDPOINT_URL_S3', secret: false, schema: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(), description: 'S3 endpoint of a non-AWS store (SeaweedFS, MinIO, ...); wins over AWS_ENDPOINT_URL.' },
  awsEndpointUrl: { env: 'AWS_ENDPOINT_URL', secret: false, schema: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(), description: 'Endpoint for every AWS service; used for S3 when AWS_ENDPOINT_URL_S3 is unset.' },
  s3ForcePathStyle: { env: 'INSTAPRO_S3_FORCE_PATH_STYLE', secret: false, default: 'false', schema: z.enum(['true', 'false'], { error: 'must be true or false' }).transform((v) => v === 'true'), description: 'true: address buckets as <endpoint>/<bucket> (most non-AWS stores need it), not <bucket>.<endpoint>.' },
} satisfies Record<string, SettingSpec>;

interface SettingSpec {
  env: string;
  secret: boolean;
  /** The CLI option that overrides the variable, where one does. */
  option?: string;
  default?: string;
  schema: z.ZodType;
  description: string;
}

type SettingsShape = { [K in keyof typeof SETTINGS]: (typeof SETTINGS)[K]['schema'] };
const settingsShape = Object.fromEntries(Object.entries(SETTINGS).map(([key, spec]) => [key, spec.schema])) as SettingsShape;

export const ENVIRONMENT_VARIABLES: readonly EnvironmentVariable[] = Object.values(SETTINGS).map((spec: SettingSpec) => ({
  name: spec.env,
  secret: spec.secret,
  description: spec.description,
  ...(spec.default !== undefined ? { default: spec.default } : {}),
  ...(spec.option !== undefined ? { option: spec.option } : {}),
}));

const settingsSchema = z
  .object(settingsShape)
  .refine((s) => new Set([s.martSchema, s.rawSchema, s.stagingSchema]).size === 3, {
    message: 'INSTAPRO_SCHEMA, INSTAPRO_RAW_SCHEMA and INSTAPRO_STAGING_SCHEMA must differ',
  })
  .refine((s) => s.eventDateMax === undefined || s.eventDateMin <= s.eventDateMax, {
    message: 'INSTAPRO_EVENT_DATE_MIN must not be after INSTAPRO_EVENT_DATE_MAX',
  });

export type Settings = z.infer<typeof settingsSchema>;

/** Options the CLI may pass; they override the environment. */
export interface SettingOverrides {
  databaseUrl?: string;
  dataDir?: string;
  input?: string[];
  maxRejectRatio?: string | number;
  lockTimeout?: string | number;
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env, overrides: SettingOverrides = {}): Settings {
  const raw: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SETTINGS) as [string, SettingSpec][]) {
    const value = env[spec.env];
    const chosen = value !== undefined && value !== '' ? value : spec.default;
    if (chosen !== undefined) raw[key] = chosen;
  }
  raw.input = typeof raw.input === 'string' ? raw.input.split(',').map((p) => p.trim()).filter(Boolean) : [];
  if (overrides.databaseUrl) raw.databaseUrl = overrides.databaseUrl;
  if (overrides.dataDir) raw.dataDir = overrides.dataDir;
  if (overrides.input && overrides.input.length > 0) raw.input = overrides.input;
  if (overrides.maxRejectRatio !== undefined) raw.maxRejectRatio = overrides.maxRejectRatio;
  if (overrides.lockTimeout !== undefined) raw.lockTimeoutSeconds = overrides.lockTimeout;

  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const spec = (SETTINGS as Record<string, SettingSpec>)[String(issue.path[0] ?? '')];
      return `${spec?.env ?? 'configuration'}: ${issue.message}`;
    });
    throw new ConfigurationError(`invalid configuration: ${problems.join('; ')}`);
  }
  const settings = parsed.data;
  rememberSecrets(settings);
  if (settings.databaseUrl) parseServerUrl(settings.databaseUrl);
  return settings;
}

export type DatabaseTarget =
  | { kind: 'embedded'; dataDir: string }
  | { kind: 'server'; connectionString: string; host: string; port: number; database: string };

interface ParsedServerUrl {
  user?: string;
  password?: string;
  host: string;
  port: number;
  database: string;
  sslmode?: string;
}

/**
 * A database URL as the driver (pg) reads it, so that what is checked and what is printed is what
 * connects: e.g. a password with a raw "@" or space works, and the last "@" ends it. Errors never
 * repeat the URL.
 */
function parseServerUrl(value: string): ParsedServerUrl {
  const source = 'invalid configuration: INSTAPRO_DATABASE_URL / --database-url';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) throw new ConfigurationError(`${source} is not a valid URL`);
  if (scheme !== 'postgres' && scheme !== 'postgresql') throw new ConfigurationError(`invalid configuration: database URL must start with postgresql://, got ${scheme}://`);
  let parsed: ReturnType<typeof parseConnectionString>;
  try {
    parsed = parseConnectionString(value);
  } catch {
    throw new ConfigurationError(`${source} is not a valid URL`);
  }
  const port = parsed.port ? Number(parsed.port) : 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigurationError(`${source}: the port must be 1..65535`);
  const sslmode = (parsed as { sslmode?: string }).sslmode ?? undefined;
  if (sslmode !== undefined && !(SSL_MODES as readonly string[]).includes(sslmode)) {
    throw new ConfigurationError(`${source}: sslmode must be one of ${SSL_MODES.join(', ')} (as INSTAPRO_DB_SSLMODE), got ${JSON.stringify(sslmode)}`);
  }
  return {
    user: parsed.user || undefined,
    password: parsed.password || undefined,
    host: parsed.host || 'localhost',
    port,
    database: parsed.database || 'postgres',
    sslmode,
  };
}

/** Server when a URL or host is configured, the embedded database otherwise. */
export function databaseTarget(settings: Settings): DatabaseTarget {
  if (settings.databaseUrl) {
    const url = parseServerUrl(settings.databaseUrl);
    return { kind: 'server', connectionString: settings.databaseUrl, host: url.host, port: url.port, database: url.database };
  }
  if (settings.dbHost) {
    const url = new URL('postgresql://localhost');
    url.hostname = settings.dbHost;
    url.port = String(settings.dbPort);
    url.pathname = `/${encodeURIComponent(settings.dbName)}`;
    if (settings.dbUser) url.username = encodeURIComponent(settings.dbUser);
    if (settings.dbPassword) url.password = encodeURIComponent(settings.dbPassword);
    if (settings.dbSslMode !== 'disable') url.searchParams.set('sslmode', settings.dbSslMode);
    return { kind: 'server', connectionString: url.toString(), host: settings.dbHost, port: settings.dbPort, database: settings.dbName };
  }
  return { kind: 'embedded', dataDir: settings.dataDir };
}

/** A description of where the data lives that is safe to print: never the password. */
export function describeTarget(target: DatabaseTarget): string {
  return target.kind === 'embedded'
    ? `embedded PostgreSQL (PGlite) at ${target.dataDir}`
    : `PostgreSQL server ${target.host}:${target.port}/${target.database}`;
}

const MASK = '********';

/** Settings as shown by `instapro config`: secrets masked. */
export function redactedSettings(settings: Settings): Record<string, unknown> {
  const shown: Record<string, unknown> = { ...settings };
  if (settings.databaseUrl) shown.databaseUrl = maskedServerUrl(settings.databaseUrl);
  if (settings.dbPassword) shown.dbPassword = MASK;
  for (const key of ['awsAccessKeyId', 'awsSecretAccessKey'] as const) if (settings[key]) shown[key] = MASK;
  return shown;
}

/**
 * The URL rebuilt from its parsed parts, the password replaced: never the input string with a
 * pattern applied to it, which a password holding "@", ":" or a space gets through.
 */
function maskedServerUrl(value: string): string {
  const parsed = parseServerUrl(value);
  const url = new URL('postgresql://localhost');
  url.hostname = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
  url.port = String(parsed.port);
  url.pathname = `/${encodeURIComponent(parsed.database)}`;
  if (parsed.user) url.username = encodeURIComponent(parsed.user);
  if (parsed.password) url.password = MASK;
  if (parsed.sslmode) url.searchParams.set('sslmode', parsed.sslmode);
  return url.toString();
}

/** Passwords of the settings loaded in this process, masked wherever a message might repeat them. */
const knownSecrets = new Set<string>();
const MIN_MASKED_SECRET_LENGTH = 4;

function rememberSecrets(settings: Settings): void {
  const passwords = [settings.dbPassword];
  if (settings.databaseUrl) {
    try {
      passwords.push(parseConnectionString(settings.databaseUrl).password ?? undefined);
    } catch {
      // not a URL: loadSettings refuses it
    }
  }
  for (const password of passwords) {
    if (!password) continue;
    // Shorter ones would mask ordinary words all over a message; URLs still mask them by position.
    if (password.length < MIN_MASKED_SECRET_LENGTH) continue;
    for (const form of [password, encodeURIComponent(password), encodeURI(password)]) knownSecrets.add(form);
  }
}

/**
 * Masks passwords in text that may quote a PostgreSQL URL (messages, stack traces): the password of
 * any loaded setting wherever it appears, and in any URL what lies between "user:" and the
 * host's "@", and a `password=` parameter.
 */
export function redactUrl(value: string): string {
  let text = value
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)\S*@(?=[^@\s]*(?:\s|$))/gi, `$1${MASK}@`)
    .replace(/(postgres(?:ql)?:\/\/\S*?[?&]password=)[^&\s]*/gi, `$1${MASK}`);
  for (const secret of [...knownSecrets].sort((a, b) => b.length - a.length)) text = text.split(secret).join(MASK);
  return text;
}
