"""Builds one Airflow DAG per pipeline described in ``config/pipelines.yaml``.

An incremental pipeline (daily, weekly) runs four CLI steps in order, ingest -> model ->
snapshot -> test; a full-refresh pipeline (monthly) runs one, ``run --full-refresh``. Tasks run
as Kubernetes pods (``kubernetes`` mode) or as local subprocesses (``local`` mode). What depends
on the run is rendered when the task runs: the interval's days (``--from``/``--to``), the input
partitions of those days (``INSTAPRO_INPUT``) and the pipeline image.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, BaseOperator, CronDataIntervalTimetable

from instapro_airflow.config import (
    INPUT_TEMPLATE_VARIABLE,
    PIPELINE_IMAGE_VARIABLE,
    PipelineConfig,
    check_partition_template,
    load_pipelines,
)

# Rendered by the macros of run_macros(); see RunInterval for a run without a logical date.
INTERVAL_FIRST_DAY = "{{ instapro_first_day() }}"
INTERVAL_LAST_DAY = "{{ instapro_last_day() }}"
INPUT_LOCATIONS = "{{ instapro_input_locations() }}"
PIPELINE_IMAGE = "{{ instapro_pipeline_image() }}"


@dataclass(frozen=True)
class PipelineStep:
    """One CLI command of the pipeline, run as one task."""

    task_id: str
    arguments: tuple[str, ...]
    doc_md: str
    # Environment variables set on top of the ConfigMap and Secret (templated).
    environment: Mapping[str, str] = field(default_factory=dict)


INCREMENTAL_STEPS: tuple[PipelineStep, ...] = (
    PipelineStep(
        task_id="ingest",
        arguments=("ingest",),
        environment={"INSTAPRO_INPUT": INPUT_LOCATIONS},
        doc_md=(
            "### ingest\n"
            "Runs `instapro ingest` on the landing-zone partitions of the run's days: "
            "`input.partition_template` (or the Airflow Variable `instapro_input_template`) rendered "
            "for each day, passed as `INSTAPRO_INPUT`. An object loaded before and unchanged is "
            "skipped, so re-reading a partition costs only what is new or changed. Fails when the "
            "share of rejected rows exceeds `INSTAPRO_MAX_REJECT_RATIO`."
        ),
    ),
    PipelineStep(
        task_id="model",
        arguments=("model",),
        doc_md="### model\nRuns `instapro model`: brings the staging and star-schema models up to date with the raw events.",
    ),
    PipelineStep(
        task_id="snapshot",
        arguments=("snapshot", "--from", INTERVAL_FIRST_DAY, "--to", INTERVAL_LAST_DAY),
        doc_md=(
            "### snapshot\n"
            "Runs `instapro snapshot --from <first day> --to <last day>` for the run's data interval: "
            "`--from` is `data_interval_start` and `--to` the day before `data_interval_end`, because "
            "the CLI's dates are inclusive and Airflow's interval excludes its end. Writes one "
            "`availability_snapshot` row per day (active professionals at the end of the day, and "
            "professionals able to propose at any moment of the day). Days an earlier day's late "
            "events changed are recomputed too."
        ),
    ),
    PipelineStep(
        task_id="test",
        arguments=("test", "--incremental"),
        doc_md=(
            "### test\n"
            "Runs `instapro test --incremental`, the data quality gate, on the rows the model build "
            "merged where the tests say how (the constraints guard the rest; after a full refresh, "
            "every row): exits non-zero, failing this task and the run, when a check on the "
            "modelled data or the snapshot fails."
        ),
    ),
)

FULL_REFRESH_STEPS: tuple[PipelineStep, ...] = (
    PipelineStep(
        task_id="full_refresh",
        arguments=("run", "--full-refresh", "--from", INTERVAL_FIRST_DAY, "--to", INTERVAL_LAST_DAY),
        doc_md=(
            "### full_refresh\n"
            "Runs `instapro run --full-refresh --from <first day> --to <last day>`: rebuilds the model "
            "from everything loaded (no input is read), recomputes the snapshot of the run's interval "
            "and runs every data test. A drift that the incremental runs could accumulate ends here."
        ),
    ),
)


def pipeline_steps(pipeline: PipelineConfig) -> tuple[PipelineStep, ...]:
    return FULL_REFRESH_STEPS if pipeline.refresh == "full" else INCREMENTAL_STEPS


@dataclass(frozen=True)
class RunInterval:
    """The calendar days a run covers, first and last inclusive."""

    first_day: date
    last_day: date

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]


def run_interval(context: Mapping[str, Any], schedule: str) -> RunInterval:
    """The run's data interval as inclusive days.

    A run triggered without a logical date (``logical_date: null`` through the API or CLI) has no
    data interval. It covers the interval a scheduled run due at its ``run_after`` would have
    covered, the latest complete one: "run now" processes yesterday for the daily DAG.
    """
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        import pendulum
        from airflow.timetables.interval import CronDataIntervalTimetable as CoreCronTimetable

        dag_run = context.get("dag_run")
        run_after = getattr(dag_run, "run_after", None) or pendulum.now("UTC")
        interval = CoreCronTimetable(schedule, "UTC").infer_manual_data_interval(
            run_after=pendulum.instance(run_after)
        )
        start, end = interval.start, interval.end
    first_day = start.astimezone(timezone.utc).date()
    last_day = end.astimezone(timezone.utc).date() - timedelta(days=1)
    return RunInterval(first_day, last_day)


def render_partitions(template: str, days: list[date]) -> list[str]:
    """The partition template rendered for each day, in day order, each location once."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    check_partition_template(template)
    compiled = SandboxedEnvironment(undefined=StrictUndefined).from_string(template)
    locations: list[str] = []
    for day in days:
        location = compiled.render(ds=day.isoformat(), ds_nodash=day.strftime("%Y%m%d")).strip()
        if location and location not in locations:
            locations.append(location)
    return locations


def _variable(name: str) -> str | None:
    """An Airflow Variable (or AIRFLOW_VAR_<NAME>), None when unset or empty."""
    from airflow.sdk import Variable

    value = Variable.get(name, default=None)
    return value.strip() or None if isinstance(value, str) else None


def run_macros(pipeline: PipelineConfig, variable: Callable[[str], str | None] = _variable) -> dict[str, Any]:
    """Template functions of the pipeline's tasks; they run when a task is rendered, not at parse."""
    from jinja2 import pass_context

    @pass_context
    def instapro_first_day(context: Any) -> str:
        return run_interval(context, pipeline.schedule).first_day.isoformat()

    @pass_context
    def instapro_last_day(context: Any) -> str:
        return run_interval(context, pipeline.schedule).last_day.isoformat()

    @pass_context
    def instapro_input_locations(context: Any) -> str:
        template = variable(INPUT_TEMPLATE_VARIABLE) or pipeline.input.partition_template
        try:
            locations = render_partitions(template, run_interval(context, pipeline.schedule).days)
        except ValueError as error:
            raise ValueError(f"input partition template ({INPUT_TEMPLATE_VARIABLE} or pipelines.yaml): {error}") from None
        if any("," in location for location in locations):
            raise ValueError(f"an input location contains a comma, which separates INSTAPRO_INPUT entries: {locations}")
        return ",".join(locations)

    def instapro_pipeline_image() -> str:
        return variable(PIPELINE_IMAGE_VARIABLE) or pipeline.kubernetes.image_reference

    return {
        "instapro_first_day": instapro_first_day,
        "instapro_last_day": instapro_last_day,
        "instapro_input_locations": instapro_input_locations,
        "instapro_pipeline_image": instapro_pipeline_image,
    }


def build_dags(pipelines: list[PipelineConfig] | None = None) -> dict[str, DAG]:
    """Build every configured DAG, keyed by dag_id (loads the YAML when not given)."""
    if pipelines is None:
        pipelines = load_pipelines()
    return {pipeline.dag_id: build_dag(pipeline) for pipeline in pipelines}


def build_dag(pipeline: PipelineConfig) -> DAG:
    with DAG(
        dag_id=pipeline.dag_id,
        description=pipeline.description or f"instapro pipeline, schedule {pipeline.schedule}",
        # An explicit data-interval timetable: Airflow 3 turns a bare cron string into a
        # trigger timetable whose interval is empty, which would leave snapshot no days.
        schedule=CronDataIntervalTimetable(pipeline.schedule, timezone="UTC"),
        start_date=datetime.combine(pipeline.start_date, time(), tzinfo=timezone.utc),
        catchup=pipeline.catchup,
        # Runs of one pipeline write the same tables; one at a time keeps them ordered.
        max_active_runs=1,
        default_args=_default_args(pipeline),
        tags=["instapro", f"instapro:{pipeline.name}", *pipeline.tags],
        doc_md=_dag_doc(pipeline),
        user_defined_macros=run_macros(pipeline),
    ) as dag:
        previous: BaseOperator | None = None
        for step in pipeline_steps(pipeline):
            task = _build_task(pipeline, step)
            if previous is not None:
                previous >> task
            previous = task
    return dag


def _default_args(pipeline: PipelineConfig) -> dict[str, Any]:
    default_args: dict[str, Any] = {
        "owner": pipeline.owner,
        "retries": pipeline.retries,
        "retry_delay": pipeline.retry_delay,
        "execution_timeout": pipeline.execution_timeout,
    }
    if pipeline.pool:
        default_args["pool"] = pipeline.pool
    return default_args


def _build_task(pipeline: PipelineConfig, step: PipelineStep) -> BaseOperator:
    if pipeline.execution_mode == "local":
        return _local_task(pipeline, step)
    return _pod_task(pipeline, step)


def _pod_task(pipeline: PipelineConfig, step: PipelineStep) -> BaseOperator:
    # Imported lazily: local mode never needs the Kubernetes client, which is slow to import.
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import models as k8s

    settings = pipeline.kubernetes
    return KubernetesPodOperator(
        task_id=step.task_id,
        doc_md=step.doc_md,
        name=f"instapro-{pipeline.name}-{step.task_id}".replace("_", "-"),
        namespace=settings.namespace,
        # Rendered when the task runs: an Airflow Variable set by the deployment, else the YAML.
        image=PIPELINE_IMAGE,
        image_pull_policy=settings.image_pull_policy,
        image_pull_secrets=[k8s.V1LocalObjectReference(name=name) for name in settings.image_pull_secrets] or None,
        # No cmds: the image's entrypoint is the instapro CLI.
        arguments=list(step.arguments),
        # Only the run's input, on top of the ConfigMap; never a credential.
        env_vars=dict(step.environment) or None,
        # Settings come from the ConfigMap, credentials from the Secret; none live in Airflow.
        env_from=[
            k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name=settings.config_map)),
            k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=settings.secret)),
        ],
        container_resources=k8s.V1ResourceRequirements(
            requests=dict(settings.resources.requests) or None,
            limits=dict(settings.resources.limits) or None,
        ),
        service_account_name=settings.service_account,
        # The "restricted" Pod Security Standard, like the chart's own pods: the CLI needs no
        # privileges and writes nothing but temporary files (the embedded backend's data directory
        # when no server is configured), so the root filesystem is read-only and /tmp is scratch.
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
        container_security_context=k8s.V1SecurityContext(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            capabilities=k8s.V1Capabilities(drop=["ALL"]),
        ),
        volumes=[k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource())],
        volume_mounts=[k8s.V1VolumeMount(name="tmp", mount_path="/tmp")],
        labels={
            "app.kubernetes.io/name": "instapro",
            "app.kubernetes.io/component": step.task_id,
            "instapro/pipeline": pipeline.name,
        },
        startup_timeout_seconds=int(settings.startup_timeout / timedelta(seconds=1)),
        get_logs=True,
        # Failed pods are kept so their state can be inspected; successful ones are removed.
        on_finish_action="delete_succeeded_pod",
    )


def _local_task(pipeline: PipelineConfig, step: PipelineStep) -> BaseOperator:
    # Airflow's own BashOperator: it streams the output into the task log (stderr merged into
    # stdout), fails the task on a non-zero exit code and stops the process group when the task
    # is killed or times out, which is all local mode needs.
    from airflow.providers.standard.operators.bash import BashOperator

    return BashOperator(
        task_id=step.task_id,
        doc_md=step.doc_md,
        bash_command=local_bash_command(pipeline.local.command, step.arguments),
        # Set over the worker's environment (where the INSTAPRO_* settings live), like a pod's
        # env over its envFrom.
        env=dict(step.environment) or None,
        append_env=True,
        cwd=pipeline.local.working_directory,
        # Every non-zero exit code of the CLI is a failure; none means "skipped".
        skip_on_exit_code=None,
    )


def local_bash_command(cli_command: list[str], arguments: list[str]) -> str:
    """The shell line of a local task; templates in the arguments render inside their quotes.

    When the command runs a built `main.js`, a missing build fails with how to build it instead
    of node's module-not-found stack trace.
    """
    line = f"exec {shlex.join([*cli_command, *arguments])}"
    script = next((part for part in cli_command[1:] if part.endswith("main.js")), None)
    if script is None:
        return line
    message = (
        f"the instapro CLI {script} does not exist: run `npm ci && npm run build` in the "
        "repository root, or set INSTAPRO_CLI to the CLI command"
    )
    return f"test -f {shlex.quote(script)} || {{ echo {shlex.quote(message)} >&2; exit 2; }}; {line}"


def _dag_doc(pipeline: PipelineConfig) -> str:
    if pipeline.execution_mode == "local":
        where = (
            f"as local subprocesses (`{' '.join(pipeline.local.command)}`), with the settings taken "
            "from the worker's `INSTAPRO_*` environment variables"
        )
    else:
        settings = pipeline.kubernetes
        where = (
            f"as pods of image `{settings.image_reference}` (unless the Airflow Variable "
            f"`{PIPELINE_IMAGE_VARIABLE}` names another) in namespace `{settings.namespace}`, with "
            f"the settings from ConfigMap `{settings.config_map}` and the credentials from Secret "
            f"`{settings.secret}`"
        )
    intro = f"{pipeline.description}\n\n" if pipeline.description else ""
    steps = " → ".join(f"`{step.task_id}`" for step in pipeline_steps(pipeline))
    return (
        f"## {pipeline.dag_id}\n{intro}"
        f"Schedule `{pipeline.schedule}` (UTC). Each run covers its data interval "
        "[`data_interval_start`, `data_interval_end`), i.e. the calendar days from the start up to "
        "the day before the end; a run triggered without a logical date covers the latest complete "
        f"interval before it was triggered. It runs the instapro CLI steps {steps} "
        f"{where}.\n\n"
        "Generated from `airflow/config/pipelines.yaml` by `instapro_airflow.factory`; change the "
        "YAML, not this DAG."
    )
