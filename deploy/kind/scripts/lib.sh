# Shared settings and helpers of the kind scripts; sourced, not run. Every setting can be
# overridden from the environment (the Makefile passes its variables through).
# shellcheck shell=bash

CLUSTER_NAME=${CLUSTER_NAME:-instapro}
KUBE_CONTEXT=${KUBE_CONTEXT:-kind-$CLUSTER_NAME}
NAMESPACE=${NAMESPACE:-instapro}
AIRFLOW_RELEASE=${AIRFLOW_RELEASE:-airflow}
INSTAPRO_RELEASE=${INSTAPRO_RELEASE:-instapro}
AIRFLOW_CHART_VERSION=${AIRFLOW_CHART_VERSION:-1.22.0}
# Secret with the first Airflow UI user; its name is also in deploy/airflow/values.yaml.
AIRFLOW_ADMIN_SECRET=${AIRFLOW_ADMIN_SECRET:-instapro-airflow-admin}
# Secret with the password of Airflow's bundled metadata PostgreSQL (kind only).
AIRFLOW_METADATA_SECRET=${AIRFLOW_METADATA_SECRET:-airflow-metadata-db-password}
# Secret with the S3 keys of the in-cluster landing zone (kind only), its bucket, and the sample
# log whose day partitions it holds.
LANDING_S3_SECRET=${LANDING_S3_SECRET:-instapro-landing-s3}
LANDING_BUCKET=${LANDING_BUCKET:-instapro-landing}
LANDING_SOURCE_LOG=${LANDING_SOURCE_LOG:-data/sample/event_log.csv}

repository_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck disable=SC2034  # used by the scripts that source this file
deploy_dir="$repository_root/deploy"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (see deploy/README.md, Prerequisites)"
  done
}

# kubectl and helm always against the kind cluster, never whatever context happens to be current.
kc() { kubectl --context "$KUBE_CONTEXT" --namespace "$NAMESPACE" "$@"; }
hc() { helm --kube-context "$KUBE_CONTEXT" --namespace "$NAMESPACE" "$@"; }

# A random secret value without shell- or URL-special characters.
random_password() {
  head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32
}

ensure_namespace() {
  kc get namespace "$NAMESPACE" >/dev/null 2>&1 || kubectl --context "$KUBE_CONTEXT" create namespace "$NAMESPACE" >/dev/null
}

# Prints one key of a Secret, decoded; empty when the Secret or key does not exist.
secret_value() {
  local name=$1 key=$2
  kc get secret "$name" -o "jsonpath={.data.$key}" 2>/dev/null | base64 -d
}
