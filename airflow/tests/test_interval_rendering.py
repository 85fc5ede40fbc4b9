"""The snapshot step's --from/--to, rendered for concrete data intervals.

Airflow's data interval is [start, end); the CLI takes inclusive dates, so a run must snapshot
from data_interval_start up to the day *before* data_interval_end.
"""

from __future__ import annotations

import copy
import shlex

import pendulum
import pytest
from conftest import EXPECTED_DAG_IDS

from instapro_airflow.config import parse_pipelines
from instapro_airflow.factory import build_dags


def utc(year: int, month: int, day: int) -> pendulum.DateTime:
    return pendulum.datetime(year, month, day, tz="UTC")


def render_arguments(task, start: pendulum.DateTime, end: pendulum.DateTime) -> list[str]:
    """Render the task's templated arguments as Airflow does for a run with this interval."""
    from airflow.sdk.execution_time import macros

    rendered = copy.deepcopy(task)  # rendering mutates the operator in place
    rendered.render_template_fields({"data_interval_start": start, "data_interval_end": end, "macros": macros})
    return rendered.arguments


def render_field(task, name: str, start: pendulum.DateTime, end: pendulum.DateTime):
    from airflow.sdk.execution_time import macros

    rendered = copy.deepcopy(task)
    rendered.render_template_fields({"data_interval_start": start, "data_interval_end": end, "macros": macros})
    return getattr(rendered, name)


def interval_task(dag):
    """The task that takes --from/--to: snapshot, or the monthly DAG's full_refresh."""
    return dag.get_task("full_refresh" if "full_refresh" in dag.task_ids else "snapshot")


def rendered_days(dag, start: pendulum.DateTime, end: pendulum.DateTime) -> tuple[str, str]:
    arguments = render_arguments(interval_task(dag), start, end)
    return arguments[arguments.index("--from") + 1], arguments[arguments.index("--to") + 1]


def scheduled_interval(dag, run_after: pendulum.DateTime):
    """The interval of the latest scheduled run due at run_after, computed by Airflow's own
    timetable (the same computation `airflow dags test <logical date>` uses)."""
    from airflow.timetables.interval import CronDataIntervalTimetable

    timetable = CronDataIntervalTimetable(dag.timetable.expression, "UTC")
    return timetable.infer_manual_data_interval(run_after=run_after)


@pytest.mark.parametrize(
    ("start", "end", "expected_from", "expected_to"),
    [
        (utc(2020, 3, 10), utc(2020, 3, 11), "2020-03-10", "2020-03-10"),  # one day
        (utc(2020, 2, 23), utc(2020, 3, 1), "2020-02-23", "2020-02-29"),  # a week over a leap day
        (utc(2020, 2, 1), utc(2020, 3, 1), "2020-02-01", "2020-02-29"),  # a leap-year February
        (utc(2019, 12, 1), utc(2020, 1, 1), "2019-12-01", "2019-12-31"),  # across a year end
    ],
)
def test_snapshot_interval_is_inclusive_of_start_and_exclusive_of_end(dag_bag, start, end, expected_from, expected_to):
    for dag_id in sorted(EXPECTED_DAG_IDS):
        assert rendered_days(dag_bag.dags[dag_id], start, end) == (expected_from, expected_to), dag_id
    arguments = render_arguments(dag_bag.dags["instapro_daily"].get_task("snapshot"), start, end)
    assert arguments == ["snapshot", "--from", expected_from, "--to", expected_to]


@pytest.mark.parametrize(
    ("dag_id", "expected_from", "expected_to"),
    [
        ("instapro_daily", "2020-02-29", "2020-02-29"),
        ("instapro_weekly", "2020-02-23", "2020-02-29"),  # Sunday to Saturday
        ("instapro_monthly", "2020-02-01", "2020-02-29"),
    ],
)
def test_each_schedule_snapshots_its_whole_period(dag_bag, dag_id, expected_from, expected_to):
    dag = dag_bag.dags[dag_id]
    interval = scheduled_interval(dag, run_after=utc(2020, 3, 1))
    assert rendered_days(dag, interval.start, interval.end) == (expected_from, expected_to)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAG_IDS))
def test_consecutive_runs_cover_every_day_once(dag_bag, dag_id):
    """Scheduled intervals from start_date are contiguous, so snapshots neither skip nor overlap days."""
    from airflow.timetables.base import DataInterval, TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = dag_bag.dags[dag_id]
    timetable = CronDataIntervalTimetable(dag.timetable.expression, "UTC")
    restriction = TimeRestriction(earliest=dag.start_date, latest=None, catchup=True)
    previous: DataInterval | None = None
    covered: list[str] = []
    for _ in range(4):
        info = timetable.next_dagrun_info(last_automated_data_interval=previous, restriction=restriction)
        first_text, last_text = rendered_days(dag, info.data_interval.start, info.data_interval.end)
        first, last = pendulum.parse(first_text).date(), pendulum.parse(last_text).date()
        if covered:
            assert first == pendulum.parse(covered[-1]).date().add(days=1), dag_id
        covered.append(last.isoformat())
        assert first <= last
        previous = info.data_interval


@pytest.mark.parametrize(("step", "arguments"), [("ingest", ["ingest"]), ("model", ["model"]), ("test", ["test", "--incremental"])])
def test_other_steps_render_without_an_interval(dag_bag, step, arguments):
    task = dag_bag.dags["instapro_weekly"].get_task(step)
    assert render_arguments(task, utc(2020, 3, 1), utc(2020, 3, 8)) == arguments


def test_local_mode_renders_the_same_arguments(dag_bag, pipelines_document):
    local_dags = build_dags(parse_pipelines(pipelines_document, environ={"INSTAPRO_AIRFLOW_EXECUTION_MODE": "local"}))
    for dag_id, dag in local_dags.items():
        for task in dag.tasks:
            pod_task = dag_bag.dags[dag_id].get_task(task.task_id)
            start, end = utc(2020, 2, 1), utc(2020, 3, 1)
            # The local task's shell line, rendered and split as bash does, ends with the pod's arguments.
            pod_arguments = render_arguments(pod_task, start, end)
            local_words = shlex.split(render_field(task, "bash_command", start, end).rsplit("; ", 1)[-1])
            assert local_words[-len(pod_arguments):] == pod_arguments
