import type { EventType } from './event-log-format.js';
import { EVENT_LOG_DELIMITER_BYTE, EVENT_LOG_HEADER, EVENT_TYPES, PROPOSAL_META_SEPARATOR } from './event-log-format.js';

export interface ValidEvent {
  eventId: string;
  eventType: EventType;
  professionalId: string;
  /** `YYYY-MM-DD HH:MM:SS`, naive local time. */
  createdAt: string;
  /** NULL in the database when the field is empty. */
  metaData: string | null;
}

export interface Rejection {
  /** The offending column, or null when the row as a whole is wrong (field count, encoding). */
  field: string | null;
  reason: string;
}

export type Validation = { ok: true; event: ValidEvent } | { ok: false; rejection: Rejection };

const MAX_BIGINT = 9223372036854775807n;
const MAX_INTEGER = 2147483647n;
/** numeric(10,2) holds at most 8 digits before the point. */
const LEAD_FEE = /^(\d{1,8})(\.\d{1,2})?$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const POSITIVE_INTEGER = /^[1-9]\d*$/;
/** Longest field accepted; real values are far shorter, so anything longer is garbage. */
export const MAX_FIELD_LENGTH = 1000;

/**
 * The plausible dates of an event: created_at in [from, until), as `YYYY-MM-DD HH:MM:SS` text, which
 * orders like the moments it names. Rows outside are rejected: two rows dated 0001 and 9999 would
 * otherwise make dim_date and the daily snapshot millions of rows long.
 */
export interface EventDateWindow {
  from: string;
  until: string;
  /** The setting names and their dates, for the reason. */
  describe: string;
}

/** No bounds beyond a valid timestamp (tests of the other rules). */
export const ANY_EVENT_DATE: EventDateWindow = { from: '0000-00-00 00:00:00', until: '9999-99-99 99:99:99', describe: 'any date' };

const reject = (field: string | null, reason: string): Validation => ({ ok: false, rejection: { field, reason } });

function checkPositiveBigint(value: string): string | null {
  if (!POSITIVE_INTEGER.test(value)) return `must be a positive integer, got ${quote(value)}`;
  // Only a 19-digit value can exceed bigint; BigInt is too slow to call on every id.
  if (value.length > 19 || (value.length === 19 && BigInt(value) > MAX_BIGINT)) return `is out of range (max ${MAX_BIGINT}), got ${quote(value)}`;
  return null;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function isValidMoment(year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59 && second <= 59;
}

function checkTimestamp(value: string, window: EventDateWindow): string | null {
  const m = TIMESTAMP.exec(value);
  if (!m) return `must be a timestamp YYYY-MM-DD HH:MM:SS, got ${quote(value)}`;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (!isValidMoment(year, month, day, hour, minute, second)) return `is not a valid date and time, got ${quote(value)}`;
  if (value < window.from || value >= window.until) return `is outside the plausible dates ${window.describe}, got ${quote(value)}`;
  return null;
}

function checkProposalMeta(value: string): string | null {
  const parts = value.split(PROPOSAL_META_SEPARATOR);
  if (parts.length !== 4) {
    return `of a proposed event must be {service_id}_{service_name_nl}_{service_name_en}_{lead_fee} (4 parts separated by "_"), got ${parts.length} part${parts.length === 1 ? '' : 's'} in ${quote(value)}`;
  }
  const [serviceId, nameNl, nameEn, leadFee] = parts as [string, string, string, string];
  if (!/^\d+$/.test(serviceId) || BigInt(serviceId) > MAX_INTEGER) return `has a service id that is not an integer (0..${MAX_INTEGER}): ${quote(serviceId)}`;
  if (nameNl.trim() === '') return 'has an empty Dutch service name';
  if (nameEn.trim() === '') return 'has an empty English service name';
  if (!LEAD_FEE.test(leadFee)) return `has a lead fee that is not a non-negative decimal with at most 8 digits and 2 decimals: ${quote(leadFee)}`;
  return null;
}

function quote(value: string): string {
  const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return JSON.stringify(shown);
}

// --- Fast acceptance -------------------------------------------------------------------------
// Ingest validates every line of files with millions of them. The check below reads a line's
// bytes as they came from the file and accepts a line that is certainly valid, with byte
// comparisons and no allocation; anything it does not accept is decoded and goes through the
// detailed checks above, which decide and explain. So it only ever needs to be sufficient, never
// complete (a property test holds the two to the same verdicts). It accepts only printable ASCII
// without a backslash, so an accepted line is also valid COPY text as it is (see ingest).

const UNDERSCORE = 0x5f;
const SPACE = 0x20;
const TILDE = 0x7e;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;
const DIGIT_9 = 0x39;
const EVENT_TYPE_BYTES = EVENT_TYPES.map((type) => Buffer.from(type, 'latin1'));
const PROPOSED = EVENT_TYPES.indexOf('proposed');

const isDigit = (byte: number | undefined): boolean => byte !== undefined && byte >= DIGIT_0 && byte <= DIGIT_9;

/** 1 to 18 digits without a leading zero: a positive integer that certainly fits a bigint. */
function isSmallPositiveInteger(bytes: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length < 1 || length > 18) return false;
  const first = bytes[start] as number;
  if (first < DIGIT_1 || first > DIGIT_9) return false;
  for (let i = start + 1; i < end; i++) if (!isDigit(bytes[i])) return false;
  return true;
}

/** The index in EVENT_TYPES of the event type in bytes[start, end), or -1. */
function eventTypeAt(bytes: Uint8Array, start: number, end: number): number {
  for (let t = 0; t < EVENT_TYPE_BYTES.length; t++) {
    const type = EVENT_TYPE_BYTES[t] as Buffer;
    if (type.length !== end - start) continue;
    let i = 0;
    while (i < type.length && bytes[start + i] === type[i]) i++;
    if (i === type.length) return t;
  }
  return -1;
}

function digitsAt(bytes: Uint8Array, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const digit = (bytes[i] as number) - DIGIT_0;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/** `YYYY-MM-DD HH:MM:SS` naming a real moment. */
function isValidTimestamp(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start !== 19) return false;
  const dash = 0x2d;
  const colon = 0x3a;
  if (bytes[start + 4] !== dash || bytes[start + 7] !== dash || bytes[start + 10] !== SPACE || bytes[start + 13] !== colon || bytes[start + 16] !== colon) return false;
  const year = digitsAt(bytes, start, 4);
  const month = digitsAt(bytes, start + 5, 2);
  const day = digitsAt(bytes, start + 8, 2);
  const hour = digitsAt(bytes, start + 11, 2);
  const minute = digitsAt(bytes, start + 14, 2);
  const second = digitsAt(bytes, start + 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return false;
  return isValidMoment(year, month, day, hour, minute, second);
}

/** Printable ASCII without a backslash, at most MAX_FIELD_LENGTH long: clean text that COPY takes as it is. */
function isPlainText(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start > MAX_FIELD_LENGTH) return false;
  for (let i = start; i < end; i++) {
    const byte = bytes[i] as number;
    if (byte < SPACE || byte > TILDE || byte === BACKSLASH) return false;
  }
  return true;
}

/**
 * `{service_id}_{name_nl}_{name_en}_{lead_fee}` with a service id of at most 9 digits (always an
 * integer), names that are not blank and a lead fee of up to 8 digits and 2 decimals. The text is
 * already known to be plain, so the only blank character is a space.
 */
function isSimpleProposalMeta(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end && isDigit(bytes[i])) i++;
  if (i === start || i - start > 9 || bytes[i] !== UNDERSCORE) return false;
  for (let name = 0; name < 2; name++) {
    i += 1;
    let blank = true;
    for (; i < end && bytes[i] !== UNDERSCORE; i++) if (bytes[i] !== SPACE) blank = false;
    if (blank || i === end) return false;
  }
  const fee = ++i;
  while (i < end && isDigit(bytes[i])) i++;
  if (i === fee || i - fee > 8) return false;
  if (i === end) return true;
  if (bytes[i] !== DOT) return false;
  const cents = ++i;
  while (i < end && isDigit(bytes[i])) i++;
  return i === end && i - cents >= 1 && i - cents <= 2;
}

/**
 * True when the line `bytes[start, end)` is certainly valid (and plain ASCII); false means
 * "decode it and ask findRejection", not "invalid".
 */
export function isCertainlyValidLine(bytes: Uint8Array, start: number, end: number, window: EventDateWindow = ANY_EVENT_DATE): boolean {
  // The positions of the four semicolons, found without allocating.
  let semi1 = -1;
  let semi2 = -1;
  let semi3 = -1;
  let semi4 = -1;
  for (let i = start; i < end; i++) {
    if (bytes[i] !== EVENT_LOG_DELIMITER_BYTE) continue;
    if (semi1 < 0) semi1 = i;
    else if (semi2 < 0) semi2 = i;
    else if (semi3 < 0) semi3 = i;
    else if (semi4 < 0) semi4 = i;
    else return false;
  }
  if (semi4 < 0) return false;
  if (!isSmallPositiveInteger(bytes, start, semi1)) return false;
  const eventType = eventTypeAt(bytes, semi1 + 1, semi2);
  if (eventType < 0) return false;
  if (!isSmallPositiveInteger(bytes, semi2 + 1, semi3)) return false;
  if (!isValidTimestamp(bytes, semi3 + 1, semi4) || !isWithin(bytes, semi3 + 1, window)) return false;
  if (!isPlainText(bytes, semi4 + 1, end)) return false;
  return eventType !== PROPOSED || isSimpleProposalMeta(bytes, semi4 + 1, end);
}

/** An ASCII timestamp of 19 bytes at `start` (see isValidTimestamp) within the window, compared without decoding. */
function isWithin(bytes: Uint8Array, start: number, window: EventDateWindow): boolean {
  return compareAscii(bytes, start, window.from) >= 0 && compareAscii(bytes, start, window.until) < 0;
}

function compareAscii(bytes: Uint8Array, start: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const difference = (bytes[start + i] as number) - text.charCodeAt(i);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** The reason a decoded line is rejected, or null when it is valid. */
export function findRejection(fields: readonly string[], window: EventDateWindow = ANY_EVENT_DATE): Rejection | null {
  const result = validateEvent(fields, window);
  return result.ok ? null : result.rejection;
}

/**
 * Checks one parsed line of the event log. Every reason names the field and the offending value,
 * so the quarantine table explains itself.
 */
export function validateEvent(fields: readonly string[], window: EventDateWindow = ANY_EVENT_DATE): Validation {
  if (fields.length !== EVENT_LOG_HEADER.length) {
    return reject(null, `expected ${EVENT_LOG_HEADER.length} fields separated by ";", found ${fields.length}`);
  }
  for (const [index, value] of fields.entries()) {
    const name = EVENT_LOG_HEADER[index] ?? null;
    if (value.includes('\u0000')) return reject(name, 'contains a NUL character');
    if (value.length > MAX_FIELD_LENGTH) return reject(name, `is ${value.length} characters long (max ${MAX_FIELD_LENGTH})`);
  }
  const [eventId, eventType, professionalId, createdAt, metaData] = fields as [string, string, string, string, string];

  const idProblem = checkPositiveBigint(eventId);
  if (idProblem) return reject('event_id', `event_id ${idProblem}`);
  if (!(EVENT_TYPES as readonly string[]).includes(eventType)) {
    return reject('event_type', `event_type must be one of ${EVENT_TYPES.join(', ')}, got ${quote(eventType)}`);
  }
  const professionalProblem = checkPositiveBigint(professionalId);
  if (professionalProblem) return reject('professional_id_anonymized', `professional_id_anonymized ${professionalProblem}`);
  const timeProblem = checkTimestamp(createdAt, window);
  if (timeProblem) return reject('created_at', `created_at ${timeProblem}`);
  if (eventType === 'proposed') {
    const metaProblem = checkProposalMeta(metaData);
    if (metaProblem) return reject('meta_data', `meta_data ${metaProblem}`);
  }
  return {
    ok: true,
    event: {
      eventId,
      eventType: eventType as EventType,
      professionalId,
      createdAt,
      metaData: metaData === '' ? null : metaData,
    },
  };
}
