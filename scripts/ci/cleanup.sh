#!/usr/bin/env bash
# Removes what this CI run created, and only that: the PostgreSQL cluster start-postgres.sh
# created (named in $INSTAPRO_CI_STATE_DIR/postgres-cluster, with every test schema in it) and
# the run's state directory, which also holds the TMPDIR the tests ran with (.ci/run sets it).
# Other clusters, other runs' schemas and other /tmp files are left alone: the machine may be
# shared. Safe to run any time; CI runs it always, even after failures.
set -uo pipefail
cd "$(dirname "$0")/../.."

state_dir="${INSTAPRO_CI_STATE_DIR:-}"
if [ -n "$state_dir" ] && [ -f "$state_dir/postgres-cluster" ]; then
  read -r version name <"$state_dir/postgres-cluster"
  echo "cleanup: dropping PostgreSQL cluster $version/$name (created by this run)"
  pg_dropcluster --stop "$version" "$name" || echo "cleanup: could not drop cluster $version/$name" >&2
fi
if command -v kind >/dev/null 2>&1 && kind get clusters 2>/dev/null | grep -qx instapro; then
  kind delete cluster --name instapro || true
fi
if [ -n "$state_dir" ] && [ -d "$state_dir" ]; then
  rm -rf "$state_dir"
fi
echo "cleanup: done"
