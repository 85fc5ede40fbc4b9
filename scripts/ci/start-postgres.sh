#!/usr/bin/env bash
# Installs (if missing) and starts a local PostgreSQL server from Debian's packages, for the
# integration, e2e and Airflow tests. Prints the connection URL on stdout as its last line.
# Idempotent: safe to run when the server is already installed and running.
set -euo pipefail

PGPASSWORD_FOR_TESTS="${INSTAPRO_CI_PG_PASSWORD:-instapro-ci}"

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  echo "installing postgresql from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

cluster_line=$(pg_lsclusters --no-header | head -n 1)
if [ -z "$cluster_line" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  pg_createcluster "$version" main >&2
  cluster_line=$(pg_lsclusters --no-header | head -n 1)
fi
read -r version name port status _ <<<"$cluster_line"
if [ "$status" != "online" ]; then
  pg_ctlcluster "$version" "$name" start >&2
fi

# The tests use many connections in parallel; the default of 100 is fine, but make fsync cheap
# is NOT done on purpose: the crash-safety tests must run against a server that behaves like production.
su postgres -c "psql -q -p $port -c \"alter user postgres password '$PGPASSWORD_FOR_TESTS'\"" >&2
for _ in $(seq 1 30); do
  if su postgres -c "pg_isready -q -p $port"; then break; fi
  sleep 1
done
echo "postgresql://postgres:${PGPASSWORD_FOR_TESTS}@127.0.0.1:${port}/postgres"
