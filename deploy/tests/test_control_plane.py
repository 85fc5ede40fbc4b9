"""The chart and the pipeline pods against a real kube-apiserver, the way controller projects use
envtest: etcd and kube-apiserver from deploy/envtest/build-control-plane.sh (built from the Go
module proxy, cached outside the repository), no kubelet or controllers.

In a namespace that enforces the restricted Pod Security Standard it checks that `helm install`
of the chart is accepted, that every pod the chart and the DAG factory would create passes
admission (server-side dry run, so the PodSecurity admission plugin judges the real objects),
and what the service accounts may do (SubjectAccessReview). Skipped, saying so, when the
binaries are not built: INSTAPRO_ENVTEST_BIN names their directory; test-deploy.sh builds them
with INSTAPRO_BUILD_ENVTEST=1.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from conftest import CHART, KIND_INSTAPRO_VALUES, PIPELINES_CONFIG, PRODUCTION_VALUES, REPOSITORY, load_yaml

NAMESPACE = "instapro"
# The worker service account of an Airflow release named "airflow" (official chart).
AIRFLOW_WORKER = "airflow-worker"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ApiServer:
    """A running etcd + kube-apiserver, reached with a static admin token."""

    def __init__(self, url: str, token: str, kubeconfig: Path):
        self.url, self.token, self.kubeconfig = url, token, kubeconfig
        self._tls = ssl.create_default_context()
        self._tls.check_hostname = False
        self._tls.verify_mode = ssl.CERT_NONE

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, context=self._tls, timeout=30) as response:
                return response.status, self._body(response.read())
        except urllib.error.HTTPError as error:
            return error.code, self._body(error.read())

    @staticmethod
    def _body(raw: bytes) -> dict:
        # /readyz answers plain text; the API answers JSON.
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {"text": raw.decode(errors="replace")}

    def can(self, service_account: str, verb: str, resource: str, subresource: str = "") -> bool:
        status, review = self.request(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {
                    "user": f"system:serviceaccount:{NAMESPACE}:{service_account}",
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}"],
                    "resourceAttributes": {"namespace": NAMESPACE, "verb": verb, "resource": resource, "subresource": subresource},
                },
            },
        )
        assert status == 201, review
        return review["status"].get("allowed", False)

    def admit_pod(self, pod: dict) -> tuple[int, dict]:
        """Creates the pod with dryRun=All: every admission plugin runs, nothing is stored."""
        return self.request("POST", f"/api/v1/namespaces/{NAMESPACE}/pods?dryRun=All", pod)


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory) -> Iterator[ApiServer]:
    binaries = Path(os.environ.get("INSTAPRO_ENVTEST_BIN", "") or "/nonexistent")
    if not (binaries / "kube-apiserver").is_file() or not (binaries / "etcd").is_file():
        pytest.skip(
            f"no kube-apiserver and etcd in {binaries}: build them with deploy/envtest/build-control-plane.sh "
            "(10-20 minutes once) and set INSTAPRO_ENVTEST_BIN, or run test-deploy.sh with INSTAPRO_BUILD_ENVTEST=1"
        )
    work = tmp_path_factory.mktemp("control-plane")
    subprocess.run(["openssl", "genrsa", "-out", str(work / "sa.key"), "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", str(work / "sa.key"), "-pubout", "-out", str(work / "sa.pub")], check=True, capture_output=True)
    token = base64.b32encode(os.urandom(20)).decode().lower()
    (work / "tokens.csv").write_text(f"{token},envtest-admin,envtest-admin,system:masters\n")
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    logs = [open(work / "etcd.log", "w"), open(work / "kube-apiserver.log", "w")]
    processes = [
        subprocess.Popen(
            [
                str(binaries / "etcd"), "--data-dir", str(work / "etcd"), "--name", "envtest",
                "--listen-client-urls", f"http://127.0.0.1:{etcd_port}", "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer_port}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                "--initial-cluster", f"envtest=http://127.0.0.1:{peer_port}", "--unsafe-no-fsync",
            ],
            stdout=logs[0], stderr=subprocess.STDOUT,
        )
    ]
    processes.append(
        subprocess.Popen(
            [
                str(binaries / "kube-apiserver"), "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
                "--bind-address", "127.0.0.1", "--secure-port", str(api_port), "--cert-dir", str(work / "certs"),
                "--token-auth-file", str(work / "tokens.csv"), "--authorization-mode", "RBAC",
                "--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", str(work / "sa.pub"),
                "--service-account-signing-key-file", str(work / "sa.key"), "--service-cluster-ip-range", "10.96.0.0/24",
            ],
            stdout=logs[1], stderr=subprocess.STDOUT,
        )
    )
    url = f"https://127.0.0.1:{api_port}"
    kubeconfig = work / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "envtest",
        "clusters": [{"name": "envtest", "cluster": {"server": url, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "envtest", "context": {"cluster": "envtest", "user": "admin", "namespace": NAMESPACE}}],
    }))
    server = ApiServer(url, token, kubeconfig)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if server.request("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or any(process.poll() is not None for process in processes):
                pytest.fail("kube-apiserver did not become ready:\n" + (work / "kube-apiserver.log").read_text()[-3000:])
            time.sleep(1)
        status, body = server.request("POST", "/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": NAMESPACE, "labels": {
                "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
                # warn: the server also judges pod templates (the StatefulSet) and tells helm.
                "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "latest"}},
        })
        assert status == 201, body
        # What the service account controller (not running here) would create in every namespace.
        status, body = server.request("POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts",
                                      {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
        assert status == 201, body
        yield server
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


@pytest.fixture(scope="module")
def installed(control_plane: ApiServer, helm: str) -> list[dict]:
    """`helm install` of the chart with the kind values plus its cross-namespace Role, as rendered."""
    arguments = [
        "--namespace", NAMESPACE, "--kubeconfig", str(control_plane.kubeconfig), "--values", str(KIND_INSTAPRO_VALUES),
        "--set-string", "credentials.s3AccessKeyId=envtest", "--set-string", "credentials.s3SecretAccessKey=envtest-secret",
        "--set", "rbac.create=true", "--set-string", f"rbac.podLaunchers[0].name={AIRFLOW_WORKER}",
    ]
    completed = subprocess.run([helm, "install", "instapro", str(CHART), *arguments], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    # Server-side validation warnings (PodSecurity "would violate") are printed on stderr.
    assert "would violate PodSecurity" not in completed.stderr, completed.stderr
    manifest = subprocess.run(
        [helm, "get", "manifest", "instapro", "--namespace", NAMESPACE, "--kubeconfig", str(control_plane.kubeconfig)],
        capture_output=True, text=True, check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


def pod_from_template(name: str, template: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **{k: v for k, v in template["metadata"].items() if k == "labels"}}, "spec": template["spec"]}


def test_chart_objects_are_stored(control_plane, installed):
    for manifest in installed:
        kind = manifest["kind"]
        path = {
            "ConfigMap": "/api/v1/namespaces/{ns}/configmaps/{name}",
            "Secret": "/api/v1/namespaces/{ns}/secrets/{name}",
            "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts/{name}",
            "Service": "/api/v1/namespaces/{ns}/services/{name}",
            "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets/{name}",
            "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/{name}",
            "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/{name}",
        }[kind]
        status, _ = control_plane.request("GET", path.format(ns=NAMESPACE, name=manifest["metadata"]["name"]))
        assert status == 200, f"{kind}/{manifest['metadata']['name']}"


def test_warehouse_and_helm_test_pods_pass_the_restricted_standard(control_plane, installed, helm):
    statefulset = next(m for m in installed if m["kind"] == "StatefulSet")
    name = f"{statefulset['metadata']['name']}-0"
    pod = pod_from_template(name, statefulset["spec"]["template"])
    # The volumes the StatefulSet controller (not running here) adds for its claim templates.
    pod["spec"]["volumes"] = [
        *pod["spec"].get("volumes", []),
        *({"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": f"{claim['metadata']['name']}-{name}"}}
          for claim in statefulset["spec"]["volumeClaimTemplates"]),
    ]
    status, body = control_plane.admit_pod(pod)
    assert status == 201, body.get("message")
    rendered = subprocess.run(
        [helm, "template", "instapro", str(CHART), "--namespace", NAMESPACE, "--values", str(KIND_INSTAPRO_VALUES), "--show-only", "templates/tests/test-database-connection.yaml"],
        capture_output=True, text=True, check=True,
    ).stdout
    status, body = control_plane.admit_pod(yaml.safe_load(rendered))
    assert status == 201, body.get("message")


def test_a_privileged_pod_is_refused_so_the_checks_above_mean_something(control_plane, installed):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    status, body = control_plane.admit_pod(pod)
    assert status == 403 and "violates PodSecurity" in body["message"]


@pytest.mark.parametrize(("dag_id", "task_id"), [("instapro_daily", "ingest"), ("instapro_daily", "snapshot"), ("instapro_monthly", "full_refresh")])
def test_the_pod_the_operator_would_create_is_accepted(control_plane, installed, tmp_path, dag_id, task_id):
    python = REPOSITORY / "airflow" / ".venv" / "bin" / "python"
    if not python.is_file():
        pytest.skip("airflow/.venv is missing (airflow/scripts/setup-venv.sh builds it): it builds the operator's pod")
    out = tmp_path / "pod.json"
    completed = subprocess.run([str(python), str(REPOSITORY / "deploy" / "envtest" / "pipeline_pod.py"), dag_id, task_id, "2020-03-10", str(out)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
    pod = json.loads(out.read_text())
    status, body = control_plane.admit_pod(pod)
    assert status == 201, body.get("message")
    # The ServiceAccount admission plugin added the account's pull Secrets (none with the kind
    # values) and mounted no token: the account has automountServiceAccountToken false.
    mounts = [m["mountPath"] for c in body["spec"]["containers"] for m in c.get("volumeMounts", [])]
    assert "/var/run/secrets/kubernetes.io/serviceaccount" not in mounts


def test_service_accounts_can_do_what_they_need_and_no_more(control_plane, installed):
    pipeline = load_yaml(PIPELINES_CONFIG)["defaults"]["kubernetes"]["service_account"]
    for verb, resource, subresource in [("create", "pods", ""), ("get", "pods", ""), ("watch", "pods", ""), ("delete", "pods", ""), ("patch", "pods", ""), ("get", "pods", "log"), ("list", "events", "")]:
        assert control_plane.can(AIRFLOW_WORKER, verb, resource, subresource), (verb, resource, subresource)
    for verb, resource, subresource in [("create", "pods", "exec"), ("get", "secrets", ""), ("list", "configmaps", ""), ("create", "deployments", "")]:
        assert not control_plane.can(AIRFLOW_WORKER, verb, resource, subresource), (verb, resource, subresource)
    for verb, resource in [("get", "pods"), ("list", "secrets"), ("get", "configmaps"), ("create", "pods")]:
        assert not control_plane.can(pipeline, verb, resource), (verb, resource)


def test_private_registry_pull_secret_is_added_to_pipeline_pods(control_plane, helm, tmp_path):
    """With the production values the service account carries the pull Secret; the server adds it."""
    rendered = subprocess.run(
        [helm, "template", "instapro", str(CHART), "--namespace", NAMESPACE, "--values", str(PRODUCTION_VALUES), "--show-only", "templates/serviceaccount.yaml", "--set-string", "pipelineServiceAccount.name=instapro-pipeline-private"],
        capture_output=True, text=True, check=True,
    ).stdout
    account = yaml.safe_load(rendered)
    status, body = control_plane.request("POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", account)
    assert status == 201, body
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pipeline-private"},
        "spec": {
            "serviceAccountName": "instapro-pipeline-private",
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "base", "image": "registry.example.com/data-platform/instapro:1",
                            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
        },
    }
    status, body = control_plane.admit_pod(pod)
    assert status == 201, body.get("message")
    assert body["spec"]["imagePullSecrets"] == [{"name": "registry-pull-secret"}]
