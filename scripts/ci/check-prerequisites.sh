#!/usr/bin/env bash
# What .ci/run needs on the machine, checked before it does any work: everything missing is named
# in one message (exit 1) rather than found one failure at a time, minutes into the run.
# Network access is not checked: the run reaches the npm registry, PyPI and the Go module proxy.
set -euo pipefail

missing=()
has() { command -v "$1" >/dev/null 2>&1; }

# The CLI and its tests (package.json engines).
if has node && node -e 'const [major, minor] = process.versions.node.split(".").map(Number); process.exit(major > 20 || (major === 20 && minor >= 11) ? 0 : 1)'; then
  found_node=$(node -p 'process.versions.node')
elif has node; then
  missing+=("Node.js 20.11 or later (node is $(node -p 'process.versions.node'))")
else
  missing+=("Node.js 20.11 or later (node)")
fi
has npm || missing+=("npm")

# The Airflow tests build their venv with Python 3.11 (airflow/scripts/setup-venv.sh; its constraints are frozen for it).
python_airflow=${INSTAPRO_AIRFLOW_PYTHON:-python3.11}
found_python=$("$python_airflow" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true)
case "$found_python" in
  3.11.*) ;;
  *) missing+=("Python 3.11 ($python_airflow${found_python:+ is $found_python}; or set INSTAPRO_AIRFLOW_PYTHON) for the Airflow tests") ;;
esac
# The deployment tests' venv and the image replay.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=("python3 with venv and ensurepip (Debian: python3-venv) for the deployment tests")

has go || missing+=("Go (go): builds SeaweedFS, helm and actionlint from the Go module proxy")
has make || missing+=("make: the deployment tests dry-run deploy/kind's Makefile")
has curl || missing+=("curl: probes the S3 server (scripts/ci/start-seaweedfs.sh)")
has flock || missing+=("flock (util-linux): the embedded database's lock")

# The run's own PostgreSQL cluster is created from an installed server, or Debian's package is installed.
if ! { has pg_createcluster && has psql && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; } && ! has apt-get; then
  missing+=("a PostgreSQL server (Debian's postgresql: pg_createcluster, psql, /usr/lib/postgresql/<version>/bin/postgres), or apt-get to install it")
fi
# The report's browser test: Chromium installed, or apt-get to install it.
if [ ! -x "${INSTAPRO_CHROMIUM:-/usr/bin/chromium}" ] && [ ! -x /usr/bin/chromium ] && ! has apt-get; then
  missing+=("Chromium (/usr/bin/chromium or INSTAPRO_CHROMIUM), or apt-get to install it")
fi
# scripts/ci/start-postgres.sh creates the cluster and sets its password as the postgres user (su).
[ "$EUID" -eq 0 ] || missing+=("root: scripts/ci/start-postgres.sh creates a PostgreSQL cluster and runs psql as the postgres user")

if [ "${#missing[@]}" -gt 0 ]; then
  {
    echo "check-prerequisites: this machine lacks what .ci/run needs; nothing was done:"
    printf '  - %s\n' "${missing[@]}"
    echo "(the run also reaches the npm registry, PyPI and the Go module proxy)"
  } >&2
  exit 1
fi
echo "prerequisites: node $found_node, python $found_python, $(go env GOVERSION), $(make --version | head -n 1)"
