#!/usr/bin/env bash
# Builds the Go test tools (one pinned module: every main package directly
# under test/tools/, and the released tools its go.mod names with `tool`:
# helm) from the Go module proxy and caches them outside the repository, keyed
# by the module's content, so only the first build on a machine (or after a
# change) pays. Prints the directory holding the binaries, one per main
# package, named after its directory (helm: helm).
#
# helm is built here rather than by install.sh against its own go.mod: both
# need the same k8s.io modules at the same versions, so in one module and one
# `go build` they are compiled once (helm alone compiles ~3x the code it adds
# here; measured in README "Tests").
#
#   test/tools/build.sh                    build if missing, print the bin dir
#   TEST_TOOLS_CACHE=/path build.sh        choose the cache (default ~/.cache/topology-test-tools)
#
# A new tool is a new directory with a main package (and, if it needs one, a
# `go get module@version` here), or a released one by `go get -tool
# pkg@version`; nothing else changes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v go >/dev/null || { echo "test/tools/build.sh: Go is required to build the test tools" >&2; exit 1; }
cache="${TEST_TOOLS_CACHE:-$HOME/.cache/topology-test-tools}"
# The key covers the sources, the pinned versions and the Go toolchain.
key="$(cd "$here" && { go env GOVERSION; find . -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -c1-16)"
bin="$cache/$key"

if [[ -f "$bin/.complete" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
mains="$(cd "$here" && go list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./... tool)"
echo "build.sh: building the test tools ($(echo "$mains" | xargs -n1 basename | tr '\n' ' ')) into $bin (first time only, a few minutes on 2 cores)" >&2
(cd "$here" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/" $mains)
chmod 755 "$tmp"
touch "$tmp/.complete"
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
echo "build.sh: built in $((SECONDS - start)) s" >&2
echo "$bin"
