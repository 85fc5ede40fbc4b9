#!/usr/bin/env bash
# Installs or upgrades this repository's chart (deploy/helm/instapro) on the kind cluster, with
# the in-cluster warehouse and the landing zone's S3 endpoint and keys, then runs its helm test.
# No pod-launcher Role of its own: Airflow runs in the same namespace, where the official chart's
# Role already lets the worker pods start the pipeline pods (deploy/README.md, RBAC).
set -euo pipefail
# shellcheck source=deploy/kind/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require kubectl helm

ensure_namespace

s3_access_key_id=$(secret_value "$LANDING_S3_SECRET" AWS_ACCESS_KEY_ID)
s3_secret_access_key=$(secret_value "$LANDING_S3_SECRET" AWS_SECRET_ACCESS_KEY)
[ -n "$s3_access_key_id" ] && [ -n "$s3_secret_access_key" ] || die "Secret $LANDING_S3_SECRET is missing: run 'make secrets' first"

log "helm upgrade --install $INSTAPRO_RELEASE deploy/helm/instapro"
# The S3 keys go through --set-string only on this machine; they are generated per cluster.
hc upgrade --install "$INSTAPRO_RELEASE" "$deploy_dir/helm/instapro" \
  --values "$deploy_dir/kind/values-instapro.yaml" \
  --set-string "credentials.s3AccessKeyId=$s3_access_key_id" \
  --set-string "credentials.s3SecretAccessKey=$s3_secret_access_key" \
  --wait --timeout 10m

log "checking that a pipeline pod can reach the warehouse (helm test)"
hc test "$INSTAPRO_RELEASE" --logs --timeout 5m
