"""End to end: `airflow dags test instapro_daily <date>` in local mode runs the real instapro CLI
against a real PostgreSQL server, and the snapshot it stores matches an independent reference.

Needs INSTAPRO_TEST_DATABASE_URL (a server the test may create and drop schemas in), the built
CLI (dist/cli/main.js) and an event log; without them the test is skipped with the reason, or
fails instead when INSTAPRO_AIRFLOW_REQUIRE_E2E=1 (for CI, where all of them must exist).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pendulum
import pytest
from availability_reference import AVAILABILITY_EVENT_TYPES, reference_snapshot
from conftest import REPO_ROOT, output_tail, run_airflow, unavailable

pytestmark = pytest.mark.e2e

# The committed sample first (small, fast); else the full event log shared beside the repository.
INPUT_CANDIDATES = (
    REPO_ROOT / "data" / "sample" / "event_log.csv",
    REPO_ROOT.parent / "shared" / "data" / "event_log.csv",
)


@pytest.fixture(scope="session")
def event_log() -> Path:
    for candidate in INPUT_CANDIDATES:
        if candidate.is_file():
            return candidate
    unavailable("no event log found at " + " or ".join(str(c) for c in INPUT_CANDIDATES))


def busiest_day(event_log: Path) -> date:
    """The day with the most availability changes (latest on a tie): the most telling one to check."""
    per_day: Counter[date] = Counter()
    for line in event_log.read_text().splitlines()[1:]:
        fields = line.split(";")
        if len(fields) == 5 and fields[1] in AVAILABILITY_EVENT_TYPES:
            per_day[date.fromisoformat(fields[3][:10])] += 1
    return max(per_day, key=lambda day: (per_day[day], day))


def test_daily_dag_stores_the_correct_snapshot_for_its_interval(
    # Prerequisites first: a skipped test should not wait for `airflow db migrate`.
    database_url, built_cli, event_log, local_run_environment, isolated_schemas
):
    import psycopg
    from airflow.timetables.interval import CronDataIntervalTimetable
    from psycopg import sql

    day = busiest_day(event_log)
    # `dags test` runs the interval that ends at the logical date, so day D needs D + 1.
    logical_date = pendulum.datetime(day.year, day.month, day.day, tz="UTC").add(days=1)
    interval = CronDataIntervalTimetable("0 0 * * *", "UTC").infer_manual_data_interval(run_after=logical_date)
    first_day, last_day = interval.start.date(), interval.end.date() - timedelta(days=1)
    assert (first_day, last_day) == (day, day)

    environment = local_run_environment(
        {
            "INSTAPRO_DATABASE_URL": database_url,
            # The deployment's input template (an Airflow Variable), here one file for every day.
            "AIRFLOW_VAR_INSTAPRO_INPUT_TEMPLATE": str(event_log),
            **isolated_schemas,
        },
    )
    completed = run_airflow(["dags", "test", "instapro_daily", logical_date.to_date_string()], environment)
    assert completed.returncode == 0, f"airflow dags test failed:\n{output_tail(completed, 150)}"
    output = completed.stdout + completed.stderr
    # The task ran the snapshot for its interval (the shell line Airflow logs) ...
    assert f"snapshot --from '{first_day}' --to '{last_day}'" in output
    # ... and the CLI's own summary is in the task log: the days it recomputed include the run's day.
    summary = re.search(r"snapshot: [a-z-]+, \d+ days? recomputed \((\S+) \.\. (\S+)\)", output)
    assert summary, output_tail(completed, 60)
    assert summary.group(1) <= str(day) <= summary.group(2)
    # The CLI's own output is part of the task log.
    assert re.search(r"test: \d+ passed", output), output_tail(completed, 60)

    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            sql.SQL(
                "SELECT date, active_professionals_count, able_at_any_moment_count "
                "FROM {}.availability_snapshot ORDER BY date"
            ).format(sql.Identifier(isolated_schemas["INSTAPRO_SCHEMA"]))
        ).fetchall()

    # The run's day, and every day the first (full) build asked the snapshot to compute with it.
    assert day in [row[0] for row in rows]
    expected = reference_snapshot(event_log, rows[0][0], rows[-1][0])
    assert [(row.date, row.active_professionals_count, row.able_at_any_moment_count) for row in expected] == rows
    # A check with no professionals in it would prove little.
    assert max(row.able_at_any_moment_count for row in expected) > 0
