"""The official Airflow chart, rendered for real with this repository's values.

Needs the pinned chart's archive (INSTAPRO_AIRFLOW_CHART_ARCHIVE; deploy/scripts/test-deploy.sh
points it at its cache and, with INSTAPRO_FETCH_AIRFLOW_CHART=1, pulls it there, as the GitHub
workflow does). Without it every test here is skipped, saying so. `helm template` validates the
values against the chart's own values.schema.json, so an unknown or misspelt key fails here.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from conftest import AIRFLOW_VALUES, PIPELINES_CONFIG, load_yaml
from test_airflow_values import AIRFLOW_CHART_VERSION, BAKED_DAGS_VALUES, KIND_AIRFLOW_VALUES, LOCAL_MODE_VALUES

NAMESPACE = "instapro"
RELEASE = "airflow"
KUBERNETES_VERSIONS = ("1.30.0", "1.36.0")
# The instapro chart's objects for a release named "instapro" (deploy/tests/test_chart.py checks
# the chart renders these names).
AIRFLOW_CONFIGMAP = "instapro-airflow"
SETTINGS_CONFIGMAP = "instapro-settings"


@pytest.fixture(scope="module")
def chart_archive() -> Path:
    archive = Path(os.environ.get("INSTAPRO_AIRFLOW_CHART_ARCHIVE", "") or "/nonexistent")
    if not archive.is_file():
        pytest.skip(
            f"the official Airflow chart {AIRFLOW_CHART_VERSION} is not here ({archive}): set "
            "INSTAPRO_AIRFLOW_CHART_ARCHIVE to its .tgz, or run deploy/scripts/test-deploy.sh with "
            "INSTAPRO_FETCH_AIRFLOW_CHART=1 where https://airflow.apache.org is reachable"
        )
    with tarfile.open(archive) as bundle:
        chart = yaml.safe_load(bundle.extractfile("airflow/Chart.yaml").read())
    assert chart["version"] == AIRFLOW_CHART_VERSION, f"{archive} holds chart {chart['version']}"
    return archive


def render_airflow(helm: str, archive: Path, *values_files: Path, kube_version: str = KUBERNETES_VERSIONS[0]) -> str:
    command = [helm, "template", RELEASE, str(archive), "--namespace", NAMESPACE, "--kube-version", kube_version]
    for values_file in (AIRFLOW_VALUES, *values_files):
        command += ["--values", str(values_file)]
    # What deploy/kind/scripts/airflow-install.sh passes at install time.
    command += [
        "--set-string", "dags.gitSync.repo=https://git.example.com/instapro.git",
        "--set-string", "postgresql.auth.postgresPassword=rendered-only",
        "--set-string", "data.metadataConnection.pass=rendered-only",
    ]
    completed = subprocess.run(command, capture_output=True, text=True)
    assert completed.returncode == 0, f"helm template of the Airflow chart failed:\n{completed.stderr}"
    return completed.stdout


def manifests_of(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def pod_specs(manifests: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, pod spec) of every workload, and of the KubernetesExecutor's worker pod template."""
    for manifest in manifests:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        spec = manifest.get("spec") or {}
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{kind}/{name}", spec["template"]["spec"]
        elif kind == "CronJob":
            yield f"{kind}/{name}", spec["jobTemplate"]["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield f"{kind}/{name}", spec
        elif kind == "ConfigMap" and "pod_template_file.yaml" in (manifest.get("data") or {}):
            yield f"worker pod template in ConfigMap/{name}", yaml.safe_load(manifest["data"]["pod_template_file.yaml"])["spec"]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def secret_references(spec: dict[str, Any]) -> set[str]:
    names = set()
    for container in containers(spec):
        names |= {source["secretRef"]["name"] for source in container.get("envFrom") or [] if "secretRef" in source}
        for variable in container.get("env") or []:
            reference = (variable.get("valueFrom") or {}).get("secretKeyRef")
            if reference:
                names.add(reference["name"])
    for volume in spec.get("volumes") or []:
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
    return names


def config_map_sources(container: dict[str, Any]) -> list[str]:
    return [source["configMapRef"]["name"] for source in container.get("envFrom") or [] if "configMapRef" in source]


@pytest.fixture(scope="module")
def pipeline_secret() -> str:
    return load_yaml(PIPELINES_CONFIG)["defaults"]["kubernetes"]["secret"]


@pytest.fixture(scope="module")
def kind_render(helm, chart_archive) -> list[dict[str, Any]]:
    return manifests_of(render_airflow(helm, chart_archive, KIND_AIRFLOW_VALUES))


@pytest.mark.parametrize(
    "values_files",
    [(), (KIND_AIRFLOW_VALUES,), (BAKED_DAGS_VALUES,), (LOCAL_MODE_VALUES,)],
    ids=["values", "kind", "baked-dags", "local-mode"],
)
@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
def test_chart_accepts_the_values_and_renders_valid_manifests(helm, chart_archive, tmp_path, values_files, kube_version):
    rendered = tmp_path / "airflow.yaml"
    rendered.write_text(render_airflow(helm, chart_archive, *values_files, kube_version=kube_version))
    validator = shutil.which("kubernetes-validate")
    if validator is None:
        pytest.fail("kubernetes-validate is not on PATH: run through deploy/scripts/test-deploy.sh")
    # Not --strict: the chart sets fields of newer Kubernetes versions than some it supports.
    completed = subprocess.run(
        [validator, "--kubernetes-version", kube_version, "--quiet", str(rendered)], capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_no_airflow_pod_gets_the_pipeline_credentials(kind_render, pipeline_secret):
    specs = list(pod_specs(kind_render))
    assert any(where.startswith("worker pod template") for where, _ in specs), "no worker pod template rendered"
    for where, spec in specs:
        assert pipeline_secret not in secret_references(spec), where
        for container in containers(spec):
            assert SETTINGS_CONFIGMAP not in config_map_sources(container), f"{where}: {container['name']}"


def test_workers_and_scheduler_read_the_run_time_variables(kind_render):
    specs = dict(pod_specs(kind_render))
    worker = next(spec for where, spec in specs.items() if where.startswith("worker pod template"))
    scheduler = specs[f"Deployment/{RELEASE}-scheduler"]
    for spec in (worker, scheduler):
        main = next(c for c in spec["containers"] if c["name"] in ("base", "scheduler"))
        assert config_map_sources(main) == [AIRFLOW_CONFIGMAP]
        assert {"name": "INSTAPRO_AIRFLOW_EXECUTION_MODE", "value": "kubernetes"} in main["env"]


def test_local_mode_is_an_explicit_opt_in(helm, chart_archive, pipeline_secret):
    manifests = manifests_of(render_airflow(helm, chart_archive, LOCAL_MODE_VALUES))
    worker = next(spec for where, spec in pod_specs(manifests) if where.startswith("worker pod template"))
    assert pipeline_secret in secret_references(worker)
    assert SETTINGS_CONFIGMAP in config_map_sources(worker["containers"][0])


def test_the_charts_own_role_lets_the_worker_launch_pipeline_pods(kind_render):
    """Why the instapro chart's Role is off by default: this one already covers the worker."""
    role = next(m for m in kind_render if m["kind"] == "Role" and m["metadata"]["name"] == f"{RELEASE}-pod-launcher-role")
    granted = {(resource, verb) for rule in role["rules"] for resource in rule["resources"] for verb in rule["verbs"]}
    for verb in ("create", "get", "list", "watch", "delete", "patch"):
        assert ("pods", verb) in granted
    assert ("pods/log", "get") in granted and ("events", "list") in granted
    binding = next(m for m in kind_render if m["kind"] == "RoleBinding" and m["roleRef"]["name"] == role["metadata"]["name"])
    worker = next(spec for where, spec in pod_specs(kind_render) if where.startswith("worker pod template"))
    assert {"kind": "ServiceAccount", "name": worker["serviceAccountName"], "namespace": NAMESPACE} in binding["subjects"]


def test_kind_scheduler_creates_no_runs_of_its_own(kind_render):
    config = next(m for m in kind_render if m["kind"] == "ConfigMap" and m["metadata"]["name"] == f"{RELEASE}-config")
    section = None
    options = {}
    for line in config["data"]["airflow.cfg"].splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif "=" in line and section == "scheduler":
            key, value = (part.strip() for part in line.split("=", 1))
            options[key] = value
    assert options.get("use_job_schedule") == "False"

