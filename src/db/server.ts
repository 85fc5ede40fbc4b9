import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import pgCopyStreams from 'pg-copy-streams';
import pRetry, { AbortError } from 'p-retry';
import type { Database, QueryResult, Row } from './database.js';
import { TEXT_TYPE_OIDS, identity, parseInt8 } from './database.js';
import { DatabaseUnavailableError } from '../util/errors.js';
import { describeTarget } from '../config/settings.js';

const PARSERS: Record<number, (value: string) => unknown> = {
  [TEXT_TYPE_OIDS.int8]: parseInt8,
  [TEXT_TYPE_OIDS.date]: identity,
  [TEXT_TYPE_OIDS.timestamp]: identity,
  [TEXT_TYPE_OIDS.timestamptz]: identity,
  [TEXT_TYPE_OIDS.numeric]: identity,
};

/**
 * Connection failures that waiting cannot heal, so they are not retried: authentication (28xxx),
 * a missing database or privilege, bad options; TLS certificate problems.
 */
const PERMANENT_CONNECT_ERRORS = new Set(['28P01', '28000', '3D000', '42501', '42704', '22023', '0A000']);

/** OpenSSL's certificate verification codes (node: error.code), and node's own for a name mismatch. */
function isCertificateError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME_MISMATCH/.test(code) || code.startsWith('ERR_TLS_'));
}

/** What the driver says when the server refuses TLS: only configuration can change that. */
const NO_TLS_ON_SERVER = /does not support SSL/i;

export interface ServerTarget {
  connectionString: string;
  host: string;
  port: number;
  database: string;
}

export interface RetryPolicy {
  retries: number;
  initialDelayMs: number;
  onRetry?: (message: string) => void;
}

export async function openServer(target: ServerTarget, retry: RetryPolicy): Promise<Database> {
  const where = `${target.host}:${target.port}/${target.database}`;
  let attempts = 0;
  const connect = async (): Promise<pg.Client> => {
    attempts += 1;
    const client = new pg.Client({
      connectionString: target.connectionString,
      connectionTimeoutMillis: 10_000,
      application_name: 'instapro',
      types: { getTypeParser: ((oid: number, format?: string) => PARSERS[oid] ?? pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser },
    });
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      const code = (error as { code?: string }).code;
      const reason = describeConnectError(error);
      if ((code && PERMANENT_CONNECT_ERRORS.has(code)) || isCertificateError(error) || NO_TLS_ON_SERVER.test(reason)) throw new AbortError(reason);
      throw new Error(reason);
    }
  };

  let client: pg.Client;
  try {
    client = await pRetry(connect, {
      retries: retry.retries,
      minTimeout: retry.initialDelayMs,
      factor: 2,
      randomize: false,
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft > 0) retry.onRetry?.(`cannot reach PostgreSQL at ${where} (attempt ${attemptNumber}): ${error.message}; retrying`);
      },
    });
  } catch (error) {
    throw new DatabaseUnavailableError(
      `cannot connect to PostgreSQL at ${where} after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${(error as Error).message}`,
    );
  }
  // A server-side error on an idle connection must not crash the process with an unhandled event.
  client.on('error', () => undefined);
  /** A lost connection is the documented "database unreachable" (exit 7), not a bug (exit 1). */
  const unlessConnectionLost = (error: unknown): never => {
    if (isConnectionLoss(error)) {
      throw new DatabaseUnavailableError(
        `lost the connection to PostgreSQL at ${where}: ${describeConnectError(error)}; the work in progress was rolled back by the server, run the command again`,
      );
    }
    throw error;
  };

  return {
    kind: 'server',
    description: describeTarget({ kind: 'server', ...target }),
    async query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
      // Extended protocol, as PGlite's query: one statement, never a multi-statement string.
      const result = await client.query<T>({ text: sql, values: params, queryMode: 'extended' } as pg.QueryConfig).catch(unlessConnectionLost);
      return { rows: result.rows, fields: result.fields.map((f) => f.name) };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql).catch(unlessConnectionLost);
    },
    async copyFrom(copySql: string, options: string, data: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>): Promise<number> {
      const sink = client.query(pgCopyStreams.from(`${copySql} FROM STDIN WITH (${options})`));
      // The driver queues chunks until the socket takes them; copies let the producer reuse its buffers.
      await pipeline(Readable.from(detachedChunks(data)), sink).catch(unlessConnectionLost);
      return sink.rowCount;
    },
    async close(): Promise<void> {
      await client.end();
    },
  };
}

async function* detachedChunks(data: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>): AsyncGenerator<string | Buffer> {
  for await (const chunk of data) yield typeof chunk === 'string' ? chunk : Buffer.from(chunk);
}

/**
 * The session is gone: the socket broke, or the server ended it (admin shutdown, crash, restart:
 * SQLSTATE class 08 and 57P01..57P03). Not a statement's error.
 */
function isConnectionLoss(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string' && (/^08/.test(e.code) || /^57P0[123]$/.test(e.code) || ['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT'].includes(e.code))) return true;
  return /Connection terminated|connection error and is not queryable|not queryable|terminating connection/i.test(String(e.message ?? ''));
}

/** The driver's message without anything from the connection string (which may hold a password). */
function describeConnectError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case '28P01':
      return 'password authentication failed';
    case '3D000':
      return 'database does not exist';
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return `the server's TLS certificate is self-signed and not trusted (${e.code}); check sslmode and the CA`;
    default:
      return (e.message ?? String(error)).replace(/postgres(ql)?:\/\/\S+/gi, '<url>');
  }
}
