#!/usr/bin/env bash
# Tests everything under deploy/ plus the Dockerfile, offline, on a machine with Go, Python 3.11
# and Node.js 20 or later (no Docker engine, no Kubernetes cluster needed):
#
#   1. builds helm (go install, pinned) into deploy/.tools/bin unless that version is there;
#   2. creates deploy/.tools/venv with the pinned tools of deploy/requirements-test.txt;
#   3. helm lint + helm template of the instapro chart with its default values, with
#      values-production.yaml and with the kind values (warehouse enabled);
#   4. validates every rendered manifest, and the kind landing zone's, against the Kubernetes 1.30
#      and 1.36 schemas;
#   5. deploy/docker/verify-image-steps.sh (Dockerfile lint, replay, CLI smoke test);
#   6. the pytest suite in deploy/tests (environment contract against the real CLI, chart, RBAC,
#      Airflow values, and the official Airflow chart rendered with them when its archive is here:
#      INSTAPRO_AIRFLOW_CHART_ARCHIVE, or INSTAPRO_FETCH_AIRFLOW_CHART=1 to `helm pull` it, which
#      needs https://airflow.apache.org; the GitHub workflow does that);
#   7. shellcheck and bash -n on every script, and a dry run of the kind Makefile;
#   8. (in pytest) the chart and the pipeline pods against a real kube-apiserver and etcd when
#      their binaries are built (deploy/envtest; INSTAPRO_BUILD_ENVTEST=1 builds them, 10-20
#      minutes once, cached in ~/.cache/instapro/envtest).
#
# The first run takes a few minutes (building helm); later runs reuse deploy/.tools.
set -euo pipefail

HELM_VERSION=v3.22.0
# The oldest Kubernetes the chart supports that the validator ships, and the kind node's version.
KUBERNETES_VERSIONS=(1.30.0 1.36.0)
# The official Airflow chart the values in deploy/airflow are written for (deploy/kind/Makefile).
AIRFLOW_CHART_VERSION=1.22.0
# The envtest control plane of deploy/tests/test_control_plane.py (deploy/envtest).
ENVTEST_KUBERNETES_VERSION=v1.36.3
ENVTEST_ETCD_VERSION=v3.6.17

repository=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
deploy="$repository/deploy"
tools="$deploy/.tools"
rendered="$deploy/.rendered"
chart="$deploy/helm/instapro"
started=$SECONDS

step() { printf '\n==== %s\n' "$*"; }
fail() { printf 'test-deploy: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || fail "Go is needed to build helm (go install)"
command -v python3 >/dev/null 2>&1 || fail "python3 is needed for the test venv"
command -v node >/dev/null 2>&1 || fail "Node.js 20 or later is needed to replay the image build"

step "helm $HELM_VERSION"
helm="$tools/bin/helm"
# A go-installed helm reports only its minor version; the module version is in the binary.
installed_helm=$(go version -m "$helm" 2>/dev/null | awk '$1 == "mod" && $2 == "helm.sh/helm/v3" {print $3}' || true)
if [ "$installed_helm" = "$HELM_VERSION" ]; then
  echo "using $helm ($installed_helm)"
else
  echo "building helm $HELM_VERSION with go install (a few minutes the first time)"
  mkdir -p "$tools/bin"
  # helm v3.22 needs Go 1.26; with an older local Go, auto fetches that toolchain (a Go module).
  GOBIN="$tools/bin" GOTOOLCHAIN=auto go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
export HELM="$helm"

step "Python tools (deploy/requirements-test.txt)"
venv="$tools/venv"
requirements_hash=$(sha256sum "$deploy/requirements-test.txt" | cut -d' ' -f1)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null || true)" != "$requirements_hash" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --requirement "$deploy/requirements-test.txt"
  echo "$requirements_hash" >"$venv/.requirements.sha256"
else
  echo "using $venv"
fi
export PATH="$venv/bin:$tools/bin:$PATH"
export PYTHON="$venv/bin/python"

step "helm lint and helm template"
rm -rf "$rendered"
mkdir -p "$rendered"
declare -A value_sets=(
  [default]=""
  [production]="$chart/values-production.yaml"
  [kind-warehouse]="$deploy/kind/values-instapro.yaml"
)
for name in default production kind-warehouse; do
  values_args=()
  [ -z "${value_sets[$name]}" ] || values_args=(--values "${value_sets[$name]}")
  echo "-- $name"
  "$helm" lint "$chart" --strict "${values_args[@]}"
  "$helm" template instapro "$chart" --namespace instapro --kube-version "${KUBERNETES_VERSIONS[0]}" \
    "${values_args[@]}" >"$rendered/$name.yaml"
done

step "Kubernetes schema validation (kubernetes-validate, strict)"
for version in "${KUBERNETES_VERSIONS[@]}"; do
  kubernetes-validate --kubernetes-version "$version" --strict --quiet "$rendered"/*.yaml "$deploy/kind/landing-zone.yaml" ||
    fail "a rendered manifest is invalid for Kubernetes $version"
  echo "all manifests valid for Kubernetes $version"
done

step "official Airflow chart $AIRFLOW_CHART_VERSION"
chart_cache="${XDG_CACHE_HOME:-$HOME/.cache}/instapro/airflow-chart"
export INSTAPRO_AIRFLOW_CHART_ARCHIVE=${INSTAPRO_AIRFLOW_CHART_ARCHIVE:-$chart_cache/airflow-$AIRFLOW_CHART_VERSION.tgz}
if [ ! -f "$INSTAPRO_AIRFLOW_CHART_ARCHIVE" ] && [ "${INSTAPRO_FETCH_AIRFLOW_CHART:-}" = 1 ]; then
  mkdir -p "$(dirname "$INSTAPRO_AIRFLOW_CHART_ARCHIVE")"
  "$helm" pull airflow --repo https://airflow.apache.org --version "$AIRFLOW_CHART_VERSION" \
    --destination "$(dirname "$INSTAPRO_AIRFLOW_CHART_ARCHIVE")" ||
    fail "cannot pull the Airflow chart $AIRFLOW_CHART_VERSION from https://airflow.apache.org"
  [ -f "$INSTAPRO_AIRFLOW_CHART_ARCHIVE" ] || fail "helm pull left no $INSTAPRO_AIRFLOW_CHART_ARCHIVE"
fi
if [ -f "$INSTAPRO_AIRFLOW_CHART_ARCHIVE" ]; then
  echo "rendering $INSTAPRO_AIRFLOW_CHART_ARCHIVE in deploy/tests/test_airflow_chart_render.py"
else
  echo "NOT rendered here: no archive at $INSTAPRO_AIRFLOW_CHART_ARCHIVE (set INSTAPRO_AIRFLOW_CHART_ARCHIVE," \
    "or INSTAPRO_FETCH_AIRFLOW_CHART=1 where https://airflow.apache.org is reachable); its tests are skipped"
fi

step "envtest control plane (kube-apiserver $ENVTEST_KUBERNETES_VERSION, etcd $ENVTEST_ETCD_VERSION)"
envtest_cache="${XDG_CACHE_HOME:-$HOME/.cache}/instapro/envtest/kubernetes-$ENVTEST_KUBERNETES_VERSION-etcd-$ENVTEST_ETCD_VERSION/bin"
export INSTAPRO_ENVTEST_BIN=${INSTAPRO_ENVTEST_BIN:-$envtest_cache}
if [ ! -x "$INSTAPRO_ENVTEST_BIN/kube-apiserver" ] && [ "${INSTAPRO_BUILD_ENVTEST:-}" = 1 ]; then
  KUBERNETES_VERSION=$ENVTEST_KUBERNETES_VERSION ETCD_VERSION=$ENVTEST_ETCD_VERSION \
    INSTAPRO_ENVTEST_DIR="$(dirname "$INSTAPRO_ENVTEST_BIN")" "$deploy/envtest/build-control-plane.sh" >/dev/null
fi
if [ -x "$INSTAPRO_ENVTEST_BIN/kube-apiserver" ] && [ -x "$INSTAPRO_ENVTEST_BIN/etcd" ]; then
  echo "using $INSTAPRO_ENVTEST_BIN (deploy/tests/test_control_plane.py)"
  # Those tests build the pipeline pods with the DAG factory, in the Airflow venv (idempotent).
  if [ "${INSTAPRO_BUILD_ENVTEST:-}" = 1 ]; then "$repository/airflow/scripts/setup-venv.sh"; fi
else
  echo "NOT built: no kube-apiserver and etcd in $INSTAPRO_ENVTEST_BIN (INSTAPRO_BUILD_ENVTEST=1 builds them," \
    "10-20 minutes once); the API-server tests are skipped"
fi

step "image steps (deploy/docker/verify-image-steps.sh)"
export npm_config_cache="$tools/npm-cache"
INSTAPRO_IMAGE_REPLAY_DIR="$tools/image-replay" "$deploy/docker/verify-image-steps.sh"
# The tests compare the chart with the environment contract of this very CLI build.
export INSTAPRO_CLI="$tools/image-replay/build/stages/runtime/app/dist/cli/main.js"
[ -f "$INSTAPRO_CLI" ] || fail "the image replay left no CLI at $INSTAPRO_CLI"

step "shell scripts: bash -n and shellcheck"
mapfile -t scripts < <(cd "$repository" && find deploy -path deploy/.tools -prune -o -name '*.sh' -print | sort)
for script in "${scripts[@]}"; do
  bash -n "$repository/$script"
done
(cd "$repository" && shellcheck --external-sources --severity=style "${scripts[@]}")
echo "${#scripts[@]} scripts clean"

step "kind Makefile dry run"
for dags_from in git-sync image; do
  make --no-print-directory -n -C "$deploy/kind" up DAGS_FROM="$dags_from" GIT_REPO=https://git.example.com/instapro.git >/dev/null
done
make --no-print-directory -n -C "$deploy/kind" landing-zone trigger-daily trigger-days query-snapshot snapshot-assert diagnostics port-forward cluster-down >/dev/null
echo "every target expands"

# pytest runs last, so its summary line closes the output.
step "pytest deploy/tests (the checks above took $((SECONDS - started))s)"
cd "$repository"
exec "$venv/bin/python" -m pytest deploy/tests -p no:cacheprovider -rs "$@"
