#!/usr/bin/env bash
# Installs or upgrades this repository's chart (deploy/helm/instapro) on the kind cluster, with
# the in-cluster warehouse, and binds its pod-launcher Role to the service account Airflow's
# worker pods really use (read from Airflow's pod template once Airflow is installed).
set -euo pipefail
# shellcheck source=deploy/kind/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require kubectl helm

ensure_namespace

worker_service_account=$(airflow_worker_service_account)
if [ -z "$worker_service_account" ]; then
  worker_service_account="$AIRFLOW_RELEASE-worker"
  log "Airflow is not installed yet; allowing its default worker service account $worker_service_account"
else
  log "Airflow's worker pods run as $worker_service_account"
fi

log "helm upgrade --install $INSTAPRO_RELEASE deploy/helm/instapro"
hc upgrade --install "$INSTAPRO_RELEASE" "$deploy_dir/helm/instapro" \
  --values "$deploy_dir/kind/values-instapro.yaml" \
  --set-string "rbac.podLaunchers[0].name=$worker_service_account" \
  --wait --timeout 10m

log "checking that a pipeline pod can reach the warehouse (helm test)"
hc test "$INSTAPRO_RELEASE" --logs --timeout 5m
