#!/usr/bin/env bash
# Triggers runs of an instapro DAG through the Airflow CLI in the scheduler pod, one after the
# other, and waits for each to succeed or fail; prints the state of each task. Fails on the first
# failed run.
#
# LOGICAL_DATES (space-separated) picks the data intervals: for the daily DAG,
# 2020-01-02T00:00:00+00:00 covers 2020-01-01, the first day of the sample event log, whose
# partition the landing zone holds (make landing-zone).
#
# Only these runs may run. A paused DAG runs nothing, and unpausing it would let the scheduler
# create its own run of the latest interval, which then competes with ours under
# max_active_runs=1; so the scheduler must not create scheduled runs at all
# ([scheduler] use_job_schedule = False, deploy/kind/values-airflow.yaml). The script checks that
# before unpausing, and afterwards that the DAG has no run but the ones it triggered.
set -euo pipefail
# shellcheck source=deploy/kind/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require kubectl

DAG_ID=${DAG_ID:-instapro_daily}
LOGICAL_DATES=${LOGICAL_DATES:-2020-01-02T00:00:00+00:00}
PARSE_TIMEOUT_SECONDS=${PARSE_TIMEOUT_SECONDS:-600}
RUN_TIMEOUT_SECONDS=${RUN_TIMEOUT_SECONDS:-1800}

airflow_cli() { kc exec "deploy/$AIRFLOW_RELEASE-scheduler" -c scheduler -- airflow "$@"; }

schedules_runs=$(airflow_cli config get-value scheduler use_job_schedule 2>/dev/null | tail -n 1 | tr -d '\r' || true)
case "$schedules_runs" in
  False | false) ;;
  *) die "[scheduler] use_job_schedule is '${schedules_runs:-unknown}': unpausing $DAG_ID would let the scheduler start its own runs next to these; install Airflow with deploy/kind/values-airflow.yaml" ;;
esac

log "waiting for the DAG processor to load $DAG_ID (git-sync and parsing take a minute)"
deadline=$((SECONDS + PARSE_TIMEOUT_SECONDS))
until airflow_cli dags list --output plain 2>/dev/null | awk '{print $1}' | grep -qx "$DAG_ID"; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    airflow_cli dags list-import-errors || true
    die "$DAG_ID did not appear within ${PARSE_TIMEOUT_SECONDS}s (import errors above, if any)"
  fi
  sleep 10
done

# Runs of a paused DAG stay queued; with no scheduled runs (checked above) unpausing starts ours only.
airflow_cli dags unpause "$DAG_ID" >/dev/null

triggered=()
for logical_date in $LOGICAL_DATES; do
  run_id="kind__${logical_date%%T*}__$(date -u +%Y%m%dT%H%M%SZ)"
  triggered+=("$run_id")
  log "triggering $DAG_ID, run $run_id, logical date $logical_date"
  airflow_cli dags trigger "$DAG_ID" --run-id "$run_id" --logical-date "$logical_date" >/dev/null

  deadline=$((SECONDS + RUN_TIMEOUT_SECONDS))
  state=""
  while :; do
    # The last line of `dags state` is the run's state; earlier lines may be log output.
    state=$(airflow_cli dags state "$DAG_ID" "$logical_date" 2>/dev/null | tail -n 1 | tr -d '\r' || true)
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
done

# Every run of the DAG must be one of ours: a scheduled one would have competed with them.
others=$(airflow_cli dags list-runs "$DAG_ID" --output plain 2>/dev/null | awk 'NR > 1 {print $2}' | grep -v '^kind__' || true)
[ -z "$others" ] || die "$DAG_ID has runs this script did not trigger: $others"
