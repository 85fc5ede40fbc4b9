/**
 * The real event log (shared/data/event_log.csv beside the repository, CRLF line endings): a full
 * run loads all of it cleanly, the data tests pass, and running again changes nothing.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { REAL_EVENT_LOG } from '../helpers/event-log-files.js';
import { describeResult, jsonSummary, requireBuiltCli, runCli, sqlRows } from '../helpers/subprocess.js';
import { cleanupDatabase, eventLogFacts, rawChecksumQuery, schemasOf } from './support.js';
import type { EventLogFacts, Schemas } from './support.js';

const EXPECTED_EVENTS = 19_012;
const available = existsSync(REAL_EVENT_LOG);

interface State {
  snapshot: Record<string, unknown>[] | null;
  raw_checksum: unknown[];
  mart_digest: Record<string, string | null>;
}

/** Everything a run writes, in one query: snapshot rows without computed_at, raw checksums, mart digests. */
function stateQuery({ mart, raw }: Schemas): string {
  const digest = (table: string, order: string) => `(SELECT md5(string_agg(t::text, ',' ORDER BY ${order})) FROM ${mart}.${table} AS t)`;
  return `SELECT
      (SELECT json_agg(to_jsonb(s) - 'computed_at' ORDER BY s.date) FROM ${mart}.availability_snapshot AS s) AS snapshot,
      (SELECT json_agg(c) FROM (${rawChecksumQuery(raw)}) AS c) AS raw_checksum,
      json_build_object(
        'dim_date', ${digest('dim_date', 't.date_key')},
        'dim_professional', ${digest('dim_professional', 't.professional_id')},
        'dim_service', ${digest('dim_service', 't.service_id')},
        'fct_event', ${digest('fct_event', 't.event_id')},
        'fct_proposal', ${digest('fct_proposal', 't.event_id')},
        'professional_availability_history', ${digest('professional_availability_history', 't.professional_id, t.valid_from')}
      ) AS mart_digest`;
}

interface RunSummary {
  status: string;
  ingest: { rows_read: number; loaded: number; rejected: number; duplicates: number };
  tests: { passed: number; warnings: number; errors: number; results: { name: string; status: string }[] };
  snapshot: { days_written: number };
}

describe.skipIf(!available)(`the real event log${available ? '' : ` (skipped: ${REAL_EVENT_LOG} does not exist)`}`, () => {
  let facts: EventLogFacts;

  beforeAll(async () => {
    requireBuiltCli();
    facts = await eventLogFacts(REAL_EVENT_LOG);
  });

  it('holds the number of distinct events the tests below expect', () => {
    expect(facts.rows).toBe(EXPECTED_EVENTS);
    expect(facts.distinctIds).toBe(EXPECTED_EVENTS);
  });

  describe.concurrent.each(BACKENDS)('on the %s backend', (backend) => {
    let db: TestDatabase;
    let first: State | undefined;

    beforeAll(async () => {
      db = await createTestDatabase(backend);
    });

    afterAll(async () => {
      await cleanupDatabase(db);
    });

    it.sequential(`run loads ${EXPECTED_EVENTS.toLocaleString('en-US')} events, none rejected or duplicated, and the data tests pass`, async () => {
      const args = ['run', '--input', REAL_EVENT_LOG, '--json'];
      const result = await runCli(args, { env: db.env });
      expect(result.code, describeResult(args, result)).toBe(0);
      const summary = jsonSummary(result.stdout) as unknown as RunSummary;
      expect(summary.status).toBe('succeeded');
      expect(summary.ingest).toMatchObject({ rows_read: EXPECTED_EVENTS, loaded: EXPECTED_EVENTS, rejected: 0, duplicates: 0 });
      expect(summary.tests.errors, JSON.stringify(summary.tests.results.filter((t) => t.status !== 'pass'))).toBe(0);
      expect(summary.tests.passed).toBeGreaterThan(0);
      expect(summary.snapshot.days_written).toBeGreaterThan(0);

      const [state] = await sqlRows<State>(db.env, stateQuery(schemasOf(db)));
      const total = (state!.raw_checksum as { event_type: string | null; n: number; id_sum: string }[]).find((r) => r.event_type === null);
      expect(total).toMatchObject({ n: EXPECTED_EVENTS, id_sum: String(facts.idSum) });
      expect(state!.snapshot?.length).toBe(summary.snapshot.days_written);
      first = state;
    });

    it.sequential('a second run skips the unchanged file unread and changes no row', async () => {
      expect(first, 'the first run must have succeeded').toBeDefined();
      const args = ['run', '--input', REAL_EVENT_LOG, '--json'];
      const result = await runCli(args, { env: db.env });
      expect(result.code, describeResult(args, result)).toBe(0);
      const summary = jsonSummary(result.stdout) as unknown as RunSummary;
      expect(summary.ingest).toMatchObject({ rows_read: 0, loaded: 0, rejected: 0, duplicates: 0, skipped_unchanged: 1 });
      expect(summary.tests.errors).toBe(0);

      const [second] = await sqlRows<State>(db.env, stateQuery(schemasOf(db)));
      expect(second!.snapshot).toEqual(first!.snapshot);
      expect(second!.raw_checksum).toEqual(first!.raw_checksum);
      expect(second!.mart_digest).toEqual(first!.mart_digest);
    });
  });
});
