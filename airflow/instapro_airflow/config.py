"""Loading and validation of ``config/pipelines.yaml``.

The YAML file is the single description of the instapro pipelines that Airflow runs:
one DAG per entry under ``pipelines``. Every pipeline entry is deep-merged over the
``defaults`` block and then validated, so a mistake is reported once, with the path
of the offending key, before any DAG is built.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from airflow.sdk import CronDataIntervalTimetable
from airflow.sdk.exceptions import AirflowTimetableInvalid
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

AIRFLOW_PROJECT_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = AIRFLOW_PROJECT_DIR.parent
DEFAULT_CONFIG_PATH = AIRFLOW_PROJECT_DIR / "config" / "pipelines.yaml"
DEFAULT_CLI_SCRIPT = REPO_ROOT / "dist" / "cli" / "main.js"

# Environment variables that override the YAML, read when the DAG file is parsed.
CONFIG_PATH_ENV = "INSTAPRO_AIRFLOW_PIPELINES_CONFIG"
EXECUTION_MODE_ENV = "INSTAPRO_AIRFLOW_EXECUTION_MODE"
CLI_COMMAND_ENV = "INSTAPRO_CLI"

ExecutionMode = Literal["kubernetes", "local"]
# incremental: ingest the interval's partitions, then the incremental model, snapshot, tests.
# full: `run --full-refresh`, the model rebuilt from everything loaded, snapshot and tests.
Refresh = Literal["incremental", "full"]
PARTITION_TEMPLATE_VARIABLES = frozenset({"ds", "ds_nodash"})

# Airflow Variables that let a deployment override the YAML without a commit to the DAGs. Read
# when a task runs, never when the DAG file is parsed; an AIRFLOW_VAR_<NAME> environment variable
# sets them too (the instapro chart's Airflow ConfigMap does, deploy/README.md).
PIPELINE_IMAGE_VARIABLE = "instapro_pipeline_image"
INPUT_TEMPLATE_VARIABLE = "instapro_input_template"
EXECUTION_MODES: tuple[str, ...] = ("kubernetes", "local")

CRON_PRESETS = {
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}

_PIPELINE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Kubernetes object names: namespaces are DNS-1123 labels, ConfigMaps, Secrets and
# service accounts are DNS-1123 subdomains.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$")
_DURATION_PART = re.compile(r"(\d+)([dhms])")
_DURATION_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class PipelineConfigError(ValueError):
    """The pipelines YAML is missing, unreadable or invalid; the message says where and why."""


def parse_duration(value: Any) -> timedelta:
    """Parse ``90`` (seconds), ``"30s"``, ``"5m"``, ``"2h"``, ``"1d"`` or ``"1h30m"``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace(" ", "")
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(number + unit for number, unit in parts) != text:
            raise ValueError(
                f"{value!r} is not a duration: use seconds (90) or a string like '30s', '5m', '2h', '1d', '1h30m'"
            )
        seconds = int(
            timedelta(**{_DURATION_UNITS[unit]: int(number) for number, unit in parts}).total_seconds()
        )
    else:
        raise ValueError(f"{value!r} is not a duration: use seconds (90) or a string like '5m'")
    if seconds <= 0:
        raise ValueError(f"{value!r} is not a positive duration")
    return timedelta(seconds=seconds)


def normalise_schedule(value: Any) -> str:
    """Return the five-field cron expression for a schedule, or raise with the reason.

    Only schedules whose runs start at midnight UTC are accepted: the pipeline CLI works
    on whole calendar days, so each data interval must be [midnight, midnight).
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a schedule: use {_schedule_hint()}")
    text = " ".join(value.split())
    expression = CRON_PRESETS.get(text, text)
    if expression.startswith("@"):
        raise ValueError(f"{value!r} is not a supported schedule: use {_schedule_hint()}")
    fields = expression.split(" ")
    if len(fields) != 5:
        raise ValueError(f"{value!r} is not a schedule: use {_schedule_hint()}")
    try:
        CronDataIntervalTimetable(expression, timezone="UTC").validate()
    except AirflowTimetableInvalid as error:
        raise ValueError(f"{value!r} is not a valid cron expression ({error}): use {_schedule_hint()}") from None
    minute, hour = fields[0], fields[1]
    if minute != "0" or hour != "0":
        raise ValueError(
            f"{value!r} does not run at midnight: the CLI snapshots whole calendar days, so the "
            "schedule's minute and hour fields must both be 0 (e.g. '0 0 * * 1-5')"
        )
    return expression


def _schedule_hint() -> str:
    return ", ".join(CRON_PRESETS) + " or a five-field cron expression that runs at midnight, such as '0 0 * * 1'"


class _StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResourceSettings(_StrictModel):
    """Kubernetes resource requests and limits of each pipeline pod, e.g. ``cpu: 250m``."""

    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)

    @field_validator("requests", "limits", mode="before")
    @classmethod
    def _quantities(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            return value
        checked = {}
        for resource, quantity in value.items():
            text = str(quantity).strip()
            if isinstance(quantity, bool) or not _QUANTITY.match(text):
                raise ValueError(
                    f"{resource}: {quantity!r} is not a Kubernetes quantity (e.g. 250m, 1, 512Mi, 2Gi)"
                )
            checked[resource] = text
        return checked


def _check_name(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.match(value):
        raise ValueError(f"{value!r} is not a valid {what} (lowercase letters, digits and '-')")
    return value


class KubernetesSettings(_StrictModel):
    """Where and how the pipeline pods run in ``kubernetes`` mode."""

    image: str = Field(min_length=1)
    tag: str = Field(min_length=1)
    namespace: str
    service_account: str
    config_map: str
    secret: str
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    startup_timeout: timedelta = timedelta(minutes=5)
    resources: ResourceSettings = Field(default_factory=ResourceSettings)
    # Secrets of type kubernetes.io/dockerconfigjson for a private registry, in `namespace`.
    image_pull_secrets: list[str] = Field(default_factory=list)

    @field_validator("image", "tag")
    @classmethod
    def _no_whitespace(cls, value: str) -> str:
        if any(character.isspace() for character in value):
            raise ValueError(f"{value!r} must not contain whitespace")
        return value

    @field_validator("tag", mode="before")
    @classmethod
    def _tag_is_text(cls, value: Any) -> Any:
        # YAML reads `tag: 1.10` as the float 1.1; converting back would silently pick another image.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(
                f"{value!r} was read as a number, which can change it (1.10 reads as 1.1): quote image tags in YAML"
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return _check_name(value, _DNS_LABEL, "Kubernetes namespace")

    @field_validator("service_account", "config_map", "secret")
    @classmethod
    def _object_name(cls, value: str) -> str:
        return _check_name(value, _DNS_SUBDOMAIN, "Kubernetes object name")

    @field_validator("image_pull_secrets", mode="before")
    @classmethod
    def _pull_secret_names(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, list):
            for name in value:
                if not isinstance(name, str):
                    raise ValueError(f"{name!r} is not a Secret name: list the names, e.g. [registry-pull-secret]")
                _check_name(name, _DNS_SUBDOMAIN, "Kubernetes object name")
        return value

    @field_validator("startup_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @property
    def image_reference(self) -> str:
        return f"{self.image}:{self.tag}"


class InputSettings(_StrictModel):
    """Where ingest finds the events of one day: a partition of the landing zone."""

    # A Jinja template rendered once per day of the run's interval, with `ds` (YYYY-MM-DD) and
    # `ds_nodash` bound to that day, e.g. "s3://landing/events/date={{ ds }}/". The Airflow
    # Variable INPUT_TEMPLATE_VARIABLE overrides it at run time (see airflow/README.md).
    partition_template: str = Field(min_length=1)

    @field_validator("partition_template")
    @classmethod
    def _parses(cls, value: str) -> str:
        check_partition_template(value)
        return value


def check_partition_template(template: str) -> None:
    """Raise ValueError unless the template parses and uses no variable but ds/ds_nodash."""
    from jinja2 import Environment, TemplateSyntaxError, meta

    try:
        names = meta.find_undeclared_variables(Environment().parse(template))
    except TemplateSyntaxError as error:
        raise ValueError(f"{template!r} is not a valid Jinja template: {error.message}") from None
    unknown = sorted(names - PARTITION_TEMPLATE_VARIABLES)
    if unknown:
        raise ValueError(
            f"{template!r} uses {', '.join(unknown)}: a partition template knows only "
            f"{', '.join(sorted(PARTITION_TEMPLATE_VARIABLES))} (the partition's day)"
        )


class LocalSettings(_StrictModel):
    """How the CLI runs in ``local`` mode (as a subprocess of the Airflow worker)."""

    # Shell-style command line; the pipeline step's arguments are appended to it.
    cli_command: str | None = None
    # Directory the CLI runs in; relative INSTAPRO_INPUT / INSTAPRO_DATA_DIR resolve from here.
    working_directory: str = str(REPO_ROOT)

    @field_validator("cli_command")
    @classmethod
    def _splittable(cls, value: str | None) -> str | None:
        if value is not None:
            _split_command(value, "cli_command")
        return value

    @property
    def command(self) -> list[str]:
        """The CLI command as an argument list (``node <repo>/dist/cli/main.js`` when unset)."""
        if self.cli_command is None:
            return ["node", str(DEFAULT_CLI_SCRIPT)]
        return _split_command(self.cli_command, "cli_command")


def _split_command(value: str, what: str) -> list[str]:
    try:
        parts = shlex.split(value)
    except ValueError as error:
        raise ValueError(f"{what} {value!r} cannot be split into arguments: {error}") from None
    if not parts:
        raise ValueError(f"{what} must not be empty")
    return parts


class PipelineConfig(_StrictModel):
    """One pipeline (one DAG) after merging its YAML entry over ``defaults``."""

    name: str
    description: str = ""
    schedule: str
    start_date: date
    catchup: bool = False
    owner: str = "instapro"
    retries: int = Field(default=2, ge=0)
    retry_delay: timedelta = timedelta(minutes=5)
    execution_timeout: timedelta = timedelta(hours=1)
    execution_mode: ExecutionMode = "kubernetes"
    refresh: Refresh = "incremental"
    pool: str | None = None
    tags: list[str] = Field(default_factory=list)
    kubernetes: KubernetesSettings
    input: InputSettings
    local: LocalSettings = Field(default_factory=LocalSettings)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _PIPELINE_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a valid pipeline name (lowercase letters, digits and '_', starting with a letter)"
            )
        return value

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> str:
        return normalise_schedule(value)

    @field_validator("retry_delay", "execution_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @property
    def dag_id(self) -> str:
        return f"instapro_{self.name}"


def load_pipelines(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[PipelineConfig]:
    """Read, merge and validate the pipelines YAML; apply environment overrides.

    ``path`` defaults to ``$INSTAPRO_AIRFLOW_PIPELINES_CONFIG`` or ``config/pipelines.yaml``.
    Raises :class:`PipelineConfigError` listing every problem found.
    """
    environ = os.environ if environ is None else environ
    config_path = Path(path or environ.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_PATH)
    document = _read_yaml(config_path)
    return parse_pipelines(document, source=str(config_path), environ=environ)


def parse_pipelines(
    document: Any,
    source: str = "<pipelines config>",
    environ: Mapping[str, str] | None = None,
) -> list[PipelineConfig]:
    """Validate an already-parsed YAML document; see :func:`load_pipelines`."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    if not isinstance(document, Mapping):
        raise PipelineConfigError(f"{source}: expected a mapping with 'defaults' and 'pipelines' keys")
    unknown = sorted(set(document) - {"defaults", "pipelines"})
    if unknown:
        problems.append(f"{', '.join(map(str, unknown))}: unknown top-level key (allowed: defaults, pipelines)")
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        problems.append("defaults: expected a mapping of settings shared by all pipelines")
        defaults = {}
    pipelines = document.get("pipelines")
    if not isinstance(pipelines, Mapping) or not pipelines:
        problems.append("pipelines: missing required key (a mapping of pipeline name to its settings)")
        pipelines = {}

    overrides = _environment_overrides(environ, problems)
    configs: list[PipelineConfig] = []
    for name, entry in pipelines.items():
        if entry is None:
            entry = {}
        if not isinstance(entry, Mapping):
            problems.append(f"pipelines.{name}: expected a mapping of settings")
            continue
        if "name" in entry:
            problems.append(f"pipelines.{name}.name: unknown key (the pipeline's name is its key)")
            continue
        merged = _deep_merge(_deep_merge(defaults, entry), overrides)
        merged["name"] = name
        try:
            configs.append(PipelineConfig.model_validate(merged))
        except ValidationError as error:
            problems.extend(_describe(error, prefix=f"pipelines.{name}"))

    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise PipelineConfigError(f"invalid pipeline configuration in {source}:\n{listed}")
    return configs


def _environment_overrides(environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    mode = environ.get(EXECUTION_MODE_ENV, "").strip()
    if mode:
        if mode in EXECUTION_MODES:
            overrides["execution_mode"] = mode
        else:
            problems.append(f"{EXECUTION_MODE_ENV}={mode!r}: expected one of {', '.join(EXECUTION_MODES)}")
    cli_command = environ.get(CLI_COMMAND_ENV, "").strip()
    if cli_command:
        try:
            _split_command(cli_command, CLI_COMMAND_ENV)
            overrides["local"] = {"cli_command": cli_command}
        except ValueError as error:
            problems.append(str(error))
    return overrides


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PipelineConfigError(
            f"pipeline configuration {path} not found (set {CONFIG_PATH_ENV} to point at another file)"
        ) from None
    except OSError as error:
        raise PipelineConfigError(f"cannot read pipeline configuration {path}: {error}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise PipelineConfigError(f"{path} is not valid YAML{where}: {problem}") from None


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError, prefix: str) -> list[str]:
    messages = []
    for detail in error.errors():
        location = ".".join(str(part) for part in (prefix, *detail["loc"]))
        kind = detail["type"]
        if kind == "missing":
            messages.append(f"{location}: missing required key")
        elif kind == "extra_forbidden":
            messages.append(f"{location}: unknown key (see the YAML reference in airflow/README.md)")
        elif kind == "value_error":
            # Our validators' messages already quote the offending value; pydantic prefixes them.
            messages.append(f"{location}: {detail['msg'].removeprefix('Value error, ')}")
        else:
            messages.append(f"{location}: {detail['msg']} (got {detail.get('input')!r})")
    return messages
