import { inTransaction } from '../db/database.js';
import { quoteIdentifier, readSql } from '../db/sql-files.js';
import { availabilityEventTypes } from '../model/event-types.js';
import { readModelState, recordSnapshotDone, snapshotFingerprint } from '../model/model-state.js';
import type { PipelineContext } from '../pipeline/context.js';
import { ConfigurationError } from '../util/errors.js';

export interface SnapshotOptions {
  /** First day to recompute, YYYY-MM-DD (with `to`: a range given by hand). */
  from?: string;
  /** Last day to recompute, inclusive. */
  to?: string;
  /** Recompute every day from the first to the last event date. */
  fullRefresh?: boolean;
}

export interface SnapshotResult {
  /**
   * full-refresh: every day, and days outside the data's range removed; incremental: the days the
   * model builds changed since the snapshot last ran; range: the days asked for, and those.
   */
  mode: 'full-refresh' | 'incremental' | 'range';
  /** The days recomputed (null: none). */
  from: string | null;
  to: string | null;
  days_written: number;
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
 * Writes instapro.availability_snapshot. By default it recomputes what the model builds left it
 * (model_state, migration 0008): every day after a full refresh or a new snapshot definition,
 * otherwise the days from the earliest one a merged availability event fell on, and any day of
 * dim_date it does not have yet. Recomputing any range gives exactly the rows a full rebuild gives
 * for those days, so the orchestrator can also run it per data interval, in any order, again.
 */
export async function buildAvailabilitySnapshot(ctx: PipelineContext, options: SnapshotOptions = {}): Promise<SnapshotResult> {
  const { db, schemas } = ctx;
  const mart = quoteIdentifier(schemas.mart);
  const byHand = options.from !== undefined || options.to !== undefined;
  const from = options.from === undefined ? undefined : parseIsoDate(options.from, '--from');
  const to = options.to === undefined ? undefined : parseIsoDate(options.to, '--to');
  if (from !== undefined && to !== undefined && from > to) throw new ConfigurationError(`--from ${from} is after --to ${to}`);
  const fingerprint = await snapshotFingerprint();

  return inTransaction(db, async () => {
    const availability = await availabilityEventTypes(db, schemas);
    // dim_date spans the first to the last event date: its few hundred rows give the bounds.
    const { rows } = await db.query<{ first: string | null; last: string | null; first_missing: string | null }>(
      `SELECT min(d.date)::text AS first, max(d.date)::text AS last,
              min(d.date) FILTER (WHERE s.date IS NULL)::text AS first_missing
       FROM ${mart}.dim_date AS d LEFT JOIN ${mart}.availability_snapshot AS s ON s.date = d.date`,
    );
    const first = rows[0]?.first ?? null;
    const last = rows[0]?.last ?? null;
    // What the model builds left undone is recomputed whatever was asked, so a range given by
    // hand (an orchestrator's interval) never leaves a day that a late event changed stale.
    const state = await readModelState(db, schemas);
    const rebuild = options.fullRefresh === true || ((state === null || state.snapshotRebuildPending || state.snapshotFingerprint !== fingerprint) && first !== null);
    const pendingFrom = rebuild ? first : earliest(state?.snapshotPendingFrom ?? null, rows[0]?.first_missing ?? null);
    const pending = pendingFrom === null || last === null ? null : { from: latest(pendingFrom, first), to: last };
    const asked = byHand ? { from: from ?? first, to: to ?? last } : null;
    const mode: SnapshotResult['mode'] = byHand ? 'range' : rebuild ? 'full-refresh' : 'incremental';
    const range =
      asked && pending ? { from: earliest(asked.from, pending.from), to: latest(asked.to, pending.to) } : (asked ?? pending ?? { from: null, to: null });
    if (rebuild) await db.query(`DELETE FROM ${mart}.availability_snapshot`);
    await recordSnapshotDone(db, schemas, fingerprint, rebuild);
    const result = { mode, from: range.from, to: range.to, days_written: 0, full_rebuild: rebuild };
    if (range.from === null || range.to === null || range.from > range.to) return { ...result, from: null, to: null };
    // Dates checked as YYYY-MM-DD (parseIsoDate, or read from dim_date), so safe as literals.
    const statement = await readSql('snapshot/availability_snapshot.sql', schemas, {
      availability_event_types: availability,
      from_date: `DATE '${parseIsoDate(range.from, 'from')}'`,
      to_date: `DATE '${parseIsoDate(range.to, 'to')}'`,
    });
    await db.exec(statement);
    const written = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM ${mart}.availability_snapshot WHERE date BETWEEN $1 AND $2`, [range.from, range.to]);
    return { ...result, days_written: Number(written.rows[0]?.n ?? 0) };
  });
}

function earliest(a: string | null, b: string | null): string | null {
  return a === null ? b : b === null || a <= b ? a : b;
}

function latest(a: string | null, b: string | null): string | null {
  return a === null ? b : b === null || a >= b ? a : b;
}
