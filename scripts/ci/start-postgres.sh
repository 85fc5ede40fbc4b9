#!/usr/bin/env bash
# Starts a PostgreSQL cluster of this project's own for the integration, e2e and Airflow tests,
# installing PostgreSQL from Debian's packages first if it is missing. Prints the connection URL
# on stdout as its last line.
#
# The cluster is a dedicated one (pg_createcluster): its own name (INSTAPRO_CI_PG_CLUSTER, default
# instapro_ci), port (the first free one from 55432) and data directory. No other cluster on the
# machine is touched: others may be in use. Reused when it exists already (idempotent). When
# INSTAPRO_CI_STATE_DIR is set and this script created the cluster, it writes its name there, and
# scripts/ci/cleanup.sh drops it again.
set -euo pipefail

password="${INSTAPRO_CI_PG_PASSWORD:-instapro-ci}"
name="${INSTAPRO_CI_PG_CLUSTER:-instapro_ci}"
first_port="${INSTAPRO_CI_PG_FIRST_PORT:-55432}"

if ! command -v pg_createcluster >/dev/null 2>&1; then
  echo "installing postgresql from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)

# "<port> <status>" of our cluster, empty when it does not exist.
cluster_state() { pg_lsclusters --no-header | awk -v v="$version" -v n="$name" '$1 == v && $2 == n { print $3, $4 }'; }

port_taken() {
  local port=$1
  pg_lsclusters --no-header | awk '{ print $3 }' | grep -qx "$port" && return 0
  # Something else listening there (bash's /dev/tcp connects or fails at once on loopback).
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
  return 1
}

if [ -z "$(cluster_state)" ]; then
  port=$first_port
  while port_taken "$port"; do port=$((port + 1)); done
  echo "creating PostgreSQL cluster $version/$name on port $port" >&2
  pg_createcluster "$version" "$name" --port "$port" >&2
  if [ -n "${INSTAPRO_CI_STATE_DIR:-}" ]; then
    mkdir -p "$INSTAPRO_CI_STATE_DIR"
    echo "$version $name" >"$INSTAPRO_CI_STATE_DIR/postgres-cluster"
  fi
fi
read -r port status <<<"$(cluster_state)"
if [ "$status" != "online" ]; then
  pg_ctlcluster "$version" "$name" start >&2
fi
for _ in $(seq 1 30); do
  if su postgres -c "pg_isready -q -p $port"; then break; fi
  sleep 1
done

# fsync stays on on purpose: the crash-safety tests must run against a server that behaves like
# production. The password is set on this cluster only.
su postgres -c "psql -q -p $port -c \"alter user postgres password '$password'\"" >&2
echo "postgresql://postgres:${password}@127.0.0.1:${port}/postgres"
