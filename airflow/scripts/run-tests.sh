#!/usr/bin/env bash
# Runs the Airflow DAG tests (pytest, tests/) in the project's venv, building it first if needed.
# Extra arguments go to pytest, e.g. `airflow/scripts/run-tests.sh -k rendering`.
#
# The end-to-end test needs INSTAPRO_TEST_DATABASE_URL and the built CLI (dist/cli/main.js);
# without them it is skipped, with the reason in the summary.
set -euo pipefail

airflow_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_dir="${INSTAPRO_AIRFLOW_VENV:-$airflow_dir/.venv}"

"$airflow_dir/scripts/setup-venv.sh"

cd "$airflow_dir"
status=0
"$venv_dir/bin/python" -m pytest "$@" || status=$?

# pytest exits 5 when it collected no test: a broken suite, never a success.
if [[ $status -eq 5 ]]; then
    echo "run-tests: pytest collected no tests; treating this as a failure" >&2
    exit 1
fi
exit "$status"
