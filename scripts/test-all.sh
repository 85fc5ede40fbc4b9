#!/usr/bin/env bash
# The project's whole test suite, as the README gives it and as CI runs it:
#   1. TypeScript: lint, typecheck, build, unit + integration + end-to-end tests (vitest)
#   2. Airflow: DAG factory tests with real Airflow (pytest, own venv)
#   3. Deployment: Dockerfile steps, Helm chart lint/template/schema validation, Airflow values
#   4. CI workflow: actionlint
# Server-backed tests run when INSTAPRO_TEST_DATABASE_URL is set (scripts/ci/start-postgres.sh
# prints one); without it they are skipped and the embedded database is tested alone.
# Ends with one line "total: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p test-artifacts
passed=0
failed=0

# vitest's JSON report -> "passed failed"
count_vitest() {
  node -e '
    const r = require(process.argv[1]);
    console.log(r.numPassedTests, r.numFailedTests);
  ' "$1"
}

section() { printf '\n=== %s ===\n' "$1"; }

section "TypeScript: lint, typecheck, build"
npm run lint
npm run typecheck
npm run build

if [ -z "${INSTAPRO_TEST_DATABASE_URL:-}" ]; then
  echo "INSTAPRO_TEST_DATABASE_URL is not set: PostgreSQL-server tests are skipped (embedded database only)"
fi
# Runs one vitest project through its npm script, adding its counts to the totals.
vitest_suite() {
  local project=$1
  shift
  section "TypeScript: ${project} tests"
  local report="test-artifacts/vitest-${project}.json" status=0 p=0 f=0
  rm -f "$report"
  "$@" -- --reporter=default --reporter=json --outputFile.json="$report" || status=$?
  if [ -f "$report" ]; then read -r p f < <(count_vitest "$PWD/$report"); fi
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
}
vitest_suite unit npm run test:unit
vitest_suite integration npm run test:integration
vitest_suite e2e npm run test:e2e

if [ -n "${INSTAPRO_TEST_DATABASE_URL:-}" ]; then
  section "Warehouse smoke test on the PostgreSQL server"
  if bash scripts/ci/warehouse-smoke.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi

for suite in airflow/scripts/run-tests.sh deploy/scripts/test-deploy.sh scripts/ci/check-workflow.sh; do
  [ -f "$suite" ] || continue
  section "$suite"
  log="test-artifacts/$(basename "$(dirname "$(dirname "$suite")")")-$(basename "$suite" .sh).log"
  status=0
  bash "$suite" 2>&1 | tee "$log" || status=$?
  # pytest's closing line: "N passed[, N skipped][, N failed] in Xs"
  p=$(grep -Eo '[0-9]+ passed' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
  f=$(grep -Eo '[0-9]+ failed' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  # A suite that printed no count ran no counted test: it is said, not counted as a pass.
  if [ "$status" -eq 0 ] && [ "$p" -eq 0 ]; then echo "note: $suite passed but reported no test count; counted as 0"; fi
  passed=$((passed + p)); failed=$((failed + f))
done

echo
echo "total: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
