#!/usr/bin/env bash
# Prints the newest rows of the availability snapshot, queried with psql inside the warehouse pod
# (so nothing but kubectl is needed on this machine). SNAPSHOT_LIMIT sets how many days.
set -euo pipefail
# shellcheck source=deploy/kind/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require kubectl

SNAPSHOT_LIMIT=${SNAPSHOT_LIMIT:-14}
[[ "$SNAPSHOT_LIMIT" =~ ^[0-9]+$ ]] || die "SNAPSHOT_LIMIT must be a number"

# The analyst-facing schema is a setting (INSTAPRO_SCHEMA); read it from the pipeline's ConfigMap.
schema=$(kc get configmap "$INSTAPRO_RELEASE-settings" -o 'jsonpath={.data.INSTAPRO_SCHEMA}')
[[ "$schema" =~ ^[a-z_][a-z0-9_]*$ ]] || die "unexpected INSTAPRO_SCHEMA '$schema' in ConfigMap $INSTAPRO_RELEASE-settings"

query="select * from $schema.availability_snapshot order by date desc limit $SNAPSHOT_LIMIT"
log "$query"
# The credentials stay in the pod: psql uses the POSTGRES_* variables the warehouse was started
# with, so they are expanded by the pod's shell, not this one.
# shellcheck disable=SC2016
kc exec "statefulset/$INSTAPRO_RELEASE-warehouse" -c postgresql -- \
  sh -c 'PGPASSWORD="$POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "$1"' \
  query-snapshot "$query"
