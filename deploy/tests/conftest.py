"""Shared fixtures of the deploy tests: rendering the instapro chart and asking the real CLI.

Run through deploy/scripts/test-deploy.sh, which provides helm ($HELM) and the CLI of the
replayed pipeline image ($INSTAPRO_CLI). Run alone, the tests fall back to deploy/.tools/bin/helm
or helm on PATH, and to dist/cli/main.js of a local build.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parents[2]
DEPLOY = REPOSITORY / "deploy"
CHART = DEPLOY / "helm" / "instapro"
AIRFLOW_VALUES = DEPLOY / "airflow" / "values.yaml"
KIND_INSTAPRO_VALUES = DEPLOY / "kind" / "values-instapro.yaml"
PRODUCTION_VALUES = CHART / "values-production.yaml"
PIPELINES_CONFIG = REPOSITORY / "airflow" / "config" / "pipelines.yaml"
RELEASE = "instapro"
NAMESPACE = "instapro"
# The oldest Kubernetes the chart is tested against (deploy/README.md, Prerequisites).
KUBE_VERSION = "1.30.0"

Manifest = dict[str, Any]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="session")
def helm() -> str:
    candidates = [os.environ.get("HELM"), str(DEPLOY / ".tools" / "bin" / "helm"), shutil.which("helm")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("helm not found: run deploy/scripts/test-deploy.sh, which builds it, or set HELM")


class RenderError(Exception):
    """helm template refused the values; the message is helm's."""


@pytest.fixture(scope="session")
def render(helm: str) -> Callable[..., list[Manifest]]:
    """Renders the chart like `helm template` and returns the manifests (test hooks included)."""

    def _render(*values_files: Path, set_values: dict[str, Any] | None = None, release: str = RELEASE) -> list[Manifest]:
        command = [helm, "template", release, str(CHART), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]
        for values_file in values_files:
            command += ["--values", str(values_file)]
        for key, value in (set_values or {}).items():
            if isinstance(value, str):
                command += ["--set-string", f"{key}={value}"]
            else:
                command += ["--set", f"{key}={json.dumps(value)}"]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:
            raise RenderError(completed.stderr.strip())
        return [doc for doc in yaml.safe_load_all(completed.stdout) if doc]

    return _render


def find(manifests: list[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]


def only(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = find(manifests, kind, name)
    assert len(found) == 1, f"expected exactly one {kind} {name or ''}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="session")
def cli_command() -> list[str]:
    """The instapro CLI: the replayed image's build when given, else a local build of the repository."""
    configured = os.environ.get("INSTAPRO_CLI")
    script = Path(configured) if configured else REPOSITORY / "dist" / "cli" / "main.js"
    if not script.is_file():
        pytest.fail(
            f"the instapro CLI is not built ({script}); run deploy/scripts/test-deploy.sh, which builds it "
            "from the Dockerfile's steps, or `npm run build`"
        )
    return ["node", str(script)]


@pytest.fixture(scope="session")
def env_contract(cli_command: list[str]) -> list[dict[str, Any]]:
    """The environment variables the CLI reads, as it reports them itself."""
    completed = subprocess.run(
        [*cli_command, "config", "--env-vars", "--json"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        check=True,
    )
    contract = json.loads(completed.stdout)
    assert isinstance(contract, list) and contract, "config --env-vars --json printed no variables"
    return contract


@pytest.fixture(scope="session")
def run_cli(cli_command: list[str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs the CLI with exactly the given environment (plus PATH), as a pipeline pod would."""

    def _run(arguments: list[str], environment: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli_command, *arguments],
            capture_output=True,
            text=True,
            env={"PATH": os.environ["PATH"], **environment},
            cwd=cwd,
        )

    return _run
