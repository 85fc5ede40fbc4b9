#!/usr/bin/env bash
# Asserts that the triggered run left its snapshot in the warehouse: exactly one row for
# SNAPSHOT_DATE (the day the daily run for LOGICAL_DATE covers), with counts that make sense.
# Exits non-zero otherwise; prints the row either way.
set -euo pipefail
# shellcheck source=deploy/kind/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require kubectl

SNAPSHOT_DATE=${SNAPSHOT_DATE:-2020-03-10}
[[ "$SNAPSHOT_DATE" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "SNAPSHOT_DATE must look like 2020-03-10"
schema=$(kc get configmap "$INSTAPRO_RELEASE-settings" -o 'jsonpath={.data.INSTAPRO_SCHEMA}')
[[ "$schema" =~ ^[a-z_][a-z0-9_]*$ ]] || die "unexpected INSTAPRO_SCHEMA '$schema' in ConfigMap $INSTAPRO_RELEASE-settings"

# One line per row: date|active|able_at_any_moment. The sample has professionals able to propose
# on every day of its range, so an empty day means the pipeline did not do its job.
query="select date, active_professionals_count, able_at_any_moment_count
       from $schema.availability_snapshot where date = date '$SNAPSHOT_DATE'"
# The POSTGRES_* variables are expanded by the pod's shell.
# shellcheck disable=SC2016
rows=$(kc exec "statefulset/$INSTAPRO_RELEASE-warehouse" -c postgresql -- \
  sh -c 'PGPASSWORD="$POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -At -F "|" -c "$1"' \
  assert-snapshot "$query")
echo "$rows"

[ "$(grep -c . <<<"$rows")" -eq 1 ] || die "expected one snapshot row for $SNAPSHOT_DATE, found: ${rows:-none}"
IFS='|' read -r _ active able <<<"$rows"
[ "$active" -gt 0 ] || die "no active professional on $SNAPSHOT_DATE: the snapshot is empty"
[ "$able" -ge "$active" ] || die "able_at_any_moment_count ($able) below active_professionals_count ($active)"
log "snapshot for $SNAPSHOT_DATE present: $active active, $able able at any moment"
