#!/usr/bin/env bash
# Builds kube-apiserver and etcd for the end-to-end tests from the Go module
# proxy and caches them outside the repository, keyed by version, so only the
# first build on a machine pays. Prints the directory holding the binaries.
#
#   test/controlplane/build.sh            build if missing, print the bin dir
#   CONTROLPLANE_CACHE=/path build.sh     choose the cache (default ~/.cache/topology-controlplane)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The versions are the ones the wrapper modules require.
k8s_version="$(sed -nE 's/^(require)?\s*k8s\.io\/kubernetes (v\S+).*/\2/p' "$here/kube-apiserver/go.mod" | head -1)"
etcd_version="$(sed -nE 's/^(require)?\s*go\.etcd\.io\/etcd\/server\/v3 (v\S+).*/\2/p' "$here/etcd/go.mod" | head -1)"
[[ -n "$k8s_version" && -n "$etcd_version" ]] || { echo "build.sh: cannot read versions from the wrapper go.mod files" >&2; exit 1; }
cache="${CONTROLPLANE_CACHE:-$HOME/.cache/topology-controlplane}"
bin="$cache/kubernetes-$k8s_version-etcd-$etcd_version"

if [[ -x "$bin/kube-apiserver" && -x "$bin/etcd" ]]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: Go is required to build the test control plane" >&2; exit 1; }
mkdir -p "$bin"
tmp="$(mktemp -d "$bin/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS

# Version stamps so that `kubectl version` reports the real server version.
pkg=k8s.io/component-base/version
IFS=. read -r major minor _ <<<"${k8s_version#v}"
ldflags="-s -w -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"

echo "build.sh: building kube-apiserver $k8s_version and etcd $etcd_version into $bin (first time only, about 4-5 min on 2 cores)" >&2
(cd "$here/etcd" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/etcd" .)
(cd "$here/kube-apiserver" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$tmp/kube-apiserver" .)
mv "$tmp/etcd" "$tmp/kube-apiserver" "$bin/"
echo "build.sh: built in $((SECONDS - start)) s" >&2
echo "$bin"
