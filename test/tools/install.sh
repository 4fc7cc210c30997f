#!/usr/bin/env bash
# Installs the released Go command-line tools the tests run (promtool) from
# the Go module proxy with `go install module/cmd@version`, so each tool
# builds against its own go.mod, and caches them outside the repository keyed
# by the pinned version and the Go toolchain. Builds chainsaw the same way from
# a patched copy of its module (see below). Also copies prometheus-operator's
# CRDs (ServiceMonitor, PrometheusRule) out of its pinned module into
# prometheus-operator-crd/ there. Prints the directory holding the binaries.
#
#   test/tools/install.sh                  install what is missing, print the bin dir
#   test/tools/install.sh promtool         only promtool (or chainsaw, prometheus-operator-crd)
#   TEST_TOOLS_CACHE=/path install.sh      choose the cache (default ~/.cache/topology-test-tools)
set -euo pipefail

# One line a tool: the main package, its pinned version and any build tags.
# promtool without its service-discovery plugins (remove_all_sd): the tests
# only check and unit-test rules, and the cloud SDKs those plugins pull in
# were most of its build (measured in README "Tests").
# (helm is built by build.sh, in one module with the oracles: they share its
# k8s.io modules.)
tools=(
  "github.com/prometheus/prometheus/cmd/promtool@v0.316.0 remove_all_sd"
)

command -v go >/dev/null || { echo "test/tools/install.sh: Go is required to build the test tools" >&2; exit 1; }
cache="${TEST_TOOLS_CACHE:-$HOME/.cache/topology-test-tools}"
goversion="$(go env GOVERSION)"
bin="$cache/go-install"
mkdir -p "$bin"
wanted=("$@")
want() { [[ ${#wanted[@]} -eq 0 ]] || [[ " ${wanted[*]} " == *" $1 "* ]]; }

# chainsaw's runner hands testing.MainStart its own testDeps, and Go 1.26's
# testing.testDeps interface gained ModulePath(), so the released module no
# longer compiles. Build it from a copy of the pinned module (its own go.mod
# and go.sum) with that one method added; the stamp names the patch too.
chainsaw=github.com/kyverno/chainsaw@v0.2.12
stamp="$bin/.chainsaw-${chainsaw##*@}-modulepath-$goversion"
# Its own lock, so a build of several minutes holds up no promtool caller.
if want chainsaw; then
  exec 8>"$cache/.install-chainsaw.lock"
  flock 8
  if ! [[ -x "$bin/chainsaw" && -f "$stamp" ]]; then
    dir="$(go mod download -json "$chainsaw" | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')"
    deps="$dir/pkg/runner/internal/test_deps.go"
    [[ -f "$deps" ]] || { echo "install.sh: $chainsaw has no pkg/runner/internal/test_deps.go" >&2; exit 1; }
    tmp="$(mktemp -d "$cache/.install.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    start=$SECONDS
    echo "install.sh: building $chainsaw (patched for Go 1.26's testing) into $bin (first time only, several minutes on 2 cores)" >&2
    cp -r "$dir" "$tmp/src"
    chmod -R u+w "$tmp/src"
    if ! grep -q 'ModulePath()' "$deps"; then
      printf '\n// ModulePath is part of testing.testDeps since Go 1.26.\nfunc (*TestDeps) ModulePath() string {\n\treturn ""\n}\n' >>"$tmp/src/pkg/runner/internal/test_deps.go"
    fi
    (cd "$tmp/src" && CGO_ENABLED=0 go build -mod=readonly -buildvcs=false -trimpath -ldflags "-s -w" -o "$tmp/chainsaw" .)
    rm -f "$bin/.chainsaw-"*
    mv "$tmp/chainsaw" "$bin/chainsaw"
    rm -rf "$tmp"
    trap - EXIT
    touch "$stamp"
    echo "install.sh: built chainsaw in $((SECONDS - start)) s" >&2
  fi
  exec 8>&-
fi

# One build at a time: a second caller (another test file) waits for the first.
exec 9>"$cache/.install.lock"
flock 9

for line in "${tools[@]}"; do
  read -r tool tags <<<"$line"
  pkg="${tool%@*}"
  name="$(basename "$pkg")"
  want "$name" || continue
  # The stamp names the tags too, so a binary built with others is replaced.
  stamp="$bin/.$name-${tool##*@}-$goversion${tags:+-tags-${tags//,/-}}"
  [[ -x "$bin/$name" && -f "$stamp" ]] && continue
  tmp="$(mktemp -d "$cache/.install.XXXXXX")"
  start=$SECONDS
  echo "install.sh: building $tool${tags:+ (tags $tags)} into $bin (first time only, a few minutes on 2 cores)" >&2
  GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-trimpath go install -ldflags "-s -w" ${tags:+-tags "$tags"} "$tool"
  rm -f "$bin/.$name-"*
  mv "$tmp/$name" "$bin/$name"
  rm -rf "$tmp"
  touch "$stamp"
  echo "install.sh: built $name in $((SECONDS - start)) s" >&2
done
# The CRDs a cluster with prometheus-operator has, from the module's example/.
crds=github.com/prometheus-operator/prometheus-operator@v0.85.0
stamp="$bin/prometheus-operator-crd/.${crds##*@}"
if want prometheus-operator-crd && [[ ! -f "$stamp" ]]; then
  dir="$(go mod download -json "$crds" | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')"
  [[ -d "$dir/example/prometheus-operator-crd" ]] || { echo "install.sh: $crds has no example/prometheus-operator-crd" >&2; exit 1; }
  rm -rf "$bin/prometheus-operator-crd"
  mkdir -p "$bin/prometheus-operator-crd"
  cp "$dir"/example/prometheus-operator-crd/monitoring.coreos.com_{servicemonitors,prometheusrules}.yaml "$bin/prometheus-operator-crd/"
  touch "$stamp"
fi
echo "$bin"
