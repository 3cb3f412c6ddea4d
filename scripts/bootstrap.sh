#!/usr/bin/env bash
# Installs what the platform and its tests need on a fresh Debian machine of this kind:
# apt packages (Prometheus, NGINX), the project's virtual environment (.venv, pinned by
# requirements.lock), a wheelhouse of those pinned versions (so that tests can install the
# built package into a fresh virtualenv with no network), and the Apache Kafka jars (Maven
# Central); both cached under ~/.cache/flightctl. Idempotent: a second run only checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '» %s\n' "$*" >&2; }

need_apt=()
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
[ -x /usr/lib/postgresql/15/bin/initdb ] || command -v initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing system packages: ${need_apt[*]}; install them with: sudo apt-get install -y ${need_apt[*]}"
    exit 5
  fi
  say "installing ${need_apt[*]} (apt)"
  apt-get update -qq
  # Installing must not leave the distribution's own Prometheus/NGINX running on standard ports.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

PY="${PYTHON:-python3}"
stamp_src="$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.stamp 2>/dev/null)" != "$stamp_src" ]; then
  say "creating the virtual environment (.venv)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.lock
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  echo "$stamp_src" > .venv/.stamp
fi

wheelhouse="${FLIGHTCTL_WHEELHOUSE:-$HOME/.cache/flightctl/wheelhouse}"
if [ "$(cat "$wheelhouse/.stamp" 2>/dev/null)" != "$stamp_src" ]; then
  # Added to, never emptied: another checkout on this machine may be reading it.
  say "filling the wheelhouse $wheelhouse (the pinned versions, from pip's cache)"
  .venv/bin/pip wheel -q --disable-pip-version-check --no-deps -r requirements.lock -w "$wheelhouse"
  echo "$stamp_src" > "$wheelhouse/.stamp"
fi

.venv/bin/python -c 'from flightctl.local.kafka import ensure_jars; ensure_jars(lambda m: print("»", m))'
say "bootstrap complete"
