"""Values for the official Airflow chart (deploy/airflow) and the kind recipe that installs it.

What can be checked without the chart itself: only keys verified against the chart's
values.schema.json are used, Airflow gets the instapro chart's run-time variables and nothing
secret, DAGs are synced from the right folder, and no password is committed. With the chart's
archive at hand, test_airflow_chart_render.py renders the chart itself with these files.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import AIRFLOW_VALUES, DEPLOY, KIND_INSTAPRO_VALUES, PIPELINES_CONFIG, REPOSITORY, load_yaml, only
from test_chart import literal_passwords

AIRFLOW_CHART_VERSION = "1.22.0"
BAKED_DAGS_VALUES = DEPLOY / "airflow" / "values-baked-dags.yaml"
LOCAL_MODE_VALUES = DEPLOY / "airflow" / "values-local-mode.yaml"
KIND_AIRFLOW_VALUES = DEPLOY / "kind" / "values-airflow.yaml"
AIRFLOW_VALUES_FILES = [AIRFLOW_VALUES, BAKED_DAGS_VALUES, LOCAL_MODE_VALUES, KIND_AIRFLOW_VALUES]

# Every key these files (and the kind scripts' --set flags) may use, each checked by hand against
# values.schema.json of the official chart (apache-airflow/airflow, version above). A key outside
# this list fails the test: check it against the schema of the pinned chart version, then add it.
VERIFIED_CHART_KEYS = {
    "executor",
    "defaultAirflowTag",
    "airflowVersion",
    "env",  # list of {name, value}
    "extraEnvFrom",  # templated string holding a list of envFrom items
    "dags.gitSync.enabled",
    "dags.gitSync.repo",
    "dags.gitSync.branch",
    "dags.gitSync.ref",
    "dags.gitSync.rev",
    "dags.gitSync.depth",
    "dags.gitSync.subPath",
    "dags.gitSync.period",
    "dags.gitSync.credentialsSecret",
    "createUserJob.enabled",  # since chart 1.19 (apache/airflow#56057)
    "createUserJob.args",
    "createUserJob.env",  # list of {name, value | valueFrom.secretKeyRef/configMapKeyRef}
    "postgresql.enabled",
    "postgresql.auth.postgresPassword",
    "data.metadataConnection.pass",
    "data.metadataSecretName",
    "redis.enabled",
    "statsd.enabled",
    "images.airflow.repository",
    "images.airflow.tag",
    "images.airflow.pullPolicy",
    "triggerer.persistence.fixPermissions",
}
# `config` is free-form in the schema (airflow.cfg sections); these are real Airflow options.
VERIFIED_AIRFLOW_CONFIG_OPTIONS = {"config.core.dags_folder", "config.scheduler.use_job_schedule"}
# Values whose content is a list or a templated string: their inner keys are not chart keys.
OPAQUE_KEYS = {"env", "extraEnvFrom", "createUserJob.args", "createUserJob.env"}


def key_paths(document: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in document.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and path not in OPAQUE_KEYS:
            paths |= key_paths(value, path)
        else:
            paths.add(path)
    return paths


@pytest.fixture(scope="module")
def values() -> dict:
    return load_yaml(AIRFLOW_VALUES)


@pytest.fixture(scope="module")
def kubernetes_settings() -> dict:
    return load_yaml(PIPELINES_CONFIG)["defaults"]["kubernetes"]


@pytest.mark.parametrize("values_file", AIRFLOW_VALUES_FILES, ids=lambda p: p.name)
def test_only_keys_verified_against_the_chart_schema(values_file: Path):
    unverified = key_paths(load_yaml(values_file)) - VERIFIED_CHART_KEYS - VERIFIED_AIRFLOW_CONFIG_OPTIONS
    assert not unverified, f"check these keys against the chart's values.schema.json first: {sorted(unverified)}"


def test_keys_set_by_the_kind_scripts_are_verified():
    script = (DEPLOY / "kind" / "scripts" / "airflow-install.sh").read_text()
    keys = set(re.findall(r'--set(?:-string)? "([A-Za-z0-9_.\[\]]+)=', script))
    assert keys, "airflow-install.sh sets no values? the pattern above is out of date"
    assert keys <= VERIFIED_CHART_KEYS, sorted(keys - VERIFIED_CHART_KEYS)


def test_chart_version_is_pinned_in_one_version_everywhere():
    makefile = (DEPLOY / "kind" / "Makefile").read_text()
    library = (DEPLOY / "kind" / "scripts" / "lib.sh").read_text()
    assert re.search(r"^AIRFLOW_CHART_VERSION \?= (\S+)$", makefile, re.M).group(1) == AIRFLOW_CHART_VERSION
    assert re.search(r"AIRFLOW_CHART_VERSION=\$\{AIRFLOW_CHART_VERSION:-([^}]+)\}", library).group(1) == AIRFLOW_CHART_VERSION
    script = (DEPLOY / "scripts" / "test-deploy.sh").read_text()
    assert re.search(r"^AIRFLOW_CHART_VERSION=(\S+)$", script, re.M).group(1) == AIRFLOW_CHART_VERSION
    for document in (AIRFLOW_VALUES, BAKED_DAGS_VALUES, LOCAL_MODE_VALUES, DEPLOY / "README.md"):
        mentioned = set(re.findall(r"--version (\d+\.\d+\.\d+)", document.read_text()))
        assert mentioned <= {AIRFLOW_CHART_VERSION}, (document.name, mentioned)


def test_executor_is_the_kubernetes_executor(values):
    assert values["executor"] == "KubernetesExecutor"


def test_airflow_version_is_the_one_the_dags_are_tested_with(values):
    pinned = re.search(r"^apache-airflow==(\S+)$", (REPOSITORY / "airflow" / "requirements.txt").read_text(), re.M).group(1)
    assert values["airflowVersion"] == values["defaultAirflowTag"] == pinned


def test_dag_factory_runs_pipeline_steps_as_pods(values):
    assert {"name": "INSTAPRO_AIRFLOW_EXECUTION_MODE", "value": "kubernetes"} in values["env"]
    assert all(set(item) == {"name", "value"} and isinstance(item["value"], str) for item in values["env"])


def test_airflow_reads_the_run_time_variables_and_nothing_secret(values, render, kubernetes_settings):
    env_from = yaml.safe_load(values["extraEnvFrom"])
    manifests = render()
    airflow_configmap = only(manifests, "ConfigMap", "instapro-airflow")
    assert env_from == [{"configMapRef": {"name": airflow_configmap["metadata"]["name"]}}]
    assert all(key.startswith("AIRFLOW_VAR_") for key in airflow_configmap["data"])
    # The pipeline's settings and credentials are for the pipeline pods only.
    assert kubernetes_settings["secret"] not in values["extraEnvFrom"]
    assert kubernetes_settings["config_map"] not in values["extraEnvFrom"]


def test_local_mode_opt_in_gives_airflow_the_pipeline_environment(values, kubernetes_settings):
    overlay = load_yaml(LOCAL_MODE_VALUES)
    env_from = yaml.safe_load(overlay["extraEnvFrom"])
    # Helm replaces lists: the overlay keeps the run-time variables of values.yaml.
    assert yaml.safe_load(values["extraEnvFrom"])[0] in env_from
    assert {"configMapRef": {"name": kubernetes_settings["config_map"]}} in env_from
    assert {"secretRef": {"name": kubernetes_settings["secret"]}} in env_from
    assert {"name": "INSTAPRO_AIRFLOW_EXECUTION_MODE", "value": "local"} in overlay["env"]


def test_kind_scheduler_starts_no_runs_of_its_own():
    # trigger-dag.sh unpauses the DAG; only the runs it triggers may then run.
    assert load_yaml(KIND_AIRFLOW_VALUES)["config"]["scheduler"]["use_job_schedule"] == "False"
    script = (DEPLOY / "kind" / "scripts" / "trigger-dag.sh").read_text()
    assert script.index("use_job_schedule") < script.index("dags unpause")


def test_git_sync_points_airflow_at_the_dag_folder_of_this_repository(values):
    git_sync = values["dags"]["gitSync"]
    assert git_sync["enabled"] is True
    assert git_sync["subPath"] == "airflow/dags"
    dag_folder = REPOSITORY / git_sync["subPath"]
    assert list(dag_folder.glob("*.py")), "no DAG file in the synced folder"
    # git-sync checks out the whole repository; the DAG file imports these siblings of its folder.
    assert (dag_folder.parent / "instapro_airflow" / "__init__.py").is_file()
    assert (dag_folder.parent / "config" / "pipelines.yaml").is_file()


def test_no_admin_admin_the_ui_user_comes_from_a_secret(values):
    job = values["createUserJob"]
    assert job["enabled"] is True
    command = " ".join(job["args"])
    assert '--password "$AIRFLOW_ADMIN_PASSWORD"' in command
    assert "admin@example.com" not in command
    env = {item["name"]: item for item in job["env"]}
    for name in ("AIRFLOW_ADMIN_USERNAME", "AIRFLOW_ADMIN_PASSWORD"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "instapro-airflow-admin"
    # The deprecated webserver.defaultUser would take precedence and bring admin/admin back.
    assert "webserver" not in values


@pytest.mark.parametrize("values_file", AIRFLOW_VALUES_FILES, ids=lambda p: p.name)
def test_no_literal_password_in_airflow_values(values_file: Path):
    document = load_yaml(values_file)
    assert list(literal_passwords(document)) == []
    text = values_file.read_text()
    assert not re.search(r"(?i)(password|pass)\s*[:=]\s*['\"]?(admin|postgres|airflow)\b", text)


def test_baked_image_matches_the_dag_requirements_and_the_values():
    dockerfile = (DEPLOY / "airflow" / "Dockerfile").read_text()
    requirements = (REPOSITORY / "airflow" / "requirements.txt").read_text()
    for package in ("apache-airflow", "apache-airflow-providers-cncf-kubernetes"):
        pinned = re.search(rf"^{re.escape(package)}==(\S+)$", requirements, re.M).group(1)
        assert f'"{package}=={pinned}"' in dockerfile, package
    airflow_pin = re.search(r"^apache-airflow==(\S+)$", requirements, re.M).group(1)
    assert re.search(rf"^FROM apache/airflow:{re.escape(airflow_pin)}-python3\.11$", dockerfile, re.M)
    baked = load_yaml(BAKED_DAGS_VALUES)
    assert f"airflow/dags {baked['config']['core']['dags_folder']}" in dockerfile
    assert baked["dags"]["gitSync"]["enabled"] is False


def test_kind_input_is_the_landing_zone_the_recipe_fills():
    kind_values = load_yaml(KIND_INSTAPRO_VALUES)
    template = kind_values["airflow"]["inputPartitionTemplate"]
    bucket = re.search(r'^LANDING_BUCKET=\$\{LANDING_BUCKET:-([^}]+)\}$', (DEPLOY / "kind" / "scripts" / "lib.sh").read_text(), re.M).group(1)
    # landing_partitions.py writes events/date=YYYY-MM-DD/ under the bucket.
    assert template == f"s3://{bucket}/events/date={{{{ ds }}}}/"
    landing = list(yaml.safe_load_all((DEPLOY / "kind" / "landing-zone.yaml").read_text()))
    service = next(doc for doc in landing if doc["kind"] == "Service")
    port = service["spec"]["ports"][0]["port"]
    assert kind_values["settings"]["s3"]["endpoint"] == f"http://{service['metadata']['name']}.instapro.svc:{port}"
    assert kind_values["settings"]["s3"]["forcePathStyle"] is True
