"""Validation of config/pipelines.yaml: merging, overrides and clear error messages."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest

from instapro_airflow.config import (
    DEFAULT_CLI_SCRIPT,
    REPO_ROOT,
    PipelineConfigError,
    load_pipelines,
    parse_duration,
    parse_pipelines,
)


@pytest.fixture()
def document(pipelines_document: dict) -> dict:
    """A private copy of the committed YAML document, for a test to break."""
    return copy.deepcopy(pipelines_document)


def error_of(document, environ=None) -> str:
    with pytest.raises(PipelineConfigError) as raised:
        parse_pipelines(document, source="pipelines.yaml", environ=environ or {})
    return str(raised.value)


def by_name(document, environ=None) -> dict:
    return {p.name: p for p in parse_pipelines(document, environ=environ or {})}


# -- The committed file ------------------------------------------------------------------------


def test_committed_file_defines_daily_weekly_and_monthly():
    pipelines = {p.name: p for p in load_pipelines(environ={})}
    assert {name: p.schedule for name, p in pipelines.items()} == {
        "daily": "0 0 * * *",
        "weekly": "0 0 * * 0",
        "monthly": "0 0 1 * *",
    }
    assert all(p.execution_mode == "kubernetes" for p in pipelines.values())
    assert all(p.start_date == date(2020, 1, 1) and p.catchup is False for p in pipelines.values())


def test_entries_are_merged_over_defaults_key_by_key(document):
    monthly = by_name(document)["monthly"]
    # Overridden by the entry ...
    assert monthly.execution_timeout == timedelta(hours=3)
    assert monthly.kubernetes.resources.limits["memory"] == "2Gi"
    # ... while its siblings still come from defaults.
    assert monthly.kubernetes.resources.limits["cpu"] == "1"
    assert monthly.kubernetes.resources.requests == {"cpu": "250m", "memory": "256Mi"}
    assert monthly.kubernetes.config_map == "instapro-settings"
    assert monthly.retry_delay == timedelta(minutes=5)


def test_a_new_schedule_is_one_more_yaml_entry(document):
    document["pipelines"]["quarterly"] = {"schedule": "@quarterly"}
    quarterly = by_name(document)["quarterly"]
    assert quarterly.dag_id == "instapro_quarterly"
    assert quarterly.schedule == "0 0 1 */3 *"


# -- Environment overrides ---------------------------------------------------------------------


def test_execution_mode_env_var_overrides_every_pipeline(document):
    pipelines = by_name(document, environ={"INSTAPRO_AIRFLOW_EXECUTION_MODE": "local"})
    assert {p.execution_mode for p in pipelines.values()} == {"local"}


def test_local_cli_defaults_to_the_built_cli_in_the_repository(document):
    local = by_name(document)["daily"].local
    assert local.command == ["node", str(DEFAULT_CLI_SCRIPT)]
    assert DEFAULT_CLI_SCRIPT == REPO_ROOT / "dist" / "cli" / "main.js"
    assert local.working_directory == str(REPO_ROOT)


def test_instapro_cli_env_var_overrides_the_local_command(document):
    daily = by_name(document, environ={"INSTAPRO_CLI": "npx --no-install instapro"})["daily"]
    assert daily.local.command == ["npx", "--no-install", "instapro"]


def test_unknown_execution_mode_is_rejected_by_name(document):
    message = error_of(document, environ={"INSTAPRO_AIRFLOW_EXECUTION_MODE": "docker"})
    assert "INSTAPRO_AIRFLOW_EXECUTION_MODE='docker': expected one of kubernetes, local" in message


# -- Clear errors ------------------------------------------------------------------------------


def test_missing_key_names_its_full_path(document):
    del document["defaults"]["kubernetes"]["image"]
    message = error_of(document)
    assert message.startswith("invalid pipeline configuration in pipelines.yaml:")
    # Reported for every pipeline that inherits the gap.
    for name in ("daily", "weekly", "monthly"):
        assert f"pipelines.{name}.kubernetes.image: missing required key" in message


def test_missing_schedule(document):
    del document["pipelines"]["weekly"]["schedule"]
    assert "pipelines.weekly.schedule: missing required key" in error_of(document)


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ("every day", "is not a schedule"),
        ("@hourly", "is not a supported schedule"),
        ("@once", "is not a supported schedule"),
        ("0 25 * * *", "is not a valid cron expression"),
        ("30 0 * * *", "does not run at midnight"),
        ("0 */6 * * *", "does not run at midnight"),
        ("0 0 * * * *", "is not a schedule"),
        (7, "is not a schedule"),
    ],
)
def test_bad_schedule_says_why_and_what_is_accepted(document, schedule, reason):
    document["pipelines"]["daily"]["schedule"] = schedule
    message = error_of(document)
    assert f"pipelines.daily.schedule: {schedule!r} {reason}" in message
    assert "@daily, @weekly, @monthly" in message or "minute and hour fields must both be 0" in message


def test_cron_expression_at_midnight_is_accepted(document):
    document["pipelines"]["daily"]["schedule"] = "0 0 * * 1-5"
    assert by_name(document)["daily"].schedule == "0 0 * * 1-5"


def test_misspelt_key_is_reported_as_unknown(document):
    document["pipelines"]["daily"]["schedul"] = "@daily"
    message = error_of(document)
    assert "pipelines.daily.schedul: unknown key" in message


def test_unknown_top_level_key(document):
    document["pipeline"] = {}
    assert "pipeline: unknown top-level key" in error_of(document)


def test_no_pipelines(document):
    document["pipelines"] = {}
    assert "pipelines: missing required key" in error_of(document)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("retry_delay", "5 minutes", "pipelines.daily.retry_delay: '5 minutes' is not a duration"),
        ("execution_timeout", 0, "pipelines.daily.execution_timeout: 0 is not a positive duration"),
        ("retries", -1, "pipelines.daily.retries: Input should be greater than or equal to 0"),
        ("catchup", "sometimes", "pipelines.daily.catchup: Input should be a valid boolean"),
        ("start_date", "yesterday", "pipelines.daily.start_date: Input should be a valid date"),
        ("execution_mode", "docker", "pipelines.daily.execution_mode: Input should be 'kubernetes' or 'local'"),
        ("name", "daily", "pipelines.daily.name: unknown key"),
    ],
)
def test_bad_values_name_key_and_reason(document, key, value, expected):
    document["pipelines"]["daily"][key] = value
    assert expected in error_of(document)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("namespace", "Instapro_Jobs", "namespace: 'Instapro_Jobs' is not a valid Kubernetes namespace"),
        ("config_map", "", "config_map: '' is not a valid Kubernetes object name"),
        ("tag", 1.10, "tag: 1.1 was read as a number, which can change it (1.10 reads as 1.1): quote image tags"),
        ("image", "instapro latest", "image: 'instapro latest' must not contain whitespace"),
        ("image_pull_policy", "Sometimes", "image_pull_policy: Input should be 'Always', 'IfNotPresent' or 'Never'"),
        ("resources", {"limits": {"memory": "lots"}}, "resources.limits: memory: 'lots' is not a Kubernetes quantity"),
        ("startup_timeout", "soon", "startup_timeout: 'soon' is not a duration"),
    ],
)
def test_bad_kubernetes_settings(document, key, value, expected):
    document["pipelines"]["weekly"]["kubernetes"] = {key: value}
    assert f"pipelines.weekly.kubernetes.{expected}" in error_of(document)


def test_every_problem_is_listed_at_once(document):
    del document["pipelines"]["daily"]["schedule"]
    document["pipelines"]["monthly"]["retries"] = "often"
    message = error_of(document)
    assert "pipelines.daily.schedule: missing required key" in message
    assert "pipelines.monthly.retries:" in message


def test_invalid_yaml_reports_line_and_column(tmp_path):
    path = tmp_path / "pipelines.yaml"
    path.write_text("pipelines:\n  daily:\n    schedule: '@daily\n")
    with pytest.raises(PipelineConfigError, match=r"is not valid YAML at line \d+, column \d+"):
        load_pipelines(path, environ={})


def test_missing_file_says_how_to_point_elsewhere(tmp_path):
    with pytest.raises(PipelineConfigError, match="not found .*INSTAPRO_AIRFLOW_PIPELINES_CONFIG"):
        load_pipelines(tmp_path / "absent.yaml", environ={})


def test_config_path_env_var_is_honoured(tmp_path, document):
    import yaml

    document["pipelines"] = {"yearly": {"schedule": "@yearly"}}
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(document))
    pipelines = load_pipelines(environ={"INSTAPRO_AIRFLOW_PIPELINES_CONFIG": str(path)})
    assert [p.dag_id for p in pipelines] == ["instapro_yearly"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90), ("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1h30m", 5400)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)
