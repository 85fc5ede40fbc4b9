#!/usr/bin/env node
/**
 * The one reference implementation of the availability semantics (docs/availability.md) that
 * every test compares the pipeline's snapshot with: the TypeScript tests import it, the Airflow
 * tests run it. Plain JavaScript, so Node.js runs it without a build; deliberately naive and
 * independent of the SQL: for every day and professional it looks up the latest availability
 * event before the instant asked. O(days × professionals × events), fine for test-sized logs.
 *
 * As a command: `node test/reference/availability-snapshot.mjs <event_log.csv> <from> <to>`
 * prints the snapshot of the days from..to (inclusive) as a JSON array.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const BECAME_ABLE = 'became_able_to_propose';
const AVAILABILITY = new Set([BECAME_ABLE, 'became_unable_to_propose']);
const HEADER = 'event_id;event_type;professional_id_anonymized;created_at;meta_data';

/** @param {string} date YYYY-MM-DD */
function nextDay(date) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/**
 * Is the professional able just before `instant` (only strictly earlier events count)? The latest
 * event decides; at equal timestamps, the higher event id.
 * @param {import('./availability-snapshot.mjs').ReferenceEvent[]} events
 * @param {string} instant YYYY-MM-DD HH:MM:SS
 */
function ableBefore(events, instant) {
  let latest;
  for (const e of events) {
    if (e.createdAt >= instant) continue;
    if (!latest || e.createdAt > latest.createdAt || (e.createdAt === latest.createdAt && e.eventId > latest.eventId)) latest = e;
  }
  return latest?.eventType === BECAME_ABLE;
}

/**
 * The snapshot of every day from `from` to `to` (inclusive): `active` counts professionals able
 * at the end of the day, `ableAtAnyMoment` those able at its start or who became able during it.
 * @param {readonly import('./availability-snapshot.mjs').ReferenceEvent[]} events
 * @param {string} from
 * @param {string} to
 */
export function referenceSnapshot(events, from, to) {
  /** @type {Map<number, import('./availability-snapshot.mjs').ReferenceEvent[]>} */
  const byProfessional = new Map();
  for (const e of events) {
    if (!AVAILABILITY.has(e.eventType)) continue;
    const list = byProfessional.get(e.professionalId) ?? [];
    list.push(e);
    byProfessional.set(e.professionalId, list);
  }
  const days = [];
  for (let date = from; date <= to; date = nextDay(date)) {
    const dayStart = `${date} 00:00:00`;
    const dayEnd = `${nextDay(date)} 00:00:00`;
    let active = 0;
    let any = 0;
    for (const list of byProfessional.values()) {
      const becameAbleDuringDay = list.some((e) => e.eventType === BECAME_ABLE && e.createdAt >= dayStart && e.createdAt < dayEnd);
      if (ableBefore(list, dayEnd)) active += 1;
      if (ableBefore(list, dayStart) || becameAbleDuringDay) any += 1;
    }
    days.push({ date, active, ableAtAnyMoment: any });
  }
  return days;
}

/**
 * The events of a `;`-separated event log, each event id once (a repeated id is the same event
 * delivered twice; one repeated with other content is an error).
 * @param {string} text
 * @param {string} [name] the file's name, for messages
 */
export function parseEventLog(text, name = 'event log') {
  const lines = text.split(/\r?\n/);
  if (lines[0] !== HEADER) throw new Error(`${name}: unexpected header ${JSON.stringify(lines[0])}`);
  /** @type {Map<number, {event: import('./availability-snapshot.mjs').ReferenceEvent, line: string}>} */
  const byId = new Map();
  lines.slice(1).forEach((line, index) => {
    if (line === '') return;
    const fields = line.split(';');
    if (fields.length !== 5) throw new Error(`${name}:${index + 2}: expected 5 fields, got ${fields.length}`);
    const [eventId, eventType, professionalId, createdAt, metaData] = fields;
    const event = { eventId: Number(eventId), eventType, professionalId: Number(professionalId), createdAt };
    const key = [eventType, professionalId, createdAt, metaData].join(';');
    const seen = byId.get(event.eventId);
    if (seen && seen.line !== key) throw new Error(`${name}:${index + 2}: event_id ${eventId} repeated with other content`);
    if (!seen) byId.set(event.eventId, { event, line: key });
  });
  return [...byId.values()].map((v) => v.event);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, from, to] = process.argv.slice(2);
  if (!file || !/^\d{4}-\d{2}-\d{2}$/.test(from ?? '') || !/^\d{4}-\d{2}-\d{2}$/.test(to ?? '')) {
    process.stderr.write('usage: availability-snapshot.mjs <event_log.csv> <from YYYY-MM-DD> <to YYYY-MM-DD>\n');
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(referenceSnapshot(parseEventLog(readFileSync(file, 'utf8'), file), from, to))}\n`);
}
