# shellcheck shell=bash
# The host side of the harness, sourced by k8s-local.sh: processes it starts (by pid file),
# the machine's settings before it changed them (the baseline), and what a cluster leaves
# behind (leftovers) and its removal.

# wait_until SECONDS WHAT CMD...: retry CMD every second until it succeeds.
wait_until() {
  local limit="$1" what="$2" i
  shift 2
  for ((i = 0; i < limit; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "timed out after ${limit}s waiting for $what"
}

# ---- processes: $PIDS/NAME.pid holds "PID EXECUTABLE" ------------------------------------

# alive NAME: the process NAME was started as still runs (same pid, same executable).
alive() {
  local file="$PIDS/$1.pid" pid exe now
  [ -f "$file" ] || return 1
  read -r pid exe <"$file"
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  now="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  [ "${now% (deleted)}" = "$exe" ] || [ "$now" = "$(readlink -f "$(command -v setsid)")" ]
}

# start_bg NAME PROGRAM ARGS...: run in its own session, output to $LOGS/NAME.log. Nothing
# happens when NAME already runs.
start_bg() {
  local name="$1" program
  shift
  alive "$name" && return 0
  program="$(readlink -f "$(command -v "$1")")" || die "$1: not found"
  mkdir -p "$PIDS" "$LOGS"
  # Nothing of the caller's: fd 3 (the harness's stderr) is closed too, or a daemon would hold
  # open a pipe the caller reads to its end.
  setsid "$@" </dev/null >"$LOGS/$name.log" 2>&1 3>&- &
  printf '%s %s\n' "$!" "$program" >"$PIDS/$name.pid"
}

# stop NAME [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 20).
stop() {
  local name="$1" limit="${2:-20}" pid exe i
  local file="$PIDS/$name.pid"
  [ -f "$file" ] || return 0
  if alive "$name"; then
    read -r pid exe <"$file"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < limit * 5; i++)); do
      [ -d "/proc/$pid" ] || break
      sleep 0.2
    done
    if [ -d "/proc/$pid" ]; then
      say "$name (pid $pid) did not stop in ${limit}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -f "$file"
}

# Processes of the harness: the components (built ones run from $BIN; etcd, containerd, its
# shims, our dockerd and its containerd name the harness's directories on their command
# line), and any process left in the kubelet's cgroups (a pod's).
HARNESS_PROGRAMS=' etcd containerd containerd-shim containerd-shim-runc-v2 dockerd runc docker-init '
harness_pids() {
  local dir pid exe cmd
  for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    exe="$(readlink "$dir/exe" 2>/dev/null)" || continue
    exe="${exe% (deleted)}"
    if [ "${exe#"$BIN"/}" != "$exe" ]; then
      printf '%s\n' "$pid"
      continue
    fi
    case "$HARNESS_PROGRAMS" in *" ${exe##*/} "*) ;; *) continue ;; esac
    cmd="$(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null)" || continue
    case "$cmd" in
      *"$K8S_HOME/"* | *"$RUN/"*) printf '%s\n' "$pid" ;;
    esac
  done
  local controller
  for controller in /sys/fs/cgroup/pids /sys/fs/cgroup/memory; do
    [ -d "$controller/kubepods" ] && find "$controller/kubepods" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
  return 0
}

# ---- the baseline: the machine before the harness changed it -----------------------------

# Settings the harness or what it runs changes machine-wide: dockerd and the cluster
# (ip_forward, bridge netfilter), the kubelet (its kernel tunables), kube-proxy (conntrack,
# route_localnet). Recorded before the first change, restored by down.
SYSCTLS=(net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.ipv6.conf.default.forwarding
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.bridge.bridge-nf-call-arptables net.ipv4.conf.all.route_localnet
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait
  net.netfilter.nf_conntrack_tcp_be_liberal)

sysctl_file() { printf '/proc/sys/%s' "${1//.//}"; }

# Directories outside its own that the cluster's programs make at fixed places: pod logs
# (/var/log/containers), CNI state, network namespaces, containerd's shim sockets and runc
# state (/run/containerd/s, /run/containerd/runc), dockerd's plugin directory, runc's root,
# the kubelet's device-plugin socket (/var/lib/kubelet/device-plugins, whatever --root-dir).
# Removed by down unless they were there before.
MADE_PATHS=(/var/log/pods /var/log/containers /var/lib/cni /run/netns /run/containerd /run/docker /run/runc
  /var/lib/kubelet)

record_baseline() {
  [ -f "$BASELINE/active" ] && return 0
  rm -rf "$BASELINE"
  mkdir -p "$BASELINE"
  local key
  for key in "${SYSCTLS[@]}"; do
    [ -r "$(sysctl_file "$key")" ] && printf '%s=%s\n' "$key" "$(cat "$(sysctl_file "$key")")"
  done >"$BASELINE/sysctl"
  { iptables -S FORWARD 2>/dev/null | sed -n 's/^-P FORWARD /iptables=/p'
    ip6tables -S FORWARD 2>/dev/null | sed -n 's/^-P FORWARD /ip6tables=/p'; } >"$BASELINE/policy"
  ipset list -n 2>/dev/null | sort >"$BASELINE/ipsets" || true
  local path
  for path in "${MADE_PATHS[@]}" /sys/fs/cgroup/memory/docker; do
    [ -e "$path" ] && printf '%s\n' "$path"
  done >"$BASELINE/paths"
  date -u +%FT%TZ >"$BASELINE/active"
}

# Put the recorded settings back; the record stays (as "restored") for check-clean.
restore_baseline() {
  [ -f "$BASELINE/active" ] || return 0
  local key value file
  while IFS='=' read -r key value; do
    file="$(sysctl_file "$key")"
    [ -w "$file" ] && [ "$(cat "$file")" != "$value" ] && { printf '%s' "$value" >"$file" || say "could not restore $key"; }
  done <"$BASELINE/sysctl"
  while IFS='=' read -r key value; do
    "$key" -P FORWARD "$value" 2>/dev/null || true
  done <"$BASELINE/policy"
  mv "$BASELINE/active" "$BASELINE/restored"
}

existed_before() { grep -qxF "$1" "$BASELINE/paths" 2>/dev/null; }

# ---- leftovers -------------------------------------------------------------------------

# Mount points under a directory, deepest first.
mounts_under() {
  awk -v d="$1/" '{ gsub(/\\040/, " ", $5); if (index($5 "/", d) == 1) print $5 }' /proc/self/mountinfo | sort -r
}

unmount_under() {
  local m
  while read -r m; do
    [ -n "$m" ] && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; }
  done < <(mounts_under "$1")
}

CHAIN_PATTERN='^(KUBE-|CNI-|DOCKER|FLIGHTCTL-)'
LINK_PATTERN="^(cni0|$NODE_LINK|docker0|kube-bridge|kube-dummy-if|kube-ipvs0)\$"

# One line per leftover: "KIND what". Empty when the machine is clean.
leftovers() {
  local pid
  while read -r pid; do
    [ -n "$pid" ] && [ -d "/proc/$pid" ] && printf 'process %s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-150)"
  done < <(harness_pids | sort -un)
  local dir
  for dir in "$K8S_HOME" "$RUN" /run/netns /var/run/netns /run/docker/netns; do
    mounts_under "$dir" | sed 's/^/mount /'
  done | sort -u
  ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ {print "netns " $1}'
  ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "$LINK_PATTERN" | sed 's/^/link /' || true
  ip -o link show master cni0 2>/dev/null | awk -F': ' '{print "link " $2}' | sed 's/@.*//' || true
  local ipt table
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for table in filter nat mangle raw; do
      "$ipt" -t "$table" -S 2>/dev/null | awk -v t="$ipt/$table" -v p="$CHAIN_PATTERN" '
        $1 == "-N" && $2 ~ p { print "chain " t " " $2 }
        $1 == "-A" && ($0 ~ /-j (KUBE-|CNI-|DOCKER|FLIGHTCTL-)/ || $0 ~ /'"$RULE_TAG"'/ || $0 ~ /cni0|'"$NODE_LINK"'/) && $2 !~ p { print "rule " t " " $0 }'
    done
    local policy want
    policy="$("$ipt" -S FORWARD 2>/dev/null | sed -n 's/^-P FORWARD //p')"
    want="$(sed -n "s/^$ipt=//p" "$BASELINE/policy" 2>/dev/null)"
    [ -n "$policy" ] && [ -n "$want" ] && [ "$policy" != "$want" ] && printf 'policy %s FORWARD %s (was %s)\n' "$ipt" "$policy" "$want"
  done
  if command -v ipset >/dev/null; then
    ipset list -n 2>/dev/null | sort | comm -23 - <(sort "$BASELINE/ipsets" 2>/dev/null) | sed 's/^/ipset /'
  fi
  local key value file
  if [ -f "$BASELINE/sysctl" ] && [ ! -f "$BASELINE/active" ]; then
    while IFS='=' read -r key value; do
      file="$(sysctl_file "$key")"
      [ -r "$file" ] && [ "$(cat "$file")" != "$value" ] && printf 'sysctl %s=%s (was %s)\n' "$key" "$(cat "$file")" "$value"
    done <"$BASELINE/sysctl"
  fi
  local controller
  for controller in /sys/fs/cgroup/*/; do
    [ -d "${controller}kubepods" ] && printf 'cgroup %skubepods\n' "$controller"
    [ -d "${controller}docker" ] && ! existed_before /sys/fs/cgroup/memory/docker && printf 'cgroup %sdocker\n' "$controller"
  done
  local path
  for path in "$STATE" "$RUN" "$KUBECONFIG_FILE" /var/lib/cni/networks/"$CNI_NETWORK"; do
    [ -e "$path" ] && printf 'file %s\n' "$path"
  done
  for path in /var/lib/cni/results/*"$CNI_NETWORK"*; do
    [ -e "$path" ] && printf 'file %s\n' "$path"
  done
  for path in "${MADE_PATHS[@]}"; do
    [ -e "$path" ] && ! existed_before "$path" && printf 'file %s\n' "$path"
  done
  return 0
}

# Remove what the cluster left in the host's network namespace, mounts and cgroups.
remove_leftovers() {
  local dir n
  for dir in "$STATE" "$RUN" "$K8S_HOME/docker" /run/docker/netns; do unmount_under "$dir"; done
  for n in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ {print $1}'); do
    ip netns delete "$n" 2>/dev/null || true
  done
  for n in $(ip -o link show master cni0 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//'); do
    ip link delete "$n" 2>/dev/null || true
  done
  for n in cni0 "$NODE_LINK" kube-bridge kube-dummy-if kube-ipvs0; do
    ip link delete "$n" 2>/dev/null || true
  done
  remove_chains
  local set
  if command -v ipset >/dev/null; then
    for set in $(ipset list -n 2>/dev/null | sort | comm -23 - <(sort "$BASELINE/ipsets" 2>/dev/null)); do
      ipset destroy "$set" 2>/dev/null || true
    done
  fi
  remove_cgroups kubepods
  existed_before /sys/fs/cgroup/memory/docker || remove_cgroups docker
  rm -rf /var/lib/cni/networks/"$CNI_NETWORK"
  find /var/lib/cni/results -maxdepth 1 -name "*$CNI_NETWORK*" -delete 2>/dev/null || true
  find /var/log/containers -maxdepth 1 -type l -lname "$STATE/*" -delete 2>/dev/null || true
  local path
  for path in "${MADE_PATHS[@]}"; do
    existed_before "$path" && continue
    unmount_under "$path"
    rm -rf "$path"
  done
}

# The chains of kube-proxy, kube-router, the CNI plugins (and dockerd's, should it have
# made any) and the harness's own rules: jumps from the built-in chains first, then the
# chains themselves.
remove_chains() {
  local ipt table rule chain
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for table in filter nat mangle raw; do
      "$ipt" -t "$table" -S 2>/dev/null |
        awk -v p="$CHAIN_PATTERN" '$1 == "-A" && $2 !~ p && ($0 ~ /-j (KUBE-|CNI-|DOCKER|FLIGHTCTL-)/ || $0 ~ /'"$RULE_TAG"'/ || $0 ~ /cni0|'"$NODE_LINK"'/)' |
        while read -r rule; do
          eval "$ipt -t $table -D ${rule#-A }" 2>/dev/null || true
        done
      for chain in $("$ipt" -t "$table" -S 2>/dev/null | awk -v p="$CHAIN_PATTERN" '$1 == "-N" && $2 ~ p {print $2}'); do
        "$ipt" -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$ipt" -t "$table" -S 2>/dev/null | awk -v p="$CHAIN_PATTERN" '$1 == "-N" && $2 ~ p {print $2}'); do
        "$ipt" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

# remove_cgroups NAME: the cgroup NAME in every controller, deepest first (empty ones only).
remove_cgroups() {
  local controller
  for controller in /sys/fs/cgroup/*/; do
    [ -d "$controller$1" ] || continue
    find "$controller$1" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}
