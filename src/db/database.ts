/**
 * The one small interface both backends implement. A Database is a single session, so
 * BEGIN/COMMIT issued through it wrap everything in between, on PGlite and on a server alike.
 */
export type Row = Record<string, unknown>;

export interface QueryResult<T extends Row = Row> {
  rows: T[];
  fields: string[];
}

export interface Database {
  readonly kind: 'embedded' | 'server';
  /** Where the data lives, safe to print (never a password). */
  readonly description: string;
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** Several statements, no parameters (migrations, model files). */
  exec(sql: string): Promise<void>;
  /**
   * Streams data (text, or UTF-8 bytes) into `COPY <target> FROM STDIN WITH (<options>)`. `copySql`
   * is the statement up to but excluding `FROM`, e.g. `COPY t (a, b)`; `options` what goes in
   * `WITH (...)`, e.g. `FORMAT csv`. Resolves to the rows copied. An error thrown by `data` aborts
   * the COPY (nothing of it stays) and rejects with that error. Each chunk is read (or copied)
   * before the next one is asked for, so a producer may reuse a chunk's buffer after yielding it.
   */
  copyFrom(copySql: string, options: string, data: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>): Promise<number>;
  close(): Promise<void>;
}

/**
 * Runs `work` in one transaction: committed if it returns, rolled back if it throws. A killed
 * process leaves an open transaction that the server (or PGlite's recovery) discards.
 */
export async function inTransaction<T>(db: Database, work: () => Promise<T>): Promise<T> {
  await db.exec('BEGIN');
  try {
    const result = await work();
    await db.exec('COMMIT');
    return result;
  } catch (error) {
    await db.exec('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Values come back the same from both backends: int8 as number when safe, dates and numerics as text. */
export const TEXT_TYPE_OIDS = {
  int8: 20,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
} as const;

export function parseInt8(value: string): number | string {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

export const identity = (value: string): string => value;
