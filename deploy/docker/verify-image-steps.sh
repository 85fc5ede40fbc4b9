#!/usr/bin/env bash
# Verifies the pipeline image without a Docker engine (there is none on developer and CI
# machines): lints the Dockerfile, replays its stages in a temporary directory with the host's
# Node.js, then smoke-tests the CLI from the replayed runtime stage, as the container would run.
#
#   deploy/docker/verify-image-steps.sh              # everything, temporary files removed at the end
#   INSTAPRO_IMAGE_REPLAY_DIR=dir deploy/docker/verify-image-steps.sh
#                                                    # keep the replay in dir (the tests reuse its CLI)
#
# Exits non-zero, naming the step, when a Dockerfile step would fail in `docker build`.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repository=$(cd "$script_dir/../.." && pwd)
python=${PYTHON:-python3}

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'verify-image-steps: %s\n' "$*" >&2; exit 1; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)
[ -n "$node_major" ] && [ "$node_major" -ge 20 ] || fail "this replay needs Node.js 20 or later on PATH (found: ${node_major:-none})"
image_node_major=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9]*\)-slim$/\1/p' "$repository/Dockerfile")
if [ "$node_major" != "$image_node_major" ]; then
  # The lockfile and the build do not depend on the Node.js line; GitHub's helm job replays with
  # the image's own line, so a difference only there is still caught.
  echo "note: replaying with the host's Node.js $node_major; the image uses Node.js ${image_node_major:-?}"
fi

step "structural check of Dockerfile and .dockerignore"
"$python" "$script_dir/dockerfile_replay.py" check --repository "$repository"

if command -v hadolint >/dev/null 2>&1; then
  step "hadolint $(hadolint --version | head -n 1)"
  # DL3008/DL3016 ask to pin apt/npm packages installed ad hoc; this Dockerfile installs none
  # outside package-lock.json, so any such finding is real and must fail.
  hadolint --failure-threshold warning "$repository/Dockerfile"
else
  step "hadolint not on PATH; skipped (deploy/scripts/test-deploy.sh installs it)"
fi

if [ -n "${INSTAPRO_IMAGE_REPLAY_DIR:-}" ]; then
  work=$INSTAPRO_IMAGE_REPLAY_DIR
  rm -rf "$work"
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/instapro-image-replay.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi

# npm's cache of the replay stays out of the user's ~/.npm, which the runtime stage's
# `npm cache clean --force` would otherwise wipe.
export npm_config_cache=${npm_config_cache:-$work/npm-cache}

step "replaying the Dockerfile's stages in $work"
replay_log="$work/replay.log"
if ! "$python" "$script_dir/dockerfile_replay.py" replay --repository "$repository" --work "$work/build" 2>&1 | tee "$replay_log"; then
  fail "a Dockerfile step failed (see above)"
fi
app_dir=$(sed -n 's/^FINAL_STAGE_WORKDIR=//p' "$replay_log" | tail -n 1)
[ -n "$app_dir" ] && [ -d "$app_dir" ] || fail "the replay did not report the runtime stage's working directory"
cli="$app_dir/dist/cli/main.js"
[ -f "$cli" ] || fail "the runtime stage has no dist/cli/main.js: the ENTRYPOINT would not start"

step "the runtime stage holds production dependencies only"
# A dev-only package in the image means --omit=dev was lost; typescript is the canary.
[ ! -e "$app_dir/node_modules/typescript" ] || fail "node_modules/typescript is in the runtime stage: dev dependencies leaked in"
# The bench is a developer tool: neither its sources nor its build belong in the image.
[ ! -e "$app_dir/dist/bench" ] && [ ! -e "$app_dir/src/bench" ] || fail "the bench (src/bench, dist/bench) is in the runtime stage"
for required in sql/migrations data/sample; do
  [ -d "$app_dir/$required" ] || fail "$required is missing from the runtime stage"
done

# Runs the replayed CLI as the container would: in /app, with a clean environment (no INSTAPRO_*
# from this shell may leak in). Usage: run_cli [NAME=value ...] -- <cli arguments>
run_cli() {
  local environment=()
  while [ "$1" != "--" ]; do
    environment+=("$1")
    shift
  done
  shift
  (cd "$app_dir" && env -i PATH="$PATH" HOME="$work" NODE_ENV=production "${environment[@]}" node "$cli" "$@")
}

step "smoke test: instapro --help (the image's default command)"
help_text=$(run_cli -- --help) || fail "instapro --help exited non-zero"
grep -q 'instapro' <<<"$help_text" || fail "instapro --help printed no usage"

step "smoke test: instapro config --env-vars --json"
env_vars_json=$(run_cli -- config --env-vars --json) || fail "config --env-vars --json exited non-zero"
printf '%s\n' "$env_vars_json" >"$work/env-vars.json"
"$python" - "$work/env-vars.json" <<'PY' || fail "config --env-vars --json did not print the environment contract"
import json, sys
variables = json.load(open(sys.argv[1]))
assert isinstance(variables, list) and variables, "empty or not a list"
for variable in variables:
    assert set(variable) >= {"name", "secret", "description"}, variable
    # The S3 settings use the standard AWS names (docs/landing-zone.md).
    assert variable["name"].startswith(("INSTAPRO_", "AWS_")), variable
print(f"{len(variables)} variables, {sum(v['secret'] for v in variables)} secret")
PY

step "smoke test: instapro migrate on the embedded database (finds sql/ next to dist/)"
migrate_json=$(run_cli INSTAPRO_DATA_DIR="$work/embedded-db" -- migrate --json) || fail "migrate on the embedded database failed: $migrate_json"
grep -q '"status":"succeeded"' <<<"$migrate_json" || fail "migrate did not succeed: $migrate_json"

# The build stage's `npm run build` prepares it; without it every new embedded database runs initdb in the CLI (~700 MB).
step "smoke test: a new embedded database is unpacked from the prepared data directory (dist/data-dir-archive/), not made by initdb"
created=$(run_cli INSTAPRO_DATA_DIR="$work/embedded-db-new" -- sql 'select 1' 2>&1) || fail "instapro sql on a new embedded database failed: $created"
grep -q 'from the prepared data directory' <<<"$created" || fail "the new embedded database was not unpacked from the prepared data directory: $created"

step "image steps verified"
if [ -n "${INSTAPRO_IMAGE_REPLAY_DIR:-}" ]; then
  echo "replayed runtime stage kept in $app_dir (CLI: $cli)"
fi
