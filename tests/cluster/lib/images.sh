# shellcheck shell=bash
# Images for the test cluster, sourced by k8s-local.sh. Every `docker build` runs with
# --network=none: what an image needs comes in its build context, fetched on the host first
# (Debian .deb files, Maven jars, Go binaries, the wheelhouse).
#
#   base       flightctl-test/debian:bookworm (debootstrap minbase + docker import) and the
#              Python stand-in passed to the Dockerfile as PYTHON_IMAGE
#   addons     pause, CoreDNS, local-path-provisioner
#   standins   postgres, apache/kafka, prom/prometheus, nginxinc/nginx-unprivileged under the
#              names the manifests use (test doubles of the registry)
#   services   the five flightctl images from src/flightctl/deploy/Dockerfile
#   doubles    the cluster tests' fake OpenSky and Telegram (tests/cluster/doubles.py)

DEBIAN_DIR="$K8S_HOME/debian"
BASE_STATUS="$DEBIAN_DIR/status"   # dpkg status of the minbase image: what every image starts from
BUILD_DIR="$K8S_HOME/build"        # build contexts, rewritten by every build
LABEL=org.flightctl.test

docker_answers() { "$DOCKER" info >/dev/null 2>&1; }

# Start dockerd unless one answers already. Ours makes no bridge, no iptables rules and leaves
# ip_forward alone: the builds need no network, and the cluster brings its own.
ensure_dockerd() {
  [ -x "$DOCKER" ] || die "$DOCKER is missing; run: $0 install"
  docker_answers && return 0
  need_root
  record_baseline
  say "starting dockerd (data in $K8S_HOME/docker)"
  mkdir -p "$K8S_HOME/docker" "$RUN/docker"
  start_bg dockerd dockerd --data-root "$K8S_HOME/docker" --exec-root "$RUN/docker" \
    --pidfile "$RUN/docker/dockerd.pid" --host unix:///var/run/docker.sock \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false
  wait_until 60 "dockerd to answer" docker_answers
}

image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }
image_label() { "$DOCKER" image inspect -f "{{index .Config.Labels \"$LABEL.$2\"}}" "$1" 2>/dev/null || true; }

# build TAG CONTEXT [docker build options...]: the build's output goes to $LOGS/build-*.log.
build() {
  local tag="$1" context="$2"
  shift 2
  local log="$LOGS/build-${tag//[\/:]/_}.log"
  timed "image $tag" "$DOCKER" build --network=none --progress=plain --build-arg "BASE=$DEBIAN_IMAGE" \
    --label "$LABEL.harness=tests/cluster" "$@" -t "$tag" "$context" >"$log" 2>&1 ||
    { tail -n 25 "$log" >&2; die "building $tag failed (see $log)"; }
}

# context NAME: a fresh build context $BUILD_DIR/NAME holding the files of images/NAME.
context() {
  local dir="$BUILD_DIR/$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ -d "$HERE/images/$1" ]; then cp -r "$HERE/images/$1/." "$dir/"; fi
  printf '%s\n' "$dir"
}

# ---- Debian ----------------------------------------------------------------------------

image_debian() {
  if image_exists "$DEBIAN_IMAGE" && [ -s "$BASE_STATUS" ] &&
    [ "$(image_label "$DEBIAN_IMAGE" suite)" = "$DEBIAN_SUITE" ]; then
    return 0
  fi
  local root="$DEBIAN_DIR/rootfs"
  unmount_under "$root"
  rm -rf "$root"
  mkdir -p "$DEBIAN_DIR/cache"
  say "debootstrap --variant=minbase $DEBIAN_SUITE"
  timed "debootstrap $DEBIAN_SUITE" nice -n 19 debootstrap --variant=minbase --cache-dir="$DEBIAN_DIR/cache" \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >"$LOGS/debootstrap.log" 2>&1 ||
    { unmount_under "$root"; die "debootstrap failed (see $LOGS/debootstrap.log)"; }
  unmount_under "$root"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  cp "$root/var/lib/dpkg/status" "$BASE_STATUS"
  timed "image $DEBIAN_IMAGE (import)" sh -c "tar -C '$root' --numeric-owner -c . | '$DOCKER' import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD [\"bash\"]' \
    --change 'LABEL $LABEL.suite=$DEBIAN_SUITE' - '$DEBIAN_IMAGE' >/dev/null"
  rm -rf "$root"
}

APT_UPDATED=
# debs NAME PACKAGE...: the .deb files PACKAGEs need on top of the minbase image (their
# dependency closure against its dpkg status), downloaded on the host into
# $DEBIAN_DIR/debs/NAME. The host's apt lists and sources are used; nothing is installed on
# the host, and its apt caches are left alone.
debs() {
  local name="$1"
  shift
  local dir="$DEBIAN_DIR/debs/$name" want
  want="$* $(sha256sum "$BASE_STATUS" | cut -c1-16)"
  [ "$(cat "$dir/.wanted" 2>/dev/null)" = "$want" ] && return 0
  if [ -z "$APT_UPDATED" ]; then apt-get update -q >/dev/null && APT_UPDATED=1; fi
  rm -rf "$dir.partial" "$dir"
  mkdir -p "$dir.partial/partial"
  timed "debs $name" apt-get install -q -y --download-only --no-install-recommends \
    -o Dir::State::status="$BASE_STATUS" -o Dir::Cache::archives="$dir.partial" \
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o Debug::NoLocking=1 \
    "$@" >"$LOGS/debs-$name.log" 2>&1 || die "could not download the .debs of $name (see $LOGS/debs-$name.log)"
  rm -rf "$dir.partial/partial" "$dir.partial/lock"
  mv "$dir.partial" "$dir"
  printf '%s\n' "$want" >"$dir/.wanted"
}

# deb_versions NAME PACKAGE...: "package=version ..." of those PACKAGEs in debs/NAME.
deb_versions() {
  local name="$1" p f out=()
  shift
  for p in "$@"; do
    f="$(find "$DEBIAN_DIR/debs/$name" -maxdepth 1 -name "${p}_*.deb" | head -n1)"
    [ -n "$f" ] && out+=("$p=$(dpkg-deb -f "$f" Version)")
  done
  printf '%s' "${out[*]}"
}

# with_debs NAME: a context for images/NAME with the .debs of `debs NAME ...` in debs/.
with_debs() {
  local dir
  dir="$(context "$1")"
  cp -al "$DEBIAN_DIR/debs/$1" "$dir/debs"
  printf '%s\n' "$dir"
}

image_python() {
  local dir
  debs python python3 python3-venv
  dir="$(with_debs python)"
  build "$PYTHON_IMAGE" "$dir" --label "$LABEL.packages=$(deb_versions python python3.11 python3-venv)"
}

images_base() {
  image_debian
  image_python
}

# ---- addons: pod sandbox, DNS, storage ------------------------------------------------------

images_addons() {
  local dir
  dir="$(context addons)"
  cp "$BIN/pause" "$BIN/coredns" "$BIN/local-path-provisioner" "$dir/"
  build "$PAUSE_IMAGE" "$dir" -f "$dir/pause.Dockerfile"
  build "$COREDNS_IMAGE" "$dir" -f "$dir/coredns.Dockerfile"
  build "$LOCAL_PATH_IMAGE" "$dir" -f "$dir/local-path-provisioner.Dockerfile"
}

# ---- stand-ins for the registry's images ----------------------------------------------------

image_postgres() {
  local dir
  debs postgres postgresql-15
  dir="$(with_debs postgres)"
  build "$POSTGRES_IMAGE" "$dir" --label "$LABEL.packages=$(deb_versions postgres postgresql-15)"
}

# The jars, resolved by Maven as the project resolves its own (src/flightctl/deploy/kafka/pom.xml).
kafka_jars() {
  local dir="$K8S_HOME/kafka-$KAFKA_VERSION-libs"
  local want
  want="$KAFKA_VERSION $LOG4J_VERSION $SLF4J_VERSION $(sha256sum "$HERE/images/kafka/pom.xml" | cut -c1-16)"
  if [ "$(cat "$dir/.wanted" 2>/dev/null)" != "$want" ]; then
    command -v mvn >/dev/null || die "Maven (mvn) is needed for the Kafka jars; run: $0 install"
    rm -rf "$dir.partial"
    timed "kafka jars (maven)" mvn -q -B -f "$HERE/images/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$dir.partial" -DincludeScope=runtime -Dkafka.version="$KAFKA_VERSION" \
      -Dlog4j.version="$LOG4J_VERSION" -Dslf4j.version="$SLF4J_VERSION" >"$LOGS/kafka-jars.log" 2>&1 ||
      die "Maven could not fetch the Kafka jars (see $LOGS/kafka-jars.log)"
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
    printf '%s\n' "$want" >"$dir/.wanted"
  fi
}

image_kafka() {
  local jars="$K8S_HOME/kafka-$KAFKA_VERSION-libs" dir
  kafka_jars
  debs kafka openjdk-17-jre-headless
  dir="$(with_debs kafka)"
  mkdir -p "$dir/libs"
  cp -al "$jars"/*.jar "$dir/libs/"
  build "$KAFKA_IMAGE" "$dir" --label "$LABEL.packages=$(deb_versions kafka openjdk-17-jre-headless)"
}

image_prometheus() {
  local dir
  dir="$(context prometheus)"
  cp "$BIN/prometheus" "$BIN/promtool" "$dir/"
  build "$PROMETHEUS_IMAGE" "$dir" --label "$LABEL.packages=prometheus=$PROMETHEUS_VERSION"
}

image_nginx() {
  local dir
  debs nginx nginx
  dir="$(with_debs nginx)"
  build "$NGINX_IMAGE" "$dir" --label "$LABEL.packages=$(deb_versions nginx nginx)"
}

images_standins() {
  image_postgres
  image_kafka
  image_prometheus
  image_nginx
}

# ---- the flightctl services -----------------------------------------------------------------

SERVICES=(user-manager data-collector alert-system alert-notifier sla-breach-detector)

# A build sees no network: no interface but lo, and no route out. Proven with a throwaway
# build before the services are built the same way.
network_probe() {
  local dir
  dir="$(context network-probe)"
  "$DOCKER" build --network=none --no-cache --progress=plain --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" \
    -t flightctl-test/network-probe:latest "$dir" >"$LOGS/network-probe.log" 2>&1 ||
    die "the network probe build failed (see $LOGS/network-probe.log)"
  "$DOCKER" image rm flightctl-test/network-probe:latest >/dev/null
  say "inside a --network=none build: $(grep -m1 -o 'no route out.*' "$LOGS/network-probe.log")"
}

images_services() {
  local python="${FLIGHTCTL_PYTHON:-$ROOT/.venv/bin/python}"
  local wheelhouse="${FLIGHTCTL_WHEELHOUSE:-$HOME/.cache/flightctl/wheelhouse}"
  [ -x "$python" ] || die "no Python with flightctl installed at $python: run make bootstrap (or set FLIGHTCTL_PYTHON)"
  [ -d "$wheelhouse" ] || die "no wheelhouse at $wheelhouse: run make bootstrap (or set FLIGHTCTL_WHEELHOUSE)"
  image_exists "$PYTHON_IMAGE" || image_python
  local dir="$BUILD_DIR/services"
  "$python" "$HERE/service_context.py" --wheelhouse "$wheelhouse" "$dir" >&2 ||
    die "could not write the services' build context"
  network_probe
  local svc
  for svc in "${SERVICES[@]}"; do
    build "flightctl/$svc:dev" "$dir" --target "$svc" --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE"
  done
}

# ---- the cluster tests' API doubles ----------------------------------------------------------

# tests/fakes and tests/cluster/doubles.py (standard library only) on the Python base.
image_doubles() {
  image_exists "$PYTHON_IMAGE" || image_python
  local dir app
  dir="$(context doubles)"
  app="$dir/app/tests"
  mkdir -p "$app/fakes" "$app/cluster"
  cp "$ROOT/tests/__init__.py" "$app/"
  cp "$ROOT"/tests/fakes/*.py "$app/fakes/"
  cp "$ROOT/tests/cluster/__init__.py" "$ROOT/tests/cluster/doubles.py" "$app/cluster/"
  build "$DOUBLES_IMAGE" "$dir" --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE"
}

# Every image the overlay the cluster tests deploy (cluster) names must be one built here. The kind
# overlays also run Grafana, whose image no offline build here can make: they are only dry-run.
check_overlay_images() {
  local overlay="$ROOT/src/flightctl/deploy/kubernetes/overlays/cluster" image missing=()
  while read -r image; do
    image_exists "$image" || missing+=("$image")
  done < <(kubectl kustomize "$overlay" | sed -n 's/^ *image: *//p' | tr -d '"' | sort -u)
  [ ${#missing[@]} -eq 0 ] || die "the cluster overlay names images not built here: ${missing[*]}"
  say "every image of overlays/kind is built"
}

cmd_images() {
  need_root
  local what=("$@") all=
  [ ${#what[@]} -gt 0 ] || { what=(base addons standins services doubles); all=1; }
  mkdir -p "$LOGS" "$BUILD_DIR"
  ensure_dockerd
  local w
  for w in "${what[@]}"; do
    case "$w" in
      base) images_base ;;
      addons) image_exists "$DEBIAN_IMAGE" || image_debian; images_addons ;;
      standins) image_exists "$DEBIAN_IMAGE" || image_debian; images_standins ;;
      services) images_services ;;
      doubles) image_doubles ;;
      debian) image_debian ;;
      python | postgres | kafka | prometheus | nginx) image_exists "$DEBIAN_IMAGE" || image_debian; "image_$w" ;;
      *) die "unknown image group '$w' (base, addons, standins, services, doubles; or one of debian python postgres kafka prometheus nginx)" ;;
    esac
  done
  if [ -n "$all" ]; then check_overlay_images; fi
  "$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' |
    grep -E "^(flightctl|flightctl-test|postgres|apache|prom|nginxinc)/?" >&2 || true
}
