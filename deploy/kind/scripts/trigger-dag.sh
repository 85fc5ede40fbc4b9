#!/usr/bin/env bash
# Triggers one run of an instapro DAG through the Airflow CLI in the scheduler pod and waits
# until the run succeeds or fails; prints the state of each task at the end.
#
# LOGICAL_DATE picks the data interval: for the daily DAG, 2020-03-11T00:00:00+00:00 snapshots
# 2020-03-10, a day covered by the sample event log the kind setup ingests.
set -euo pipefail
# shellcheck source=deploy/kind/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require kubectl

DAG_ID=${DAG_ID:-instapro_daily}
LOGICAL_DATE=${LOGICAL_DATE:-2020-03-11T00:00:00+00:00}
PARSE_TIMEOUT_SECONDS=${PARSE_TIMEOUT_SECONDS:-600}
RUN_TIMEOUT_SECONDS=${RUN_TIMEOUT_SECONDS:-1800}

airflow_cli() { kc exec "deploy/$AIRFLOW_RELEASE-scheduler" -c scheduler -- airflow "$@"; }

log "waiting for the DAG processor to load $DAG_ID (git-sync and parsing take a minute)"
deadline=$((SECONDS + PARSE_TIMEOUT_SECONDS))
until airflow_cli dags list --output plain 2>/dev/null | awk '{print $1}' | grep -qx "$DAG_ID"; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    airflow_cli dags list-import-errors || true
    die "$DAG_ID did not appear within ${PARSE_TIMEOUT_SECONDS}s (import errors above, if any)"
  fi
  sleep 10
done

# DAGs start paused; runs of a paused DAG stay queued. Unpausing also lets the scheduler create
# the run of the latest daily interval, which runs after this one (max_active_runs is 1).
airflow_cli dags unpause "$DAG_ID" >/dev/null
run_id="kind__$(date -u +%Y%m%dT%H%M%SZ)"
log "triggering $DAG_ID, run $run_id, logical date $LOGICAL_DATE"
airflow_cli dags trigger "$DAG_ID" --run-id "$run_id" --logical-date "$LOGICAL_DATE" >/dev/null

deadline=$((SECONDS + RUN_TIMEOUT_SECONDS))
state=""
while :; do
  # The last line of `dags state` is the run's state; earlier lines may be log output.
  state=$(airflow_cli dags state "$DAG_ID" "$LOGICAL_DATE" 2>/dev/null | tail -n 1 | tr -d '\r' || true)
  case "$state" in
    success | failed) break ;;
  esac
  [ "$SECONDS" -lt "$deadline" ] || die "run $run_id still '${state:-unknown}' after ${RUN_TIMEOUT_SECONDS}s"
  log "run $run_id: ${state:-not started}"
  sleep 15
done

airflow_cli tasks states-for-dag-run "$DAG_ID" "$run_id" || true
if [ "$state" != "success" ]; then
  die "run $run_id of $DAG_ID failed; the failed pipeline pod is kept: kubectl --context $KUBE_CONTEXT -n $NAMESPACE get pods -l app.kubernetes.io/name=instapro"
fi
log "run $run_id of $DAG_ID succeeded"
