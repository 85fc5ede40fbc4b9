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

/** SQLSTATEs where another attempt cannot help: bad credentials, missing database, bad options. */
const PERMANENT_CONNECT_ERRORS = new Set(['28P01', '28000', '3D000', '42501']);

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
      if (code && PERMANENT_CONNECT_ERRORS.has(code)) throw new AbortError(reason);
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

  return {
    kind: 'server',
    description: describeTarget({ kind: 'server', ...target }),
    async query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
      const result = await client.query<T>(sql, params);
      return { rows: result.rows, fields: result.fields.map((f) => f.name) };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
    async copyFrom(copySql: string, options: string, data: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>): Promise<number> {
      const sink = client.query(pgCopyStreams.from(`${copySql} FROM STDIN WITH (${options})`));
      // The driver queues chunks until the socket takes them; copies let the producer reuse its buffers.
      await pipeline(Readable.from(detachedChunks(data)), sink);
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
    default:
      return (e.message ?? String(error)).replace(/postgres(ql)?:\/\/\S+/gi, '<url>');
  }
}
