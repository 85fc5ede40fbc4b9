#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go module proxy, the way controller projects get an
# "envtest" control plane, into a cache outside the repository (INSTAPRO_ENVTEST_DIR, default
# ~/.cache/instapro/envtest/<versions>/bin). Does nothing when both binaries are there.
#
# `go install k8s.io/kubernetes/cmd/kube-apiserver@...` refuses the module: its go.mod replaces the
# k8s.io/* staging modules with directories of its own repository. So a wrapper module requires
# k8s.io/kubernetes and replaces each of those modules with its published v0.x release of the same
# minor and patch; etcd's server module gets the same treatment for its go.etcd.io/* siblings.
# The first build takes 10-20 minutes of two cores (deploy/README.md has the measured time).
set -euo pipefail

KUBERNETES_VERSION=${KUBERNETES_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.17}
cache=${INSTAPRO_ENVTEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/instapro/envtest/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION}
bin="$cache/bin"

log() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'build-control-plane: %s\n' "$*" >&2; exit 1; }
command -v go >/dev/null 2>&1 || fail "Go is needed to build kube-apiserver and etcd"

if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/etcd" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$bin"
started=$SECONDS
export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-auto}

# go.mod of a wrapper module in $4: require $1@$2 and replace every module that $1's own go.mod
# replaces with a local directory by that module's published version ($3 names it). `go build`
# (-mod=mod) then adds the remaining requirements itself.
write_wrapper() {
  local module=$1 version=$2 version_of_replaced=$3 dir=$4 gomod
  mkdir -p "$dir"
  gomod=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [ -f "$gomod" ] || fail "cannot download $module@$version from the module proxy"
  {
    echo "module instapro.invalid/envtest-$(basename "$dir")"
    echo
    sed -n 's/^go \(.*\)$/go \1/p' "$gomod" | head -n 1
    echo
    echo "require $module $version"
    echo
    echo "replace ("
    awk '/^replace \(/ {inside = 1; next} inside && /^\)/ {inside = 0} inside && $2 == "=>" && $3 ~ /^\.\.?\// {print $1}' "$gomod" |
      while read -r replaced; do
        printf '\t%s => %s %s\n' "$replaced" "$replaced" "$("$version_of_replaced" "$replaced")"
      done
    echo ")"
  } >"$dir/go.mod"
}

staging_version() { echo "v0.${KUBERNETES_VERSION#v1.}"; }
etcd_version() { echo "$ETCD_VERSION"; }

log "kube-apiserver $KUBERNETES_VERSION (k8s.io/kubernetes, staging modules $(staging_version))"
write_wrapper k8s.io/kubernetes "$KUBERNETES_VERSION" staging_version "$cache/src/kubernetes"
# The version a release build stamps in, so /version (and helm's .Capabilities) is the real one.
minor=${KUBERNETES_VERSION#v1.}
minor=${minor%%.*}
version_flags="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1"
version_flags="$version_flags -X k8s.io/component-base/version.gitMinor=$minor"
(cd "$cache/src/kubernetes" && nice -n 19 go build -trimpath -ldflags "$version_flags" -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"

log "etcd $ETCD_VERSION (go.etcd.io/etcd/server/v3)"
write_wrapper go.etcd.io/etcd/server/v3 "$ETCD_VERSION" etcd_version "$cache/src/etcd"
(cd "$cache/src/etcd" && nice -n 19 go build -trimpath -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
mv "$bin/etcd.tmp" "$bin/etcd"

log "built in $((SECONDS - started))s"
echo "$bin"
