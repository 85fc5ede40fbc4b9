"""The DAG folder as Airflow parses it: which DAGs exist, their schedule, tasks and pods."""

from __future__ import annotations

import shlex
from datetime import timedelta

import pendulum
import pytest
import yaml
from airflow.providers.standard.operators.bash import BashOperator
from conftest import DAGS_FOLDER, EXPECTED_DAG_IDS, EXPECTED_TASKS, STEP_ORDER

from instapro_airflow.config import DEFAULT_CLI_SCRIPT, REPO_ROOT, parse_pipelines
from instapro_airflow.factory import build_dags, local_bash_command

EXPECTED_SCHEDULES = {
    "instapro_daily": "0 0 * * *",
    "instapro_weekly": "0 0 * * 0",
    "instapro_monthly": "0 0 1 * *",
}


def pod_environment(task) -> dict[str, str]:
    """The KubernetesPodOperator's env_vars as a mapping (it keeps a dict, or V1EnvVar items)."""
    env_vars = task.env_vars or {}
    if isinstance(env_vars, dict):
        return dict(env_vars)
    return {variable.name: variable.value for variable in env_vars}


def linear_order(dag) -> list[str]:
    """The task ids from the single root to the single leaf, asserting the chain has no branch."""
    roots = [task for task in dag.tasks if not task.upstream_task_ids]
    assert len(roots) == 1, f"{dag.dag_id}: expected one first task, found {[t.task_id for t in roots]}"
    order = [roots[0]]
    while order[-1].downstream_task_ids:
        (next_id,) = order[-1].downstream_task_ids
        order.append(dag.get_task(next_id))
    assert len(order) == len(dag.tasks), f"{dag.dag_id}: tasks outside the chain"
    return [task.task_id for task in order]


def test_dag_folder_imports_without_errors_or_warnings(dag_bag):
    assert dag_bag.import_errors == {}
    # Deprecated operator arguments would show up here.
    assert dag_bag.captured_warnings == {}


def test_exactly_the_three_instapro_dags(dag_bag):
    assert set(dag_bag.dag_ids) == EXPECTED_DAG_IDS


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_SCHEDULES))
def test_schedule_is_a_data_interval_timetable(dag_bag, dag_id):
    from airflow.sdk import CronDataIntervalTimetable

    timetable = dag_bag.dags[dag_id].timetable
    # A data-interval timetable: a trigger timetable would give snapshot an empty interval.
    assert isinstance(timetable, CronDataIntervalTimetable)
    assert timetable.expression == EXPECTED_SCHEDULES[dag_id]
    assert str(timetable.timezone) == "UTC"


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAG_IDS))
def test_run_settings(dag_bag, dag_id):
    dag = dag_bag.dags[dag_id]
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert dag.start_date == pendulum.datetime(2020, 1, 1, tz="UTC")
    assert "instapro" in dag.tags
    for task in dag.tasks:
        assert task.retries == 2
        assert task.retry_delay == timedelta(minutes=5)
    expected_timeout = {"instapro_daily": 1, "instapro_weekly": 2, "instapro_monthly": 3}[dag_id]
    assert {task.execution_timeout for task in dag.tasks} == {timedelta(hours=expected_timeout)}


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAG_IDS))
def test_steps_run_in_pipeline_order(dag_bag, dag_id):
    assert linear_order(dag_bag.dags[dag_id]) == EXPECTED_TASKS[dag_id]


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAG_IDS))
def test_every_dag_and_task_is_documented(dag_bag, dag_id):
    dag = dag_bag.dags[dag_id]
    assert dag.doc_md and dag_id in dag.doc_md and "data_interval_end" in dag.doc_md
    for task in dag.tasks:
        assert task.doc_md and task.doc_md.startswith(f"### {task.task_id}\n")


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAG_IDS))
def test_pods_run_the_cli_image_with_settings_from_configmap_and_secret(dag_bag, dag_id):
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    for task in dag_bag.dags[dag_id].tasks:
        assert isinstance(task, KubernetesPodOperator)
        # Rendered when the task runs (test_run_time_values.py): a Variable, else the YAML's image.
        assert task.image == "{{ instapro_pipeline_image() }}"
        assert task.namespace == "instapro"
        assert task.service_account_name == "instapro-pipeline"
        # No cmds: the image's entrypoint is the CLI; the step is the first argument.
        assert not task.cmds
        assert task.arguments[0] == {"full_refresh": "run"}.get(task.task_id, task.task_id)
        config_maps = [source.config_map_ref.name for source in task.env_from if source.config_map_ref]
        secrets = [source.secret_ref.name for source in task.env_from if source.secret_ref]
        assert config_maps == ["instapro-settings"]
        assert secrets == ["instapro-database-credentials"]
        # Credentials only come through env_from; the one variable is ingest's input.
        variables = pod_environment(task)
        assert variables == ({"INSTAPRO_INPUT": "{{ instapro_input_locations() }}"} if task.task_id == "ingest" else {})
        assert not task.secrets
        # No pull Secret unless the YAML names one (test_run_time_values.py covers that case).
        assert not task.image_pull_secrets


def test_pod_resources_follow_the_yaml(dag_bag):
    daily = dag_bag.dags["instapro_daily"].get_task("snapshot").container_resources
    monthly = dag_bag.dags["instapro_monthly"].get_task("full_refresh").container_resources
    assert daily.requests == {"cpu": "250m", "memory": "256Mi"}
    assert daily.limits == {"cpu": "1", "memory": "1Gi"}
    assert monthly.limits == {"cpu": "1", "memory": "2Gi"}


@pytest.mark.parametrize("dag_id", ["instapro_daily", "instapro_weekly"])
def test_incremental_dags_give_the_interval_to_ingest_and_snapshot_only(dag_bag, dag_id):
    dag = dag_bag.dags[dag_id]
    assert dag.get_task("ingest").arguments == ["ingest"]
    assert dag.get_task("model").arguments == ["model"]
    assert dag.get_task("test").arguments == ["test", "--incremental"]
    assert dag.get_task("snapshot").arguments == [
        "snapshot",
        "--from",
        "{{ instapro_first_day() }}",
        "--to",
        "{{ instapro_last_day() }}",
    ]


def test_monthly_dag_is_a_full_refresh_without_input(dag_bag):
    (task,) = dag_bag.dags["instapro_monthly"].tasks
    assert task.arguments == ["run", "--full-refresh", "--from", "{{ instapro_first_day() }}", "--to", "{{ instapro_last_day() }}"]
    assert not task.env_vars


def test_no_credentials_in_the_dag_sources_or_yaml():
    sources = [*DAGS_FOLDER.glob("*.py"), *(DAGS_FOLDER.parent / "instapro_airflow").glob("*.py")]
    sources.append(DAGS_FOLDER.parent / "config" / "pipelines.yaml")
    for path in sources:
        text = path.read_text()
        assert "postgresql://" not in text and "postgres://" not in text, path
        assert "INSTAPRO_DB_PASSWORD=" not in text and "password:" not in text.lower(), path


# -- Local mode --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_dags(pipelines_document):
    pipelines = parse_pipelines(pipelines_document, environ={"INSTAPRO_AIRFLOW_EXECUTION_MODE": "local"})
    return build_dags(pipelines)


def test_local_mode_builds_the_same_dags_with_subprocess_tasks(dag_bag, local_dags):
    assert set(local_dags) == EXPECTED_DAG_IDS
    for dag_id, dag in local_dags.items():
        assert linear_order(dag) == EXPECTED_TASKS[dag_id]
        assert dag.timetable == dag_bag.dags[dag_id].timetable
        assert dag.max_active_runs == 1
        for task in dag.tasks:
            pod_task = dag_bag.dags[dag_id].get_task(task.task_id)
            assert isinstance(task, BashOperator)
            # The same CLI arguments as the pod, run by the configured local command.
            assert task.bash_command == local_bash_command(["node", str(DEFAULT_CLI_SCRIPT)], pod_task.arguments)
            assert task.bash_command.endswith(shlex.join(["node", str(DEFAULT_CLI_SCRIPT), *pod_task.arguments]))
            assert (task.env or {}) == pod_environment(pod_task)
            assert task.append_env is True
            assert task.skip_on_exit_code == []
            assert task.cwd == str(REPO_ROOT)
            assert task.doc_md == pod_task.doc_md
        assert "local subprocesses" in dag.doc_md


def test_dag_file_reads_the_execution_mode_from_the_environment(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("INSTAPRO_AIRFLOW_EXECUTION_MODE", "local")
    monkeypatch.setenv("INSTAPRO_CLI", "/opt/instapro/bin/instapro --verbose")
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    task = bag.dags["instapro_daily"].get_task("snapshot")
    assert isinstance(task, BashOperator)
    assert task.bash_command.startswith("exec /opt/instapro/bin/instapro --verbose snapshot --from ")


def test_adding_a_schedule_is_a_yaml_change_only(monkeypatch, tmp_path, pipelines_document):
    from airflow.dag_processing.dagbag import DagBag

    pipelines = {**pipelines_document["pipelines"], "quarterly": {"schedule": "@quarterly"}}
    document = {**pipelines_document, "pipelines": pipelines}
    config = tmp_path / "pipelines.yaml"
    config.write_text(yaml.safe_dump(document))
    monkeypatch.setenv("INSTAPRO_AIRFLOW_PIPELINES_CONFIG", str(config))
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == EXPECTED_DAG_IDS | {"instapro_quarterly"}
    assert linear_order(bag.dags["instapro_quarterly"]) == STEP_ORDER


def test_invalid_yaml_surfaces_as_a_clear_import_error(monkeypatch, tmp_path, pipelines_document):
    from airflow.dag_processing.dagbag import DagBag

    document = {**pipelines_document, "pipelines": {"daily": {"schedule": "every day"}}}
    config = tmp_path / "pipelines.yaml"
    config.write_text(yaml.safe_dump(document))
    monkeypatch.setenv("INSTAPRO_AIRFLOW_PIPELINES_CONFIG", str(config))
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.dag_ids == []
    (error,) = bag.import_errors.values()
    assert "PipelineConfigError" in error
    assert "pipelines.daily.schedule: 'every day' is not a schedule" in error


def test_pod_spec_sent_to_kubernetes(dag_bag, monkeypatch):
    """The pod the operator would create for a daily run, built without a cluster."""
    import copy
    from types import SimpleNamespace

    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.sdk.execution_time import macros

    # The operator asks its hook whether it runs in the cluster, only to label the pod.
    monkeypatch.setattr(KubernetesPodOperator, "hook", SimpleNamespace(is_in_cluster=True))
    task = copy.deepcopy(dag_bag.dags["instapro_daily"].get_task("snapshot"))
    task.render_template_fields(
        {
            "data_interval_start": pendulum.datetime(2020, 3, 10, tz="UTC"),
            "data_interval_end": pendulum.datetime(2020, 3, 11, tz="UTC"),
            "macros": macros,
        }
    )
    pod = task.build_pod_request_obj()
    (container,) = pod.spec.containers
    assert pod.metadata.namespace == "instapro"
    assert pod.metadata.name.startswith("instapro-daily-snapshot-")
    assert pod.spec.service_account_name == "instapro-pipeline"
    assert container.image == "instapro:0.1.0"
    assert not container.command
    assert container.args == ["snapshot", "--from", "2020-03-10", "--to", "2020-03-10"]
    assert [(source.config_map_ref or source.secret_ref).name for source in container.env_from] == [
        "instapro-settings",
        "instapro-database-credentials",
    ]
    assert not container.env
    assert container.resources.limits == {"cpu": "1", "memory": "1Gi"}
    # Restricted Pod Security Standard: non-root, no privilege escalation, no capabilities,
    # read-only root filesystem with /tmp as the only writable place.
    assert pod.spec.security_context.run_as_non_root is True
    assert pod.spec.security_context.seccomp_profile.type == "RuntimeDefault"
    assert container.security_context.allow_privilege_escalation is False
    assert container.security_context.read_only_root_filesystem is True
    assert container.security_context.capabilities.drop == ["ALL"]
    assert [(m.name, m.mount_path) for m in container.volume_mounts] == [("tmp", "/tmp")]
    assert [(v.name, v.empty_dir is not None) for v in pod.spec.volumes] == [("tmp", True)]
