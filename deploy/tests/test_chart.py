"""The instapro chart: RBAC split, warehouse, credentials handling and names the DAGs rely on."""
from __future__ import annotations

import base64
import json
import re

import pytest

from conftest import (
    CHART,
    KIND_INSTAPRO_VALUES,
    PIPELINES_CONFIG,
    PRODUCTION_VALUES,
    RELEASE,
    REPOSITORY,
    RenderError,
    find,
    load_yaml,
    only,
)

SETTINGS = f"{RELEASE}-settings"
AIRFLOW_VARIABLES = f"{RELEASE}-airflow"
RBAC_ON = {"rbac.create": True}

STANDARD_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
}


@pytest.fixture(scope="module")
def kubernetes_settings() -> dict:
    """What the DAG factory launches pods with (airflow/config/pipelines.yaml, defaults)."""
    return load_yaml(PIPELINES_CONFIG)["defaults"]["kubernetes"]


# -- RBAC: who may do what ------------------------------------------------------------------


def test_no_role_of_its_own_by_default(render):
    # The official Airflow chart's pod-launcher Role covers the worker in Airflow's namespace
    # (test_airflow_chart_render.py); this one is for pipeline pods in another namespace.
    manifests = render()
    assert not find(manifests, "Role") and not find(manifests, "RoleBinding")


def test_pod_launcher_role_grants_what_the_kubernetes_pod_operator_needs(render):
    role = only(render(set_values=RBAC_ON), "Role", f"{RELEASE}-pod-launcher")
    granted = {(resource, verb) for rule in role["rules"] for resource in rule["resources"] for verb in rule["verbs"]}
    for verb in ("create", "get", "list", "watch", "delete"):
        assert ("pods", verb) in granted
    assert ("pods/log", "get") in granted
    assert ("events", "list") in granted
    # Nothing beyond pods, their logs and events; exec only when asked for.
    assert {resource for resource, _ in granted} == {"pods", "pods/log", "events"}
    assert all(rule["apiGroups"] == [""] for rule in role["rules"])


def test_pod_exec_is_opt_in(render):
    role = only(render(set_values={**RBAC_ON, "rbac.allowPodExec": True}), "Role")
    assert any("pods/exec" in rule["resources"] for rule in role["rules"])


def test_role_is_bound_to_the_airflow_worker_only(render):
    binding = only(render(set_values=RBAC_ON), "RoleBinding", f"{RELEASE}-pod-launcher")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{RELEASE}-pod-launcher"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "airflow-worker", "namespace": "instapro"}]


def test_pipeline_pods_get_no_api_access(render, kubernetes_settings):
    manifests = render(KIND_INSTAPRO_VALUES, set_values=RBAC_ON)
    account = only(manifests, "ServiceAccount", kubernetes_settings["service_account"])
    assert account["automountServiceAccountToken"] is False
    for binding in find(manifests, "RoleBinding") + find(manifests, "ClusterRoleBinding"):
        assert all(subject["name"] != account["metadata"]["name"] for subject in binding["subjects"])


# -- Names the DAG factory uses ----------------------------------------------------------------


def test_object_names_match_what_the_dags_launch_pods_with(render, kubernetes_settings):
    manifests = render()
    assert only(manifests, "ConfigMap", SETTINGS)["metadata"]["name"] == kubernetes_settings["config_map"]
    assert only(manifests, "Secret")["metadata"]["name"] == kubernetes_settings["secret"]
    assert only(manifests, "ServiceAccount")["metadata"]["name"] == kubernetes_settings["service_account"]
    assert all(m["metadata"]["namespace"] == kubernetes_settings["namespace"] for m in manifests)


def test_image_tag_is_the_one_the_dags_run(kubernetes_settings):
    chart = load_yaml(CHART / "Chart.yaml")
    package = json.loads((REPOSITORY / "package.json").read_text())
    assert chart["appVersion"] == package["version"] == kubernetes_settings["tag"]
    assert load_yaml(CHART / "values.yaml")["image"]["repository"] == kubernetes_settings["image"]


# -- What the DAGs read at run time (Airflow ConfigMap) ------------------------------------------


def test_a_release_sets_the_image_the_dags_launch(render):
    """`helm upgrade --set image.tag=...` is a release: no commit to the DAG repository."""
    variables = only(render(PRODUCTION_VALUES, set_values={"image.tag": "3f2c1ab"}), "ConfigMap", AIRFLOW_VARIABLES)["data"]
    assert variables["AIRFLOW_VAR_INSTAPRO_PIPELINE_IMAGE"] == "registry.example.com/data-platform/instapro:3f2c1ab"
    default = only(render(), "ConfigMap", AIRFLOW_VARIABLES)["data"]
    assert default == {"AIRFLOW_VAR_INSTAPRO_PIPELINE_IMAGE": "instapro:0.1.0"}


def test_input_partition_template_reaches_airflow_verbatim(render):
    template = "s3://landing-bucket/events/date={{ ds }}/"
    variables = only(render(set_values={"airflow.inputPartitionTemplate": template}), "ConfigMap", AIRFLOW_VARIABLES)["data"]
    # Rendered by Airflow per day, so helm must leave the braces alone.
    assert variables["AIRFLOW_VAR_INSTAPRO_INPUT_TEMPLATE"] == template


def test_private_registry_pull_secret_reaches_the_pipeline_pods(render, kubernetes_settings):
    manifests = render(PRODUCTION_VALUES)
    account = only(manifests, "ServiceAccount", kubernetes_settings["service_account"])
    # Kubernetes adds a service account's pull Secrets to its pods that name none themselves.
    assert account["imagePullSecrets"] == [{"name": "registry-pull-secret"}]
    assert only(manifests, "Pod")["spec"]["imagePullSecrets"] == [{"name": "registry-pull-secret"}]
    assert "imagePullSecrets" not in only(render(), "ServiceAccount")


# -- Credentials -------------------------------------------------------------------------------


def decoded(secret: dict, key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def test_generated_password_is_random_and_kept_on_uninstall(render):
    first = only(render(), "Secret")
    second = only(render(), "Secret")
    assert len(decoded(first, "INSTAPRO_DB_PASSWORD")) >= 32
    assert decoded(first, "INSTAPRO_DB_PASSWORD") != decoded(second, "INSTAPRO_DB_PASSWORD")
    assert first["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_password_given_at_install_time_is_used_as_is(render):
    secret = only(render(set_values={"credentials.password": "given-at-install"}), "Secret")
    assert decoded(secret, "INSTAPRO_DB_PASSWORD") == "given-at-install"
    assert "helm.sh/resource-policy" not in (secret["metadata"].get("annotations") or {})


def test_existing_secret_replaces_the_generated_one_everywhere(render):
    manifests = render(KIND_INSTAPRO_VALUES, set_values={"credentials.existingSecret": "team-managed-credentials"})
    assert not find(manifests, "Secret")
    references = set()
    for manifest in manifests:
        text = json.dumps(manifest)
        references |= set(re.findall(r'"secretRef": \{"name": "([^"]+)"', text))
        references |= set(re.findall(r'"secretKeyRef": \{"name": "([^"]+)"', text))
    assert references == {"team-managed-credentials"}


def test_s3_keys_are_in_the_secret_only_when_given(render):
    given = only(render(set_values={"credentials.s3AccessKeyId": "AKIDEXAMPLE", "credentials.s3SecretAccessKey": "s3-secret"}), "Secret")
    assert decoded(given, "AWS_ACCESS_KEY_ID") == "AKIDEXAMPLE"
    assert decoded(given, "AWS_SECRET_ACCESS_KEY") == "s3-secret"
    # Without keys the AWS SDK's other sources apply (an empty key would shadow them).
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(only(render(), "Secret")["data"])
    with pytest.raises(RenderError, match="go together"):
        render(set_values={"credentials.s3AccessKeyId": "AKIDEXAMPLE"})


def test_s3_endpoint_is_written_only_when_set(render):
    assert "AWS_ENDPOINT_URL_S3" not in only(render(), "ConfigMap", SETTINGS)["data"]
    settings = only(render(KIND_INSTAPRO_VALUES), "ConfigMap", SETTINGS)["data"]
    assert settings["AWS_ENDPOINT_URL_S3"] == "http://instapro-landing.instapro.svc:8333"
    assert settings["INSTAPRO_S3_FORCE_PATH_STYLE"] == "true"
    assert not any(key.startswith("AWS_") and "KEY" in key for key in settings)


def test_production_values_use_an_existing_secret_and_tls(render):
    manifests = render(PRODUCTION_VALUES)
    assert not find(manifests, "Secret"), "production credentials come from a Secret managed outside the chart"
    assert not find(manifests, "StatefulSet"), "production uses an external database"
    settings = only(manifests, "ConfigMap", SETTINGS)["data"]
    assert settings["INSTAPRO_DB_HOST"] and settings["INSTAPRO_DB_SSLMODE"] == "verify-full"
    test_pod = only(manifests, "Pod")
    assert test_pod["spec"]["containers"][0]["resources"]["limits"]


LITERAL_PASSWORD_KEYS = re.compile(r"pass(word)?$", re.IGNORECASE)


def literal_passwords(document, path=""):
    """(path, value) of every non-empty literal under a key that names a password."""
    if isinstance(document, dict):
        for key, value in document.items():
            here = f"{path}.{key}" if path else str(key)
            if LITERAL_PASSWORD_KEYS.search(str(key)) and isinstance(value, (str, int)) and str(value):
                yield here, value
            yield from literal_passwords(value, here)
    elif isinstance(document, list):
        for index, item in enumerate(document):
            yield from literal_passwords(item, f"{path}[{index}]")


@pytest.mark.parametrize("values_file", [CHART / "values.yaml", PRODUCTION_VALUES, KIND_INSTAPRO_VALUES], ids=lambda p: p.name)
def test_no_password_is_committed_in_chart_values(values_file):
    assert list(literal_passwords(load_yaml(values_file))) == []


# -- Warehouse ---------------------------------------------------------------------------------


def test_warehouse_is_off_by_default(render):
    manifests = render()
    assert not find(manifests, "StatefulSet") and not find(manifests, "Service")
    assert only(manifests, "ConfigMap", SETTINGS)["data"]["INSTAPRO_DB_HOST"] == ""


def test_warehouse_runs_official_postgres_16_with_a_volume(render):
    manifests = render(set_values={"warehouse.enabled": True})
    statefulset = only(manifests, "StatefulSet", f"{RELEASE}-warehouse")
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "postgres:16"
    claim = statefulset["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"]
    assert {"name": "data", "mountPath": "/var/lib/postgresql/data"} in container["volumeMounts"]
    service = only(manifests, "Service", f"{RELEASE}-warehouse")
    assert service["spec"]["selector"] == statefulset["spec"]["selector"]["matchLabels"]
    assert statefulset["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_warehouse_is_initialised_with_the_pipeline_credentials(render):
    manifests = render(set_values={"warehouse.enabled": True})
    container = only(manifests, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    secret_name = only(manifests, "Secret")["metadata"]["name"]
    assert env["POSTGRES_USER"]["valueFrom"]["secretKeyRef"] == {"name": secret_name, "key": "INSTAPRO_DB_USER"}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": secret_name, "key": "INSTAPRO_DB_PASSWORD"}
    settings = only(manifests, "ConfigMap", SETTINGS)["data"]
    assert env["POSTGRES_DB"]["value"] == settings["INSTAPRO_DB_NAME"]
    assert settings["INSTAPRO_DB_HOST"] == f"{RELEASE}-warehouse.instapro.svc"
    assert settings["INSTAPRO_DB_PORT"] == str(only(manifests, "Service")["spec"]["ports"][0]["port"])


def test_explicit_database_host_wins_over_the_warehouse(render):
    settings = only(render(set_values={"warehouse.enabled": True, "settings.database.host": "db.example.com"}), "ConfigMap", SETTINGS)["data"]
    assert settings["INSTAPRO_DB_HOST"] == "db.example.com"


# -- Schema and guards -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_values",
    [
        {"settings.rawSchema": "instapro"},  # same as settings.schema: the CLI refuses to start
        {"settings.schema": "Instapro-Mart"},  # not a plain SQL identifier
        {"settings.maxRejectRatio": "1.5"},
        {"settings.database.port": 0},
        {"credentials.databaseUrl": "mysql://somewhere/db"},
        {"warehouse.storage.size": "lots"},
        {"unknownTopLevelKey": "x"},
        {"settings.s3.endpoint": "seaweedfs:8333"},  # not a URL: the SDK would refuse it at run time
    ],
    ids=lambda values: next(iter(values)),
)
def test_invalid_values_are_refused_before_anything_is_deployed(render, bad_values):
    with pytest.raises(RenderError):
        render(set_values=bad_values)


def test_every_object_carries_the_standard_labels(render):
    for manifest in render(KIND_INSTAPRO_VALUES):
        labels = manifest["metadata"].get("labels") or {}
        assert STANDARD_LABELS <= set(labels), manifest["metadata"]["name"]
        assert labels["app.kubernetes.io/instance"] == RELEASE


def test_helm_test_pod_uses_the_pipeline_environment(render, kubernetes_settings):
    pod = only(render(), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    assert container["envFrom"] == [
        {"configMapRef": {"name": kubernetes_settings["config_map"]}},
        {"secretRef": {"name": kubernetes_settings["secret"]}},
    ]
    assert pod["spec"]["serviceAccountName"] == kubernetes_settings["service_account"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


NOTES_AS_CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: rendered-notes
data:
  notes: |
{{ include (print .Template.BasePath "/NOTES.txt") . | indent 4 }}
"""


@pytest.mark.parametrize("values_files", [(), (PRODUCTION_VALUES,), (KIND_INSTAPRO_VALUES,)], ids=["default", "production", "kind-warehouse"])
def test_notes_render_and_name_the_objects_airflow_needs(helm, tmp_path, values_files, kubernetes_settings):
    """NOTES.txt only renders on install; render it through a copy of the chart instead."""
    import shutil
    import subprocess

    chart_copy = tmp_path / "instapro"
    shutil.copytree(CHART, chart_copy)
    (chart_copy / "templates" / "zz-rendered-notes.yaml").write_text(NOTES_AS_CONFIGMAP)
    command = [helm, "template", RELEASE, str(chart_copy), "--namespace", "instapro", "--show-only", "templates/zz-rendered-notes.yaml"]
    for values_file in values_files:
        command += ["--values", str(values_file)]
    completed = subprocess.run(command, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    notes = load_yaml_text(completed.stdout)["data"]["notes"]
    assert "extraEnvFrom" in notes and AIRFLOW_VARIABLES in notes and kubernetes_settings["config_map"] in notes
    assert "helm test" in notes


def load_yaml_text(text: str):
    import yaml

    return yaml.safe_load(text)
