#!/usr/bin/env bash
# k8s-local.sh: a real single-node Kubernetes for flightctl's tests, built on this machine.
#
# No container registry is reachable here, so Kind cannot get its node image. This harness
# builds the Kubernetes components from the Go module proxy, the images with docker (no
# network inside any build), and runs the cluster as plain processes on the host. See
# README.md beside it; every version is pinned in versions.env.
#
#   install          apt packages (docker.io, containerd, etcd, CNI plugins, ...)
#   build            Go builds, once: kube-*, CoreDNS, kube-router, local-path-provisioner,
#                    Prometheus, pause (cached under $FLIGHTCTL_K8S_HOME)
#   pin              regenerate go/kube and go/prometheus (go.mod, go.sum) after a version
#                    change in versions.env; build uses them as they are
#   images [WHAT..]  docker images: base addons standins services doubles (default: all), or
#                    one of debian python postgres kafka prometheus nginx
#   up               start the cluster; kubeconfig $FLIGHTCTL_K8S_HOME/kubeconfig, context flightctl-local
#   load IMAGE...    copy docker images into the node's containerd
#   deploy [--dry-run] [--overlay NAME]
#                    an overlay (default kind): server-side dry run, then a real apply
#                    (throwaway Secrets)
#   down             stop everything, remove what the cluster left, restore sysctls
#   status           what runs, and what is left over
#   check-clean      leftovers only; exit 1 if there are any
#   env              print `export KUBECONFIG=...`
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"

K8S_HOME="${FLIGHTCTL_K8S_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/flightctl/k8s}"
BIN="$K8S_HOME/bin"            # built binaries, kept
LOGS="$K8S_HOME/logs"          # component logs of the last run, kept for reading
STATE="$K8S_HOME/state"        # one cluster's data (PKI, etcd, containerd, volumes): removed by down
RUN=/run/flightctl-k8s         # sockets, pid files, containerd state: removed by down
PIDS="$RUN/pids"
KUBECONFIG_FILE="$K8S_HOME/kubeconfig"
BASELINE="$K8S_HOME/baseline"  # the machine's settings before the harness changed them
CONTEXT=flightctl-local
NODE=flightctl-node
NODE_IP=10.250.0.1             # the API server cannot advertise 127.0.0.1: a bridge holds this /32
NODE_LINK=flightctl0
SERVICE_CIDR=10.96.0.0/16
POD_CIDR=10.244.0.0/16
CNI_NETWORK=flightctl-pods     # the name in config/cni.conflist
RULE_TAG=flightctl-k8s         # iptables comment on the harness's own rules
DOCKER=/usr/bin/docker         # Debian's CLI: BuildKit (a docker on PATH before it may lack it)
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NAMESPACE=flightctl            # the platform's namespace (deploy)

export DOCKER_BUILDKIT=1
export GOPATH="$K8S_HOME/go" GOMODCACHE="$K8S_HOME/go/pkg/mod" GOCACHE="$K8S_HOME/go-build"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# fd 3: the harness's own stderr, which a redirection of a timed command does not capture.
exec 3>&2
say() { printf '» %s\n' "$*" >&2; }
die() { printf 'k8s-local: %s\n' "$*" >&2; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (it changes iptables, mounts, sysctls)"; }

# timed WHAT CMD...: run CMD, then print and record (timings.log) how long it took.
timed() {
  local what="$1" start=$SECONDS
  shift
  "$@"
  local took=$((SECONDS - start))
  say "$what: ${took}s" 2>&3
  mkdir -p "$K8S_HOME"
  printf '%s\t%s\t%ss\n' "$(date -u +%FT%TZ)" "$what" "$took" >>"$K8S_HOME/timings.log"
}

kubectl_() { kubectl --kubeconfig "$KUBECONFIG_FILE" --context "$CONTEXT" "$@"; }
ctr_() { ctr --address "$RUN/containerd.sock" --namespace k8s.io "$@"; }

# ---- install -------------------------------------------------------------------------------

APT_PACKAGES=(docker.io containerd runc iptables debootstrap etcd-server etcd-client
  containernetworking-plugins ipset conntrack openssl ca-certificates iproute2 procps)

cmd_install() {
  need_root
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  command -v go >/dev/null || die "Go is needed for the builds (go on PATH)"
  command -v kubectl >/dev/null || die "kubectl is needed (on PATH)"
  command -v mvn >/dev/null || missing+=(maven)
  [ ${#missing[@]} -eq 0 ] && { say "apt packages present"; return 0; }
  say "installing ${missing[*]} (apt)"
  apt-get update -q
  # No service may start from a package's maintainer scripts (dockerd, containerd, etcd).
  local policy=/usr/sbin/policy-rc.d created=
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    { [ -n "$created" ] && rm -f "$policy"; die "apt-get install failed"; }
  [ -n "$created" ] && rm -f "$policy"
  return 0
}

# ---- build: Go binaries --------------------------------------------------------------------

# stamp NAME VALUE: true when $BIN/NAME exists and was built from VALUE.
built() { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.version" 2>/dev/null)" = "$2" ]; }
mark() { printf '%s\n' "$2" >"$BIN/.$1.version"; }

# wrapper_module DIR MODULE VERSION STAGING_VERSION TOOL...: (`pin`) a module that requires MODULE at
# VERSION, repeats its replace directives (a local-path replacement becomes MODULE's own
# staging module at STAGING_VERSION) and declares the TOOLs to build. Needed because
# `go install pkg@version` refuses a module whose go.mod has replace directives.
wrapper_module() {
  local dir="$1" module="$2" version="$3" staging="$4"
  shift 4
  local gomod
  gomod="$(go mod download -json "$module@$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')"
  [ -f "$gomod" ] || die "could not fetch $module@$version from the Go module proxy"
  mkdir -p "$dir"
  {
    printf '// Generated by tests/cluster/k8s-local.sh; do not edit.\n'
    printf 'module flightctl.test/cluster/%s\n\ngo 1.24\n\nrequire %s %s\n\nreplace (\n' "$(basename "$dir")" "$module" "$version"
    awk -v staging="$staging" '
      /^replace \($/ { block = 1; next }
      block && /^\)$/ { block = 0; next }
      /^replace / { sub(/^replace /, ""); line = $0 }
      block { line = $0 }
      line != "" {
        split(line, side, "=>"); lhs = side[1]; rhs = side[2]
        gsub(/^[ \t]+|[ \t]+$/, "", lhs); gsub(/^[ \t]+|[ \t]+$/, "", rhs)
        split(lhs, l, " ")
        if (rhs ~ /^\.\.?\//) printf "\t%s => %s %s\n", l[1], l[1], staging
        else printf "\t%s => %s\n", lhs, rhs
        line = ""
      }' "$gomod"
    printf ')\n\ntool (\n'
    printf '\t%s\n' "$@"
    printf ')\n'
  } >"$dir/go.mod"
  (cd "$dir" && nice -n 19 go mod tidy)
}

KUBE_TOOLS=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
PROMETHEUS_TOOLS=(github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool)

# pinned_module NAME VERSION: the committed wrapper module go/NAME (go.mod and go.sum, every
# module version fixed) copied to where it is built; it must be the one pinned for VERSION.
pinned_module() {
  local name="$1" version="$2" dir="$K8S_HOME/src/$1"
  grep -qE "^[[:space:]]*(k8s.io/kubernetes|github.com/prometheus/prometheus) $version( |\$)" "$HERE/go/$name/go.mod" \
    || die "tests/cluster/go/$name does not pin $version; run: $0 pin"
  mkdir -p "$dir"
  cp "$HERE/go/$name/go.mod" "$HERE/go/$name/go.sum" "$dir/"
}

cmd_pin() {
  command -v go >/dev/null || die "Go is needed (go on PATH); run: $0 install"
  local name
  wrapper_module "$K8S_HOME/src/kube" k8s.io/kubernetes "v$KUBERNETES_VERSION" "v0.${KUBERNETES_VERSION#*.}" "${KUBE_TOOLS[@]}"
  wrapper_module "$K8S_HOME/src/prometheus" github.com/prometheus/prometheus "v$PROMETHEUS_MODULE_VERSION" "" "${PROMETHEUS_TOOLS[@]}"
  for name in kube prometheus; do
    mkdir -p "$HERE/go/$name"
    sed '1s|.*|// Generated by `tests/cluster/k8s-local.sh pin`; do not edit. It pins every module the build uses.|' \
      "$K8S_HOME/src/$name/go.mod" >"$HERE/go/$name/go.mod"
    cp "$K8S_HOME/src/$name/go.sum" "$HERE/go/$name/go.sum"
  done
  say "pinned: $HERE/go/kube, $HERE/go/prometheus"
}

build_kube() {
  local v="v$KUBERNETES_VERSION" c missing=()
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    built "$c" "$v" || missing+=("$c")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local dir="$K8S_HOME/src/kube"
  local minor="${KUBERNETES_VERSION#*.}"
  minor="${minor%%.*}"
  pinned_module kube "$v"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$v
    -X k8s.io/component-base/version.gitMajor=${KUBERNETES_VERSION%%.*}
    -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  for c in "${missing[@]}"; do
    say "building $c $v"
    (cd "$dir" && timed "build $c" nice -n 19 go build -trimpath -ldflags "$ldflags" -o "$BIN/$c" "k8s.io/kubernetes/cmd/$c")
    mark "$c" "$v"
  done
}

# go_install NAME PACKAGE VERSION: a module without replace directives.
go_install() {
  local name="$1" pkg="$2" version="$3"
  built "$name" "$version" && return 0
  say "building $name $version"
  timed "build $name" env GOBIN="$BIN" nice -n 19 go install -trimpath -ldflags '-s -w' "$pkg@$version"
  mark "$name" "$version"
}

build_prometheus() {
  local v="v$PROMETHEUS_MODULE_VERSION"
  built prometheus "$v" && built promtool "$v" && return 0
  local dir="$K8S_HOME/src/prometheus"
  pinned_module prometheus "$v"
  local ldflags="-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION
    -X github.com/prometheus/common/version.Branch=HEAD -X github.com/prometheus/common/version.BuildUser=flightctl-test"
  local c
  for c in prometheus promtool; do
    say "building $c $PROMETHEUS_VERSION"
    (cd "$dir" && timed "build $c" nice -n 19 go build -trimpath -tags netgo -ldflags "$ldflags" -o "$BIN/$c" "github.com/prometheus/prometheus/cmd/$c")
    mark "$c" "$v"
  done
}

build_pause() {
  local stamp
  stamp="$PAUSE_VERSION $(sha256sum "$HERE/go/pause/main.go" | cut -c1-16)"
  built pause "$stamp" && return 0
  (cd "$HERE/go/pause" && timed "build pause" nice -n 19 go build -trimpath -ldflags '-s -w' -o "$BIN/pause" .)
  mark pause "$stamp"
}

cmd_build() {
  command -v go >/dev/null || die "Go is needed (go on PATH); run: $0 install"
  mkdir -p "$BIN"
  build_kube
  go_install coredns github.com/coredns/coredns "v$COREDNS_VERSION"
  go_install kube-router github.com/cloudnativelabs/kube-router/v2/cmd/kube-router "v$KUBE_ROUTER_VERSION"
  go_install local-path-provisioner github.com/rancher/local-path-provisioner "v$LOCAL_PATH_PROVISIONER_VERSION"
  build_prometheus
  build_pause
  say "binaries in $BIN: $(cd "$BIN" && echo *)"
}

# shellcheck source=lib/host.sh
source "$HERE/lib/host.sh"
# shellcheck source=lib/images.sh
source "$HERE/lib/images.sh"
# shellcheck source=lib/cluster.sh
source "$HERE/lib/cluster.sh"

# ---- dispatch ------------------------------------------------------------------------------

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; exit 2; }

main() {
  local cmd="${1:-}"
  [ -n "$cmd" ] || usage
  shift
  case "$cmd" in
    install | build | pin | images | up | load | deploy | down | status | env) "cmd_$cmd" "$@" ;;
    check-clean) cmd_check_clean "$@" ;;
    -h | --help | help) usage ;;
    *) die "unknown command '$cmd' (see: $0 help)" ;;
  esac
}

# One line: bash has read all of it before main runs, so editing this file meanwhile is safe.
main "$@"; exit $?
