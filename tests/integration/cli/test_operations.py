"""smoke, doctor and an unreachable service, on the real local platform."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from flightctl.platform.proc import wait_until
from tests.conftest import Platform
from tests.integration.cli.conftest import Cli

STEPS = [
    "services healthy",
    "create user",
    "set telegram chat",
    "add interest",
    "collect",
    "notification delivered",
    "clean up",
]


def test_smoke_passes_on_a_healthy_platform_and_leaves_nothing(cli: Cli, tmp_path: Path) -> None:
    report = tmp_path / "smoke.xml"
    result = cli("smoke", "--timeout", "30", "--junit", str(report), "-o", "json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["ok"] is True
    assert [(s["name"], s["result"]) for s in outcome["steps"]] == [(name, "pass") for name in STEPS]
    assert "alert sent to chat" in outcome["steps"][5]["detail"]
    assert "PASS notification delivered" in result.stderr

    suite = ET.parse(report).getroot()  # noqa: S314 - our own report
    assert [c.get("name") for c in suite.iter("testcase")] == STEPS
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "0")

    users = json.loads(cli("users", "list", "-o", "json").stdout)
    assert outcome["email"] not in [u["email"] for u in users]


def test_a_stopped_notifier_is_named_by_commands_and_smoke(cli: Cli, platform: Platform, tmp_path: Path) -> None:
    address = platform.url("alert-notifier")
    platform.stop("alert-notifier")
    try:
        listed = cli("notifications", "list")
        assert listed.exit_code == 1
        [line] = listed.stderr.strip().splitlines()
        assert line.startswith(f"error: alert-notifier at {address}: cannot connect (")
        assert line.endswith("; check the platform with `flightctl status`")

        report = tmp_path / "smoke.xml"
        smoke = cli("smoke", "--timeout", "3", "--junit", str(report))
        assert smoke.exit_code == 1
        last = smoke.stderr.strip().splitlines()[-1]
        assert last.startswith("error: smoke failed at step 'services healthy': alert-notifier at ")
        assert "FAIL services healthy" in smoke.stderr and "PASS clean up" in smoke.stderr
        rows = {line.split()[0] + " " + line.split()[1]: line for line in smoke.stdout.splitlines()[1:]}
        assert " fail " in rows["services healthy"] and " skipped " in rows["create user"]
        suite = ET.parse(report).getroot()  # noqa: S314 - our own report
        failure = suite.find("testcase[@name='services healthy']/failure")
        assert failure is not None and "alert-notifier" in str(failure.get("message"))

        waited = cli("status", "--wait", "--timeout", "1")
        assert waited.exit_code == 1
        assert waited.stderr.strip().splitlines()[-1].startswith("error: not healthy after 1s: alert-notifier")
    finally:
        platform.restore()
    healthy = cli("status", "--wait", "--timeout", "60", "-o", "json")
    assert healthy.exit_code == 0, healthy.stderr
    assert all(s["healthy"] for s in json.loads(healthy.stdout)["services"].values())


def test_doctor_for_each_context(cli: Cli) -> None:
    local = cli("doctor", "-o", "json")
    assert local.exit_code == 0, local.output
    report = json.loads(local.stdout)
    assert report["context"] == "local" and report["ok"] is True
    checks = {c["name"]: c for c in report["checks"]}
    assert {"python", "java", "maven", "initdb", "pg_ctl", "prometheus", "nginx", "openssl", "docker", "buildkit",
            "kind", "kubectl", "ctr", "cluster", "containerd", "ports"} == set(checks)  # fmt: skip
    assert checks["ports"]["ok"] and "held by this platform" in checks["ports"]["found"]
    assert not checks["kind"]["required"] and checks["java"]["required"]
    assert not any(checks[name]["required"] for name in ("buildkit", "ctr", "cluster", "containerd"))

    # Nothing on PATH: the kind context misses docker, kind and kubectl, each with its install hint.
    kind = cli("--context", "kind", "doctor", PATH="/nonexistent")
    assert kind.exit_code == 5
    error = kind.stderr.strip().splitlines()[-1]
    assert error.startswith("error: missing for the kind context: docker (apt-get install -y docker.io)")
    assert "kind (see https://kind.sigs.k8s.io/" in error and "kubectl (see https://kubernetes.io/" in error
    header = kind.stdout.splitlines()[0].split()
    assert header == ["NAME", "REQUIRED", "OK", "FOUND", "FIX"]


def test_logs_and_certs(cli: Cli, platform: Platform) -> None:
    shown = cli("logs", "user-manager", "-n", "3")
    assert shown.exit_code == 0, shown.stderr
    expected = (platform.home / "logs" / "user-manager.log").read_text().splitlines()
    assert shown.stdout.splitlines() == expected[-3:] and len(expected) >= 3
    with platform.gateway(token=False) as gateway:
        assert gateway.get("/notifier/ping").status_code == 200
    assert wait_until(lambda: "/notifier/ping" in cli("logs", "gateway-access", "-n", "1").stdout, 10)

    unknown = cli("logs", "mysql")
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == (
        "error: unknown component mysql; choose from user-manager, data-collector, alert-system, "
        "alert-notifier, sla-breach-detector, postgres, kafka, prometheus, gateway, gateway-access"
    )

    made = cli("certs", "-o", "json")
    assert made.exit_code == 0, made.stderr
    paths = json.loads(made.stdout)
    assert paths == {
        "certificate": str(platform.home / "certs" / "gateway.crt"),
        "key": str(platform.home / "certs" / "gateway.key"),
    }
    assert (platform.home / "certs" / "gateway.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")
