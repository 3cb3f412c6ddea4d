"""The cluster's entry point: the project's own NGINX gateway as a workload in every overlay.

- its configuration is the local gateway's template rendered for the cluster, committed as
  base/gateway/nginx.conf and current (the staleness check), and it differs from the local
  rendering only in the values the template leaves open;
- the Deployment, ConfigMap, Secret, Service and ports agree with that configuration;
- the committed file, run by a real NGINX (only its addresses and file locations moved into a
  temporary directory), does what the gateway promises: TLS, the prefixes, redirects, JSON
  errors, the 1 MiB limit, redacted access logs.
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from flightctl.deploy import gateway
from flightctl.local import nginx
from flightctl.platform import proc
from flightctl.platform.certs import make_self_signed
from flightctl.platform.layout import GATEWAY_PREFIXES, Home, State, free_port, port_in_use

from .kube import KUBERNETES_DIR, Manifest, find, find_prefixed, pod_spec, rendered, with_components

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_configuration_is_the_template_rendered_for_the_cluster() -> None:
    committed = gateway.cluster_config_file().read_text()
    assert committed == gateway.cluster_config(), "stale: run python scripts/gen_gateway_conf.py"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_gateway_conf.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


# The lines whose values the template leaves open (addresses, files, upstreams, the redirect's port).
OPEN_VALUES = re.compile(
    r"^\s*(#|user |pid |error_log |access_log |\w+_temp_path |listen |ssl_certificate|server [\w.:-]+;|"
    r"return 308 https://\$host)"
)


def test_local_and_cluster_gateways_share_every_other_line(tmp_path: Path) -> None:
    local = nginx.render(Home(tmp_path), State(18400, "t", "p", "c"), tmp_path / "c.crt", tmp_path / "c.key")

    def fixed(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.strip() and not OPEN_VALUES.match(line)]

    assert fixed(local.read_text()) == fixed(gateway.cluster_config())
    assert "    client_max_body_size 1m;" in fixed(gateway.cluster_config())


def upstreams(config: str) -> dict[str, tuple[str, int]]:
    """path prefix -> (host, port) of each proxied location, through its upstream block."""
    servers = dict(re.findall(r"upstream ([\w-]+) \{\s*server ([\w.:-]+);", config))
    found = re.findall(r"location /([\w-]+)/ \{\s*proxy_pass http://([\w-]+)/;", config)
    return {prefix: (servers[name].rpartition(":")[0], int(servers[name].rpartition(":")[2])) for prefix, name in found}


@pytest.mark.parametrize("overlay", ["kind", "kind-multinode", "cluster"])
def test_the_workload_matches_its_configuration(overlay: str) -> None:
    manifests = rendered(overlay)
    config = gateway.cluster_config_file().read_text()
    deployment = find(manifests, "Deployment", "gateway")
    pod = pod_spec(deployment)
    (container,) = pod["containers"]
    assert container["command"][:3] == ["nginx", "-c", f"{gateway.CLUSTER_CONF_DIR}/nginx.conf"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    # The configuration: the generated ConfigMap holds exactly the committed file.
    conf = volumes[mounts[gateway.CLUSTER_CONF_DIR]]["configMap"]["name"]
    config_map = find_prefixed(manifests, "ConfigMap", "gateway-conf")
    assert conf == config_map["metadata"]["name"]
    assert config_map["data"] == {"nginx.conf": config}
    # TLS from the Secret flightctl creates, readable by the gateway's group only.
    tls = volumes[mounts[gateway.CLUSTER_TLS_DIR]]["secret"]
    assert (tls["secretName"], tls["defaultMode"]) == ("flightctl-tls", 0o440)
    assert pod["securityContext"]["fsGroup"] == container["securityContext"]["runAsGroup"] == 101
    assert f"ssl_certificate {gateway.CLUSTER_TLS_DIR}/tls.crt;" in config
    assert f"ssl_certificate_key {gateway.CLUSTER_TLS_DIR}/tls.key;" in config
    # Everything it writes goes to /tmp, an emptyDir (the root file system is read-only).
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    written = re.findall(r"^\s*(?:pid|\w+_temp_path) (\S+);", config, re.MULTILINE)
    assert written and all(path.startswith("/tmp/") for path in written)
    # Ports: what it listens on, what the probes and the Service use.
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"https": gateway.CLUSTER_HTTPS_PORT, "http": gateway.CLUSTER_HTTP_PORT}
    assert re.findall(r"^\s*listen (\d+)", config, re.MULTILINE) == ["8080", "8443"]
    for probe in (container["readinessProbe"], container["livenessProbe"]):
        assert probe["httpGet"] == {"path": "/", "port": "https", "scheme": "HTTPS"}
    service = find(manifests, "Service", "gateway")
    assert {(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        ("https", 443, "https"),
        ("http", 80, "http"),
    }
    if overlay.startswith("kind"):
        assert service["spec"]["type"] == "NodePort"
        assert {p["name"]: p["nodePort"] for p in service["spec"]["ports"]} == {"https": 30443, "http": 30080}
    else:
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", "an existing cluster opens no node port"


@pytest.mark.parametrize("overlay", ["kind", "cluster"])
def test_every_upstream_is_the_service_of_its_prefix(overlay: str) -> None:
    manifests = rendered(overlay)
    routes = upstreams(gateway.cluster_config_file().read_text())
    assert routes == {prefix: (service, 8080) for service, prefix in GATEWAY_PREFIXES.items()}
    for host, port in routes.values():
        service = find(manifests, "Service", host)
        assert {p["name"]: p["port"] for p in service["spec"]["ports"]}["http"] == port
        assert service["spec"]["selector"] == {"app": host}


def test_the_ingress_component_passes_everything_to_the_gateway(tmp_path: Path) -> None:
    manifests: list[Manifest] = with_components(tmp_path, KUBERNETES_DIR / "overlays" / "cluster", "ingress-nginx")
    ingress = find(manifests, "Ingress", "flightctl")
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert annotations["nginx.ingress.kubernetes.io/backend-protocol"] == "HTTPS"
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "0", "the gateway's JSON 413 decides"
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
    assert [t["secretName"] for t in ingress["spec"]["tls"]] == ["flightctl-tls"]
    ((path,),) = [rule["http"]["paths"] for rule in ingress["spec"]["rules"]]
    assert (path["path"], path["pathType"]) == ("/", "Prefix")
    assert path["backend"]["service"] == {"name": "gateway", "port": {"name": "https"}}


def test_the_ingress_redirects_http_with_308() -> None:
    """ingress-nginx's HTTP to HTTPS redirect (ssl-redirect, force-ssl-redirect) answers with
    its ConfigMap's ``http-redirect-code``, 308 unless set: the vendored controller sets none."""
    import yaml

    ingress = yaml.safe_load((KUBERNETES_DIR / "components" / "ingress-nginx" / "ingress.yaml").read_text())
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
    vendored = yaml.safe_load_all((KUBERNETES_DIR / "vendor" / "ingress-nginx" / "deploy.yaml").read_text())
    config_maps = [m for m in vendored if m and m["kind"] == "ConfigMap"]
    (controller,) = [m for m in config_maps if m["metadata"]["name"] == "ingress-nginx-controller"]
    assert "http-redirect-code" not in (controller.get("data") or {})


# ---- the committed configuration, run by NGINX ---------------------------------------------


class Upstream(BaseHTTPRequestHandler):
    """Stands in for user-manager: answers what it received."""

    def do_GET(self) -> None:
        body = json.dumps(
            {
                "path": self.path,
                "prefix": self.headers.get("X-Forwarded-Prefix"),
                "proto": self.headers.get("X-Forwarded-Proto"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def running(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The committed nginx.conf, started by the real NGINX with its addresses and file
    locations moved here: user-manager at a local stand-in, the other upstreams unreachable.
    Parametrized indirectly with a rate (``"1r/m"``), the rate limit is that, with a burst of 2."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    closed = free_port()  # nothing listens there: the 502 path
    http_port, https_port = free_port(), free_port()
    cert, key = make_self_signed(tmp_path / "certs")
    text = gateway.cluster_config_file().read_text()
    moves = [
        ("listen 8080;", f"listen 127.0.0.1:{http_port};", 1),
        ("listen 8443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;", 1),
        (f"{gateway.CLUSTER_TLS_DIR}/tls.crt", str(cert), 1),
        (f"{gateway.CLUSTER_TLS_DIR}/tls.key", str(key), 1),
        ("pid /tmp/", f"pid {tmp_path}/", 1),
        ("_temp_path /tmp/", f"_temp_path {tmp_path}/", 5),
        ("server user-manager:8080;", f"server 127.0.0.1:{server.server_address[1]};", 1),
        ("server data-collector:8080;", f"server 127.0.0.1:{closed};", 1),
        ("server sla-breach-detector:8080;", f"server 127.0.0.1:{closed};", 1),
        ("server alert-notifier:8080;", f"server 127.0.0.1:{closed};", 1),
    ]
    rate = getattr(request, "param", None)
    if rate is not None:
        moves += [
            (f"rate={gateway.MUTATIONS_PER_SECOND}r/s;", f"rate={rate};", 1),
            (f"burst={2 * gateway.MUTATIONS_PER_SECOND} nodelay;", "burst=2 nodelay;", 1),
        ]
    for old, new, count in moves:
        assert text.count(old) == count, f"the committed nginx.conf changed shape: {old!r}"
        text = text.replace(old, new)
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    tmp_path.chmod(0o755)  # NGINX's workers may run as another user
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            [nginx.binary(), "-p", str(tmp_path), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
            stdout=out,
            stderr=err,
        )
    try:
        if not proc.wait_until(lambda: port_in_use(https_port) or process.poll() is not None, 15, interval=0.05):
            pytest.fail("NGINX did not listen within 15s")
        if process.poll() is not None:
            pytest.fail(f"NGINX refused the gateway configuration: {stderr.read_text()}")
        yield {"http": http_port, "https": https_port, "cert": cert, "log": stdout}
    finally:
        process.terminate()
        process.wait(timeout=15)
        server.shutdown()
        server.server_close()


def request(
    running: dict[str, Any], method: str, path: str, *, tls: bool = True, port: int | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    if tls:
        context = ssl.create_default_context(cafile=str(running["cert"]))
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port or running["https"], context=context, timeout=10
        )
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port or running["http"], timeout=10)
    try:
        connection.putrequest(method, path, skip_host="Host" in headers)
        for name, value in headers.items():
            connection.putheader(name.replace("_", "-"), value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_the_cluster_gateway_routes_redirects_and_answers_json(running: dict[str, Any]) -> None:
    status, headers, body = request(running, "GET", "/")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body)["prefixes"] == [f"/{p}/" for p in GATEWAY_PREFIXES.values()]

    status, _headers, body = request(running, "GET", "/user-manager/users/ada@example.com?page=2")
    assert status == 200
    assert json.loads(body) == {"path": "/users/ada@example.com?page=2", "prefix": "/user-manager", "proto": "https"}

    status, headers, _body = request(running, "GET", "/user-manager")
    assert (status, headers["location"].rpartition(":")[2].split("/", 1)[1]) == (308, "user-manager/")

    status, _headers, body = request(running, "GET", "/elsewhere")
    assert status == 404 and "services are under /user-manager/" in json.loads(body)["error"]

    # An unreachable service: NGINX's own 502, as JSON.
    status, headers, body = request(running, "GET", "/notifier/notifications")
    assert status == 502 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "the service behind this path is not reachable"}

    # A body over 1 MiB is refused before it is read, as JSON.
    status, _headers, body = request(running, "POST", "/user-manager/users", Content_Length=str(1024 * 1024 + 1))
    assert status == 413 and json.loads(body) == {"error": "the request body is larger than 1 MiB"}


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def test_http_is_redirected_to_https_keeping_the_method(running: dict[str, Any], method: str) -> None:
    # 308, never 301 or 302: a client that follows the redirect sends the same method and body
    # again, so a POST or DELETE over plain HTTP never turns into a GET that "succeeds".
    # The HTTP port: to HTTPS on the Service's port 443 (Kind publishes it as 127.0.0.1:443).
    status, headers, _body = request(running, method, "/data-collector/flights", tls=False, Host="localhost")
    assert (status, headers["location"]) == (308, "https://localhost/data-collector/flights")
    # Plain HTTP to the HTTPS port (a port-forward of it): to HTTPS at the same address.
    address = f"127.0.0.1:{running['https']}"
    status, headers, _body = request(running, method, "/x?y=1", tls=False, port=running["https"], Host=address)
    assert (status, headers["location"]) == (308, f"https://{address}/x?y=1")


SECURITY_HEADERS = {
    "strict-transport-security": "max-age=31536000",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def test_every_https_answer_carries_the_security_headers(running: dict[str, Any]) -> None:
    for method, path in [
        ("GET", "/"),  # the gateway's own answer
        ("GET", "/user-manager/ping"),  # a proxied one
        ("GET", "/user-manager"),  # a redirect
        ("GET", "/elsewhere"),  # 404
        ("GET", "/notifier/notifications"),  # 502
    ]:
        _status, headers, _body = request(running, method, path)
        assert {name: headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS, path
    status, headers, _body = request(running, "POST", "/user-manager/users", Content_Length=str(1024 * 1024 + 1))
    assert status == 413 and {name: headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


def test_only_tls_1_2_and_newer_are_accepted(running: dict[str, Any]) -> None:
    assert re.findall(r"^\s*ssl_protocols (.*);", gateway.cluster_config_file().read_text(), re.MULTILINE) == [
        "TLSv1.2 TLSv1.3"
    ]
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = ssl.create_default_context(cafile=str(running["cert"]))
        context.minimum_version = context.maximum_version = version
        connection = http.client.HTTPSConnection("127.0.0.1", running["https"], context=context, timeout=10)
        try:
            connection.request("GET", "/")
            assert connection.getresponse().status == 200
        finally:
            connection.close()
    # A client that offers TLS 1.1 at most (allowed on its side: security level 0) is refused
    # by the server: a protocol-version alert, not a client-side refusal.
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1 itself is deprecated
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    connection = http.client.HTTPSConnection("127.0.0.1", running["https"], context=old, timeout=10)
    try:
        with pytest.raises(ssl.SSLError, match=r"(?i)protocol.version"):
            connection.request("GET", "/")
    finally:
        connection.close()


def test_the_access_log_goes_to_stdout_without_personal_data(running: dict[str, Any]) -> None:
    request(running, "GET", "/user-manager/users/ada@example.com?email=ada@example.com")
    assert proc.wait_until(lambda: "/users/" in running["log"].read_text(), 10, interval=0.05)
    line = next(line for line in running["log"].read_text().splitlines() if "/users/" in line)
    assert '"GET /user-manager/users/<email>" 200' in line
    assert "ada" not in line and "?" not in line
    # bytes, then the request's time, the upstream's connect and answer times (seconds)
    assert re.search(r'" 200 \d+ \d+\.\d{3} \d+\.\d{3} \d+\.\d{3}$', line), line


@pytest.mark.parametrize("running", ["1r/m"], indirect=True)
def test_mutating_requests_are_rate_limited_per_address_with_a_json_429(running: dict[str, Any]) -> None:
    # A burst of 2 passes (and the one request a minute the rate allows): then 429.
    answers = [request(running, "POST", "/user-manager/users", Content_Length="0") for _ in range(4)]
    assert [status for status, _headers, _body in answers[:3]] == [200, 200, 200]
    status, headers, body = answers[3]
    assert status == 429 and headers["content-type"] == "application/json"
    assert headers["retry-after"] == "1"
    assert json.loads(body) == {"error": "too many changes from this address; retry after 1 second"}
    assert {name: headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    for method in ("PUT", "PATCH", "DELETE"):
        assert request(running, method, "/user-manager/users/ada@example.com", Content_Length="0")[0] == 429
    # Reads are never limited.
    assert [request(running, "GET", "/user-manager/users")[0] for _ in range(5)] == [200] * 5
