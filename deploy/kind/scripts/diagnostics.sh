#!/usr/bin/env bash
# Prints what is needed to understand a failed kind run: releases, pods, recent events, the
# pods that are not healthy (described, with logs), Airflow's scheduler log and the pipeline pods.
# Never fails itself: every command is best effort.
set -uo pipefail
# shellcheck source=deploy/kind/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

section() { printf '\n===== %s\n' "$*"; }

section "helm releases"
hc list --all
section "pods"
kc get pods -o wide
section "recent events"
kc get events --sort-by=.lastTimestamp | tail -n 60

section "pods that are not running or completed"
kc get pods --no-headers 2>/dev/null | awk '$3 != "Running" && $3 != "Completed" {print $1}' |
  while read -r pod; do
    section "describe $pod"
    kc describe pod "$pod" | tail -n 40
    section "logs $pod"
    kc logs "$pod" --all-containers --tail=100
  done

section "pipeline pods (KubernetesPodOperator)"
kc get pods -l app.kubernetes.io/name=instapro,app.kubernetes.io/component!=warehouse -o wide
kc logs -l app.kubernetes.io/name=instapro,app.kubernetes.io/component!=warehouse --all-containers --tail=50 --prefix

section "landing zone (SeaweedFS)"
kc logs deployment/instapro-landing -c seaweedfs --tail=50

section "scheduler log"
kc logs "deploy/$AIRFLOW_RELEASE-scheduler" -c scheduler --tail=150
section "DAG import errors"
kc exec "deploy/$AIRFLOW_RELEASE-scheduler" -c scheduler -- airflow dags list-import-errors
exit 0
