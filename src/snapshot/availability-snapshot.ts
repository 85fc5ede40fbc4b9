import { inTransaction } from '../db/database.js';
import { quoteIdentifier, readSql } from '../db/sql-files.js';
import type { PipelineContext } from '../pipeline/context.js';
import { ConfigurationError } from '../util/errors.js';

export interface SnapshotRange {
  from?: string;
  to?: string;
}

export interface SnapshotResult {
  from: string | null;
  to: string | null;
  days_written: number;
  /** A full rebuild also removes days outside the data's range. */
  full_rebuild: boolean;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

export function parseIsoDate(value: string, option: string): string {
  const date = new Date(`${value}T00:00:00Z`);
  if (!ISO_DATE.test(value) || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) {
    throw new ConfigurationError(`${option} must be a date YYYY-MM-DD, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Writes instapro.availability_snapshot for a range of days (inclusive), by default from the
 * first to the last event date. Recomputing any range gives exactly the rows a full rebuild
 * gives for those days, so the orchestrator can run it per data interval, in any order, again.
 */
export async function buildAvailabilitySnapshot(ctx: PipelineContext, range: SnapshotRange = {}): Promise<SnapshotResult> {
  const { db, schemas } = ctx;
  const mart = quoteIdentifier(schemas.mart);
  const full = range.from === undefined && range.to === undefined;
  let from = range.from === undefined ? undefined : parseIsoDate(range.from, '--from');
  let to = range.to === undefined ? undefined : parseIsoDate(range.to, '--to');
  if (from === undefined || to === undefined) {
    // The model builds dim_date with fct_event, from the first to the last event date: its few
    // hundred rows give the bounds without reading every event.
    const { rows } = await db.query<{ first: string | null; last: string | null }>(
      `SELECT min(date)::text AS first, max(date)::text AS last FROM ${mart}.dim_date`,
    );
    from ??= rows[0]?.first ?? undefined;
    to ??= rows[0]?.last ?? undefined;
  }
  if (from !== undefined && to !== undefined && from > to) {
    throw new ConfigurationError(`--from ${from} is after --to ${to}`);
  }
  const statement = await readSql('snapshot/availability_snapshot.sql', schemas);

  return inTransaction(db, async () => {
    if (full) await db.query(`DELETE FROM ${mart}.availability_snapshot`);
    if (from === undefined || to === undefined) return { from: null, to: null, days_written: 0, full_rebuild: full };
    await db.query(`SELECT set_config('instapro.from', $1, true), set_config('instapro.to', $2, true)`, [from, to]);
    await db.exec(statement);
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM ${mart}.availability_snapshot WHERE date BETWEEN $1 AND $2`, [from, to]);
    return { from, to, days_written: Number(rows[0]?.n ?? 0), full_rebuild: full };
  });
}
