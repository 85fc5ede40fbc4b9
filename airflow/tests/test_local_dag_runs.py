"""Whole DAG runs in local mode (BashOperator tasks) with `airflow dags test`, against a stand-in CLI.

These need no database: the stand-in records what Airflow asked it to run. They check the
wiring a real run depends on: step order, the rendered interval, the inherited environment,
CLI output in the task log, and a failing step failing the run.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, output_tail, run_airflow

pytestmark = pytest.mark.e2e

STAND_IN_CLI = """
import json, os, sys
arguments = sys.argv[1:]
with open(os.environ["STAND_IN_CLI_RECORD"], "a") as record:
    record.write(json.dumps({"arguments": arguments, "cwd": os.getcwd(),
                             "schema": os.environ.get("INSTAPRO_SCHEMA"),
                             "input": os.environ.get("INSTAPRO_INPUT")}) + "\\n")
print("stand-in CLI ran", " ".join(arguments))
if arguments[:1] == [os.environ.get("STAND_IN_CLI_FAIL_ON")]:
    print("stand-in CLI: data quality check failed", file=sys.stderr)
    sys.exit(4)
"""


@pytest.fixture()
def stand_in_cli(tmp_path: Path) -> tuple[str, Path]:
    script = tmp_path / "stand_in_cli.py"
    script.write_text(STAND_IN_CLI)
    return shlex.join([sys.executable, str(script)]), tmp_path / "calls.jsonl"


def recorded_calls(record: Path) -> list[dict]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def test_weekly_run_executes_the_steps_in_order_for_its_week(
    local_run_environment, stand_in_cli
):
    command, record = stand_in_cli
    environment = local_run_environment(
        {
            "INSTAPRO_CLI": command,
            "INSTAPRO_SCHEMA": "set_on_the_worker",
            "INSTAPRO_INPUT": "/set/on/the/worker.csv",
            # How a deployment points the DAGs at its landing zone (the chart's Airflow ConfigMap).
            "AIRFLOW_VAR_INSTAPRO_INPUT_TEMPLATE": "/landing/date={{ ds }}/",
            "STAND_IN_CLI_RECORD": str(record),
        },
    )
    # Logical date Sunday 2020-03-08: the run covers the week [2020-03-01, 2020-03-08).
    completed = run_airflow(["dags", "test", "instapro_weekly", "2020-03-08"], environment)
    assert completed.returncode == 0, output_tail(completed)

    calls = recorded_calls(record)
    assert [call["arguments"] for call in calls] == [
        ["ingest"],
        ["model"],
        ["snapshot", "--from", "2020-03-01", "--to", "2020-03-07"],
        ["test", "--incremental"],
    ]
    assert {call["schema"] for call in calls} == {"set_on_the_worker"}
    # ingest reads the week's partitions, whatever INSTAPRO_INPUT the worker has.
    week = [f"/landing/date=2020-03-0{day}/" for day in range(1, 8)]
    assert calls[0]["input"].split(",") == week
    assert {call["input"] for call in calls[1:]} == {"/set/on/the/worker.csv"}
    assert {call["cwd"] for call in calls} == {str(REPO_ROOT)}
    output = completed.stdout + completed.stderr
    assert "stand-in CLI ran snapshot --from 2020-03-01 --to 2020-03-07" in output


def test_monthly_run_is_one_full_refresh_of_its_month(local_run_environment, stand_in_cli):
    command, record = stand_in_cli
    environment = local_run_environment(
        {
            "INSTAPRO_CLI": command,
            "STAND_IN_CLI_RECORD": str(record),
        },
    )
    # Logical date 2020-03-01: the run covers February 2020.
    completed = run_airflow(["dags", "test", "instapro_monthly", "2020-03-01"], environment)
    assert completed.returncode == 0, output_tail(completed)
    calls = recorded_calls(record)
    assert [call["arguments"] for call in calls] == [["run", "--full-refresh", "--from", "2020-02-01", "--to", "2020-02-29"]]
    # A full refresh reads no input: the model is rebuilt from what is loaded.
    assert calls[0]["input"] is None


def test_failing_step_fails_the_run_and_stops_the_pipeline(local_run_environment, stand_in_cli):
    command, record = stand_in_cli
    environment = local_run_environment(
        {
            "INSTAPRO_CLI": command,
            "STAND_IN_CLI_RECORD": str(record),
            "STAND_IN_CLI_FAIL_ON": "model",
        },
    )
    completed = run_airflow(["dags", "test", "instapro_daily", "2020-03-01"], environment)
    assert completed.returncode != 0, output_tail(completed)
    assert [call["arguments"] for call in recorded_calls(record)] == [["ingest"], ["model"]]
    output = completed.stdout + completed.stderr
    assert "stand-in CLI: data quality check failed" in output
    assert "non-zero exit code 4" in output


def test_unbuilt_cli_fails_the_task_saying_how_to_build_it(local_run_environment, tmp_path):
    missing = tmp_path / "not built" / "dist" / "cli" / "main.js"
    environment = local_run_environment(
        {
            "INSTAPRO_CLI": shlex.join(["node", str(missing)]),
        },
    )
    completed = run_airflow(["dags", "test", "instapro_daily", "2020-03-01"], environment)
    assert completed.returncode != 0, output_tail(completed)
    output = completed.stdout + completed.stderr
    assert f"the instapro CLI {missing} does not exist: run `npm ci && npm run build`" in output
    assert "non-zero exit code 2" in output
