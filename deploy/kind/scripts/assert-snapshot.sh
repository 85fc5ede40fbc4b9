#!/usr/bin/env bash
# Asserts that the triggered daily runs left the right snapshot in the warehouse: for every day of
# SNAPSHOT_DAYS, exactly the row the independent reference computes from the landing zone's
# partitions of those days (deploy/kind/scripts/landing_partitions.py expected), and a non-empty
# snapshot on the last day. Exits non-zero otherwise; prints both either way.
set -euo pipefail
# shellcheck source=deploy/kind/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require kubectl python3

SNAPSHOT_DAYS=${SNAPSHOT_DAYS:-2020-01-01}
days=()
for day in $SNAPSHOT_DAYS; do
  [[ "$day" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "SNAPSHOT_DAYS must be dates like 2020-01-01, not '$day'"
  days+=("$day")
done
[ "${#days[@]}" -gt 0 ] || die "SNAPSHOT_DAYS is empty"
schema=$(kc get configmap "$INSTAPRO_RELEASE-settings" -o 'jsonpath={.data.INSTAPRO_SCHEMA}')
[[ "$schema" =~ ^[a-z_][a-z0-9_]*$ ]] || die "unexpected INSTAPRO_SCHEMA '$schema' in ConfigMap $INSTAPRO_RELEASE-settings"

work=$(mktemp -d "${TMPDIR:-/tmp}/instapro-assert.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 "$deploy_dir/kind/scripts/landing_partitions.py" split \
  --input "$repository_root/$LANDING_SOURCE_LOG" --out "$work/partitions" 2>/dev/null
expected=$(python3 "$deploy_dir/kind/scripts/landing_partitions.py" expected --partitions "$work/partitions" "${days[@]}")

# One line per row: date|active|able_at_any_moment.
day_list=$(printf "date '%s'," "${days[@]}")
query="select date, active_professionals_count, able_at_any_moment_count
       from $schema.availability_snapshot where date in (${day_list%,}) order by date"
# The POSTGRES_* variables are expanded by the pod's shell.
# shellcheck disable=SC2016
actual=$(kc exec "statefulset/$INSTAPRO_RELEASE-warehouse" -c postgresql -- \
  sh -c 'PGPASSWORD="$POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -At -F "|" -c "$1"' \
  assert-snapshot "$query")
printf 'expected (reference from the partitions):\n%s\nstored by the pipeline:\n%s\n' "$expected" "${actual:-<none>}"

[ "$actual" = "$expected" ] || die "the snapshot rows differ from the reference"
IFS='|' read -r _ active _ <<<"$(tail -n 1 <<<"$actual")"
[ "$active" -gt 0 ] || die "no active professional on ${days[-1]}: a check on an empty snapshot proves little"
log "snapshot of ${days[*]} equals the reference"
