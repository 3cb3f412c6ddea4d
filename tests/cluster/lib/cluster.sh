# shellcheck shell=bash
# The cluster, sourced by k8s-local.sh: PKI, the components as processes, the addons, loading
# images, deploying the cluster overlay, and tearing it all down.

PKI="$STATE/pki"
KUBECONFIGS="$STATE/kubeconfigs"
API_SERVER="https://$NODE_IP:6443"
# Components in the order `up` starts them; `down` stops them the other way round.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy kube-router)
# Ports the components listen on (all outside the ranges the local platforms use).
PORTS=(2379 2380 6443 10010 10248 10249 10250 10256 10257 10259)

# ---- PKI and kubeconfigs --------------------------------------------------------------------

# issue NAME SUBJECT [SANS]: an ECDSA P-256 key and a certificate signed by the cluster CA.
# With SANS it serves and authenticates; without, it only authenticates (client).
issue() {
  local name="$1" subject="$2" sans="${3:-}"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    if [ -n "$sans" ]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$sans"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 30 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

# kubeconfig FILE USER CERT-NAME: credentials embedded, one context named $CONTEXT.
kubeconfig() {
  local file="$1" user="$2" cert="$3"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: $CONTEXT
    cluster:
      server: $API_SERVER
      certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
  - name: $user
    user:
      client-certificate-data: $(base64 -w0 "$PKI/$cert.crt")
      client-key-data: $(base64 -w0 "$PKI/$cert.key")
contexts:
  - name: $CONTEXT
    context:
      cluster: $CONTEXT
      user: $user
current-context: $CONTEXT
EOF
  chmod 0600 "$file"
}

pki() {
  [ -f "$PKI/done" ] && return 0
  rm -rf "$PKI" "$KUBECONFIGS"
  mkdir -p "$PKI" "$KUBECONFIGS"
  chmod 0700 "$PKI"
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 30 \
    -subj "/CN=flightctl-local-ca" -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/service-accounts.key"
  openssl ec -in "$PKI/service-accounts.key" -pubout -out "$PKI/service-accounts.pub" 2>/dev/null
  local svc="kubernetes,kubernetes.default,kubernetes.default.svc,kubernetes.default.svc.cluster.local"
  issue kube-apiserver "/CN=kube-apiserver" "DNS:localhost,DNS:${svc//,/,DNS:},IP:127.0.0.1,IP:10.96.0.1,IP:$NODE_IP"
  issue apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client/O=system:masters"
  issue admin "/CN=flightctl-local-admin/O=system:masters"
  issue kube-controller-manager "/CN=system:kube-controller-manager"
  issue kube-scheduler "/CN=system:kube-scheduler"
  issue kubelet "/CN=system:node:$NODE/O=system:nodes" "DNS:$NODE,IP:$NODE_IP"
  issue kube-proxy "/CN=system:kube-proxy"
  kubeconfig "$KUBECONFIGS/admin" flightctl-local-admin admin
  kubeconfig "$KUBECONFIGS/kube-controller-manager" system:kube-controller-manager kube-controller-manager
  kubeconfig "$KUBECONFIGS/kube-scheduler" system:kube-scheduler kube-scheduler
  kubeconfig "$KUBECONFIGS/kubelet" "system:node:$NODE" kubelet
  kubeconfig "$KUBECONFIGS/kube-proxy" system:kube-proxy kube-proxy
  touch "$PKI/done"
}

# fill TEMPLATE: the template with @NAME@ replaced by the harness's values.
fill() {
  sed -e "s#@STATE@#$STATE#g" -e "s#@RUN@#$RUN#g" -e "s#@PKI@#$PKI#g" -e "s#@PV_DIR@#$STATE/volumes#g" \
    -e "s#@PAUSE_IMAGE@#$PAUSE_IMAGE#g" -e "s#@COREDNS_IMAGE@#$COREDNS_IMAGE#g" \
    -e "s#@LOCAL_PATH_IMAGE@#$LOCAL_PATH_IMAGE#g" -e "s#@DEBIAN_IMAGE@#$DEBIAN_IMAGE#g" "$1"
}

# ---- the components -------------------------------------------------------------------------

api_ready() { kubectl_ get --raw /readyz; }
etcd_healthy() { etcdctl --endpoints=http://127.0.0.1:2379 endpoint health; }
containerd_answers() { ctr_ version; }
node_registered() { kubectl_ get node "$NODE"; }

start_etcd() {
  start_bg etcd etcd --name flightctl-local --data-dir "$STATE/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster flightctl-local=http://127.0.0.1:2380
  wait_until 60 "etcd to be healthy" etcd_healthy
}

start_control_plane() {
  start_bg kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port=6443 \
    --tls-cert-file="$PKI/kube-apiserver.crt" --tls-private-key-file="$PKI/kube-apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/service-accounts.pub" \
    --service-account-signing-key-file="$PKI/service-accounts.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --service-node-port-range=30000-32767 \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true --profiling=false
  wait_until 90 "the API server to be ready" api_ready
  start_bg kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$KUBECONFIGS/kube-controller-manager" \
    --authentication-kubeconfig="$KUBECONFIGS/kube-controller-manager" \
    --authorization-kubeconfig="$KUBECONFIGS/kube-controller-manager" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/service-accounts.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --allocate-node-cidrs=true \
    --cluster-cidr="$POD_CIDR" --node-cidr-mask-size=24 --profiling=false
  start_bg kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$KUBECONFIGS/kube-scheduler" \
    --authentication-kubeconfig="$KUBECONFIGS/kube-scheduler" \
    --authorization-kubeconfig="$KUBECONFIGS/kube-scheduler" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false
}

start_node() {
  mkdir -p "$STATE/cni" "$STATE/kubelet" "$STATE/pod-logs" "$STATE/volumes"
  fill "$HERE/config/containerd.toml.in" >"$STATE/containerd.toml"
  cp "$HERE/config/cni.conflist" "$STATE/cni/10-$CNI_NETWORK.conflist"
  start_bg containerd containerd --config "$STATE/containerd.toml"
  wait_until 30 "containerd to answer" containerd_answers
  load_images "$PAUSE_IMAGE" "$COREDNS_IMAGE" "$LOCAL_PATH_IMAGE" "$DEBIAN_IMAGE"
  fill "$HERE/config/kubelet.yaml.in" >"$STATE/kubelet.yaml"
  printf 'podLogsDir: "%s"\n' "$STATE/pod-logs" >>"$STATE/kubelet.yaml"
  start_bg kubelet "$BIN/kubelet" --config="$STATE/kubelet.yaml" --kubeconfig="$KUBECONFIGS/kubelet" \
    --root-dir="$STATE/kubelet" --hostname-override="$NODE" --node-ip="$NODE_IP"
  # 0 = leave the machine's conntrack settings alone; no localhost NodePorts (route_localnet).
  start_bg kube-proxy "$BIN/kube-proxy" --kubeconfig="$KUBECONFIGS/kube-proxy" --proxy-mode=iptables \
    --cluster-cidr="$POD_CIDR" --hostname-override="$NODE" --oom-score-adj=0 \
    --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
    --iptables-localhost-nodeports=false \
    --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
  wait_until 90 "the node to register" node_registered
  kubectl_ wait --for=condition=Ready "node/$NODE" --timeout=120s >/dev/null ||
    die "the node did not become Ready (see $LOGS/kubelet.log)"
  # NetworkPolicy only: no routing, no service proxy, no ports of its own.
  start_bg kube-router "$BIN/kube-router" --kubeconfig="$KUBECONFIGS/admin" --hostname-override="$NODE" \
    --run-router=false --run-firewall=true --run-service-proxy=false --metrics-port=0 --health-port=0
}

# Pod traffic crosses FORWARD; a dockerd elsewhere on the machine may have set its policy to
# DROP. Appended, so kube-router's NetworkPolicy chains (inserted first) still decide.
forward_rules() {
  local way
  for way in -i -o; do
    iptables -C FORWARD "$way" cni0 -m comment --comment "$RULE_TAG" -j ACCEPT 2>/dev/null ||
      iptables -A FORWARD "$way" cni0 -m comment --comment "$RULE_TAG" -j ACCEPT
  done
}

dns_answers() {
  [ "$(python3 "$HERE/cluster.py" resolve kubernetes.default.svc.cluster.local --server 10.96.0.10)" = 10.96.0.1 ]
}

start_addons() {
  fill "$HERE/config/coredns.yaml.in" | kubectl_ apply -f - >/dev/null
  fill "$HERE/config/local-path.yaml.in" | kubectl_ apply -f - >/dev/null
  kubectl_ -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null ||
    die "CoreDNS did not become ready (kubectl -n kube-system describe pod -l k8s-app=kube-dns)"
  kubectl_ -n local-path-storage rollout status deployment/local-path-provisioner --timeout=180s >/dev/null ||
    die "local-path-provisioner did not become ready"
  wait_until 60 "CoreDNS to answer for kubernetes.default.svc.cluster.local" dns_answers
}

preflight() {
  local c missing=()
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kube-router; do
    [ -x "$BIN/$c" ] || missing+=("$c")
  done
  [ ${#missing[@]} -eq 0 ] || die "not built: ${missing[*]}; run: $0 build"
  for c in etcd etcdctl containerd ctr runc ipset conntrack iptables openssl; do
    command -v "$c" >/dev/null || die "$c is missing; run: $0 install"
  done
  [ -x /usr/lib/cni/bridge ] || die "the CNI plugins are missing; run: $0 install"
  # A port taken by something other than this harness stops us before anything starts.
  local port owner ours
  ours="$(harness_pids)"
  for port in "${PORTS[@]}"; do
    owner="$(ss -Htlnp sport = ":$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true)"
    [ -z "$owner" ] && continue
    grep -qx "$owner" <<<"$ours" || die "port $port is in use by pid $owner ($(tr '\0' ' ' <"/proc/$owner/cmdline" | cut -c1-80))"
  done
}

cmd_up() {
  need_root
  preflight
  local start=$SECONDS
  record_baseline
  ensure_dockerd
  local image
  for image in "$PAUSE_IMAGE" "$COREDNS_IMAGE" "$LOCAL_PATH_IMAGE" "$DEBIAN_IMAGE"; do
    image_exists "$image" || die "image $image is missing; run: $0 images base addons"
  done
  mkdir -p "$STATE" "$RUN" "$PIDS" "$LOGS"
  pki
  kubeconfig "$KUBECONFIG_FILE" flightctl-local-admin admin
  # The API server's address: a bridge with no ports (there is no dummy link type here).
  if ! ip link show "$NODE_LINK" >/dev/null 2>&1; then
    ip link add "$NODE_LINK" type bridge
    ip addr add "$NODE_IP/32" dev "$NODE_LINK"
    ip link set "$NODE_LINK" up
  fi
  printf 1 >/proc/sys/net/ipv4/ip_forward
  [ -w /proc/sys/net/bridge/bridge-nf-call-iptables ] && printf 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
  timed "up: etcd" start_etcd
  timed "up: control plane" start_control_plane
  timed "up: node (containerd, kubelet, kube-proxy, kube-router)" start_node
  forward_rules
  timed "up: CoreDNS and local-path storage" start_addons
  say "cluster up in $((SECONDS - start))s; context $CONTEXT in $KUBECONFIG_FILE"
  say "  export KUBECONFIG=$KUBECONFIG_FILE   (or: eval \"\$($0 env)\")"
  printf '%s\t%s\t%ss\n' "$(date -u +%FT%TZ)" "up (total)" "$((SECONDS - start))" >>"$K8S_HOME/timings.log"
}

# ---- images into the node -------------------------------------------------------------------

# docker save | ctr import. Images keep their names (a name without a registry becomes
# docker.io/NAME), so manifests must use a tag other than latest (pull policy IfNotPresent or
# Never: nothing is ever pulled here).
load_images() {
  "$DOCKER" save "$@" | ctr_ images import - >/dev/null || die "could not load $* into the node"
}

cmd_load() {
  need_root
  [ $# -gt 0 ] || die "usage: $0 load IMAGE..."
  alive containerd || die "the cluster is not up (containerd is not running); run: $0 up"
  local image
  for image in "$@"; do
    image_exists "$image" || die "no docker image $image"
    if [[ "${image##*/}" != *:* || "$image" == *:latest ]]; then
      say "warning: $image has the tag latest (or none): its default pull policy is Always, and nothing can be pulled here"
    fi
  done
  timed "load $*" load_images "$@"
}

# ---- the flightctl platform: an overlay (cluster) ---------------------------------------------

OVERLAYS="$ROOT/src/flightctl/deploy/kubernetes/overlays"
WORKLOADS=(statefulset/postgres statefulset/kafka job/kafka-topics deployment/prometheus
  deployment/gateway deployment/user-manager deployment/data-collector
  deployment/alert-system deployment/alert-notifier deployment/sla-breach-detector)

# The Secrets `flightctl up` creates (src/flightctl/kind/platform.py), with throwaway values.
platform_secrets() {
  local dir="$STATE/platform"
  mkdir -p "$dir"
  chmod 0700 "$dir"
  if [ ! -f "$dir/secrets.env" ]; then
    {
      printf 'API_TOKEN=%s\n' "$(openssl rand -hex 32)"
      local key
      for key in POSTGRES_PASSWORD USER_MANAGER_DB_PASSWORD DATA_COLLECTOR_DB_PASSWORD \
        ALERT_SYSTEM_DB_PASSWORD ALERT_NOTIFIER_DB_PASSWORD; do
        printf '%s=%s\n' "$key" "$(openssl rand -hex 24)"
      done
    } >"$dir/secrets.env"
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 30 \
      -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
  fi
  kubectl_ create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl_ apply -f - >/dev/null
  kubectl_ -n "$NAMESPACE" create secret generic flightctl-secrets --from-env-file="$dir/secrets.env" \
    --dry-run=client -o yaml | kubectl_ apply -f - >/dev/null
  kubectl_ -n "$NAMESPACE" create secret tls flightctl-tls --cert="$dir/tls.crt" --key="$dir/tls.key" \
    --dry-run=client -o yaml | kubectl_ apply -f - >/dev/null
}

# "KIND/NAME READY" for each workload: READY is ready/wanted, or complete/running for the Job.
workload_states() {
  kubectl_ -n "$NAMESPACE" get statefulsets,deployments -o \
    jsonpath='{range .items[*]}{.kind}/{.metadata.name} {.status.readyReplicas}/{.spec.replicas}{"\n"}{end}' |
    sed -e 's#^StatefulSet/#statefulset/#' -e 's#^Deployment/#deployment/#' -e 's# /# 0/#'
  kubectl_ -n "$NAMESPACE" get jobs -o \
    jsonpath='{range .items[*]}job/{.metadata.name} {.status.succeeded}/{.spec.completions}{"\n"}{end}' |
    sed 's# /# 0/#'
}

# wait_workloads SECONDS: prints when each workload became ready (seconds after the apply).
wait_workloads() {
  local limit="$1" start=$SECONDS pending=("${WORKLOADS[@]}") name ready still w
  declare -A seen=()
  while [ ${#pending[@]} -gt 0 ] && [ $((SECONDS - start)) -lt "$limit" ]; do
    while read -r name ready; do
      [ -n "$name" ] || continue
      if [ "${ready%/*}" = "${ready#*/}" ] && [ -z "${seen[$name]:-}" ]; then
        seen[$name]=$((SECONDS - start))
        say "ready after ${seen[$name]}s: $name"
      fi
    done < <(workload_states 2>/dev/null)
    still=()
    for w in "${pending[@]}"; do [ -n "${seen[$w]:-}" ] || still+=("$w"); done
    pending=("${still[@]+"${still[@]}"}")
    [ ${#pending[@]} -gt 0 ] && sleep 2
  done
  if [ ${#pending[@]} -gt 0 ]; then
    say "not ready after ${limit}s: ${pending[*]}"
    return 1
  fi
}

# The vendored ingress-nginx: checked, never applied (no controller image can be built here).
# Its namespace must exist for the dry run of what lives in it; made for that, then removed.
ingress_dry_run() {
  local log="$LOGS/deploy-dry-run-ingress-nginx.log" made=
  # One a previous run made may still be terminating.
  if [ "$(kubectl_ get namespace ingress-nginx -o jsonpath='{.status.phase}' 2>/dev/null)" = Terminating ]; then
    kubectl_ wait --for=delete namespace/ingress-nginx --timeout=120s >/dev/null 2>&1 || true
  fi
  if ! kubectl_ get namespace ingress-nginx >/dev/null 2>&1; then
    kubectl_ create namespace ingress-nginx >/dev/null && made=1
  fi
  if kubectl_ apply --server-side --force-conflicts --dry-run=server -k "$ROOT/src/flightctl/deploy/kubernetes/vendor/ingress-nginx" \
    >"$log" 2>&1; then
    say "the API server accepts all $(grep -c '(server dry run)$' "$log") objects of vendor/ingress-nginx (not applied: no controller image)"
  else
    grep -iE 'error|invalid|forbidden|denied' "$log" >&2 || true
    say "the API server rejects vendor/ingress-nginx (see $log)"
  fi
  [ -z "$made" ] || kubectl_ delete namespace ingress-nginx --timeout=120s >/dev/null
}

cmd_deploy() {
  need_root
  local dry_only='' timeout=600 name=cluster
  while [ $# -gt 0 ]; do
    case "$1" in
      --dry-run) dry_only=1 ;;
      --timeout) timeout="$2"; shift ;;
      --overlay) name="$2"; shift ;;
      *) die "usage: $0 deploy [--dry-run] [--overlay cluster|kind|kind-multinode] [--timeout SECONDS]" ;;
    esac
    shift
  done
  local overlay="$OVERLAYS/$name"
  [ -f "$overlay/kustomization.yaml" ] || die "no overlay $overlay"
  api_ready >/dev/null 2>&1 || die "the cluster is not up; run: $0 up"
  local images
  images="$(kubectl kustomize "$overlay" | sed -n 's/^ *image: *//p' | tr -d '"' | sort -u | tr '\n' ' ')"
  platform_secrets
  local log="$LOGS/deploy-dry-run.log"
  say "server-side dry run of overlays/$name"
  # --force-conflicts: over objects a client-side apply made, field ownership is no error here.
  if ! kubectl_ apply --server-side --force-conflicts --dry-run=server -k "$overlay" >"$log" 2>&1; then
    grep -iE 'error|invalid|forbidden|denied' "$log" >&2 || tail -n 20 "$log" >&2
    die "the API server rejected overlays/$name (see $log)"
  fi
  say "the API server accepts all $(grep -c '(server dry run)$' "$log") objects of overlays/$name ($log)"
  ingress_dry_run
  [ -n "$dry_only" ] && return 0
  # shellcheck disable=SC2086 # a list of image names
  timed "deploy: load images" cmd_load $images
  kubectl_ -n "$NAMESPACE" delete job kafka-topics --ignore-not-found >/dev/null
  say "applying overlays/$name"
  local start=$SECONDS
  # As `flightctl up --kind` applies it (client-side).
  kubectl_ apply -k "$overlay" >"$LOGS/deploy-apply.log" 2>&1 ||
    { tail -n 20 "$LOGS/deploy-apply.log" >&2; die "applying overlays/$name failed (see $LOGS/deploy-apply.log)"; }
  local status=0
  wait_workloads "$timeout" || status=1
  say "deploy: $((SECONDS - start))s after the apply"
  printf '%s\t%s\t%ss\n' "$(date -u +%FT%TZ)" "deploy (apply to ready)" "$((SECONDS - start))" >>"$K8S_HOME/timings.log"
  kubectl_ -n "$NAMESPACE" get pods -o wide >&2 || true
  return "$status"
}

# ---- down -----------------------------------------------------------------------------------

no_tasks() { [ -z "$(ctr_ tasks ls -q 2>/dev/null)" ]; }

cmd_down() {
  need_root
  local start=$SECONDS
  set +e
  if alive kube-apiserver && alive kubelet && alive containerd; then
    # Nothing recreates pods now; the kubelet stops each sandbox (CNI DEL) as its pod goes.
    stop kube-controller-manager
    stop kube-scheduler
    kubectl_ delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1
    local i
    for ((i = 0; i < 60; i++)); do no_tasks && break; sleep 1; done
  fi
  stop kube-router
  [ -x "$BIN/kube-router" ] && timeout 60 "$BIN/kube-router" --cleanup-config >"$LOGS/kube-router-cleanup.log" 2>&1
  stop kubelet
  if alive containerd; then
    local task
    for task in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill --signal SIGKILL "$task" >/dev/null 2>&1; done
    sleep 1
    for task in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete --force "$task" >/dev/null 2>&1; done
  fi
  stop containerd
  stop kube-proxy
  [ -x "$BIN/kube-proxy" ] && timeout 60 "$BIN/kube-proxy" --cleanup >"$LOGS/kube-proxy-cleanup.log" 2>&1
  stop kube-controller-manager
  stop kube-scheduler
  stop kube-apiserver
  stop etcd
  stop dockerd 30
  # Whatever of the harness still runs (a containerd shim, a pod's process): by pid.
  local pid
  for pid in $(harness_pids | sort -un); do
    [ -d "/proc/$pid" ] || continue
    say "stopping leftover process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-100)"
    kill -KILL "$pid" 2>/dev/null
  done
  sleep 0.5
  remove_leftovers
  restore_baseline
  rm -rf "$STATE" "$RUN" "$KUBECONFIG_FILE"
  set -e
  local left
  left="$(leftovers)"
  printf '%s\t%s\t%ss\n' "$(date -u +%FT%TZ)" "down" "$((SECONDS - start))" >>"$K8S_HOME/timings.log"
  if [ -n "$left" ]; then
    printf '%s\n' "$left" >&2
    die "down left the above behind"
  fi
  say "down in $((SECONDS - start))s; nothing left"
}

# ---- status, check-clean, env ---------------------------------------------------------------

cmd_status() {
  local name state
  for name in dockerd "${COMPONENTS[@]}"; do
    if alive "$name"; then state="running (pid $(cut -d' ' -f1 "$PIDS/$name.pid"))"; else state="-"; fi
    printf '%-24s %s\n' "$name" "$state"
  done
  if [ -f "$KUBECONFIG_FILE" ] && api_ready >/dev/null 2>&1; then
    kubectl_ get nodes -o wide 2>/dev/null || true
    printf 'kubeconfig %s (context %s)\n' "$KUBECONFIG_FILE" "$CONTEXT"
  fi
  # Where the harness's processes listen: never in the local platforms' ranges.
  local pids
  pids="$(harness_pids | sort -un | paste -sd'|')"
  if [ -n "$pids" ]; then
    ss -Htlnup 2>/dev/null | grep -E "pid=($pids)," | awk '{print "listening " $1 " " $5}' | sort -u || true
  fi
  local left
  left="$(leftovers | grep -v '^process ' || true)"
  if alive kube-apiserver || alive dockerd; then
    printf 'the harness runs; its state on the host:\n%s\n' "$left"
  elif [ -n "$left" ]; then
    printf 'leftovers:\n%s\n' "$left"
  else
    printf 'no cluster, nothing left over\n'
  fi
}

cmd_check_clean() {
  local left
  left="$(leftovers)"
  if [ -n "$left" ]; then
    printf '%s\n' "$left"
    return 1
  fi
  echo clean
}

cmd_env() { printf 'export KUBECONFIG=%s\n' "$KUBECONFIG_FILE"; }
