#!/usr/bin/env bash
# Installs the released Go command-line tools the tests run (helm, promtool)
# from the Go module proxy with `go install module/cmd@version`, so each tool
# builds against its own go.mod, and caches them outside the repository keyed
# by the pinned version and the Go toolchain. Also copies prometheus-operator's
# CRDs (ServiceMonitor, PrometheusRule) out of its pinned module into
# prometheus-operator-crd/ there. Prints the directory holding the binaries.
#
#   test/tools/install.sh                  install what is missing, print the bin dir
#   test/tools/install.sh helm             only helm (or promtool, prometheus-operator-crd)
#   TEST_TOOLS_CACHE=/path install.sh      choose the cache (default ~/.cache/topology-test-tools)
set -euo pipefail

# One line a tool: the main package and its pinned version.
tools=(
  helm.sh/helm/v3/cmd/helm@v3.22.0
  github.com/prometheus/prometheus/cmd/promtool@v0.316.0
)

command -v go >/dev/null || { echo "test/tools/install.sh: Go is required to build the test tools" >&2; exit 1; }
cache="${TEST_TOOLS_CACHE:-$HOME/.cache/topology-test-tools}"
goversion="$(go env GOVERSION)"
bin="$cache/go-install"
mkdir -p "$bin"
wanted=("$@")
want() { [[ ${#wanted[@]} -eq 0 ]] || [[ " ${wanted[*]} " == *" $1 "* ]]; }

# One build at a time: a second caller (another test file) waits for the first.
exec 9>"$cache/.install.lock"
flock 9

for tool in "${tools[@]}"; do
  pkg="${tool%@*}"
  name="$(basename "$pkg")"
  want "$name" || continue
  stamp="$bin/.$name-${tool##*@}-$goversion"
  [[ -x "$bin/$name" && -f "$stamp" ]] && continue
  tmp="$(mktemp -d "$cache/.install.XXXXXX")"
  start=$SECONDS
  echo "install.sh: building $tool into $bin (first time only, a few minutes on 2 cores)" >&2
  GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-trimpath go install -ldflags "-s -w" "$tool"
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
