#!/usr/bin/env bash
# Checks .github/workflows/*.yml: actionlint (built with `go install`, pinned), then that every
# command the workflow runs is one that .ci/run runs too (scripts/ci/check-workflow-commands.mjs).
set -euo pipefail
cd "$(dirname "$0")/../.."

ACTIONLINT_VERSION=v1.7.12
tools="$PWD/.tools/bin"
mkdir -p "$tools"
if ! "$tools/actionlint" -version 2>/dev/null | head -n 1 | grep -qx "${ACTIONLINT_VERSION}"; then
  echo "building actionlint ${ACTIONLINT_VERSION} with go install"
  GOBIN="$tools" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}"
fi

"$tools/actionlint" -no-color .github/workflows/*.yml
echo "actionlint: 1 passed, 0 failed"
node scripts/ci/check-workflow-commands.mjs .github/workflows/ci.yml
