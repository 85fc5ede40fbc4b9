"""Independent reference for the availability snapshot, computed straight from the event log CSV.

Written from the semantics, not from the CLI's SQL, so the end-to-end test can tell whether the
numbers the pipeline stored are right:

* only ``became_able_to_propose`` and ``became_unable_to_propose`` change a professional's state;
* the state at an instant is the type of the professional's latest availability event at or
  before that instant, ordered by ``created_at`` then ``event_id``; no such event means not able;
* ``active_professionals_count`` of day D: professionals able at the end of D;
* ``able_at_any_moment_count`` of day D: professionals able at the start of D (the instant
  D 00:00:00) or who became able during D.
"""

from __future__ import annotations

import bisect
import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

BECAME_ABLE = "became_able_to_propose"
BECAME_UNABLE = "became_unable_to_propose"
EXPECTED_HEADER = ["event_id", "event_type", "professional_id_anonymized", "created_at", "meta_data"]


@dataclass(frozen=True)
class DaySnapshot:
    date: date
    active_professionals_count: int
    able_at_any_moment_count: int


@dataclass(frozen=True)
class AvailabilityEvent:
    professional_id: str
    created_at: datetime
    event_id: int
    is_able: bool

    @property
    def order_key(self) -> tuple[datetime, int]:
        return (self.created_at, self.event_id)


def read_availability_events(path: Path) -> list[AvailabilityEvent]:
    """The availability events of a ``;``-separated event log; other event types are ignored."""
    events: dict[int, AvailabilityEvent] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle, delimiter=";")
        header = next(rows)
        if header != EXPECTED_HEADER:
            raise ValueError(f"{path}: unexpected header {header}")
        for line_number, row in enumerate(rows, start=2):
            if len(row) != len(EXPECTED_HEADER):
                raise ValueError(f"{path}:{line_number}: expected {len(EXPECTED_HEADER)} fields, got {row}")
            event_id, event_type, professional_id, created_at, _ = row
            if event_type not in (BECAME_ABLE, BECAME_UNABLE):
                continue
            event = AvailabilityEvent(
                professional_id=professional_id,
                created_at=datetime.strptime(created_at, "%Y-%m-%d %H:%M:%S"),
                event_id=int(event_id),
                is_able=event_type == BECAME_ABLE,
            )
            # A repeated event id is the same event delivered twice; a conflicting one is bad input.
            if events.setdefault(event.event_id, event) != event:
                raise ValueError(f"{path}:{line_number}: event_id {event_id} repeated with other content")
    return list(events.values())


def compute_snapshot(events: Iterable[AvailabilityEvent], first_day: date, last_day: date) -> list[DaySnapshot]:
    """The snapshot rows of every day from first_day to last_day, inclusive."""
    by_professional: dict[str, list[AvailabilityEvent]] = defaultdict(list)
    for event in events:
        by_professional[event.professional_id].append(event)
    timelines = {
        professional: sorted(professional_events, key=lambda e: e.order_key)
        for professional, professional_events in by_professional.items()
    }
    keys = {professional: [e.order_key for e in timeline] for professional, timeline in timelines.items()}

    def able_at(professional: str, instant: datetime) -> bool:
        # Latest event at or before the instant: every event id sorts before the sentinel.
        position = bisect.bisect_right(keys[professional], (instant, float("inf")))
        return position > 0 and timelines[professional][position - 1].is_able

    def able_at_end_of(professional: str, day: date) -> bool:
        # After every event of the day: the latest event strictly before the next midnight.
        next_midnight = datetime.combine(day + timedelta(days=1), time())
        position = bisect.bisect_left(keys[professional], (next_midnight, float("-inf")))
        return position > 0 and timelines[professional][position - 1].is_able

    def became_able_during(professional: str, day: date) -> bool:
        start = datetime.combine(day, time())
        end = start + timedelta(days=1)
        return any(e.is_able and start <= e.created_at < end for e in timelines[professional])

    snapshots = []
    day = first_day
    while day <= last_day:
        start_of_day = datetime.combine(day, time())
        active = sum(able_at_end_of(p, day) for p in timelines)
        able_any_moment = sum(able_at(p, start_of_day) or became_able_during(p, day) for p in timelines)
        snapshots.append(DaySnapshot(day, active, able_any_moment))
        day += timedelta(days=1)
    return snapshots
