"""The reference used by the end-to-end test, checked on hand-made event logs."""

from __future__ import annotations

from datetime import date

import pytest
from availability_reference import DaySnapshot, compute_snapshot, read_availability_events

HEADER = "event_id;event_type;professional_id_anonymized;created_at;meta_data\n"


def snapshot_of(tmp_path, lines: list[str], first: date, last: date) -> list[tuple[int, int]]:
    path = tmp_path / "event_log.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines))
    rows = compute_snapshot(read_availability_events(path), first, last)
    assert [row.date for row in rows] == [date.fromordinal(d) for d in range(first.toordinal(), last.toordinal() + 1)]
    return [(row.active_professionals_count, row.able_at_any_moment_count) for row in rows]


def test_only_availability_events_change_the_state(tmp_path):
    rows = snapshot_of(
        tmp_path,
        [
            "1;created_account;7;2020-01-01 08:00:00;",
            "2;proposed;7;2020-01-01 09:00:00;12_painting_5.0",
        ],
        date(2020, 1, 1),
        date(2020, 1, 1),
    )
    assert rows == [(0, 0)]


def test_becoming_able_then_unable_in_one_day_counts_only_as_any_moment(tmp_path):
    rows = snapshot_of(
        tmp_path,
        [
            "1;became_able_to_propose;7;2020-01-02 08:00:00;",
            "2;became_unable_to_propose;7;2020-01-02 17:00:00;",
        ],
        date(2020, 1, 1),
        date(2020, 1, 3),
    )
    assert rows == [(0, 0), (0, 1), (0, 0)]


def test_able_at_the_start_of_a_day_counts_even_if_unable_later(tmp_path):
    rows = snapshot_of(
        tmp_path,
        [
            "1;became_able_to_propose;7;2020-01-01 08:00:00;",
            "2;became_unable_to_propose;7;2020-01-02 10:00:00;",
            "3;became_able_to_propose;8;2020-01-02 23:59:59;",
        ],
        date(2020, 1, 1),
        date(2020, 1, 3),
    )
    assert rows == [(1, 1), (1, 2), (1, 1)]


def test_same_timestamp_is_ordered_by_event_id(tmp_path):
    rows = snapshot_of(
        tmp_path,
        [
            # Listed out of order on purpose: event 11 is the later one.
            "11;became_unable_to_propose;7;2020-01-01 12:00:00;",
            "10;became_able_to_propose;7;2020-01-01 12:00:00;",
        ],
        date(2020, 1, 1),
        date(2020, 1, 2),
    )
    assert rows == [(0, 1), (0, 0)]


def test_an_event_at_midnight_belongs_to_the_day_it_starts(tmp_path):
    rows = snapshot_of(
        tmp_path,
        ["1;became_able_to_propose;7;2020-01-02 00:00:00;"],
        date(2020, 1, 1),
        date(2020, 1, 2),
    )
    assert rows == [(0, 0), (1, 1)]


def test_conflicting_duplicate_event_ids_are_rejected(tmp_path):
    path = tmp_path / "event_log.csv"
    path.write_text(
        HEADER + "1;became_able_to_propose;7;2020-01-01 08:00:00;\n1;became_unable_to_propose;7;2020-01-01 08:00:00;\n"
    )
    with pytest.raises(ValueError, match="event_id 1 repeated"):
        read_availability_events(path)


def test_rows_are_day_snapshots(tmp_path):
    path = tmp_path / "event_log.csv"
    path.write_text(HEADER + "1;became_able_to_propose;7;2020-01-01 08:00:00;\n")
    (row,) = compute_snapshot(read_availability_events(path), date(2020, 1, 1), date(2020, 1, 1))
    assert row == DaySnapshot(date(2020, 1, 1), 1, 1)
