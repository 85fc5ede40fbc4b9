#!/usr/bin/env python3
"""The kind landing zone's data, and what the pipeline must make of it.

  split     writes an event log as day partitions, <out>/events/date=YYYY-MM-DD/events.csv (each
            with the header), the layout of the landing zone; the day is the date of created_at.
  expected  prints the snapshot rows ("date|active|able_at_any_moment") that daily runs over the
            given days must store, computed from those days' partitions alone by the project's
            reference implementation (test/reference/availability-snapshot.mjs, run with node
            through airflow/tests/availability_reference.py), not by the CLI.

Standard library and node only: it runs on the CI runner and on a laptop without a venv.
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from datetime import date
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPOSITORY / "airflow" / "tests"))

from availability_reference import reference_snapshot  # noqa: E402

EXPECTED_HEADER = ["event_id", "event_type", "professional_id_anonymized", "created_at", "meta_data"]


def partition_file(root: Path, day: str) -> Path:
    return root / "events" / f"date={day}" / "events.csv"


def split(event_log: Path, out: Path) -> int:
    handles: dict[str, tuple[object, object]] = {}
    try:
        with event_log.open(newline="", encoding="utf-8") as source:
            rows = csv.reader(source, delimiter=";")
            header = next(rows)
            if header != EXPECTED_HEADER:
                raise SystemExit(f"{event_log}: unexpected header {header}")
            for line_number, row in enumerate(rows, start=2):
                if len(row) != len(EXPECTED_HEADER):
                    raise SystemExit(f"{event_log}:{line_number}: expected {len(EXPECTED_HEADER)} fields")
                day = row[3][:10]
                date.fromisoformat(day)
                if day not in handles:
                    path = partition_file(out, day)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    handle = path.open("w", newline="", encoding="utf-8")
                    writer = csv.writer(handle, delimiter=";", lineterminator="\n")
                    writer.writerow(header)
                    handles[day] = (handle, writer)
                handles[day][1].writerow(row)
    finally:
        for handle, _ in handles.values():
            handle.close()
    return len(handles)


def expected(partitions: Path, days: list[date]) -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        # The days' partitions as one log, for the reference.
        log = Path(scratch) / "event_log.csv"
        with log.open("w", encoding="utf-8") as out:
            out.write(";".join(EXPECTED_HEADER) + "\n")
            for day in days:
                path = partition_file(partitions, day.isoformat())
                if not path.is_file():
                    raise SystemExit(f"no partition for {day}: {path}")
                out.writelines(path.read_text(encoding="utf-8").splitlines(keepends=True)[1:])
        rows = reference_snapshot(log, min(days), max(days))
    wanted = set(days)
    return [f"{row.date}|{row.active_professionals_count}|{row.able_at_any_moment_count}" for row in rows if row.date in wanted]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    split_command = commands.add_parser("split")
    split_command.add_argument("--input", type=Path, required=True)
    split_command.add_argument("--out", type=Path, required=True)
    expected_command = commands.add_parser("expected")
    expected_command.add_argument("--partitions", type=Path, required=True)
    expected_command.add_argument("days", nargs="+", type=date.fromisoformat)
    arguments = parser.parse_args()
    if arguments.command == "split":
        count = split(arguments.input, arguments.out)
        print(f"{count} day partitions under {arguments.out / 'events'}", file=sys.stderr)
    else:
        print("\n".join(expected(arguments.partitions, sorted(set(arguments.days)))))


if __name__ == "__main__":
    main()
