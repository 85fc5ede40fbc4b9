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

/** Calendar validity per YYYY-MM-DD; a log spans few days, so this saves a Date per row. */
const calendarDayValid = new Map<string, boolean>();

function isCalendarDay(year: number, month: number, day: number, key: string): boolean {
  let valid = calendarDayValid.get(key);
  if (valid === undefined) {
    const date = new Date(Date.UTC(year, month - 1, day));
    valid = year >= 1 && date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
    if (calendarDayValid.size < 100_000) calendarDayValid.set(key, valid);
  }
  return valid;
}

function checkTimestamp(value: string): string | null {
  const m = TIMESTAMP.exec(value);
  if (!m) return `must be a timestamp YYYY-MM-DD HH:MM:SS, got ${quote(value)}`;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (!isCalendarDay(year, month, day, value.slice(0, 10)) || hour > 23 || minute > 59 || second > 59) return `is not a valid date and time, got ${quote(value)}`;
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
