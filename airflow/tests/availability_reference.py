"""The snapshot as the project's reference implementation computes it.

There is one reference implementation of the availability semantics,
test/reference/availability-snapshot.mjs (plain JavaScript, checked on hand-made logs by
test/unit/reference-availability.test.ts); these tests run it with node, which the end-to-end
tests need anyway for the CLI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REFERENCE_SCRIPT = Path(__file__).resolve().parents[2] / "test" / "reference" / "availability-snapshot.mjs"
AVAILABILITY_EVENT_TYPES = ("became_able_to_propose", "became_unable_to_propose")


@dataclass(frozen=True)
class DaySnapshot:
    date: date
    active_professionals_count: int
    able_at_any_moment_count: int


def reference_snapshot(event_log: Path, first_day: date, last_day: date) -> list[DaySnapshot]:
    """The snapshot rows of every day from first_day to last_day (inclusive) of the log's events."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: the reference implementation is a Node.js script")
    completed = subprocess.run(
        [node, str(REFERENCE_SCRIPT), str(event_log), first_day.isoformat(), last_day.isoformat()],
        capture_output=True, text=True, timeout=300,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the reference implementation failed: {completed.stderr.strip()}")
    return [
        DaySnapshot(date.fromisoformat(day["date"]), day["active"], day["ableAtAnyMoment"])
        for day in json.loads(completed.stdout)
    ]
