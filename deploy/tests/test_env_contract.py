"""The chart's ConfigMap and Secret carry exactly the environment the CLI reads.

The single source of truth is the CLI itself (`instapro config --env-vars --json`, generated
from src/config/settings.ts): non-secret variables belong in the ConfigMap, secret ones in the
Secret, and nothing else in either.
"""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from conftest import KIND_INSTAPRO_VALUES, PRODUCTION_VALUES, RELEASE, find, only

VALUE_SETS = {
    "default": (),
    "production": (PRODUCTION_VALUES,),
    "kind-warehouse": (KIND_INSTAPRO_VALUES,),
}

# Chart defaults that differ from the CLI's own defaults on purpose.
DELIBERATE_DIFFERENCES = {
    # The CLI's default (.instapro/db) is relative to the working directory, /app in the image,
    # which the non-root image user cannot write; /tmp can.
    "INSTAPRO_DATA_DIR",
}


def names(contract: list[dict], secret: bool) -> set[str]:
    return {variable["name"] for variable in contract if variable["secret"] is secret}


def secret_keys(secret: dict) -> set[str]:
    return set(secret.get("data") or {}) | set(secret.get("stringData") or {})


def test_the_cli_reports_the_variables_the_issue_lists(env_contract):
    # A guard against an empty or truncated contract making every comparison below trivially true.
    assert {"INSTAPRO_DB_HOST", "INSTAPRO_DB_PORT", "INSTAPRO_DB_NAME", "INSTAPRO_INPUT"} <= names(env_contract, secret=False)
    assert {"INSTAPRO_DB_USER", "INSTAPRO_DB_PASSWORD", "INSTAPRO_DATABASE_URL"} <= names(env_contract, secret=True)


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_configmap_keys_are_exactly_the_non_secret_variables(render, env_contract, value_set):
    manifests = render(*VALUE_SETS[value_set])
    configmap = only(manifests, "ConfigMap", f"{RELEASE}-settings")
    assert set(configmap["data"]) == names(env_contract, secret=False)


@pytest.mark.parametrize("value_set", ["default", "kind-warehouse"])
def test_secret_keys_are_exactly_the_secret_variables(render, env_contract, value_set):
    manifests = render(*VALUE_SETS[value_set])
    secret = only(manifests, "Secret", f"{RELEASE}-database-credentials")
    assert secret_keys(secret) == names(env_contract, secret=True)


def test_no_secret_variable_leaks_into_the_configmap(render, env_contract):
    for values in VALUE_SETS.values():
        configmap = only(render(*values), "ConfigMap", f"{RELEASE}-settings")
        assert not set(configmap["data"]) & names(env_contract, secret=True)


def test_chart_defaults_equal_the_cli_defaults(render, env_contract):
    configmap = only(render(), "ConfigMap", f"{RELEASE}-settings")
    for variable in env_contract:
        if variable["secret"] or variable["name"] in DELIBERATE_DIFFERENCES:
            continue
        # An empty value means "unset" to the CLI, so it then applies its own default.
        assert configmap["data"][variable["name"]] == variable.get("default", ""), variable["name"]


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_the_cli_accepts_the_rendered_environment(render, run_cli, env_contract, tmp_path: Path, value_set):
    """Start the CLI with exactly what a pipeline pod gets (envFrom ConfigMap + Secret)."""
    manifests = render(*VALUE_SETS[value_set])
    environment = dict(only(manifests, "ConfigMap", f"{RELEASE}-settings")["data"])
    secrets = find(manifests, "Secret")
    if secrets:
        environment.update({k: base64.b64decode(v).decode() for k, v in secrets[0]["data"].items()})
    else:
        # values-production.yaml references a Secret created outside the chart.
        # Its S3 keys may be empty: the pods then use the SDK's default chain (a cloud identity).
        environment.update(
            {
                "INSTAPRO_DB_USER": "instapro_pipeline",
                "INSTAPRO_DB_PASSWORD": "from-the-real-secret",
                "INSTAPRO_DATABASE_URL": "",
                "AWS_ACCESS_KEY_ID": "",
                "AWS_SECRET_ACCESS_KEY": "",
            }
        )
    assert set(environment) == {variable["name"] for variable in env_contract}
    completed = run_cli(["config", "--json"], environment, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert '"status":"succeeded"' in completed.stdout
    # The resolved configuration never shows the password.
    assert environment["INSTAPRO_DB_PASSWORD"] not in completed.stdout


def test_schema_and_cli_both_refuse_an_unsupported_sslmode(render, run_cli, tmp_path: Path):
    """The chart's schema and the CLI agree: a value the CLI refuses is refused by helm first."""
    from conftest import RenderError

    with pytest.raises(RenderError):
        render(set_values={"settings.database.sslMode": "prefer"})
    environment = dict(only(render(), "ConfigMap", f"{RELEASE}-settings")["data"])
    environment["INSTAPRO_DB_SSLMODE"] = "prefer"
    completed = run_cli(["config", "--json"], environment, cwd=tmp_path)
    assert completed.returncode == 3, "the CLI should refuse sslmode=prefer as a configuration error"
