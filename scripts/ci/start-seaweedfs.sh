#!/usr/bin/env bash
# Starts a SeaweedFS S3 server for the S3 landing-zone tests, on free ports of its own, with a
# random access key and secret (so the credentials path is what is tested). Builds `weed` once
# (scripts/ci/build-seaweedfs.sh, cached). Waits until an authenticated bucket round trip works,
# then prints the environment for the tests as `export NAME=value` lines on stdout:
#   eval "$(bash scripts/ci/start-seaweedfs.sh)"   (in GitHub Actions: INSTAPRO_SEAWEEDFS_TO_GITHUB_ENV=1)
# Stop it with scripts/ci/stop-seaweedfs.sh (it reads INSTAPRO_SEAWEEDFS_STATE_DIR).
set -euo pipefail
cd "$(dirname "$0")/../.."

weed=$(bash scripts/ci/build-seaweedfs.sh)
state_dir=$(mktemp -d "${TMPDIR:-/tmp}/instapro-seaweedfs.XXXXXX")

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# SeaweedFS also listens on each port + 10000 (gRPC): both must be free.
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 20000))
    if port_is_free "$port" && port_is_free $((port + 10000)); then echo "$port"; return 0; fi
  done
  echo "start-seaweedfs: found no free port" >&2
  return 1
}
master_port=$(free_port)
volume_port=$(free_port)
filer_port=$(free_port)
s3_port=$(free_port)

access_key="instapro$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
secret_key=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
cat >"$state_dir/identities.json" <<JSON
{"identities": [{"name": "instapro-test", "credentials": [{"accessKey": "$access_key", "secretKey": "$secret_key"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON
chmod 600 "$state_dir/identities.json"
mkdir -p "$state_dir/data"

"$weed" server -dir="$state_dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="$master_port" -volume.port="$volume_port" -filer.port="$filer_port" \
  -master.volumeSizeLimitMB=64 -volume.max=20 \
  -s3 -s3.port="$s3_port" -s3.config="$state_dir/identities.json" \
  >"$state_dir/weed.log" 2>&1 &
echo $! >"$state_dir/weed.pid"

endpoint="http://127.0.0.1:$s3_port"
# curl signs the request but not its body: S3 wants the body's hash declared, here as unsigned.
s3() { curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access_key:$secret_key" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"; }
probe="readiness-$$"
ready=0
for _ in $(seq 1 120); do
  if ! kill -0 "$(cat "$state_dir/weed.pid")" 2>/dev/null; then
    echo "start-seaweedfs: weed exited; its log:" >&2
    tail -n 40 "$state_dir/weed.log" >&2
    exit 1
  fi
  # A write needs the master, a volume server and the filer, not only the S3 gateway.
  if [ "$(s3 -X PUT "$endpoint/$probe" 2>/dev/null || true)" = 200 ] &&
    [ "$(s3 -X PUT --data-binary probe "$endpoint/$probe/probe.txt" 2>/dev/null || true)" = 200 ]; then
    s3 -X DELETE "$endpoint/$probe/probe.txt" >/dev/null || true
    s3 -X DELETE "$endpoint/$probe" >/dev/null || true
    ready=1
    break
  fi
  sleep 1
done
if [ "$ready" != 1 ]; then
  echo "start-seaweedfs: the S3 server at $endpoint did not become ready; its log:" >&2
  tail -n 40 "$state_dir/weed.log" >&2
  bash scripts/ci/stop-seaweedfs.sh "$state_dir"
  exit 1
fi
echo "start-seaweedfs: S3 at $endpoint (state in $state_dir)" >&2
settings="INSTAPRO_SEAWEEDFS_STATE_DIR=$state_dir
INSTAPRO_TEST_S3_ENDPOINT=$endpoint
INSTAPRO_TEST_S3_ACCESS_KEY=$access_key
INSTAPRO_TEST_S3_SECRET_KEY=$secret_key"
# In a GitHub Actions step (INSTAPRO_SEAWEEDFS_TO_GITHUB_ENV=1), the job's later steps get the
# settings through $GITHUB_ENV, and the secret stays out of the log.
if [ "${INSTAPRO_SEAWEEDFS_TO_GITHUB_ENV:-}" = 1 ]; then
  echo "$settings" >>"$GITHUB_ENV"
else
  echo "$settings" | sed 's/^/export /'
fi
