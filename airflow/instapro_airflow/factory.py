"""Builds one Airflow DAG per pipeline described in ``config/pipelines.yaml``.

Every DAG runs the same four CLI steps in order, ingest -> model -> snapshot -> test,
either as Kubernetes pods (``kubernetes`` mode) or as local subprocesses (``local`` mode).
Only ``snapshot`` depends on the run: it rebuilds the snapshot rows of the run's data
interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, BaseOperator, CronDataIntervalTimetable

from instapro_airflow.config import PipelineConfig, load_pipelines

# The CLI's --from/--to are inclusive calendar dates, while Airflow's data interval is
# [start, end): the last day of the interval is the day before data_interval_end.
INTERVAL_FIRST_DAY = "{{ data_interval_start | ds }}"
INTERVAL_LAST_DAY = "{{ macros.ds_add(data_interval_end | ds, -1) }}"


@dataclass(frozen=True)
class PipelineStep:
    """One CLI command of the pipeline, run as one task."""

    task_id: str
    arguments: tuple[str, ...]
    doc_md: str


PIPELINE_STEPS: tuple[PipelineStep, ...] = (
    PipelineStep(
        task_id="ingest",
        arguments=("ingest",),
        doc_md=(
            "### ingest\n"
            "Runs `instapro ingest`: loads the configured event log files (`INSTAPRO_INPUT`) into the "
            "raw schema, validating each row. Idempotent, so it takes no interval: re-loading a file "
            "that was already loaded changes nothing. Fails when the share of rejected rows exceeds "
            "`INSTAPRO_MAX_REJECT_RATIO`."
        ),
    ),
    PipelineStep(
        task_id="model",
        arguments=("model",),
        doc_md=(
            "### model\n"
            "Runs `instapro model`: rebuilds the staging and star-schema models from the raw events."
        ),
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
            "professionals able to propose at any moment of the day)."
        ),
    ),
    PipelineStep(
        task_id="test",
        arguments=("test",),
        doc_md=(
            "### test\n"
            "Runs `instapro test`, the data quality gate: exits non-zero, failing this task and the "
            "run, when a check on the modelled data or the snapshot fails."
        ),
    ),
)


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
    ) as dag:
        previous: BaseOperator | None = None
        for step in PIPELINE_STEPS:
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
        image=settings.image_reference,
        image_pull_policy=settings.image_pull_policy,
        # No cmds: the image's entrypoint is the instapro CLI.
        arguments=list(step.arguments),
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
    from instapro_airflow.local_cli import InstaproCliOperator

    return InstaproCliOperator(
        task_id=step.task_id,
        doc_md=step.doc_md,
        cli_command=pipeline.local.command,
        arguments=list(step.arguments),
        working_directory=pipeline.local.working_directory,
    )


def _dag_doc(pipeline: PipelineConfig) -> str:
    if pipeline.execution_mode == "local":
        where = (
            f"as local subprocesses (`{' '.join(pipeline.local.command)}`), with the settings taken "
            "from the worker's `INSTAPRO_*` environment variables"
        )
    else:
        settings = pipeline.kubernetes
        where = (
            f"as pods of image `{settings.image_reference}` in namespace `{settings.namespace}`, with "
            f"the settings from ConfigMap `{settings.config_map}` and the credentials from Secret "
            f"`{settings.secret}`"
        )
    intro = f"{pipeline.description}\n\n" if pipeline.description else ""
    return (
        f"## {pipeline.dag_id}\n{intro}"
        f"Schedule `{pipeline.schedule}` (UTC). Each run covers its data interval "
        "[`data_interval_start`, `data_interval_end`), i.e. the calendar days from the start up to "
        "the day before the end, and runs the instapro CLI steps "
        "`ingest` → `model` → `snapshot` → `test` "
        f"{where}.\n\n"
        "Generated from `airflow/config/pipelines.yaml` by `instapro_airflow.factory`; change the "
        "YAML, not this DAG."
    )
