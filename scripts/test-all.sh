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

count_vitest() {
  node -e '
    const r = require(process.argv[1]);
    console.log(r.numPassedTests, r.numFailedTests);
  ' "$PWD/test-artifacts/vitest.json"
}

section() { printf '\n=== %s ===\n' "$1"; }

section "TypeScript: lint, typecheck, build"
npm run lint
npm run typecheck
npm run build

section "TypeScript: unit, integration and end-to-end tests"
if [ -z "${INSTAPRO_TEST_DATABASE_URL:-}" ]; then
  echo "INSTAPRO_TEST_DATABASE_URL is not set: PostgreSQL-server tests are skipped (embedded database only)"
fi
vitest_status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest.json || vitest_status=$?
read -r p f < <(count_vitest)
passed=$((passed + p)); failed=$((failed + f))
if [ "$vitest_status" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi

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
  if [ "$status" -eq 0 ] && [ "$p" -eq 0 ]; then p=1; fi
  passed=$((passed + p)); failed=$((failed + f))
done

echo
echo "total: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
