import type { EventType } from './event-log-format.js';
import { EVENT_LOG_HEADER, EVENT_TYPES, PROPOSAL_META_SEPARATOR } from './event-log-format.js';

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

function checkTimestamp(value: string): string | null {
  const m = TIMESTAMP.exec(value);
  if (!m) return `must be a timestamp YYYY-MM-DD HH:MM:SS, got ${quote(value)}`;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (!isValidMoment(year, month, day, hour, minute, second)) return `is not a valid date and time, got ${quote(value)}`;
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
// Ingest validates every line of files with millions of them. The checks below accept a line
// that is certainly valid with a few character comparisons and no allocation; anything they do
// not accept goes through the detailed checks above, which decide and explain. So they only ever
// need to be sufficient, never complete (a unit test holds the two paths to the same verdicts).

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);
/** A proposal's meta_data with a service id of at most 9 digits (always an integer) and non-blank names. */
const SIMPLE_PROPOSAL_META = /^[0-9]{1,9}_[^_]*[^_\s][^_]*_[^_]*[^_\s][^_]*_[0-9]{1,8}(?:\.[0-9]{1,2})?$/;

/** 1 to 18 digits without a leading zero: a positive integer that certainly fits a bigint. */
function isSmallPositiveInteger(value: string): boolean {
  const length = value.length;
  if (length === 0 || length > 18) return false;
  let code = value.charCodeAt(0);
  if (code < 49 || code > 57) return false;
  for (let i = 1; i < length; i++) {
    code = value.charCodeAt(i);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

function digitsAt(value: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

function isValidTimestamp(value: string): boolean {
  if (value.length !== 19) return false;
  if (value.charCodeAt(4) !== 45 || value.charCodeAt(7) !== 45 || value.charCodeAt(10) !== 32 || value.charCodeAt(13) !== 58 || value.charCodeAt(16) !== 58) return false;
  const year = digitsAt(value, 0, 4);
  const month = digitsAt(value, 5, 2);
  const day = digitsAt(value, 8, 2);
  const hour = digitsAt(value, 11, 2);
  const minute = digitsAt(value, 14, 2);
  const second = digitsAt(value, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return false;
  return isValidMoment(year, month, day, hour, minute, second);
}

function isCleanText(value: string): boolean {
  return value.length <= MAX_FIELD_LENGTH && !value.includes('\uFFFD') && !value.includes('\u0000');
}

/** True when the line is certainly valid; false means "ask validateEvent", not "invalid". */
export function isCertainlyValid(fields: readonly string[]): boolean {
  if (fields.length !== 5) return false;
  const eventType = fields[1] as string;
  const metaData = fields[4] as string;
  return (
    isSmallPositiveInteger(fields[0] as string) &&
    EVENT_TYPE_SET.has(eventType) &&
    isSmallPositiveInteger(fields[2] as string) &&
    isValidTimestamp(fields[3] as string) &&
    isCleanText(metaData) &&
    (eventType !== 'proposed' || SIMPLE_PROPOSAL_META.test(metaData))
  );
}

/** The reason a line is rejected, or null when it is valid. */
export function findRejection(fields: readonly string[]): Rejection | null {
  if (isCertainlyValid(fields)) return null;
  const result = validateEvent(fields);
  return result.ok ? null : result.rejection;
}

/**
 * Checks one parsed line of the event log. Every reason names the field and the offending value,
 * so the quarantine table explains itself.
 */
export function validateEvent(fields: readonly string[]): Validation {
  if (fields.length !== EVENT_LOG_HEADER.length) {
    return reject(null, `expected ${EVENT_LOG_HEADER.length} fields separated by ";", found ${fields.length}`);
  }
  for (const [index, value] of fields.entries()) {
    const name = EVENT_LOG_HEADER[index] ?? null;
    if (value.includes('\uFFFD')) return reject(name, 'contains bytes that are not valid UTF-8');
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
  const timeProblem = checkTimestamp(createdAt);
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
