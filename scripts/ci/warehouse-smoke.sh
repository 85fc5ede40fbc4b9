#!/usr/bin/env bash
# Builds the warehouse through the real migrations on a PostgreSQL server and runs the schema
# and data tests as a gate, then checks the snapshot with psql, independently of the CLI.
# Needs INSTAPRO_TEST_DATABASE_URL (or INSTAPRO_DATABASE_URL) and a built CLI (npm run build).
set -euo pipefail
cd "$(dirname "$0")/../.."

url="${INSTAPRO_DATABASE_URL:-${INSTAPRO_TEST_DATABASE_URL:-}}"
if [ -z "$url" ]; then
  echo "warehouse-smoke: set INSTAPRO_TEST_DATABASE_URL (bash scripts/ci/start-postgres.sh prints one)" >&2
  exit 2
fi
# Own schemas, so the smoke run never touches another suite's tables; dropped at the end.
suffix="smoke_$$"
export INSTAPRO_DATABASE_URL="$url" INSTAPRO_SCHEMA="instapro_${suffix}" INSTAPRO_RAW_SCHEMA="raw_${suffix}" INSTAPRO_STAGING_SCHEMA="staging_${suffix}"
cleanup() {
  psql "$url" -qAt -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS ${INSTAPRO_SCHEMA}, ${INSTAPRO_RAW_SCHEMA}, ${INSTAPRO_STAGING_SCHEMA} CASCADE" >/dev/null || true
}
trap cleanup EXIT

cli() { node dist/cli/main.js "$@"; }

cli migrate
cli run --input data/sample/event_log.csv
cli test

# Independent checks with psql: one snapshot row per day between the first and last event date,
# and the sample's events all loaded.
days_expected=$(psql "$url" -qAt -c "SELECT max(created_at)::date - min(created_at)::date + 1 FROM ${INSTAPRO_RAW_SCHEMA}.event")
days_actual=$(psql "$url" -qAt -c "SELECT count(*) FROM ${INSTAPRO_SCHEMA}.availability_snapshot")
events_in_file=$(($(grep -cv '^\s*$' data/sample/event_log.csv) - 1))
events_loaded=$(psql "$url" -qAt -c "SELECT count(*) FROM ${INSTAPRO_SCHEMA}.fct_event")
echo "snapshot days: ${days_actual} (expected ${days_expected}); events: ${events_loaded} (file has ${events_in_file})"
[ "$days_actual" = "$days_expected" ] && [ "$events_loaded" = "$events_in_file" ]
echo "warehouse-smoke: 1 passed, 0 failed"
