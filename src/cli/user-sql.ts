import type { Database, QueryResult } from '../db/database.js';
import { UsageError } from '../util/errors.js';

/**
 * `instapro sql`: one statement, in a read-only transaction unless writes were asked for.
 *
 * One statement per call, because a read-only transaction only binds what runs inside it: a
 * second statement after a `COMMIT` would run outside it. Both backends parse the query as a single
 * (extended-protocol) statement, so a query with several is refused by PostgreSQL before any of it
 * runs.
 */
export async function runUserSql(db: Database, query: string, options: { write: boolean }): Promise<QueryResult> {
  await db.exec(options.write ? 'BEGIN' : 'BEGIN READ ONLY');
  try {
    const result = await db.query(query);
    await db.exec('COMMIT');
    return result;
  } catch (error) {
    await db.exec('ROLLBACK').catch(() => undefined);
    throw asUserError(error, query, options.write);
  }
}

/** SQLSTATE classes that are not about the query: the connection, resources, the server itself. */
const NOT_THE_QUERYS_FAULT = /^(08|53|57|58|XX)/;

interface PostgresError {
  code?: unknown;
  message?: unknown;
  position?: unknown;
}

/** PostgreSQL's own message and position, as a usage error (exit 2) with nothing else of the failure. */
function asUserError(error: unknown, query: string, write: boolean): unknown {
  const e = error as PostgresError;
  if (typeof e.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code) || NOT_THE_QUERYS_FAULT.test(e.code)) return error;
  const message = String(e.message);
  if (e.code === '42601' && /multiple commands/.test(message)) {
    return new UsageError('instapro sql runs one statement per call, and this query has several; nothing was run (call it once per statement)');
  }
  if (e.code === '25006' && !write) {
    return new UsageError(`${message} (SQLSTATE 25006): instapro sql is read-only unless --write is given; nothing was changed`);
  }
  return new UsageError(`SQL error: ${message} (SQLSTATE ${e.code}${describePosition(query, e.position)}); nothing was changed`);
}

function describePosition(query: string, position: unknown): string {
  const at = Number(position);
  if (!Number.isInteger(at) || at < 1) return '';
  const near = query.slice(at - 1, at + 19).split('\n')[0];
  return `, at character ${at}: ${JSON.stringify(near)}`;
}
