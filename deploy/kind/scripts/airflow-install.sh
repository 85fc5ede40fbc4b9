#!/usr/bin/env bash
# Installs or upgrades the official Airflow chart (pinned version) with deploy/airflow/values.yaml.
# DAGS_FROM=git-sync (default) syncs airflow/dags from GIT_REPO at GIT_BRANCH; DAGS_FROM=image
# uses the Airflow image with the DAGs baked in (make airflow-image-build airflow-image-load).
set -euo pipefail
# shellcheck source=deploy/kind/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require kubectl helm

DAGS_FROM=${DAGS_FROM:-git-sync}
GIT_REPO=${GIT_REPO:-}
GIT_BRANCH=${GIT_BRANCH:-main}

kc get configmap "$INSTAPRO_RELEASE-settings" >/dev/null 2>&1 ||
  die "ConfigMap $INSTAPRO_RELEASE-settings is missing: Airflow's pods read it, run 'make instapro-install' first"
kc get secret "$AIRFLOW_ADMIN_SECRET" >/dev/null 2>&1 || die "Secret $AIRFLOW_ADMIN_SECRET is missing: run 'make secrets' first"
metadata_password=$(secret_value "$AIRFLOW_METADATA_SECRET" password)
[ -n "$metadata_password" ] || die "Secret $AIRFLOW_METADATA_SECRET is missing: run 'make secrets' first"

dag_source_args=()
case "$DAGS_FROM" in
  git-sync)
    [ -n "$GIT_REPO" ] || die "GIT_REPO is empty: set it to a clone URL of this repository the cluster can reach (or use DAGS_FROM=image)"
    dag_source_args=(--set-string "dags.gitSync.repo=$GIT_REPO" --set-string "dags.gitSync.branch=$GIT_BRANCH" --set-string "dags.gitSync.ref=$GIT_BRANCH")
    ;;
  image)
    dag_source_args=(--values "$deploy_dir/airflow/values-baked-dags.yaml")
    ;;
  *) die "DAGS_FROM must be git-sync or image, not '$DAGS_FROM'" ;;
esac

log "helm repo add apache-airflow https://airflow.apache.org"
helm repo add apache-airflow https://airflow.apache.org --force-update >/dev/null
helm repo update apache-airflow >/dev/null

log "helm upgrade --install $AIRFLOW_RELEASE apache-airflow/airflow --version $AIRFLOW_CHART_VERSION (DAGs from $DAGS_FROM)"
# The metadata password goes through --set only on this machine; it is generated per cluster.
hc upgrade --install "$AIRFLOW_RELEASE" apache-airflow/airflow \
  --version "$AIRFLOW_CHART_VERSION" \
  --values "$deploy_dir/airflow/values.yaml" \
  --values "$deploy_dir/kind/values-airflow.yaml" \
  "${dag_source_args[@]}" \
  --set-string "postgresql.auth.postgresPassword=$metadata_password" \
  --set-string "data.metadataConnection.pass=$metadata_password" \
  --wait --timeout 20m
