/**
 * A plain, deliberately naive TypeScript implementation of the availability semantics
 * (docs/availability.md), independent of the SQL: for every day and every professional it
 * looks up the latest availability event before the day's end. O(days x professionals x events),
 * fine for test-sized logs.
 */
export interface ReferenceEvent {
  eventId: number;
  eventType: string;
  professionalId: number;
  /** YYYY-MM-DD HH:MM:SS */
  createdAt: string;
}

export interface ReferenceDay {
  date: string;
  active: number;
  ableAtAnyMoment: number;
}

const AVAILABILITY = new Set(['became_able_to_propose', 'became_unable_to_propose']);

function nextDay(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Is the professional able at the instant just before `instant` (events strictly earlier count)? */
function ableBefore(events: ReferenceEvent[], instant: string): boolean {
  let latest: ReferenceEvent | undefined;
  for (const e of events) {
    if (e.createdAt >= instant) continue;
    if (!latest || e.createdAt > latest.createdAt || (e.createdAt === latest.createdAt && e.eventId > latest.eventId)) latest = e;
  }
  return latest?.eventType === 'became_able_to_propose';
}

export function referenceSnapshot(events: readonly ReferenceEvent[], from: string, to: string): ReferenceDay[] {
  const byProfessional = new Map<number, ReferenceEvent[]>();
  for (const e of events) {
    if (!AVAILABILITY.has(e.eventType)) continue;
    const list = byProfessional.get(e.professionalId) ?? [];
    list.push(e);
    byProfessional.set(e.professionalId, list);
  }
  const days: ReferenceDay[] = [];
  for (let date = from; date <= to; date = nextDay(date)) {
    const dayStart = `${date} 00:00:00`;
    const dayEnd = `${nextDay(date)} 00:00:00`;
    let active = 0;
    let any = 0;
    for (const list of byProfessional.values()) {
      const ableAtEnd = ableBefore(list, dayEnd);
      const ableAtStart = ableBefore(list, dayStart);
      const becameAbleDuringDay = list.some((e) => e.eventType === 'became_able_to_propose' && e.createdAt >= dayStart && e.createdAt < dayEnd);
      if (ableAtEnd) active += 1;
      if (ableAtStart || becameAbleDuringDay) any += 1;
    }
    days.push({ date, active, ableAtAnyMoment: any });
  }
  return days;
}
