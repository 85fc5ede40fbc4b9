/**
 * Seeded fuzzing of the event log reader and validator through the CLI: files that mix valid
 * lines (unique ids, tracked here) with every kind of malformed line. With --max-reject-ratio 1
 * the ingest must succeed, load exactly the valid lines, and quarantine every malformed line with
 * its physical line number, the offending field and a reason. Blank lines are skipped silently.
 *
 * Reproduce a failure with the seed printed in the test name: INSTAPRO_FUZZ_SEED=<seed>.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, createTestDatabase } from '../helpers/backends.js';
import type { TestDatabase } from '../helpers/backends.js';
import { describeResult, jsonSummary, requireBuiltCli, runCli, sqlRows } from '../helpers/subprocess.js';
import type { CliResult } from '../helpers/subprocess.js';
import { cleanupDatabase, schemasOf } from './support.js';

const SEED = Number(process.env.INSTAPRO_FUZZ_SEED ?? 20_240_611);
const FILES = 3;
const LINES_PER_FILE = 130;
const COLUMNS = ['event_id', 'event_type', 'professional_id_anonymized', 'created_at', 'meta_data'] as const;
const HEADER_LINE = COLUMNS.join(';');
const MAX_BIGINT = 9_223_372_036_854_775_807n;
/** Rows longer than this are cut in the quarantine (their start is kept). */
const QUARANTINE_KEEPS = 10_000;

// ---------------------------------------------------------------------------------------------
// Line specifications

type Eol = '\n' | '\r\n';

interface ValidSpec {
  kind: 'valid';
  type: string;
  professional: string;
  at: string;
  meta: string;
  eol: Eol;
}

interface MalformedSpec {
  kind: 'malformed';
  defect: string;
  /** The column the rejection must name; null when the row as a whole is wrong. */
  field: string | null;
  bytes: Buffer;
  eol: Eol;
}

interface BlankSpec {
  kind: 'blank';
  eol: Eol;
}

type LineSpec = ValidSpec | MalformedSpec | BlankSpec;

const eol: fc.Arbitrary<Eol> = fc.constantFrom<Eol>('\n', '\n', '\n', '\r\n');

const timestamp = fc
  .record({
    y: fc.integer({ min: 2019, max: 2021 }),
    mo: fc.integer({ min: 1, max: 12 }),
    d: fc.integer({ min: 1, max: 31 }),
    h: fc.integer({ min: 0, max: 23 }),
    mi: fc.integer({ min: 0, max: 59 }),
    s: fc.integer({ min: 0, max: 59 }),
  })
  .filter(({ y, mo, d }) => new Date(Date.UTC(y, mo - 1, d)).getUTCDate() === d)
  .map(({ y, mo, d, h, mi, s }) => {
    const p = (n: number) => String(n).padStart(2, '0');
    return `${y}-${p(mo)}-${p(d)} ${p(h)}:${p(mi)}:${p(s)}`;
  });

const professionalId = fc.oneof(
  fc.integer({ min: 1, max: 50_000 }).map(String),
  fc.bigInt({ min: 1n, max: MAX_BIGINT }).map(String),
);

/** Characters a service name may hold: quotes, commas, backslashes and non-ASCII included. */
const nameChar = fc.constantFrom(...Array.from('abcdefghijklmnopqrstuvwxyz-'), ' ', '"', "'", ',', '\\', 'é', 'ß', 'ü', '😀', '€');
const serviceName = fc.array(nameChar, { minLength: 1, maxLength: 24 }).map((cs) => cs.join('')).filter((n) => n.trim() !== '');
const leadFee = fc.oneof(
  fc.integer({ min: 0, max: 99_999_999 }).map(String),
  fc.tuple(fc.integer({ min: 0, max: 99_999_999 }), fc.integer({ min: 0, max: 9 })).map(([i, d]) => `${i}.${d}`),
  fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 99 })).map(([i, d]) => `${i}.${String(d).padStart(2, '0')}`),
);
const proposalMeta = fc
  .tuple(fc.integer({ min: 0, max: 2_147_483_647 }), serviceName, serviceName, leadFee)
  .map(([id, nl, en, fee]) => `${id}_${nl}_${en}_${fee}`);
/** Any other event may carry free text (no separator, line break or NUL). */
const freeMeta = fc.oneof(
  fc.constant(''),
  fc.constant(''),
  fc.array(fc.constantFrom(...Array.from('abc XYZ 123_"\',.\\é😀')), { maxLength: 40 }).map((cs) => cs.join('')),
);

const validLine: fc.Arbitrary<ValidSpec> = fc.oneof(
  fc.record({ kind: fc.constant('valid' as const), type: fc.constant('proposed'), professional: professionalId, at: timestamp, meta: proposalMeta, eol }),
  fc.record({
    kind: fc.constant('valid' as const),
    type: fc.constantFrom('created_account', 'became_able_to_propose', 'became_unable_to_propose'),
    professional: professionalId,
    at: timestamp,
    meta: freeMeta,
    eol,
  }),
);

/** A valid row (ASCII only) that a defect is then applied to; its id is never loaded. */
const baseFields = fc.record({
  id: fc.integer({ min: 1, max: 999_999 }).map(String),
  proposal: fc.boolean(),
  professional: fc.integer({ min: 1, max: 50_000 }).map(String),
  at: timestamp,
});
const fieldsOf = (b: { id: string; proposal: boolean; professional: string; at: string }): string[] => [
  b.id,
  b.proposal ? 'proposed' : 'created_account',
  b.professional,
  b.at,
  b.proposal ? '60_tuinonderhoud_maintain-garden_7.63' : '',
];

const text = (s: string) => Buffer.from(s, 'utf8');
const joinBytes = (parts: (string | Buffer)[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? text(p) : p)));

function malformed(defect: string, field: string | null, bytes: Buffer, lineEnd: Eol): MalformedSpec {
  return { kind: 'malformed', defect, field, bytes, eol: lineEnd };
}

/** Replaces column `index` of `fields` with `value` (bytes allowed) and joins with `;`. */
function withField(fields: string[], index: number, value: string | Buffer): Buffer {
  const parts: (string | Buffer)[] = [];
  fields.forEach((f, i) => {
    if (i > 0) parts.push(';');
    parts.push(i === index ? value : f);
  });
  return joinBytes(parts);
}

const INVALID_UTF8 = [[0xff], [0xfe], [0xc3, 0x28], [0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80]].map((b) => Buffer.from(b));
const BAD_IDS = ['-5', '0', '00', '007', 'abc', '1.5', '1e3', '', ' 12', '12 ', '+12', '0x1F', '9223372036854775808', '99999999999999999999', '１２'];
const BAD_TYPES = ['Proposed', 'PROPOSED', 'proposed ', 'created-account', '', 'unknown', 'able'];
const BAD_DATES = [
  '2020-02-30 10:00:00',
  '2019-02-29 10:00:00',
  '2020-13-01 10:00:00',
  '2020-00-10 10:00:00',
  '2020-04-31 10:00:00',
  '2020-01-01 24:00:00',
  '2020-01-01 23:60:00',
  '2020-01-01 23:59:60',
  '2020-01-01T10:00:00',
  '2020-1-1 10:00:00',
  '20200101 10:00:00',
  '2020-01-01',
  '2020-01-01 10:00:00.123',
  ' 2020-01-01 10:00:00',
  '0000-01-01 00:00:00',
  '',
  'yesterday',
];
const BAD_PROPOSAL_META = [
  '',
  'a_b_c',
  '60_tuin_garden',
  '60_tuin_garden_7.63_extra',
  'x_tuin_garden_7.63',
  '-1_tuin_garden_7.63',
  '2147483648_tuin_garden_7.63',
  '60__garden_7.63',
  '60_ _garden_7.63',
  '60_tuin__7.63',
  '60_tuin_garden_',
  '60_tuin_garden_-1',
  '60_tuin_garden_1.234',
  '60_tuin_garden_123456789',
  '60_tuin_garden_abc',
  '60_tuin_garden_7,63',
];

const malformedLine: fc.Arbitrary<MalformedSpec> = fc.oneof(
  // Wrong number of fields.
  fc.tuple(baseFields, fc.constantFrom(1, 2, 3, 4, 6, 7, 9), eol).map(([b, n, e]) => {
    const fields = fieldsOf(b);
    const shaped = n < fields.length ? fields.slice(0, n) : [...fields, ...Array.from({ length: n - fields.length }, (_, i) => `extra${i}`)];
    return malformed(`${n} fields`, null, text(shaped.join(';')), e);
  }),
  // A separator inside a field.
  fc.tuple(baseFields, fc.integer({ min: 0, max: 4 }), eol).map(([b, i, e]) => {
    const fields = fieldsOf(b);
    return malformed(`";" inside ${COLUMNS[i]}`, null, withField(fields, i, `${fields[i]!.slice(0, 1)};${fields[i]!.slice(1)}`), e);
  }),
  // Bytes that are not UTF-8.
  fc.tuple(baseFields, fc.integer({ min: 0, max: 4 }), fc.constantFrom(...INVALID_UTF8), fc.nat(), eol).map(([b, i, bad, at, e]) => {
    const value = fieldsOf(b)[i]!;
    const cut = value.length === 0 ? 0 : at % (value.length + 1);
    return malformed(`invalid UTF-8 ${bad.toString('hex')} in ${COLUMNS[i]}`, COLUMNS[i]!, withField(fieldsOf(b), i, joinBytes([value.slice(0, cut), bad, value.slice(cut)])), e);
  }),
  // A NUL byte.
  fc.tuple(baseFields, fc.integer({ min: 0, max: 4 }), fc.nat(), eol).map(([b, i, at, e]) => {
    const value = fieldsOf(b)[i]!;
    const cut = value.length === 0 ? 0 : at % (value.length + 1);
    return malformed(`NUL in ${COLUMNS[i]}`, COLUMNS[i]!, withField(fieldsOf(b), i, `${value.slice(0, cut)}\u0000${value.slice(cut)}`), e);
  }),
  // A huge field.
  fc.tuple(baseFields, fc.integer({ min: 0, max: 4 }), fc.constantFrom(100_000, 1_001), fc.constantFrom('x', '9'), eol).map(([b, i, length, ch, e]) =>
    malformed(`${length}-character ${COLUMNS[i]}`, COLUMNS[i]!, withField(fieldsOf(b), i, ch.repeat(length)), e),
  ),
  // Quotes: the format has none, so a quoted or half-quoted value is a wrong value, not CSV quoting.
  fc.tuple(baseFields, fc.integer({ min: 0, max: 3 }), fc.constantFrom('wrap', 'start', 'end', 'middle'), eol).map(([b, i, where, e]) => {
    const value = fieldsOf(b)[i]!;
    const quoted = where === 'wrap' ? `"${value}"` : where === 'start' ? `"${value}` : where === 'end' ? `${value}"` : `${value.slice(0, 1)}"${value.slice(1)}`;
    return malformed(`stray quote (${where}) in ${COLUMNS[i]}`, COLUMNS[i]!, withField(fieldsOf(b), i, quoted), e);
  }),
  fc.tuple(baseFields, eol).map(([b, e]) => malformed('quoted proposal meta_data', 'meta_data', withField(fieldsOf({ ...b, proposal: true }), 4, '"60_tuinonderhoud_maintain-garden_7.63"'), e)),
  fc.tuple(baseFields, fc.constantFrom(...BAD_IDS), eol).map(([b, id, e]) => malformed(`event_id ${JSON.stringify(id)}`, 'event_id', withField(fieldsOf(b), 0, id), e)),
  fc.tuple(baseFields, fc.constantFrom(...BAD_IDS), eol).map(([b, id, e]) => malformed(`professional ${JSON.stringify(id)}`, 'professional_id_anonymized', withField(fieldsOf(b), 2, id), e)),
  fc.tuple(baseFields, fc.constantFrom(...BAD_TYPES), eol).map(([b, t, e]) => malformed(`event_type ${JSON.stringify(t)}`, 'event_type', withField(fieldsOf(b), 1, t), e)),
  fc.tuple(baseFields, fc.constantFrom(...BAD_DATES), eol).map(([b, d, e]) => malformed(`created_at ${JSON.stringify(d)}`, 'created_at', withField(fieldsOf(b), 3, d), e)),
  fc.tuple(baseFields, fc.constantFrom(...BAD_PROPOSAL_META), eol).map(([b, m, e]) => malformed(`proposal meta ${JSON.stringify(m)}`, 'meta_data', withField(fieldsOf({ ...b, proposal: true }), 4, m), e)),
  fc.tuple(fc.constantFrom(' ', '  ', '\t', ' \t '), eol).map(([w, e]) => malformed('whitespace only', null, text(w), e)),
  eol.map((e) => malformed('empty fields', 'event_id', text(';;;;'), e)),
);

const lineSpec: fc.Arbitrary<LineSpec> = fc.oneof(
  { weight: 12, arbitrary: validLine },
  { weight: 8, arbitrary: malformedLine },
  { weight: 1, arbitrary: eol.map((e): BlankSpec => ({ kind: 'blank', eol: e })) },
);

// ---------------------------------------------------------------------------------------------
// Files and what is expected of them

interface ExpectedEvent {
  id: string;
  type: string;
  professional: string;
  at: string;
  meta: string | null;
}

interface ExpectedReject {
  defect: string;
  field: string | null;
  /** The line as the quarantine must keep it: decoded, NUL shown as \0. */
  raw: string;
}

interface FuzzFile {
  file: string;
  rows: number;
  /** By physical line number (header = 1). */
  events: Map<number, ExpectedEvent>;
  rejects: Map<number, ExpectedReject>;
}

let nextId = 7_000_000_000n;
/** Ids at the edges of bigint and of JavaScript's safe integers, then plain sequential ones. */
const SPECIAL_IDS = [MAX_BIGINT, 9_007_199_254_740_993n, 1n];

function buildFile(file: string, specs: LineSpec[]): { content: Buffer; expected: FuzzFile } {
  const parts: Buffer[] = [text(`${HEADER_LINE}\n`)];
  const expected: FuzzFile = { file, rows: 0, events: new Map(), rejects: new Map() };
  specs.forEach((spec, index) => {
    const line = index + 2;
    const last = index === specs.length - 1;
    // The last line sometimes has no line break at all.
    const lineEnd = last && index % 2 === 0 ? '' : spec.eol;
    if (spec.kind === 'blank') {
      parts.push(text(lineEnd));
      return;
    }
    expected.rows += 1;
    if (spec.kind === 'valid') {
      const id = String(SPECIAL_IDS.shift() ?? nextId++);
      parts.push(text(`${id};${spec.type};${spec.professional};${spec.at};${spec.meta}${lineEnd}`));
      expected.events.set(line, { id, type: spec.type, professional: spec.professional, at: spec.at, meta: spec.meta === '' ? null : spec.meta });
    } else {
      parts.push(spec.bytes, text(lineEnd));
      expected.rejects.set(line, { defect: spec.defect, field: spec.field, raw: spec.bytes.toString('utf8').replaceAll('\u0000', '\\0') });
    }
  });
  return { content: Buffer.concat(parts), expected };
}

// ---------------------------------------------------------------------------------------------

let tmp: string;
const fuzzFiles: FuzzFile[] = [];
/** A lone carriage return inside a line: not a line break for the parser, so not for the numbering either. */
let loneCrFile: FuzzFile;

beforeAll(async () => {
  requireBuiltCli();
  tmp = await mkdtemp(path.join(tmpdir(), 'instapro-e2e-fuzz-'));
  const samples = fc.sample(fc.array(lineSpec, { minLength: LINES_PER_FILE, maxLength: LINES_PER_FILE }), { seed: SEED, numRuns: FILES });
  for (const [i, specs] of samples.entries()) {
    const file = path.join(tmp, `fuzz-${SEED}-${i + 1}.csv`);
    const { content, expected } = buildFile(file, specs);
    await writeFile(file, content);
    fuzzFiles.push(expected);
  }
  const malformedCount = fuzzFiles.reduce((n, f) => n + f.rejects.size, 0);
  const validCount = fuzzFiles.reduce((n, f) => n + f.events.size, 0);
  expect(malformedCount, 'the generator must produce malformed lines').toBeGreaterThan(50);
  expect(validCount, 'the generator must produce valid lines').toBeGreaterThan(50);

  const crFile = path.join(tmp, 'lone-carriage-return.csv');
  const crLines = [
    HEADER_LINE,
    '8100000001;created_account;1;2020-01-01 10:00:00;', // line 2
    '8100000002;created_account;2;2020-01-01\r10:00:00;', // line 3: malformed (CR inside created_at)
    '8100000003;created_account;3;2020-01-01 10:00:00;', // line 4
    'bad-id;created_account;4;2020-01-01 10:00:00;', // line 5: malformed
    '8100000005;created_account;5;2020-01-01 10:00:00;', // line 6
  ];
  await writeFile(crFile, crLines.join('\n') + '\n');
  loneCrFile = {
    file: crFile,
    rows: 5,
    events: new Map([
      [2, { id: '8100000001', type: 'created_account', professional: '1', at: '2020-01-01 10:00:00', meta: null }],
      [4, { id: '8100000003', type: 'created_account', professional: '3', at: '2020-01-01 10:00:00', meta: null }],
      [6, { id: '8100000005', type: 'created_account', professional: '5', at: '2020-01-01 10:00:00', meta: null }],
    ]),
    rejects: new Map([
      [3, { defect: 'CR inside created_at', field: 'created_at', raw: crLines[2]! }],
      [5, { defect: 'bad id', field: 'event_id', raw: crLines[4]! }],
    ]),
  };
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface LoadedEvent {
  file: string;
  line: number;
  id: string;
  type: string;
  professional: string;
  at: string;
  meta: string | null;
}

interface QuarantinedLine {
  file: string;
  line: number;
  field: string | null;
  reason: string;
  raw: string;
}

/** Lists everything that differs between what a file should have produced and what the database holds. */
function differences(expected: FuzzFile, events: LoadedEvent[], quarantined: QuarantinedLine[]): string[] {
  const problems: string[] = [];
  const name = path.basename(expected.file);
  const loadedByLine = new Map(events.filter((e) => e.file === expected.file).map((e) => [e.line, e]));
  const quarantinedByLine = new Map(quarantined.filter((q) => q.file === expected.file).map((q) => [q.line, q]));

  for (const [line, want] of expected.events) {
    const got = loadedByLine.get(line);
    if (!got) {
      const q = quarantinedByLine.get(line);
      problems.push(`${name}:${line} valid event ${want.id} not loaded${q ? ` (quarantined: ${q.reason})` : ''}`);
      continue;
    }
    const { file: _f, line: _l, ...loaded } = got;
    if (JSON.stringify(loaded) !== JSON.stringify(want)) problems.push(`${name}:${line} loaded as ${JSON.stringify(loaded)}, expected ${JSON.stringify(want)}`);
  }
  for (const [line, got] of loadedByLine) {
    if (!expected.events.has(line)) problems.push(`${name}:${line} loaded event ${got.id} that is not a valid line there${expected.rejects.has(line) ? ` (a ${expected.rejects.get(line)!.defect} line)` : ''}`);
  }
  for (const [line, want] of expected.rejects) {
    const got = quarantinedByLine.get(line);
    if (!got) {
      problems.push(`${name}:${line} malformed line (${want.defect}) is not in the quarantine at that line`);
      continue;
    }
    if (got.reason.trim() === '') problems.push(`${name}:${line} (${want.defect}) quarantined without a reason`);
    if (got.field !== want.field) problems.push(`${name}:${line} (${want.defect}) quarantined with field ${got.field}, expected ${want.field}: ${got.reason}`);
    const keeps = want.raw.length <= QUARANTINE_KEEPS ? got.raw === want.raw : got.raw.startsWith(want.raw.slice(0, QUARANTINE_KEEPS));
    if (!keeps) problems.push(`${name}:${line} (${want.defect}) raw line kept as ${JSON.stringify(got.raw.slice(0, 120))}, expected ${JSON.stringify(want.raw.slice(0, 120))}`);
  }
  for (const [line, got] of quarantinedByLine) {
    if (!expected.rejects.has(line)) problems.push(`${name}:${line} quarantined (${got.reason}) but it is not a malformed line${expected.events.has(line) ? ` (valid event ${expected.events.get(line)!.id})` : ''}`);
  }
  return problems;
}

describe.concurrent.each(BACKENDS)('fuzzed malformed lines on the %s backend', (backend) => {
  let db: TestDatabase;
  let ingest: CliResult;
  let ingestArgs: string[];
  let events: LoadedEvent[] = [];
  let quarantined: QuarantinedLine[] = [];

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    const { raw } = schemasOf(db);
    ingestArgs = ['ingest', '--input', ...fuzzFiles.map((f) => f.file), loneCrFile.file, '--max-reject-ratio', '1', '--json'];
    ingest = await runCli(ingestArgs, { env: db.env });
    if (ingest.code !== 0) return;
    const [row] = await sqlRows<{ events: LoadedEvent[] | null; quarantined: QuarantinedLine[] | null }>(
      db.env,
      `SELECT (SELECT json_agg(json_build_object('file', source_file, 'line', source_line, 'id', event_id::text, 'type', event_type,
                      'professional', professional_id::text, 'at', created_at::text, 'meta', meta_data)) FROM ${raw}.event) AS events,
              (SELECT json_agg(json_build_object('file', source_file, 'line', source_line, 'field', field, 'reason', reason, 'raw', raw_line))
                 FROM ${raw}.quarantine) AS quarantined`,
    );
    events = row?.events ?? [];
    quarantined = row?.quarantined ?? [];
  });

  afterAll(async () => {
    await cleanupDatabase(db);
  });

  it.sequential(`loads every valid line and quarantines every malformed one with its line number (seed ${SEED})`, () => {
    expect(ingest.code, describeResult(ingestArgs, ingest)).toBe(0);
    expect(ingest.stderr).not.toMatch(/\n\s+at /);
    const summary = jsonSummary(ingest.stdout);
    expect(summary.status).toBe('succeeded');
    // Line by line first: the most telling failure message.
    const problems = fuzzFiles.flatMap((f) => differences(f, events, quarantined));
    expect(problems).toEqual([]);
    const files = (summary.ingest as { files: { file: string; rows_read: number; loaded: number; rejected: number; duplicates: number; status: string }[] }).files;
    for (const f of fuzzFiles) {
      expect(files.find((r) => r.file === f.file)).toMatchObject({ status: 'loaded', rows_read: f.rows, loaded: f.events.size, rejected: f.rejects.size, duplicates: 0 });
    }
  });

  it.sequential('a lone carriage return inside a line is one malformed line and does not shift the numbers of the lines after it', () => {
    expect(ingest.code, describeResult(ingestArgs, ingest)).toBe(0);
    expect(differences(loneCrFile, events, quarantined)).toEqual([]);
  });
});
