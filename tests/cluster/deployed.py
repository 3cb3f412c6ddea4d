"""The platform deployed on the test cluster by `flightctl up` itself, and what the tests use
to drive and watch it: the gateway (TLS verified against flightctl's certificate), the API
doubles (tests/cluster/doubles.py) in their own namespace, kubectl, and connection probes run
inside pods.

One deployment per test session (conftest.py, fixture ``deployed``):

1. the stand-in images and the doubles' image are loaded into the node (`k8s-local.sh load`:
   the harness plays the registry the third-party images would come from);
2. the doubles run in the namespace ``flightctl-api-doubles``, labelled as the platform's
   NetworkPolicy ``api-doubles-egress`` asks;
3. ``flightctl up --kube-context flightctl-local ... --image-load containerd`` in a private
   FLIGHTCTL_HOME, with OPENSKY_API_URL, OPENSKY_TOKEN_URL, TELEGRAM_API_URL and the
   credentials in its environment (they become the ConfigMap and Secret).
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.cluster.cluster import LocalCluster, versions
from tests.fakes.opensky import TOKEN_PATH

NAMESPACE = "flightctl"
DOUBLES = "flightctl-api-doubles"
SERVICES = ("user-manager", "data-collector", "alert-system", "alert-notifier", "sla-breach-detector")
WORKLOADS = (
    ("statefulset", "postgres"),
    ("statefulset", "kafka"),
    ("job", "kafka-topics"),
    ("deployment", "prometheus"),
    ("deployment", "gateway"),
    *(("deployment", name) for name in SERVICES),
)
DOCKER = "/usr/bin/docker"  # the harness's (BuildKit); the docker first on PATH here lacks it
CONTAINERD = "/run/flightctl-k8s/containerd.sock"
OPENSKY_ID, OPENSKY_SECRET = "cluster-client", "cluster-secret"
TELEGRAM_TOKEN = "424242:CLUSTER-TEST-TOKEN"
FLIGHTCTL = [sys.executable, "-m", "flightctl"]
RETRYABLE = {409, 502, 503, 504}


def doubles_manifest(image: str) -> str:
    """The namespace and the two doubles, labelled for the platform's api-doubles-egress."""
    deployments = []
    for name, args in (
        ("opensky", ["opensky", "--client-id", OPENSKY_ID, "--client-secret", OPENSKY_SECRET]),
        ("telegram", ["telegram", "--token", TELEGRAM_TOKEN]),
    ):
        deployments.append(
            textwrap.dedent(
                f"""\
                apiVersion: apps/v1
                kind: Deployment
                metadata: {{name: {name}, namespace: {DOUBLES}}}
                spec:
                  selector: {{matchLabels: {{app: {name}}}}}
                  template:
                    metadata:
                      labels: {{app: {name}, flightctl.io/api-double: "true"}}
                    spec:
                      automountServiceAccountToken: false
                      securityContext:
                        runAsNonRoot: true
                        runAsUser: 65534
                        seccompProfile: {{type: RuntimeDefault}}
                      containers:
                        - name: api
                          image: {image}
                          imagePullPolicy: Never
                          args: {json.dumps(args)}
                          ports: [{{name: http, containerPort: 8080}}]
                          readinessProbe:
                            httpGet: {{path: /_double/ready, port: http}}
                            periodSeconds: 2
                          securityContext:
                            allowPrivilegeEscalation: false
                            readOnlyRootFilesystem: true
                            capabilities: {{drop: [ALL]}}
                ---
                apiVersion: v1
                kind: Service
                metadata: {{name: {name}, namespace: {DOUBLES}}}
                spec:
                  selector: {{app: {name}}}
                  ports: [{{name: http, port: 8080, targetPort: http}}]
                """
            )
        )
    namespace = textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: Namespace
        metadata:
          name: {DOUBLES}
          labels: {{flightctl.io/api-doubles: "true"}}
        """
    )
    return "---\n".join([namespace, *deployments])


def double_url(name: str) -> str:
    return f"http://{name}.{DOUBLES}.svc.cluster.local:8080"


def settings() -> dict[str, str]:
    """What the `flightctl up` run is given: the doubles' addresses and credentials, and the
    tuning of the local end-to-end tests (no timed collection, no repeated alert)."""
    return {
        "OPENSKY_API_URL": double_url("opensky") + "/api",
        "OPENSKY_TOKEN_URL": double_url("opensky") + TOKEN_PATH,
        "OPENSKY_CLIENT_ID": OPENSKY_ID,
        "OPENSKY_CLIENT_SECRET": OPENSKY_SECRET,
        "OPENSKY_MOCK_FALLBACK": "false",
        "TELEGRAM_API_URL": double_url("telegram"),
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "COLLECT_INTERVAL_SECONDS": "3600",
        "ALERT_REPEAT_SECONDS": "3600",
        "OUTBOX_RETRY_SECONDS": "1",
    }


def wait_for(what: str, condition: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
    """Poll ``condition`` until it returns something true; its value, or AssertionError naming
    ``what`` at the deadline (errors meanwhile count as "not yet")."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = condition()
        except (httpx.HTTPError, RuntimeError, ValueError, KeyError) as error:
            last = error
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s (last: {last!r})")
        time.sleep(interval)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# A connection attempt from inside a pod (its Python): "open", "refused" (kube-router rejects
# what the policies deny), "timeout", or the error. Concurrent, so denied targets cost one timeout.
PROBE = """
import concurrent.futures, json, socket, sys
targets, timeout = json.loads(sys.argv[1]), float(sys.argv[2])
def attempt(target):
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except socket.timeout:
        return "timeout"
    except OSError as error:
        return f"{type(error).__name__}: {error}"
with concurrent.futures.ThreadPoolExecutor(len(targets)) as pool:
    print(json.dumps(dict(zip(targets, pool.map(attempt, targets)))))
"""


@dataclass
class Deployed:
    cluster: LocalCluster
    home: Path
    env: dict[str, str]
    status: dict[str, Any]
    token: str
    up_seconds: float

    # ---- flightctl and kubectl ------------------------------------------------------------

    def flightctl(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*FLIGHTCTL, *args], env=self.env, cwd=self.home, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(f"flightctl {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
        return result

    def kubectl(self, *args: str, namespace: str = NAMESPACE, **options: Any) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl("-n", namespace, *args, **options)

    def get(self, *args: str, namespace: str = NAMESPACE) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json", namespace=namespace).stdout)

    def pods(self, app: str, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
        """The app's pods that are not being deleted."""
        items = self.get("pods", "-l", f"app={app}", namespace=namespace)["items"]
        return [pod for pod in items if not pod["metadata"].get("deletionTimestamp")]

    @staticmethod
    def ready(pod: dict[str, Any]) -> bool:
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        return conditions.get("Ready") == "True"

    @staticmethod
    def restarts(pod: dict[str, Any]) -> int:
        return sum(c.get("restartCount", 0) for c in pod.get("status", {}).get("containerStatuses", []))

    def diagnostics(self, lines: int = 40) -> str:
        """The pods of the platform and the doubles, and each workload's last ``lines`` log lines."""
        parts: list[str] = []
        for namespace in (NAMESPACE, DOUBLES):
            pods = self.kubectl("get", "pods", "-o", "wide", namespace=namespace, check=False)
            parts.append(f"$ kubectl -n {namespace} get pods -o wide\n{pods.stdout}{pods.stderr}")
        for kind, name in (*(("deployment", s) for s in SERVICES), ("statefulset", "kafka"), ("deployment", "gateway")):
            log = self.kubectl("logs", f"{kind}/{name}", "--all-containers", f"--tail={lines}", check=False)
            parts.append(f"$ kubectl logs {kind}/{name} --tail={lines}\n{log.stdout}{log.stderr}")
        return "\n".join(parts)

    def gone(self, app: str, namespace: str = NAMESPACE) -> bool:
        """No pod of the app at all, terminating ones included: a pod being deleted still serves
        (it stops on SIGTERM within its grace period), over the connections it already has."""
        return not self.get("pods", "-l", f"app={app}", namespace=namespace)["items"]

    @staticmethod
    def last_exits(pod: dict[str, Any]) -> list[dict[str, Any]]:
        """How each restarted container's previous run ended (reason, exit code, message)."""
        return [
            {"container": c["name"], **{k: v for k, v in terminated.items() if k in ("reason", "exitCode", "message")}}
            for c in pod.get("status", {}).get("containerStatuses", [])
            if (terminated := c.get("lastState", {}).get("terminated"))
        ]

    def all_ready(self, apps: Iterable[str] = SERVICES) -> bool:
        for app in apps:
            pods = self.pods(app)
            if not pods or not all(self.ready(pod) for pod in pods):
                return False
        return True

    def wait_rollout(self, kind: str, name: str, *, namespace: str = NAMESPACE, timeout: float = 240) -> None:
        self.kubectl(
            "rollout",
            "status",
            f"{kind}/{name}",
            f"--timeout={int(timeout)}s",
            namespace=namespace,
            timeout=timeout + 30,
        )

    def scale(self, kind: str, name: str, replicas: int) -> None:
        self.kubectl("scale", f"{kind}/{name}", f"--replicas={replicas}")

    def psql(self, database: str, query: str, **variables: str) -> str:
        """One query in a service's database, as PostgreSQL's superuser inside its pod; the
        query names ``variables`` as psql does (``:'name'``)."""
        settings = [f"--set={name}={value}" for name, value in variables.items()]
        return self.kubectl(
            "exec",
            "-i",
            "postgres-0",
            "-c",
            "postgres",
            "--",
            "psql",
            "-U",
            "postgres",
            "-d",
            database,
            "-tA",
            *settings,
            input=query,
        ).stdout.strip()

    # ---- the entry point ------------------------------------------------------------------

    @property
    def certificate(self) -> Path:
        """The gateway certificate flightctl made for this cluster."""
        return self.home / "cluster" / "flightctl-local" / "certs" / "gateway.crt"

    def gateway(self, *, token: bool = True, timeout: float = 30) -> httpx.Client:
        """A client of the gateway (the port-forward `up` started) verifying flightctl's certificate."""
        tls = ssl.create_default_context(cafile=str(self.certificate))
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        return httpx.Client(base_url=self.status["gateway"], verify=tls, headers=headers, timeout=timeout)

    @staticmethod
    def call(
        client: httpx.Client, method: str, path: str, *, ok: Sequence[int] = (200,), timeout: float = 120, **kw: Any
    ) -> httpx.Response:
        """A request repeated while the platform is not there (no connection, the gateway's
        502/504, a service's 503, a collection already running: 409) until it answers one of
        ``ok``; anything else fails the test at once."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = client.request(method, path, **kw)
            except httpx.TransportError as error:
                answer = repr(error)
            else:
                if response.status_code in ok:
                    return response
                if response.status_code not in RETRYABLE:
                    raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:500]}")
                answer = f"{response.status_code} {response.text[:200]}"
            if time.monotonic() >= deadline:
                raise AssertionError(f"{method} {path}: no answer in {ok} within {timeout:.0f}s (last: {answer})")
            time.sleep(0.5)

    def create_user(self, client: httpx.Client, prefix: str, chat_id: str, *, timeout: float = 120) -> str:
        """A user with a Telegram chat id (retried while the platform is not there: the
        creation's idempotency key makes a repeat harmless)."""
        email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
        key = str(uuid.uuid4())
        body = {"email": email, "first_name": "Grace", "last_name": "Hopper"}
        self.call(
            client,
            "POST",
            "/user-manager/users",
            ok=(201,),
            timeout=timeout,
            json=body,
            headers={"Idempotency-Key": key},
        )
        link = {"email": email, "telegram_chat_id": chat_id}
        self.call(client, "POST", "/user-manager/users/telegram", timeout=timeout, json=link)
        return email

    def add_interest(self, client: httpx.Client, email: str, airport: str, high: int, *, timeout: float = 120) -> None:
        # 409: a repeat whose first attempt was stored (its answer lost): the interest exists.
        self.call(
            client,
            "POST",
            "/data-collector/interests",
            ok=(201, 409),
            timeout=timeout,
            json={"email": email, "airport_code": airport, "high_value": high},
        )

    def collect(self, client: httpx.Client, *, timeout: float = 120) -> dict[str, Any]:
        summary: dict[str, Any] = self.call(client, "POST", "/data-collector/collect", timeout=timeout).json()
        return summary

    # ---- the API doubles ------------------------------------------------------------------

    def double(self, name: str) -> httpx.Client:
        """The double's control API, from this machine through its Service's cluster IP (the
        doubles' namespace has no NetworkPolicy)."""
        address = self.kubectl("get", f"service/{name}", "-o", "jsonpath={.spec.clusterIP}", namespace=DOUBLES).stdout
        return httpx.Client(base_url=f"http://{address}:8080", timeout=10)

    def add_flights(self, flights: Sequence[dict[str, Any]]) -> None:
        with self.double("opensky") as opensky:
            opensky.post("/_double/flights", json=list(flights)).raise_for_status()

    def messages(self, chat_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """What the Telegram double delivered (to these chats), oldest first."""
        with self.double("telegram") as telegram:
            sent = telegram.get("/_double/messages").raise_for_status().json()
        wanted = None if chat_ids is None else set(chat_ids)
        return [m for m in sent if wanted is None or m["chat_id"] in wanted]

    # ---- connection probes ----------------------------------------------------------------

    def reach(
        self, pod: str, targets: Sequence[str], *, namespace: str = NAMESPACE, timeout: float = 3
    ) -> dict[str, str]:
        """From inside ``pod`` (a pod or deployment/NAME, any image with Python), try a TCP
        connection to each HOST:PORT; the outcome of each."""
        result = self.kubectl(
            "exec",
            pod,
            "--",
            "python",
            "-c",
            PROBE,
            json.dumps(list(targets)),
            str(timeout),
            namespace=namespace,
            timeout=timeout + 60,
        )
        outcome: dict[str, str] = json.loads(result.stdout)
        return outcome


def doubles_image() -> str:
    return versions()["DOUBLES_IMAGE"]


def standin_images() -> list[str]:
    pinned = versions()
    return [pinned[key] for key in ("POSTGRES_IMAGE", "KAFKA_IMAGE", "PROMETHEUS_IMAGE", "NGINX_IMAGE")]


def up_environment(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENSKY_", "TELEGRAM_", "FLIGHTCTL_", "KUBECONFIG")) and k != "API_TOKEN"
    }
    return {**env, "FLIGHTCTL_HOME": str(home), "FLIGHTCTL_DOCKER": DOCKER, **settings()}


def up_command(cluster: LocalCluster, timeout: int = 300) -> list[str]:
    """The planned command for this cluster (docs/operations.md, Kubernetes); ``timeout``
    seconds for each workload."""
    return [
        "up",
        "--kube-context",
        cluster.context,
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--image-load",
        "containerd",
        "--containerd-address",
        CONTAINERD,
        "--python-image",
        versions()["PYTHON_IMAGE"],
        "--timeout",
        str(timeout),
        "-o",
        "json",
    ]
