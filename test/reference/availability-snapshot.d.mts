/** Types of availability-snapshot.mjs, the reference implementation of the snapshot semantics. */
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

export function referenceSnapshot(events: readonly ReferenceEvent[], from: string, to: string): ReferenceDay[];

export function parseEventLog(text: string, name?: string): ReferenceEvent[];
