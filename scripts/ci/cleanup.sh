#!/usr/bin/env bash
# Removes what test runs may leave behind: test schemas on the test server, a kind cluster
# named instapro, temporary files. Safe to run any time; CI runs it always, even after failures.
set -uo pipefail
cd "$(dirname "$0")/../.."

if [ -n "${INSTAPRO_TEST_DATABASE_URL:-}" ] && command -v psql >/dev/null 2>&1; then
  # Test files create schemas t_<hex>[_raw|_staging], the smoke run *_smoke_<pid>. (The bench
  # drops its own.) lock_timeout: never wait behind a session that still uses one.
  PGOPTIONS="-c client_min_messages=warning -c lock_timeout=10s" psql "$INSTAPRO_TEST_DATABASE_URL" -qAt -c "
    DO \$\$ DECLARE s text; BEGIN
      FOR s IN SELECT nspname FROM pg_namespace
               WHERE nspname ~ '^t_[0-9a-f]{10}(_raw|_staging)?$' OR nspname ~ '_smoke_[0-9]+$'
      LOOP
        BEGIN EXECUTE format('DROP SCHEMA %I CASCADE', s);
        EXCEPTION WHEN lock_not_available THEN RAISE WARNING 'schema % is in use, left in place', s;
        END;
      END LOOP;
    END \$\$;" || echo "cleanup: could not drop test schemas" >&2
fi
if command -v kind >/dev/null 2>&1 && kind get clusters 2>/dev/null | grep -qx instapro; then
  kind delete cluster --name instapro || true
fi
rm -rf /tmp/instapro-test-* /tmp/instapro-logs-* 2>/dev/null || true
echo "cleanup: done"
