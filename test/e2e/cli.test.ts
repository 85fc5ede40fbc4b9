/**
 * The command line as an operator sees it: the built CLI as a subprocess, on every backend.
 * Output contract: a human summary or one JSON line on stdout, one-line errors on stderr, and the
 * documented exit codes (0 ok, 2 usage, 3 configuration, 4 input file, 5 reject ratio, 7 database).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { HEADER, SAMPLE_EVENT_LOG } from '../helpers/event-log-files.js';
import { describeResult, jsonSummary, requireBuiltCli, runCli, sqlRows, stackFrames } from '../helpers/subprocess.js';
import { EmbeddedTemplate, cleanupDatabase, eventLogFacts, schemasOf } from './support.js';
import type { EventLogFacts, Schemas } from './support.js';

/** The sample as an operator passes it: relative to the repository root (the CLI's cwd). */
const SAMPLE_ARG = 'data/sample/event_log.csv';
const COMMANDS = ['run', 'ingest', 'model', 'snapshot', 'test', 'migrate', 'reset', 'sql', 'generate', 'config'];

interface TableCounts {
  by_type: Record<string, number>;
  [table: string]: number | Record<string, number>;
}

let tmp: string;
let sample: EventLogFacts;
const template = new EmbeddedTemplate();

beforeAll(async () => {
  requireBuiltCli();
  tmp = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-cli-'));
  sample = await eventLogFacts(SAMPLE_EVENT_LOG);
});

afterAll(async () => {
  await template.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Environment for commands that must fail before touching any database. */
const noDatabaseEnv = () => ({ INSTAPRO_DATA_DIR: path.join(tmp, 'never-created-db'), INSTAPRO_CONNECT_RETRIES: '0' });

describe('help and usage errors', () => {
  it('--help on the program and on every command exits 0 and prints usage on stdout', async () => {
    const program = await runCli(['--help'], { env: noDatabaseEnv() });
    expect(program.code, describeResult(['--help'], program)).toBe(0);
    expect(program.stdout).toContain('Usage: instapro');
    // The commands this suite knows must be listed; commands added later are checked as well.
    const listed = [...program.stdout.matchAll(/^ {2}([a-z][a-z-]*) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    for (const command of COMMANDS) expect(listed).toContain(command);
    const commands = [...new Set([...COMMANDS, ...listed])];
    const results = await Promise.all(commands.map((c) => runCli([c, '--help'], { env: noDatabaseEnv() })));
    for (const [i, command] of commands.entries()) {
      const result = results[i]!;
      expect(result.code, describeResult([command, '--help'], result)).toBe(0);
      expect(result.stdout, describeResult([command, '--help'], result)).toContain(`Usage: instapro ${command}`);
    }
  });

  it('an unknown option of the program exits 2 (usage) without a stack trace', async () => {
    const args = ['--no-such-option'];
    const result = await runCli(args, { env: noDatabaseEnv() });
    expect(result.code, describeResult(args, result)).toBe(2);
    expect(result.stderr).toMatch(/unknown option/);
    expect(stackFrames(result.stderr)).toEqual([]);
  });

  it('an unknown command exits 2 (usage)', async () => {
    const args = ['no-such-command'];
    const result = await runCli(args, { env: noDatabaseEnv() });
    expect(result.code, describeResult(args, result)).toBe(2);
    expect(result.stderr).toMatch(/unknown command/);
  });

  // README / --help: "2 usage". A wrong option of a command is a usage error like one of the program.
  it.each([
    ['an unknown option of a command', ['run', '--no-such-option', '--input', SAMPLE_ARG]],
    ['an invalid choice', ['sql', 'select 1', '--format', 'xml']],
    ['a missing required option', ['generate', '--events', '10']],
  ])('%s exits 2 (usage) without a stack trace', async (_what, args) => {
    const result = await runCli(args, { env: noDatabaseEnv() });
    expect(result.code, describeResult(args, result)).toBe(2);
    expect(result.stderr.trim()).not.toBe('');
    expect(stackFrames(result.stderr)).toEqual([]);
  });
});

// Per backend, two groups of tests with a database each, so all four groups run in parallel.
describe.concurrent.each(BACKENDS)('CLI on the %s backend', (backend) => {
  describe('run, run again, sql', () => {
    let db: TestDatabase;
    let schemas: Schemas;
    let countsAfterFirstRun: TableCounts | undefined;

    beforeAll(async () => {
      db = await template.createTestDatabase(backend);
      schemas = schemasOf(db);
    });

    afterAll(async () => {
      await cleanupDatabase(db);
    });

    /** Row counts of every table a run writes, and the raw events per type, in one query (one process). */
    const tableCounts = async (): Promise<TableCounts> => {
      const { mart, raw } = schemas;
      const tables = {
        raw_event: `${raw}.event`,
        quarantine: `${raw}.quarantine`,
        dim_professional: `${mart}.dim_professional`,
        dim_service: `${mart}.dim_service`,
        dim_date: `${mart}.dim_date`,
        fct_event: `${mart}.fct_event`,
        fct_proposal: `${mart}.fct_proposal`,
        professional_availability_history: `${mart}.professional_availability_history`,
        availability_snapshot: `${mart}.availability_snapshot`,
      };
      const select = Object.entries(tables)
        .map(([alias, table]) => `(SELECT count(*)::integer FROM ${table}) AS ${alias}`)
        .join(', ');
      const byType = `(SELECT coalesce(jsonb_object_agg(event_type, n), '{}'::jsonb) FROM (SELECT event_type, count(*)::integer AS n FROM ${raw}.event GROUP BY 1) AS t) AS by_type`;
      const [row] = await sqlRows<TableCounts>(db.env, `SELECT ${select}, ${byType}`);
      return row!;
    };

    it.sequential('run --json loads the sample: the JSON summary matches the file', async () => {
      const args = ['run', '--input', SAMPLE_ARG, '--json'];
      const result = await runCli(args, { env: db.env });
      expect(result.code, describeResult(args, result)).toBe(0);
      const summary = jsonSummary(result.stdout);
      expect(summary.status).toBe('succeeded');
      expect(summary.ingest).toMatchObject({ rows_read: sample.rows, loaded: sample.distinctIds, rejected: 0, duplicates: sample.rows - sample.distinctIds });
      expect(sample.rows).toBeGreaterThan(0);

      const counts = await tableCounts();
      countsAfterFirstRun = counts;
      expect(counts.by_type).toEqual(sample.byType);
      expect(counts.raw_event).toBe(sample.distinctIds);
      expect(counts.fct_event).toBe(sample.distinctIds);
      expect(counts.fct_proposal).toBe(sample.byType.proposed);
      expect(counts.quarantine).toBe(0);
      expect(counts.availability_snapshot).toBeGreaterThan(0);
    });

    it.sequential('a second run skips the unchanged file unread (manifest) and leaves the tables as they were', async () => {
      expect(countsAfterFirstRun, 'the first run must have succeeded').toBeDefined();
      const args = ['run', '--input', SAMPLE_ARG, '--json'];
      const result = await runCli(args, { env: db.env });
      expect(result.code, describeResult(args, result)).toBe(0);
      const summary = jsonSummary(result.stdout);
      expect(summary.status).toBe('succeeded');
      expect(summary.ingest).toMatchObject({ rows_read: 0, loaded: 0, rejected: 0, duplicates: 0, skipped_unchanged: 1, files: [{ file: SAMPLE_ARG, status: 'skipped_unchanged' }] });
      expect(await tableCounts()).toEqual(countsAfterFirstRun);
    });

    it.sequential('sql prints query results as csv, json and table', async () => {
      const query = `SELECT count(*)::integer AS n, max(event_id) AS max_id, 'a,b' AS s, 'say "hi"' AS q, NULL AS z FROM ${schemas.raw}.event`;
      const [csv, json, table] = await Promise.all(
        [
          ['sql', query, '--format', 'csv'],
          ['sql', query, '--format', 'json'],
          ['sql', query],
        ].map((args) => runCli(args, { env: db.env }).then((r) => ({ args, r }))),
      );
      for (const { args, r } of [csv!, json!, table!]) expect(r.code, describeResult(args, r)).toBe(0);

      expect(csv!.r.stdout.trimEnd().split('\n')).toEqual(['n,max_id,s,q,z', `${sample.distinctIds},${sample.maxId},"a,b","say ""hi""",`]);
      expect(JSON.parse(json!.r.stdout)).toEqual([{ n: sample.distinctIds, max_id: Number(sample.maxId), s: 'a,b', q: 'say "hi"', z: null }]);
      const tableLines = table!.r.stdout.trimEnd().split('\n');
      expect(tableLines[0]?.split('|').map((c) => c.trim())).toEqual(['n', 'max_id', 's', 'q', 'z']);
      expect(tableLines[1]).toMatch(/^-+(\+-+){4}$/);
      expect(tableLines[2]?.split('|').map((c) => c.trim())).toEqual([String(sample.distinctIds), String(sample.maxId), 'a,b', 'say "hi"', '']);
      expect(tableLines.at(-1)).toBe('(1 row)');
    });
  });

  describe('exit codes', () => {
    let db: TestDatabase;
    let schemas: Schemas;

    beforeAll(async () => {
      db = await template.createTestDatabase(backend);
      schemas = schemasOf(db);
    });

    afterAll(async () => {
      await cleanupDatabase(db);
    });

    it.sequential('a missing input file exits 4 with the file name on one stderr line and no stack trace', async () => {
      const missing = path.join(tmp, `${backend}-does-not-exist.csv`);
      const args = ['run', '--input', missing];
      const result = await runCli(args, { env: db.env });
      expect(result.code, describeResult(args, result)).toBe(4);
      const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines.filter((l) => l.includes(missing)), result.stderr).toHaveLength(1);
      expect(lines.find((l) => l.includes(missing))).toMatch(/not found/i);
      expect(stackFrames(result.stderr)).toEqual([]);
    });

    it.sequential('a file with the wrong header exits 4', async () => {
      const file = path.join(tmp, `${backend}-wrong-header.csv`);
      await writeFile(file, 'id;type;professional;created;meta\n9000001;created_account;1;2020-01-01 00:00:00;\n');
      const args = ['run', '--input', file];
      const result = await runCli(args, { env: db.env });
      expect(result.code, describeResult(args, result)).toBe(4);
      expect(result.stderr).toContain(file);
      expect(result.stderr).toMatch(/header/);
      expect(stackFrames(result.stderr)).toEqual([]);
    });

    it.sequential('an empty file exits 4', async () => {
      const file = path.join(tmp, `${backend}-empty.csv`);
      await writeFile(file, '');
      const args = ['ingest', '--input', file];
      const result = await runCli(args, { env: db.env });
      expect(result.code, describeResult(args, result)).toBe(4);
      expect(result.stderr).toContain(file);
      expect(stackFrames(result.stderr)).toEqual([]);
    });

    it.sequential('a multi-file run whose second file is missing exits 4 and loads nothing, not even the first file', async () => {
      const good = path.join(tmp, `${backend}-good.csv`);
      const ids = [9_100_001, 9_100_002, 9_100_003];
      await writeFile(good, [HEADER, ...ids.map((id) => `${id};created_account;${id};2020-01-05 10:00:00;`)].join('\n') + '\n');
      const missing = path.join(tmp, `${backend}-second-missing.csv`);

      const args = ['run', '--input', good, missing, '--json'];
      const result = await runCli(args, { env: db.env });
      expect(result.code, describeResult(args, result)).toBe(4);
      expect(result.stderr).toContain(missing);
      const summary = jsonSummary(result.stdout);
      expect(summary).toMatchObject({ status: 'failed', exit_code: 4 });
      expect(typeof summary.run_id).toBe('number');

      // Nothing is loaded into this group's database before the reject-ratio test below.
      const [after] = await sqlRows<{ total: number; from_good: number; by_failed_run: number }>(
        db.env,
        `SELECT count(*)::integer AS total,
                count(*) FILTER (WHERE event_id IN (${ids.join(', ')}) OR source_file = '${good}')::integer AS from_good,
                count(*) FILTER (WHERE run_id = ${Number(summary.run_id)})::integer AS by_failed_run
         FROM ${schemas.raw}.event`,
      );
      expect(after).toEqual({ total: 0, from_good: 0, by_failed_run: 0 });
    });

    it.sequential('a file with rejects above --max-reject-ratio exits 5, loads none of its events and quarantines its rejects', async () => {
      const file = path.join(tmp, `${backend}-too-many-rejects.csv`);
      const validIds = [9_200_001, 9_200_002, 9_200_003, 9_200_004, 9_200_005, 9_200_006, 9_200_007];
      const lines = [
        HEADER,
        `${validIds[0]};created_account;77;2020-01-05 10:00:00;`,
        `${validIds[1]};became_able_to_propose;77;2020-01-06 10:00:00;`,
        'not-an-id;created_account;78;2020-01-05 10:00:00;', // line 4
        `${validIds[2]};proposed;77;2020-01-07 10:00:00;60_tuinonderhoud_maintain-garden_7.63`,
        `${validIds[3]};created_account;79;2020-02-30 10:00:00;`, // line 6: no such day
        `${validIds[4]};created_account;80;2020-01-05 10:00:00;`,
        `9200099;proposed;77;2020-01-07 10:00:00;only_three_parts`, // line 8
        `${validIds[5]};created_account;81;2020-01-05 10:00:00;`,
        `${validIds[6]};created_account;82;2020-01-05 10:00:00;`,
      ];
      const rejectedLines = [4, 6, 8];
      await writeFile(file, lines.join('\n') + '\n');

      const args = ['ingest', '--input', file, '--max-reject-ratio', '0.1', '--json'];
      const result = await runCli(args, { env: db.env });
      expect(result.code, describeResult(args, result)).toBe(5);
      const errorLines = result.stderr.split('\n').filter((l) => l.includes('error'));
      expect(errorLines, result.stderr).toHaveLength(1);
      const message = errorLines[0]!;
      expect(message).toContain(file);
      expect(message).toMatch(/\b3 of 9 rows rejected\b/);
      expect(message).toContain(`${schemas.raw}.quarantine`);
      expect(stackFrames(result.stderr)).toEqual([]);
      const summary = jsonSummary(result.stdout);
      expect(summary).toMatchObject({ status: 'failed', exit_code: 5 });

      const [state] = await sqlRows<{ loaded: number; quarantined: { source_line: number; reason: string; last_run_id: number }[] | null }>(
        db.env,
        `SELECT (SELECT count(*)::integer FROM ${schemas.raw}.event WHERE event_id IN (${validIds.join(', ')}, 9200099) OR source_file = '${file}') AS loaded,
                (SELECT json_agg(json_build_object('source_line', source_line, 'reason', reason, 'last_run_id', last_run_id) ORDER BY source_line)
                   FROM ${schemas.raw}.quarantine WHERE source_file = '${file}') AS quarantined`,
      );
      expect(state!.loaded).toBe(0);
      const quarantined = state!.quarantined ?? [];
      expect(quarantined.map((q) => q.source_line)).toEqual(rejectedLines);
      for (const q of quarantined) expect(q.reason.trim()).not.toBe('');
      expect(new Set(quarantined.map((q) => q.last_run_id))).toEqual(new Set([summary.run_id]));
    });

    it.sequential('an invalid configuration (INSTAPRO_SCHEMA=bad-name;drop) exits 3 and creates nothing', async () => {
      const args = ['run', '--input', SAMPLE_ARG];
      const result = await runCli(args, { env: { ...db.env, INSTAPRO_SCHEMA: 'bad-name;drop' } });
      expect(result.code, describeResult(args, result)).toBe(3);
      expect(result.stderr).toContain('INSTAPRO_SCHEMA');
      expect(stackFrames(result.stderr)).toEqual([]);
      const schemasNow = await sqlRows<{ n: number }>(db.env, `SELECT count(*)::integer AS n FROM pg_namespace WHERE nspname LIKE 'bad-name%'`);
      expect(schemasNow[0]!.n).toBe(0);
    });
  });
});
