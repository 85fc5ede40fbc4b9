"""What the tasks render when they run: the input partitions of the run's days, the pipeline
image, and the interval of a run that has no logical date.

Rendered with the DAGs' own macros, as Airflow renders a task: the context holds what the task
runner puts there (without a logical date: no data_interval_* and no ds, only dag_run).
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pendulum
import pytest

from instapro_airflow.config import PipelineConfigError, parse_pipelines
from instapro_airflow.factory import build_dags


def render(task, context: dict) -> object:
    """A copy of the task with its templated fields rendered for this context."""
    from airflow.sdk.execution_time import macros

    rendered = copy.deepcopy(task)
    rendered.render_template_fields({"macros": macros, **context})
    return rendered


def scheduled(start: pendulum.DateTime, end: pendulum.DateTime) -> dict:
    return {"data_interval_start": start, "data_interval_end": end, "dag_run": SimpleNamespace(run_after=end)}


def without_logical_date(run_after: pendulum.DateTime) -> dict:
    # What the task runner provides for a run triggered with logical_date: null.
    return {"dag_run": SimpleNamespace(run_after=run_after, logical_date=None)}


def pod_input(task) -> str:
    env_vars = task.env_vars or {}
    variables = env_vars if isinstance(env_vars, dict) else {v.name: v.value for v in env_vars}
    return variables["INSTAPRO_INPUT"]


def days_of(task) -> tuple[str, str]:
    arguments = task.arguments
    return arguments[arguments.index("--from") + 1], arguments[arguments.index("--to") + 1]


@pytest.fixture(autouse=True)
def no_deployment_overrides(monkeypatch):
    for name in ("AIRFLOW_VAR_INSTAPRO_INPUT_TEMPLATE", "AIRFLOW_VAR_INSTAPRO_PIPELINE_IMAGE"):
        monkeypatch.delenv(name, raising=False)


# -- Input: the landing zone's partitions of the run's days --------------------------------------


def test_daily_run_ingests_its_own_day_partition(dag_bag):
    ingest = dag_bag.dags["instapro_daily"].get_task("ingest")
    rendered = render(ingest, scheduled(pendulum.datetime(2020, 3, 10, tz="UTC"), pendulum.datetime(2020, 3, 11, tz="UTC")))
    assert pod_input(rendered) == "s3://instapro-landing/events/date=2020-03-10/"
    assert rendered.arguments == ["ingest"]


def test_weekly_run_reads_every_partition_of_its_week_again(dag_bag):
    ingest = dag_bag.dags["instapro_weekly"].get_task("ingest")
    rendered = render(ingest, scheduled(pendulum.datetime(2020, 2, 23, tz="UTC"), pendulum.datetime(2020, 3, 1, tz="UTC")))
    assert pod_input(rendered).split(",") == [
        f"s3://instapro-landing/events/date={day}/"
        for day in ("2020-02-23", "2020-02-24", "2020-02-25", "2020-02-26", "2020-02-27", "2020-02-28", "2020-02-29")
    ]


def test_the_deployment_sets_the_partition_template_at_run_time(dag_bag, monkeypatch):
    # The instapro chart sets it as AIRFLOW_VAR_INSTAPRO_INPUT_TEMPLATE; the DAG file is unchanged.
    monkeypatch.setenv("AIRFLOW_VAR_INSTAPRO_INPUT_TEMPLATE", "/landing/{{ ds_nodash }}/*.csv.gz")
    ingest = dag_bag.dags["instapro_daily"].get_task("ingest")
    rendered = render(ingest, scheduled(pendulum.datetime(2020, 3, 10, tz="UTC"), pendulum.datetime(2020, 3, 11, tz="UTC")))
    assert pod_input(rendered) == "/landing/20200310/*.csv.gz"


def test_a_template_without_the_day_is_one_location(dag_bag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_INSTAPRO_INPUT_TEMPLATE", "s3://landing/all/")
    ingest = dag_bag.dags["instapro_weekly"].get_task("ingest")
    rendered = render(ingest, scheduled(pendulum.datetime(2020, 2, 23, tz="UTC"), pendulum.datetime(2020, 3, 1, tz="UTC")))
    assert pod_input(rendered) == "s3://landing/all/"


def test_a_bad_template_from_the_deployment_fails_the_task_with_the_reason(dag_bag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_INSTAPRO_INPUT_TEMPLATE", "s3://landing/date={{ logical_date }}/")
    ingest = dag_bag.dags["instapro_daily"].get_task("ingest")
    with pytest.raises(ValueError, match=r"instapro_input_template.*uses logical_date.*knows only ds, ds_nodash"):
        render(ingest, scheduled(pendulum.datetime(2020, 3, 10, tz="UTC"), pendulum.datetime(2020, 3, 11, tz="UTC")))


@pytest.mark.parametrize(
    ("template", "reason"),
    [("s3://landing/{{ ds }", "is not a valid Jinja template"), ("s3://landing/{{ data_interval_start }}/", "uses data_interval_start")],
)
def test_a_bad_template_in_the_yaml_is_refused_at_parse_time(pipelines_document, template, reason):
    document = copy.deepcopy(pipelines_document)
    document["defaults"]["input"]["partition_template"] = template
    with pytest.raises(PipelineConfigError, match=f"pipelines.daily.input.partition_template: .*{reason}"):
        parse_pipelines(document, environ={})


# -- A run without a logical date ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("dag_id", "task_id", "expected_days"),
    [
        # Triggered on Thursday 2026-12-03 at 15:00 UTC: the latest complete interval before then.
        ("instapro_daily", "snapshot", ("2026-12-02", "2026-12-02")),
        ("instapro_weekly", "snapshot", ("2026-11-22", "2026-11-28")),
        ("instapro_monthly", "full_refresh", ("2026-11-01", "2026-11-30")),
    ],
)
def test_run_without_logical_date_covers_the_latest_complete_interval(dag_bag, dag_id, task_id, expected_days):
    task = dag_bag.dags[dag_id].get_task(task_id)
    rendered = render(task, without_logical_date(pendulum.datetime(2026, 12, 3, 15, tz="UTC")))
    assert days_of(rendered) == expected_days


def test_run_without_logical_date_ingests_the_partition_of_that_interval(dag_bag):
    ingest = dag_bag.dags["instapro_daily"].get_task("ingest")
    rendered = render(ingest, without_logical_date(pendulum.datetime(2026, 12, 3, 0, 0, 5, tz="UTC")))
    assert pod_input(rendered) == "s3://instapro-landing/events/date=2026-12-02/"


def test_run_without_logical_date_is_the_scheduled_run_of_the_same_moment(dag_bag):
    """Triggered exactly at a schedule tick, it covers what the scheduled run of that tick covers."""
    snapshot = dag_bag.dags["instapro_weekly"].get_task("snapshot")
    tick = pendulum.datetime(2020, 3, 1, tz="UTC")  # a Sunday
    manual = days_of(render(snapshot, without_logical_date(tick)))
    assert manual == days_of(render(snapshot, scheduled(pendulum.datetime(2020, 2, 23, tz="UTC"), tick)))


# -- Image and pull Secrets ----------------------------------------------------------------------


def test_pipeline_image_comes_from_the_yaml_unless_the_deployment_sets_it(dag_bag, monkeypatch):
    task = dag_bag.dags["instapro_daily"].get_task("model")
    context = scheduled(pendulum.datetime(2020, 3, 10, tz="UTC"), pendulum.datetime(2020, 3, 11, tz="UTC"))
    assert render(task, context).image == "instapro:0.1.0"
    # Read when the task runs: a release changes the Variable, not the DAG repository.
    monkeypatch.setenv("AIRFLOW_VAR_INSTAPRO_PIPELINE_IMAGE", "registry.example.com/instapro:3f2c1ab")
    assert render(task, context).image == "registry.example.com/instapro:3f2c1ab"


def test_pull_secrets_of_the_yaml_reach_the_pod(pipelines_document, monkeypatch):
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    document = copy.deepcopy(pipelines_document)
    document["defaults"]["kubernetes"]["image_pull_secrets"] = ["registry-pull-secret"]
    task = build_dags(parse_pipelines(document, environ={}))["instapro_daily"].get_task("snapshot")
    monkeypatch.setattr(KubernetesPodOperator, "hook", SimpleNamespace(is_in_cluster=True))
    rendered = render(task, scheduled(pendulum.datetime(2020, 3, 10, tz="UTC"), pendulum.datetime(2020, 3, 11, tz="UTC")))
    pod = rendered.build_pod_request_obj()
    assert [secret.name for secret in pod.spec.image_pull_secrets] == ["registry-pull-secret"]


def test_pull_secret_names_are_checked(pipelines_document):
    document = copy.deepcopy(pipelines_document)
    document["defaults"]["kubernetes"]["image_pull_secrets"] = ["Registry_Secret"]
    with pytest.raises(PipelineConfigError, match="image_pull_secrets: 'Registry_Secret' is not a valid Kubernetes object name"):
        parse_pipelines(document, environ={})
