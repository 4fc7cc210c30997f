#!/usr/bin/env bash
# Builds the Go test tools (one pinned module: every main package directly
# under test/tools/, and the released tools its go.mod names with `tool`:
# helm, promtool) from the Go module proxy and caches them outside the repository, keyed
# by the module's content, so only the first build on a machine (or after a
# change) pays. Prints the directory holding the binaries, one per main
# package, named after its directory (helm: helm).
#
# helm and promtool are built here rather than each against its own go.mod
# (`go install pkg@version`): with the oracles they need the same k8s.io
# modules (and gRPC, protobuf, ...), and in one module and one `go build`
# those compile once, at the versions minimal version selection picks for all
# of them (measured in README "The two commands").
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
# Build tags: promtool without its service-discovery plugins (the tests only
# check and unit-test rules; the cloud SDKs those plugins pull in were most of
# its build). go list takes them too, or it would fetch the modules they leave out.
tags=remove_all_sd
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-tags=$tags"
# The key covers the sources, the pinned versions, the tags and the Go toolchain.
key="$(cd "$here" && { go env GOVERSION; echo "tags $tags"; find . -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -c1-16)"
bin="$cache/$key"

if [[ -f "$bin/.complete" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
# One build at a time: a second caller (another test file) waits for the
# first, then finds the binaries.
exec 9>"$cache/.build.lock"
flock 9
if [[ -f "$bin/.complete" ]]; then
  echo "$bin"
  exit 0
fi
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
