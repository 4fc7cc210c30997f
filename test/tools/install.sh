#!/usr/bin/env bash
# Builds kyverno's chainsaw from a patched copy of its pinned module (see
# below) and copies prometheus-operator's CRDs (ServiceMonitor,
# PrometheusRule) out of its pinned module into prometheus-operator-crd/,
# both into a cache outside the repository. Prints the directory holding them.
# (helm and promtool are built with the oracles by build.sh: one module, so
# the k8s.io modules they share compile once.)
#
#   test/tools/install.sh                  install what is missing, print the bin dir
#   test/tools/install.sh chainsaw         only chainsaw (or prometheus-operator-crd)
#   TEST_TOOLS_CACHE=/path install.sh      choose the cache (default ~/.cache/topology-test-tools)
set -euo pipefail

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
# Its own lock, so a build of several minutes holds up no caller of the CRDs.
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

# One copy at a time: a second caller (another test file) waits for the first.
exec 9>"$cache/.install.lock"
flock 9

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
