import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { EVENT_LOG_DELIMITER, EVENT_LOG_HEADER } from '../ingest/event-log-format.js';
import type { EventType } from '../ingest/event-log-format.js';
import { ConfigurationError } from '../util/errors.js';
import { ActivityClock, SECONDS_PER_DAY } from './activity-clock.js';
import { SeededRandom, cumulativeWeights } from './random.js';
import { SERVICE_CATALOGUE, servicePopularity } from './service-catalogue.js';

export interface GenerateOptions {
  events: number;
  seed: number;
  /** First day of the period, YYYY-MM-DD. */
  start: string;
  days: number;
}

/** The reference log covers 2020-01-01 to 2020-03-11: 71 days. */
export const GENERATE_DEFAULTS = { seed: 1, start: '2020-01-01', days: 71 } as const;

export interface GeneratedEvent {
  eventId: number;
  eventType: string;
  professionalId: number;
  createdAt: string;
  metaData: string;
}

/**
 * The shape of the reference log (19k events, 1.5k professionals, 71 days), per professional.
 * With these values the event mix comes out as in the real log: proposed 86.8%, created_account
 * 7.9%, became_able_to_propose 4.5%, became_unable_to_propose 0.8% (checked by the unit tests).
 *
 *  - Every professional has one created_account, in the first 30 of the 71 days (accountWindow).
 *  - 54% become able to propose, most within hours (median 0.8 days) and a tail over the rest of
 *    the period; a few (those who would only become able after the period ends) never do.
 *  - Availability then toggles rarely: 16% of able professionals become unable at some point,
 *    a fifth of those become able again, and so on; a few send a repeated event that does not
 *    change their state (AA), as the real log has.
 *  - Two thirds of able professionals propose, only while able. Proposals per proposing
 *    professional are heavy-tailed (median 12, mean 30, 1% above 300): log-normal.
 *  - Proposals cluster right after becoming able and thin out over the rest of the period.
 *  - Each proposing professional works in a couple of services (specialities) and proposes on
 *    them mostly; service popularity overall follows servicePopularity.
 *  - Lead fees are uniform from 0.00 to 10.00 euros, for every service alike (the real log shows
 *    no difference between services: every service's mean is about 5).
 *  - About 1% of event ids are skipped (the real ids have gaps); ids are unique.
 */
const PROFILE = {
  accountWindowShare: 30 / 71,
  becomesAbleShare: 0.56,
  /** Delay from account to first became_able: mostly fast (log-normal), the rest anywhere later. */
  fastAbleShare: 0.86,
  fastAbleMedianDays: 0.45,
  fastAbleSigma: 1.7,
  firstUnableShare: 0.165,
  reableShare: 0.2,
  unableAgainShare: 0.45,
  repeatedAvailabilityEventShare: 0.005,
  proposingShare: 0.67,
  proposalsMedian: 11.5,
  proposalsSigma: 1.38,
  /** Keeps one professional's events (held in memory while planned) bounded. */
  maxProposals: 5000,
  /** Share of proposals sent in a burst right after becoming able, and the burst's mean length. */
  burstShare: 0.12,
  burstMeanDays: 0.3,
  /** Outside the burst, proposal density falls linearly over the able time to (1 - decay) of its start. */
  proposalDecay: 0.65,
  meanExtraSpecialities: 1.5,
  offSpecialityShare: 0.1,
  maxFeeCents: 1000,
  idGapShare: 0.012,
} as const;

const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));

interface Planned {
  type: EventType;
  /** Wall-clock seconds since the start of the period. */
  at: number;
  meta: string;
}

/**
 * Deterministic, streaming generator: yields exactly `events` events, professional by
 * professional, never holding more than one professional's events in memory. Event ids are
 * unique and increase in output order; a professional's events come out in causal order
 * (account, availability changes, then proposals at their own times), so rows are not sorted by
 * time overall — the loader must not depend on order.
 */
export function generateEvents(options: GenerateOptions): Generator<GeneratedEvent> {
  checkOptions(options); // now, not on the first next()
  return eventStream(options);
}

function* eventStream({ events, seed, start, days }: GenerateOptions): Generator<GeneratedEvent> {
  const random = new SeededRandom(seed);
  const periodStart = Date.parse(`${start}T00:00:00Z`) / 1000;
  const clock = new ActivityClock(periodStart, days);
  const period = clock.length;
  const dayPrefix = Array.from({ length: days }, (_, d) => `${new Date((periodStart + d * SECONDS_PER_DAY) * 1000).toISOString().slice(0, 10)} `);
  const timestamp = (wallSeconds: number): string => {
    const day = Math.floor(wallSeconds / SECONDS_PER_DAY);
    let rest = wallSeconds - day * SECONDS_PER_DAY;
    const hour = Math.floor(rest / 3600);
    rest -= hour * 3600;
    const minute = Math.floor(rest / 60);
    return `${dayPrefix[day]}${TWO_DIGITS[hour]}:${TWO_DIGITS[minute]}:${TWO_DIGITS[rest - minute * 60]}`;
  };
  const popularity = cumulativeWeights(SERVICE_CATALOGUE.map((_, i) => servicePopularity(i + 1)));
  const serviceMeta = SERVICE_CATALOGUE.map((s) => `${s.id}_${s.nl}_${s.en}_`);
  const fees = Array.from({ length: PROFILE.maxFeeCents + 1 }, (_, cents) => (cents / 100).toFixed(2));

  let emitted = 0;
  let nextEventId = 1;
  let professionalId = 0;
  while (emitted < events) {
    professionalId += 1;
    const planned = planProfessional(random, clock, period, popularity, serviceMeta, fees);
    for (const p of planned) {
      if (emitted >= events) return;
      emitted += 1;
      if (random.chance(PROFILE.idGapShare)) nextEventId += random.int(1, 3);
      yield { eventId: nextEventId++, eventType: p.type, professionalId, createdAt: timestamp(p.at), metaData: p.meta };
    }
  }
}

/** One professional's events, in the order they are written. Times are drawn in activity time. */
function planProfessional(
  random: SeededRandom,
  clock: ActivityClock,
  period: number,
  popularity: Float64Array,
  serviceMeta: readonly string[],
  fees: readonly string[],
): Planned[] {
  const accountAt = random.next() * period * PROFILE.accountWindowShare;
  const planned: Planned[] = [{ type: 'created_account', at: clock.toWall(accountAt), meta: '' }];
  if (!random.chance(PROFILE.becomesAbleShare)) return planned;

  const delay = random.chance(PROFILE.fastAbleShare)
    ? random.logNormal(PROFILE.fastAbleMedianDays * SECONDS_PER_DAY, PROFILE.fastAbleSigma)
    : random.next() * (period - accountAt);
  let at = accountAt + Math.max(1, delay);
  if (at >= period) return planned; // would become able after the period: not in this log

  // Availability: able, then maybe unable, able again, ... each change at a uniform point of what is left.
  const ableWindows: [number, number][] = [];
  let able = true;
  planned.push({ type: 'became_able_to_propose', at: clock.toWall(at), meta: '' });
  let changes = 0;
  for (;;) {
    const p = able ? (changes === 0 ? PROFILE.firstUnableShare : PROFILE.unableAgainShare) : PROFILE.reableShare;
    if (!random.chance(p)) break;
    const next = at + random.next() * (period - at);
    if (able) ableWindows.push([at, next]);
    able = !able;
    at = next;
    changes += 1;
    planned.push({ type: able ? 'became_able_to_propose' : 'became_unable_to_propose', at: clock.toWall(at), meta: '' });
  }
  if (able) ableWindows.push([at, period]);
  if (random.chance(PROFILE.repeatedAvailabilityEventShare)) {
    // The same state again: changes nothing, which the model must handle.
    planned.push({ type: able ? 'became_able_to_propose' : 'became_unable_to_propose', at: clock.toWall(at + random.next() * (period - at)), meta: '' });
  }

  if (!random.chance(PROFILE.proposingShare)) return planned;
  const proposals = Math.min(PROFILE.maxProposals, Math.max(1, Math.round(random.logNormal(PROFILE.proposalsMedian, PROFILE.proposalsSigma))));
  const specialities: number[] = [];
  for (let n = 1 + random.geometric(PROFILE.meanExtraSpecialities); n > 0; n--) specialities.push(random.weightedIndex(popularity));
  const ableTime = ableWindows.reduce((sum, [from, to]) => sum + (to - from), 0);
  const burst = Math.min(ableTime, PROFILE.burstMeanDays * SECONDS_PER_DAY);
  const d = PROFILE.proposalDecay;
  for (let i = 0; i < proposals; i++) {
    // Position within the professional's able time: a burst at the start, then linearly thinning out.
    let offset: number;
    if (random.chance(PROFILE.burstShare)) {
      offset = random.exponential(burst);
      if (offset >= ableTime) offset = ableTime * random.next();
    } else offset = (ableTime * (1 - Math.sqrt(1 - 2 * d * (1 - d / 2) * random.next()))) / d;
    let window = 0;
    const length = (w: number): number => (ableWindows[w] as [number, number])[1] - (ableWindows[w] as [number, number])[0];
    while (window < ableWindows.length - 1 && offset >= length(window)) {
      offset -= length(window);
      window += 1;
    }
    const [from, to] = ableWindows[window] as [number, number];
    // Proposals happen while able: strictly after the became_able second, before the next change's second.
    const wallFrom = clock.toWall(from);
    const wallTo = to >= period ? period : clock.toWall(to);
    const wall = Math.max(wallFrom, Math.min(wallTo - 1, clock.toWall(from + Math.min(offset, to - from))));
    const service = random.chance(PROFILE.offSpecialityShare) ? random.weightedIndex(popularity) : random.pick(specialities);
    planned.push({ type: 'proposed', at: wall, meta: `${serviceMeta[service]}${fees[random.int(0, PROFILE.maxFeeCents)]}` });
  }
  return planned;
}

function checkOptions(options: GenerateOptions): void {
  const { events, seed, start, days } = options;
  if (!Number.isSafeInteger(events) || events < 0) throw new ConfigurationError(`--events must be a non-negative integer, got ${events}`);
  if (!Number.isSafeInteger(seed)) throw new ConfigurationError(`--seed must be an integer, got ${seed}`);
  if (!Number.isSafeInteger(days) || days < 1 || days > 100_000) throw new ConfigurationError(`--days must be an integer from 1 to 100000, got ${days}`);
  const first = Date.parse(`${start}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(start) || Number.isNaN(first) || new Date(first).toISOString().slice(0, 10) !== start) {
    throw new ConfigurationError(`--start must be a date YYYY-MM-DD, got ${JSON.stringify(start)}`);
  }
  if (new Date(first + days * SECONDS_PER_DAY * 1000).getUTCFullYear() > 9999) throw new ConfigurationError(`--start ${start} plus --days ${days} goes past the year 9999`);
}

export function formatEventLine(e: GeneratedEvent): string {
  return `${e.eventId}${EVENT_LOG_DELIMITER}${e.eventType}${EVENT_LOG_DELIMITER}${e.professionalId}${EVENT_LOG_DELIMITER}${e.createdAt}${EVENT_LOG_DELIMITER}${e.metaData}`;
}

const WRITE_CHUNK_CHARS = 256 * 1024;

/** Writes a generated log to a file, respecting back-pressure so memory stays flat at any size. */
export async function writeEventLog(file: string, options: GenerateOptions): Promise<{ events: number }> {
  const events = generateEvents(options); // checks the options before the file is created
  const out = createWriteStream(file);
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  const write = async (text: string): Promise<void> => {
    if (!out.write(text)) await Promise.race([once(out, 'drain'), failed]);
  };
  let count = 0;
  try {
    let buffer = `${EVENT_LOG_HEADER.join(EVENT_LOG_DELIMITER)}\n`;
    for (const event of events) {
      buffer += `${formatEventLine(event)}\n`;
      count += 1;
      if (buffer.length >= WRITE_CHUNK_CHARS) {
        await write(buffer);
        buffer = '';
      }
    }
    if (buffer) await write(buffer);
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
  } catch (error) {
    out.destroy();
    throw error;
  }
  return { events: count };
}
