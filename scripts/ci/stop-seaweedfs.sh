#!/usr/bin/env bash
# Stops the SeaweedFS server scripts/ci/start-seaweedfs.sh started and removes its data.
# Safe to run when nothing was started.
set -uo pipefail
state_dir="${1:-${INSTAPRO_SEAWEEDFS_STATE_DIR:-}}"
[ -n "$state_dir" ] && [ -d "$state_dir" ] || exit 0
if [ -f "$state_dir/weed.pid" ]; then
  pid=$(cat "$state_dir/weed.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
fi
rm -rf "$state_dir"
echo "stop-seaweedfs: stopped" >&2
