#!/usr/bin/env bash
# Builds (once) the SeaweedFS `weed` binary from the Go module proxy and prints its path.
# `go install` refuses the module (its go.mod has a replace directive), so the module is
# downloaded, copied out of the read-only module cache and built in place. The binary is cached.
set -euo pipefail

SEAWEEDFS_VERSION="${INSTAPRO_SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
cache_dir="${INSTAPRO_SEAWEEDFS_CACHE:-$HOME/.cache/instapro}/seaweedfs-${SEAWEEDFS_VERSION}"
weed_binary="$cache_dir/weed"

if [ -x "$weed_binary" ]; then
  echo "$weed_binary"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "build-seaweedfs: Go is required to build SeaweedFS" >&2; exit 1; }

mkdir -p "$cache_dir"
module_dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/seaweedfs/seaweedfs@${SEAWEEDFS_VERSION}" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$module_dir" ] || { echo "build-seaweedfs: go mod download gave no module directory" >&2; exit 1; }

source_dir=$(mktemp -d "${TMPDIR:-/tmp}/seaweedfs-src.XXXXXX")
trap 'rm -rf "$source_dir"' EXIT
cp -R "$module_dir/." "$source_dir/"
chmod -R u+w "$source_dir"
echo "build-seaweedfs: building weed ${SEAWEEDFS_VERSION} (about 15 minutes on two cores, once)" >&2
# Build to a temporary name and rename, so an interrupted build never leaves a broken cached binary.
(cd "$source_dir" && nice -n 19 go build -buildvcs=false -o "$weed_binary.partial" ./weed) >&2
mv "$weed_binary.partial" "$weed_binary"
echo "$weed_binary"
