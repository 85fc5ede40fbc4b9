import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/ingest/event-log-format.js';
import { MAX_FIELD_LENGTH, findRejection, isCertainlyValidLine, validateEvent } from '../../src/ingest/validate-event.js';

const valid = ['15', 'proposed', '433', '2020-01-28 22:13:26', '60_tuinonderhoud_maintain-garden_7.63'];
const withField = (index: number, value: string): string[] => valid.map((v, i) => (i === index ? value : v));

function rejection(fields: string[]) {
  const result = validateEvent(fields);
  if (result.ok) throw new Error(`expected a rejection for ${JSON.stringify(fields)}`);
  return result.rejection;
}

describe('validateEvent', () => {
  it('accepts a valid proposal and keeps its values as text', () => {
    expect(validateEvent(valid)).toEqual({
      ok: true,
      event: { eventId: '15', eventType: 'proposed', professionalId: '433', createdAt: '2020-01-28 22:13:26', metaData: '60_tuinonderhoud_maintain-garden_7.63' },
    });
  });

  it.each(['created_account', 'became_able_to_propose', 'became_unable_to_propose'])('accepts %s with empty meta_data, stored as null', (type) => {
    const result = validateEvent(['1', type, '2', '2020-01-01 00:00:00', '']);
    expect(result).toMatchObject({ ok: true, event: { eventType: type, metaData: null } });
  });

  describe('field count', () => {
    it.each([
      [['1', 'created_account', '2', '2020-01-01 00:00:00'], 4],
      [[...valid, 'extra'], 6],
      [['just one field'], 1],
    ])('rejects %j: needs exactly 5 fields', (fields, count) => {
      expect(rejection(fields)).toEqual({ field: null, reason: `expected 5 fields separated by ";", found ${count}` });
    });
  });

  describe('event_id and professional_id_anonymized', () => {
    it.each(['0', '-1', '1.5', 'abc', '', ' 1', '01', '1e3'])('rejects event_id %j', (value) => {
      expect(rejection(withField(0, value))).toMatchObject({ field: 'event_id', reason: expect.stringContaining('event_id must be a positive integer') });
    });
    it('rejects an event_id beyond bigint', () => {
      expect(rejection(withField(0, '9223372036854775808'))).toMatchObject({ field: 'event_id', reason: expect.stringContaining('out of range') });
    });
    it('accepts the largest bigint', () => {
      expect(validateEvent(withField(0, '9223372036854775807')).ok).toBe(true);
    });
    it.each(['0', '-7', 'x', ''])('rejects professional_id_anonymized %j', (value) => {
      expect(rejection(withField(2, value))).toMatchObject({ field: 'professional_id_anonymized', reason: expect.stringContaining('positive integer') });
    });
  });

  describe('event_type', () => {
    it.each(['', 'Proposed', 'proposed ', 'signed_up'])('rejects %j', (value) => {
      expect(rejection(withField(1, value))).toMatchObject({ field: 'event_type', reason: expect.stringContaining('event_type must be one of') });
    });
  });

  describe('created_at', () => {
    it.each(['2020-01-28', '2020-01-28T22:13:26', '2020-1-28 22:13:26', '28-01-2020 22:13:26', '2020-01-28 22:13:26.5', '2020-01-28 22:13:26+01', ''])(
      'rejects the format %j',
      (value) => {
        expect(rejection(withField(3, value))).toMatchObject({ field: 'created_at', reason: expect.stringContaining('YYYY-MM-DD HH:MM:SS') });
      },
    );
    it.each(['2020-02-30 10:00:00', '2019-02-29 10:00:00', '2020-13-01 10:00:00', '2020-01-01 24:00:00', '2020-01-01 23:60:00', '2020-01-01 23:59:60', '0000-01-01 00:00:00'])(
      'rejects the impossible moment %j',
      (value) => {
        expect(rejection(withField(3, value))).toMatchObject({ field: 'created_at', reason: expect.stringContaining('not a valid date and time') });
      },
    );
    it.each(['2020-02-29 00:00:00', '2020-12-31 23:59:59'])('accepts %j', (value) => {
      expect(validateEvent(withField(3, value)).ok).toBe(true);
    });
  });

  describe('meta_data of a proposed event', () => {
    it.each([
      ['', '1 part'],
      ['60_tuinonderhoud_7.63', '3 parts'],
      ['60_tuin_onderhoud_maintain-garden_7.63', '5 parts'],
    ])('rejects %j (%s)', (value, parts) => {
      expect(rejection(withField(4, value))).toMatchObject({ field: 'meta_data', reason: expect.stringContaining(parts) });
    });
    it.each(['x_tuin_garden_1.00', '-1_tuin_garden_1.00', '1.5_tuin_garden_1.00', '99999999999_tuin_garden_1.00'])('rejects the service id in %j', (value) => {
      expect(rejection(withField(4, value))).toMatchObject({ field: 'meta_data', reason: expect.stringContaining('service id') });
    });
    it.each(['60_tuin_garden_-1.00', '60_tuin_garden_abc', '60_tuin_garden_', '60_tuin_garden_1.234', '60_tuin_garden_123456789.00', '60_tuin_garden_1,50'])(
      'rejects the lead fee in %j',
      (value) => {
        expect(rejection(withField(4, value))).toMatchObject({ field: 'meta_data', reason: expect.stringContaining('lead fee') });
      },
    );
    it.each(['60__garden_1.00', '60_tuin__1.00'])('rejects an empty service name in %j', (value) => {
      expect(rejection(withField(4, value))).toMatchObject({ field: 'meta_data', reason: expect.stringContaining('empty') });
    });
    it.each(['60_tuin_garden_0', '60_tuin_garden_0.5', '60_tuin_garden_12345678.99'])('accepts the lead fee in %j', (value) => {
      expect(validateEvent(withField(4, value)).ok).toBe(true);
    });
  });

  describe('encoding and size', () => {
    it('accepts a literal U+FFFD: it is valid UTF-8 (bytes that are not are rejected by ingest, on the bytes)', () => {
      expect(validateEvent(withField(4, '60_tuin\uFFFD_garden_1.00')).ok).toBe(true);
    });
    it('rejects a NUL character', () => {
      expect(rejection(withField(1, 'proposed\u0000'))).toMatchObject({ field: 'event_type', reason: expect.stringContaining('NUL') });
    });
    it('rejects an overlong field', () => {
      expect(rejection(withField(4, 'x'.repeat(MAX_FIELD_LENGTH + 1)))).toMatchObject({ field: 'meta_data', reason: expect.stringContaining(`max ${MAX_FIELD_LENGTH}`) });
    });
  });
});

describe('fast acceptance (isCertainlyValidLine)', () => {
  // Fields near the boundaries of validity: the fast path may only say "valid" when the detailed
  // checks agree, and findRejection must give the detailed verdict either way.
  // Each part is usually valid and sometimes just off, so whole lines land on both sides.
  const usually = <T>(valid: fc.Arbitrary<T>, off: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: off, weight: 1 });
  const digits = fc.stringMatching(/^-?[0-9]{0,20}$/);
  const id = usually(
    fc.bigInt({ min: 1n, max: 9_223_372_036_854_775_807n }).map(String),
    fc.oneof(digits, fc.string({ maxLength: 12 }), fc.constantFrom('', '0', '01', '9223372036854775808')),
  );
  const eventType = usually(fc.constantFrom(...EVENT_TYPES), fc.oneof(fc.constantFrom('Proposed', 'proposed ', ''), fc.string({ maxLength: 5 })));
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  const timestamp = usually(
    fc
      .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }), fc.integer({ min: 0, max: 61 }))
      .map(([y, mo, d, h, mi, s]) => `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)} ${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}`),
    fc.string({ maxLength: 20 }),
  );
  const name = usually(
    fc.constantFrom('tuin', 'a b', 'maintain-garden', 'Tuin onderhoud', 'schoonmaak (één keer)'),
    fc.oneof(fc.constantFrom(' ', '', '\u00a0', 'x\uFFFD', 'n\u0000', 'a\\b', 'a;b', 'cr\r', '\t'), fc.string({ maxLength: 6 })),
  );
  const serviceId = usually(fc.integer({ min: 0, max: 2_147_483_647 }).map(String), fc.oneof(digits, fc.constantFrom('2147483648', '0000000000001')));
  const leadFee = usually(fc.stringMatching(/^[0-9]{1,8}(\.[0-9]{1,2})?$/), fc.oneof(fc.stringMatching(/^[0-9]{0,10}(\.[0-9]{0,3})?$/), fc.string({ maxLength: 4 })));
  const meta = usually(fc.tuple(serviceId, name, name, leadFee).map((parts) => parts.join('_')), fc.string({ maxLength: 30 }));
  const line = usually(
    fc.tuple(id, eventType, id, timestamp, meta).map((t) => [...t]),
    fc.array(fc.string({ maxLength: 8 }), { maxLength: 7 }),
  );

  /** A line as the file holds it, with a few lines around it so its offsets are not 0. */
  const inFile = (fields: string[]) => {
    const before = Buffer.from('before\n');
    const text = fields.join(';');
    const bytes = Buffer.concat([before, Buffer.from(text, 'utf8'), Buffer.from('\nafter')]);
    return { bytes, start: before.length, end: bytes.length - '\nafter'.length };
  };

  it('never accepts what the detailed checks reject, and accepts only text COPY takes as it is', () => {
    let fastAccepted = 0;
    fc.assert(
      fc.property(line, (fields) => {
        const detailed = validateEvent(fields);
        const { bytes, start, end } = inFile(fields);
        if (isCertainlyValidLine(bytes, start, end)) {
          fastAccepted += 1;
          expect(detailed.ok).toBe(true);
          expect(bytes.toString('latin1', start, end)).toMatch(/^[ -[\]-~]*$/); // printable ASCII, no backslash
        }
        expect(findRejection(fields)).toEqual(detailed.ok ? null : detailed.rejection);
      }),
      { numRuns: 50_000 },
    );
    expect(fastAccepted).toBeGreaterThan(200); // the property is not vacuous
  }, 60_000); // 50,000 runs take ~5 s on a busy 2-core machine

  it('accepts the common valid lines without decoding them', () => {
    const accepts = (fields: string[]) => {
      const { bytes, start, end } = inFile(fields);
      return isCertainlyValidLine(bytes, start, end);
    };
    expect(accepts(valid)).toBe(true);
    expect(accepts(['1', 'created_account', '2', '2020-01-01 00:00:00', ''])).toBe(true);
    expect(accepts(['1', 'proposed', '2', '2020-02-29 23:59:59', '123456789_a b_c_12345678.99'])).toBe(true);
    // Valid, but left to the detailed checks: non-ASCII, and text COPY would need escaped.
    expect(accepts(['1', 'proposed', '2', '2020-02-29 23:59:59', '1_één_one_1'])).toBe(false);
    expect(accepts(['1', 'created_account', '2', '2020-01-01 00:00:00', 'a\\b'])).toBe(false);
  });
});

describe('the plausible date window (issue 17, item 10)', () => {
  const window = { from: '2000-01-01 00:00:00', until: '2026-12-04 24:00:00', describe: '2000-01-01 .. 2026-12-04' };
  const at = (timestamp: string) => withField(3, timestamp);
  const fast = (fields: string[]) => {
    const bytes = Buffer.from(fields.join(';'));
    return isCertainlyValidLine(bytes, 0, bytes.length, window);
  };

  it.each(['0001-01-01 00:00:00', '1999-12-31 23:59:59', '2026-12-05 00:00:00', '9999-12-31 23:59:59'])('rejects %s with a reason naming the window', (timestamp) => {
    expect(fast(at(timestamp))).toBe(false);
    expect(findRejection(at(timestamp), window)).toEqual({ field: 'created_at', reason: `created_at is outside the plausible dates 2000-01-01 .. 2026-12-04, got "${timestamp}"` });
  });

  it.each(['2000-01-01 00:00:00', '2020-01-28 22:13:26', '2026-12-04 23:59:59'])('accepts %s, also on the fast path', (timestamp) => {
    expect(findRejection(at(timestamp), window)).toBeNull();
    expect(fast(withField(4, '60_tuin_garden_1.00').map((v, i) => (i === 3 ? timestamp : v)))).toBe(true);
  });

  it('the fast path never accepts what the window rejects', () => {
    const pad = (n: number, width: number) => String(n).padStart(width, '0');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }), fc.integer({ min: 0, max: 23 }), (y, mo, d, h) => {
        const fields = at(`${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)} ${pad(h, 2)}:00:00`);
        if (fast(fields)) expect(findRejection(fields, window)).toBeNull();
        const inside = y >= 2000 && (y < 2026 || (y === 2026 && (mo < 12 || d <= 4)));
        expect(findRejection(fields, window) === null).toBe(inside);
      }),
      { numRuns: 5_000 },
    );
  });
});
