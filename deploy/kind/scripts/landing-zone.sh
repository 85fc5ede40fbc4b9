#!/usr/bin/env bash
# Starts the S3 landing zone in the kind cluster (SeaweedFS, deploy/kind/landing-zone.yaml) with the
# keys of the Secret instapro-landing-s3, creates the bucket, and uploads the sample event log
# split into day partitions: s3://instapro-landing/events/date=YYYY-MM-DD/events.csv. Re-running
# uploads the same objects again, which the pipeline then skips as unchanged.
set -euo pipefail
# shellcheck source=deploy/kind/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require kubectl python3

access_key_id=$(secret_value "$LANDING_S3_SECRET" AWS_ACCESS_KEY_ID)
secret_access_key=$(secret_value "$LANDING_S3_SECRET" AWS_SECRET_ACCESS_KEY)
[ -n "$access_key_id" ] && [ -n "$secret_access_key" ] || die "Secret $LANDING_S3_SECRET is missing: run 'make secrets' first"

work=$(mktemp -d "${TMPDIR:-/tmp}/instapro-landing.XXXXXX")
trap 'rm -rf "$work"' EXIT

# SeaweedFS's S3 identities: one identity with these keys, allowed everything (a test store).
# Written with json.dumps from the environment, so the keys never appear on a command line.
ACCESS_KEY_ID=$access_key_id SECRET_ACCESS_KEY=$secret_access_key python3 -c '
import json, os
print(json.dumps({"identities": [{"name": "instapro", "credentials": [
    {"accessKey": os.environ["ACCESS_KEY_ID"], "secretKey": os.environ["SECRET_ACCESS_KEY"]}],
    "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))' >"$work/s3.json"
kc create secret generic instapro-landing-s3-config --from-file=s3.json="$work/s3.json" \
  --dry-run=client -o yaml | kc apply -f - >/dev/null

log "starting the landing zone (SeaweedFS) in namespace $NAMESPACE"
kc apply -f "$deploy_dir/kind/landing-zone.yaml" >/dev/null
kc rollout status deployment/instapro-landing --timeout 5m

weed_shell() { kc exec -i deployment/instapro-landing -c seaweedfs -- weed shell -master=localhost:9333; }
if ! echo "s3.bucket.list" | weed_shell | grep -qw "$LANDING_BUCKET"; then
  log "creating bucket $LANDING_BUCKET"
  echo "s3.bucket.create -name $LANDING_BUCKET" | weed_shell >/dev/null
fi

log "splitting $LANDING_SOURCE_LOG into day partitions"
python3 "$deploy_dir/kind/scripts/landing_partitions.py" split \
  --input "$repository_root/$LANDING_SOURCE_LOG" --out "$work/partitions"

log "uploading them to s3://$LANDING_BUCKET/events/"
# Streamed as a tar archive into the pod (the image has tar, the runner need not have an S3
# client), then copied into the bucket's folder by the filer, which the S3 gateway serves.
tar -C "$work/partitions" -cf - events |
  kc exec -i deployment/instapro-landing -c seaweedfs -- \
    sh -c "rm -rf /tmp/upload && mkdir -p /tmp/upload && tar -xf - -C /tmp/upload && weed filer.copy /tmp/upload/events http://localhost:8888/buckets/$LANDING_BUCKET/ && rm -rf /tmp/upload"
echo "ls /buckets/$LANDING_BUCKET/events" | weed_shell | tail -n 3
log "landing zone ready: s3://$LANDING_BUCKET/events/date=YYYY-MM-DD/"
