# flightctl service images: one file, one target per service.
#   docker build --target user-manager -t flightctl/user-manager:dev .
# Targets: user-manager, data-collector, alert-system, alert-notifier, sla-breach-detector.
# Every target shares the same layers (one venv with the whole project); only CMD differs.

# ---- builder: the project and its dependencies in a self-contained venv ----------------
FROM python:3.11.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1

# The venv has no pip of its own: the builder's pip installs into it (--python), so the
# runtime image carries no package installer.
RUN python -m venv --without-pip /opt/venv

WORKDIR /src
# Dependencies first, pinned by requirements.lock (as constraints: only what the project
# needs is installed, never the dev tools the lock also lists), so this layer is reused
# while only the code changes.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > /tmp/requirements.txt
RUN --mount=type=cache,target=/root/.cache/pip \
    pip --python /opt/venv/bin/python install --constraint requirements.lock -r /tmp/requirements.txt

# Then the project itself (src/flightctl, services, the generated gRPC stubs).
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip --python /opt/venv/bin/python install --no-deps --constraint requirements.lock . \
    && /opt/venv/bin/python -c "import flightctl, services"

# ---- runtime: no compilers, no pip, no secrets, a non-root user ------------------------
FROM python:3.11.11-slim-bookworm AS runtime

# PYTHONSAFEPATH: `python -m` does not put the working directory on sys.path.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONSAFEPATH=1 \
    PATH=/opt/venv/bin:$PATH \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080

# The base image's own installer tooling is not needed at run time.
RUN python -m pip uninstall --yes --root-user-action=ignore pip setuptools wheel \
    && mkdir /app \
    && groupadd --system --gid 10001 flightctl \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin flightctl

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
USER 10001:10001
EXPOSE 8080

# For `docker run` only (Kubernetes uses the probes in kubernetes/). slim has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/ping' % os.environ.get('HTTP_PORT', '8080'), timeout=4)"]

# ---- one target per service -------------------------------------------------------------
FROM runtime AS user-manager
ENV GRPC_PORT=50051
EXPOSE 50051
CMD ["python", "-m", "services.user_manager"]

FROM runtime AS data-collector
ENV GRPC_PORT=50051
EXPOSE 50051
CMD ["python", "-m", "services.data_collector"]

FROM runtime AS alert-system
CMD ["python", "-m", "services.alert_system"]

FROM runtime AS alert-notifier
CMD ["python", "-m", "services.alert_notifier"]

FROM runtime AS sla-breach-detector
CMD ["python", "-m", "services.sla_breach_detector"]
