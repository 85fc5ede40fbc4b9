"""Shared set-up of the DAG tests: an isolated Airflow home, the DagBag, and subprocess helpers.

Airflow reads its configuration when it is first imported, so the environment below is set
at import time of this conftest, before any test module imports Airflow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import yaml

AIRFLOW_PROJECT_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = AIRFLOW_PROJECT_DIR.parent
DAGS_FOLDER = AIRFLOW_PROJECT_DIR / "dags"
PIPELINES_YAML = AIRFLOW_PROJECT_DIR / "config" / "pipelines.yaml"
EXPECTED_DAG_IDS = {"instapro_daily", "instapro_weekly", "instapro_monthly"}
STEP_ORDER = ["ingest", "model", "snapshot", "test"]
# Tasks of each DAG: the monthly one is a full refresh (refresh: full in pipelines.yaml).
EXPECTED_TASKS = {"instapro_daily": STEP_ORDER, "instapro_weekly": STEP_ORDER, "instapro_monthly": ["full_refresh"]}

# Settings that would change what the DAG file builds; the tests decide them explicitly.
_FACTORY_OVERRIDES = ("INSTAPRO_AIRFLOW_EXECUTION_MODE", "INSTAPRO_CLI", "INSTAPRO_AIRFLOW_PIPELINES_CONFIG")

_TEST_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="instapro-airflow-tests-"))
os.environ["AIRFLOW_HOME"] = str(_TEST_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
for _name in _FACTORY_OVERRIDES:
    os.environ.pop(_name, None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_TEST_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def dag_bag():
    """The DAG folder exactly as Airflow's DAG processor parses it (committed YAML, kubernetes mode)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture(scope="session")
def pipelines_document() -> dict:
    return yaml.safe_load(PIPELINES_YAML.read_text())


# -- Running the real `airflow` command ---------------------------------------------------------

AIRFLOW_COMMAND = str(Path(sys.executable).with_name("airflow"))


def airflow_environment(airflow_home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for an `airflow` subprocess: its own home and sqlite metadata database.

    INSTAPRO_* variables of the calling shell are dropped so that a developer's settings
    (for example INSTAPRO_DB_HOST) can never point a test at another database.
    """
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("INSTAPRO_") and not name.startswith("AIRFLOW")
    }
    environment.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        }
    )
    environment.update(extra or {})
    return environment


def run_airflow(
    arguments: list[str], environment: Mapping[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AIRFLOW_COMMAND, *arguments],
        env=dict(environment),
        cwd=str(AIRFLOW_PROJECT_DIR),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def output_tail(completed: subprocess.CompletedProcess[str], lines: int = 80) -> str:
    combined = (completed.stdout or "") + (completed.stderr or "")
    return "\n".join(combined.splitlines()[-lines:])


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh AIRFLOW_HOME with a migrated sqlite metadata database, shared by the DAG runs."""
    home = tmp_path_factory.mktemp("airflow-home")
    completed = run_airflow(["db", "migrate"], airflow_environment(home), timeout=300)
    assert completed.returncode == 0, f"airflow db migrate failed:\n{output_tail(completed)}"
    yield home


@pytest.fixture(scope="session")
def no_retry_pipelines_config(tmp_path_factory: pytest.TempPathFactory, pipelines_document: dict) -> Path:
    """The committed pipelines YAML with retries off, so a failing step fails the run at once
    instead of `airflow dags test` waiting out the retry delay."""
    document = {**pipelines_document, "defaults": {**pipelines_document["defaults"], "retries": 0}}
    for entry in document["pipelines"].values():
        if isinstance(entry, dict):
            entry.pop("retries", None)
    path = tmp_path_factory.mktemp("pipelines-config") / "pipelines.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path



@pytest.fixture(scope="session")
def local_run_environment(airflow_home: Path, no_retry_pipelines_config: Path) -> Callable[[Mapping[str, str]], dict[str, str]]:
    """The environment of an `airflow dags test` in local mode, retries off, plus the test's own."""

    def environment(extra: Mapping[str, str]) -> dict[str, str]:
        return airflow_environment(
            airflow_home,
            {
                "INSTAPRO_AIRFLOW_EXECUTION_MODE": "local",
                "INSTAPRO_AIRFLOW_PIPELINES_CONFIG": str(no_retry_pipelines_config),
                **extra,
            },
        )

    return environment

# -- End-to-end prerequisites: a PostgreSQL server, the built CLI -----------------------------

CLI_SCRIPT = REPO_ROOT / "dist" / "cli" / "main.js"


def unavailable(reason: str) -> None:
    """Skip for want of a prerequisite, or fail when INSTAPRO_AIRFLOW_REQUIRE_E2E=1 (CI)."""
    if os.environ.get("INSTAPRO_AIRFLOW_REQUIRE_E2E") == "1":
        pytest.fail(f"INSTAPRO_AIRFLOW_REQUIRE_E2E=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("INSTAPRO_TEST_DATABASE_URL", "").strip()
    if not url:
        unavailable("INSTAPRO_TEST_DATABASE_URL is not set: no PostgreSQL server to run the pipeline against")
    return url


@pytest.fixture(scope="session")
def built_cli() -> Path:
    if not CLI_SCRIPT.is_file():
        unavailable(f"{CLI_SCRIPT} is missing: build the CLI with `npm ci && npm run build`")
    if shutil.which("node") is None:
        unavailable("node is not on PATH: the local mode runs `node dist/cli/main.js`")
    return CLI_SCRIPT


@pytest.fixture()
def isolated_schemas(database_url: str):
    """Unique schema names for this run, dropped afterwards whatever happened."""
    import psycopg
    from psycopg import sql

    base = f"instapro_airflow_e2e_{uuid.uuid4().hex[:10]}"
    names = {
        "INSTAPRO_SCHEMA": base,
        "INSTAPRO_RAW_SCHEMA": f"{base}_raw",
        "INSTAPRO_STAGING_SCHEMA": f"{base}_staging",
    }
    yield names
    with psycopg.connect(database_url, autocommit=True) as connection:
        for schema in names.values():
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
