import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATE_DEFAULTS, formatEventLine, generateEvents, writeEventLog } from '../../src/generate/generate-event-log.js';
import type { GenerateOptions, GeneratedEvent } from '../../src/generate/generate-event-log.js';
import { SERVICE_CATALOGUE } from '../../src/generate/service-catalogue.js';
import { EVENT_LOG_HEADER, EVENT_TYPES } from '../../src/ingest/event-log-format.js';
import { validateEvent } from '../../src/ingest/validate-event.js';
import { ConfigurationError } from '../../src/util/errors.js';

const options = (overrides: Partial<GenerateOptions> = {}): GenerateOptions => ({ ...GENERATE_DEFAULTS, events: 5_000, ...overrides });
const lines = (o: GenerateOptions): string[] => Array.from(generateEvents(o), formatEventLine);

/** Shares of the reference log (19,012 events): proposed 86.8%, created_account 7.9%, became_able 4.5%, became_unable 0.8%. */
const TARGET_SHARES: Record<string, number> = {
  proposed: 86.8,
  created_account: 7.9,
  became_able_to_propose: 4.5,
  became_unable_to_propose: 0.8,
};
/**
 * Allowed distance from the target, in percentage points. Proposals per professional are
 * heavy-tailed (as in the real log), so a 50k-event sample (about 4k professionals) varies with
 * the seed; over 60 seeds the shares stayed well within these bounds, and their mean within 0.2.
 */
const TOLERANCE_PP: Record<string, number> = {
  proposed: 3.5,
  created_account: 2,
  became_able_to_propose: 1.2,
  became_unable_to_propose: 0.25,
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'instapro-generate-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('generateEvents', () => {
  it('gives identical output for the same seed', () => {
    expect(lines(options({ seed: 7 }))).toEqual(lines(options({ seed: 7 })));
  });

  it('gives different output for different seeds', () => {
    const a = lines(options({ seed: 1 }));
    const b = lines(options({ seed: 2 }));
    expect(a).not.toEqual(b);
    // Not just a shifted copy: most lines differ.
    const same = a.filter((line, i) => line === b[i]).length;
    expect(same).toBeLessThan(a.length / 10);
  });

  it.each([1, 2, 3, 17, 1_000, 12_345])('yields exactly %i events', (events) => {
    expect(lines(options({ events }))).toHaveLength(events);
  });

  it('yields nothing for 0 events', () => {
    expect(lines(options({ events: 0 }))).toEqual([]);
  });

  it('is lazy: a huge log can be read from its start without being built', () => {
    const first: GeneratedEvent[] = [];
    for (const event of generateEvents(options({ events: Number.MAX_SAFE_INTEGER }))) {
      first.push(event);
      if (first.length === 100) break;
    }
    expect(first).toHaveLength(100);
    expect(first[0]?.eventType).toBe('created_account');
  });

  it('numbers events with unique, increasing ids', () => {
    const ids = Array.from(generateEvents(options({ events: 20_000 })), (e) => e.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id, i) => i === 0 || id > (ids[i - 1] as number))).toBe(true);
    expect(ids[0]).toBe(1);
  });

  it('writes lines that pass the ingest validation', () => {
    const problems: string[] = [];
    for (const line of lines(options({ events: 20_000, seed: 3 }))) {
      const result = validateEvent(line.split(';'));
      if (!result.ok) problems.push(`${line}: ${result.rejection.reason}`);
    }
    expect(problems.slice(0, 5)).toEqual([]);
  });

  it.each([1, 2, 3, 4, 5])('has the real type mix within tolerance in 50k events (seed %i)', (seed) => {
    const counts: Record<string, number> = {};
    for (const e of generateEvents(options({ events: 50_000, seed }))) counts[e.eventType] = (counts[e.eventType] ?? 0) + 1;
    expect(Object.keys(counts).sort()).toEqual([...EVENT_TYPES].sort());
    for (const [type, target] of Object.entries(TARGET_SHARES)) {
      const share = ((counts[type] ?? 0) / 50_000) * 100;
      expect(Math.abs(share - target), `${type}: ${share.toFixed(2)}% vs ${target}%`).toBeLessThanOrEqual(TOLERANCE_PP[type] as number);
    }
  });

  it('keeps timestamps within the chosen period', () => {
    const events = Array.from(generateEvents(options({ events: 20_000, start: '2023-02-27', days: 3 })));
    const times = events.map((e) => e.createdAt).sort();
    expect(times[0]! >= '2023-02-27 00:00:00').toBe(true);
    expect(times[times.length - 1]! <= '2023-03-01 23:59:59').toBe(true);
    // All three days are used, including the leap-free month end.
    expect(new Set(times.map((t) => t.slice(0, 10)))).toEqual(new Set(['2023-02-27', '2023-02-28', '2023-03-01']));
  });

  it('makes every professional consistent: account first, proposals only while able', () => {
    const byProfessional = new Map<number, GeneratedEvent[]>();
    for (const e of generateEvents(options({ events: 30_000, seed: 11 }))) {
      const list = byProfessional.get(e.professionalId) ?? [];
      list.push(e);
      byProfessional.set(e.professionalId, list);
    }
    const problems: string[] = [];
    for (const [professional, list] of byProfessional) {
      const ordered = [...list].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.eventId - b.eventId);
      if (ordered[0]?.eventType !== 'created_account') problems.push(`professional ${professional} starts with ${ordered[0]?.eventType}`);
      if (list.filter((e) => e.eventType === 'created_account').length !== 1) problems.push(`professional ${professional} has several accounts`);
      let able = false;
      for (const e of ordered) {
        if (e.eventType === 'became_able_to_propose') able = true;
        else if (e.eventType === 'became_unable_to_propose') able = false;
        else if (e.eventType === 'proposed' && !able) problems.push(`proposed while not able: ${formatEventLine(e)}`);
      }
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(byProfessional.size).toBeGreaterThan(1_000);
  });

  it('writes proposal meta data as {service_id}_{nl}_{en}_{fee} from the catalogue, fees from 0.00 to 10.00', () => {
    const byId = new Map(SERVICE_CATALOGUE.map((s) => [s.id, s]));
    const fees: number[] = [];
    const services = new Set<number>();
    const problems: string[] = [];
    for (const e of generateEvents(options({ events: 30_000 }))) {
      if (e.eventType !== 'proposed') {
        if (e.metaData !== '') problems.push(`meta data on ${formatEventLine(e)}`);
        continue;
      }
      const [id, nl, en, fee] = e.metaData.split('_') as [string, string, string, string];
      const service = byId.get(Number(id));
      if (!service || service.nl !== nl || service.en !== en || !/^\d{1,2}\.\d{2}$/.test(fee)) problems.push(e.metaData);
      fees.push(Number(fee));
      services.add(Number(id));
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(Math.min(...fees)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...fees)).toBeLessThanOrEqual(10);
    const mean = fees.reduce((a, b) => a + b, 0) / fees.length;
    expect(mean).toBeGreaterThan(4.8);
    expect(mean).toBeLessThan(5.2);
    expect(services.size).toBeGreaterThan(SERVICE_CATALOGUE.length / 2);
  });

  it('rejects options it cannot honour, before yielding anything', () => {
    expect(() => generateEvents(options({ start: '2020-02-30' }))).toThrow(ConfigurationError);
    expect(() => generateEvents(options({ start: 'yesterday' }))).toThrow(/--start/);
    expect(() => generateEvents(options({ days: 0 }))).toThrow(/--days/);
    expect(() => generateEvents(options({ events: -1 }))).toThrow(/--events/);
    expect(() => generateEvents(options({ events: 1.5 }))).toThrow(/--events/);
  });
});

describe('service catalogue', () => {
  it('has unique ids and names that are slugs without the separators', () => {
    expect(new Set(SERVICE_CATALOGUE.map((s) => s.id)).size).toBe(SERVICE_CATALOGUE.length);
    expect(new Set(SERVICE_CATALOGUE.map((s) => s.nl)).size).toBe(SERVICE_CATALOGUE.length);
    expect(new Set(SERVICE_CATALOGUE.map((s) => s.en)).size).toBe(SERVICE_CATALOGUE.length);
    for (const s of SERVICE_CATALOGUE) {
      expect(s.nl).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(s.en).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(Number.isInteger(s.id) && s.id > 0).toBe(true);
    }
  });
});

describe('formatEventLine', () => {
  it('joins the fields with ";" in the header order', () => {
    expect(formatEventLine({ eventId: 5, eventType: 'proposed', professionalId: 2, createdAt: '2020-01-02 03:04:05', metaData: '14_schilderen-binnen_paint-interior_5.00' })).toBe(
      '5;proposed;2;2020-01-02 03:04:05;14_schilderen-binnen_paint-interior_5.00',
    );
    expect(formatEventLine({ eventId: 1, eventType: 'created_account', professionalId: 1, createdAt: '2020-01-01 00:00:00', metaData: '' })).toBe('1;created_account;1;2020-01-01 00:00:00;');
  });
});

describe('writeEventLog', () => {
  it('writes the header and exactly N lines, the same file for the same seed', async () => {
    const a = path.join(dir, 'a.csv');
    const b = path.join(dir, 'b.csv');
    expect(await writeEventLog(a, options({ events: 3_210, seed: 9 }))).toEqual({ events: 3_210 });
    await writeEventLog(b, options({ events: 3_210, seed: 9 }));
    const text = await readFile(a, 'utf8');
    expect(text).toBe(await readFile(b, 'utf8'));
    const fileLines = text.split('\n');
    expect(fileLines[0]).toBe(EVENT_LOG_HEADER.join(';'));
    expect(fileLines.at(-1)).toBe('');
    expect(fileLines).toHaveLength(3_210 + 2);
    expect(fileLines.slice(1, -1)).toEqual(lines(options({ events: 3_210, seed: 9 })));
  });

  it('writes a file larger than its write buffer intact', async () => {
    const file = path.join(dir, 'big.csv');
    await writeEventLog(file, options({ events: 30_000, seed: 4 }));
    const fileLines = (await readFile(file, 'utf8')).split('\n').slice(1, -1);
    expect(fileLines).toEqual(lines(options({ events: 30_000, seed: 4 })));
  });

  it('does not create the file when the options are invalid', async () => {
    const file = path.join(dir, 'never.csv');
    await expect(writeEventLog(file, options({ days: 0 }))).rejects.toThrow(ConfigurationError);
    await expect(readFile(file)).rejects.toThrow(/ENOENT/);
  });

  it('fails cleanly when the file cannot be written', async () => {
    await expect(writeEventLog(path.join(dir, 'missing-dir', 'x.csv'), options())).rejects.toThrow(/ENOENT/);
  });
});
