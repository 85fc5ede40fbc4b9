#!/usr/bin/env bash
# Creates, once, the Secrets the kind installation needs, with random values that exist only in
# the cluster: the first Airflow UI user, the password of Airflow's metadata database and the S3
# keys of the landing zone.
# Existing Secrets are left alone, so re-running never changes a password already in use.
set -euo pipefail
# shellcheck source=deploy/kind/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require kubectl

ensure_namespace

if kc get secret "$AIRFLOW_ADMIN_SECRET" >/dev/null 2>&1; then
  log "Secret $AIRFLOW_ADMIN_SECRET exists; keeping it"
else
  log "creating Secret $AIRFLOW_ADMIN_SECRET (Airflow UI user admin, random password)"
  kc create secret generic "$AIRFLOW_ADMIN_SECRET" \
    --from-literal=username=admin \
    --from-literal=password="$(random_password)" >/dev/null
fi

if kc get secret "$AIRFLOW_METADATA_SECRET" >/dev/null 2>&1; then
  log "Secret $AIRFLOW_METADATA_SECRET exists; keeping it"
else
  log "creating Secret $AIRFLOW_METADATA_SECRET (Airflow metadata database password)"
  kc create secret generic "$AIRFLOW_METADATA_SECRET" \
    --from-literal=password="$(random_password)" >/dev/null
fi

if kc get secret "$LANDING_S3_SECRET" >/dev/null 2>&1; then
  log "Secret $LANDING_S3_SECRET exists; keeping it"
else
  log "creating Secret $LANDING_S3_SECRET (S3 keys of the landing zone, random)"
  kc create secret generic "$LANDING_S3_SECRET" \
    --from-literal=AWS_ACCESS_KEY_ID="instapro$(random_password | head -c 12)" \
    --from-literal=AWS_SECRET_ACCESS_KEY="$(random_password)" >/dev/null
fi

echo "Airflow UI login: admin / the password printed by:"
echo "  kubectl --context $KUBE_CONTEXT -n $NAMESPACE get secret $AIRFLOW_ADMIN_SECRET -o jsonpath='{.data.password}' | base64 -d; echo"
