"""deploy/kind/scripts/landing_partitions.py, which the kind recipe's snapshot-assert relies on (it
runs only where Docker and kind are, so it is checked here): `split` writes one partition per day
with the header, and `expected` prints the reference's rows for the days asked."""
from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

from conftest import DEPLOY, REPOSITORY

sys.path.insert(0, str(REPOSITORY / "airflow" / "tests"))
from availability_reference import reference_snapshot  # noqa: E402

SCRIPT = DEPLOY / "kind" / "scripts" / "landing_partitions.py"
SAMPLE = REPOSITORY / "data" / "sample" / "event_log.csv"


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, timeout=120)


def test_split_then_expected_gives_the_reference_rows_of_the_days(tmp_path: Path):
    split = run("split", "--input", str(SAMPLE), "--out", str(tmp_path))
    assert split.returncode == 0, split.stderr
    header, *lines = SAMPLE.read_text().splitlines()
    partitions = sorted((tmp_path / "events").glob("date=*/events.csv"))
    assert len(partitions) == len({line.split(";")[3][:10] for line in lines})
    # Every event lands once, in the partition of its date, under the header.
    written = []
    for partition in partitions:
        partition_header, *rows = partition.read_text().splitlines()
        assert partition_header == header
        assert {row.split(";")[3][:10] for row in rows} == {partition.parent.name.removeprefix("date=")}
        written.extend(rows)
    assert sorted(written) == sorted(lines)

    days = ["2020-01-01", "2020-01-02", "2020-01-03"]
    expected = run("expected", "--partitions", str(tmp_path), *days)
    assert expected.returncode == 0, expected.stderr
    rows = [line.split("|") for line in expected.stdout.split()]
    assert [row[0] for row in rows] == days
    # The first days of the log: their partitions hold all the history they depend on, so the rows
    # are the reference's over the whole log.
    whole = reference_snapshot(SAMPLE, date(2020, 1, 1), date(2020, 1, 3))
    assert rows == [[str(r.date), str(r.active_professionals_count), str(r.able_at_any_moment_count)] for r in whole]


def test_expected_names_a_missing_partition(tmp_path: Path):
    completed = run("expected", "--partitions", str(tmp_path), "2020-01-01")
    assert completed.returncode != 0
    assert "no partition for 2020-01-01" in completed.stderr
