"""The load test's TLS client context (flightctl/cli/locustfile.py): built once per Locust
process and shared by every simulated user, trusting only the gateway's certificate when one is
given. Locust patches the standard library on import, so the file is loaded in a process of its
own, as Locust loads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from flightctl.cli import loadtest
from flightctl.platform.certs import make_self_signed

PROBE = """
import importlib.util, json, ssl, sys
spec = importlib.util.spec_from_file_location("locustfile", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
context = module._ssl_context()
print(json.dumps({
    "shared": module._ssl_context() is context,
    "cas": len(context.get_ca_certs()),
    "verifies": context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname,
}))
"""


def probe(ca: Path | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "FLIGHTCTL_LOADTEST_CA"}
    if ca is not None:
        env["FLIGHTCTL_LOADTEST_CA"] = str(ca)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(loadtest.LOCUSTFILE)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_one_context_with_only_the_gateway_certificate(tmp_path: Path) -> None:
    cert, _key = make_self_signed(tmp_path)
    # Shared by every user; the gateway's certificate, not the system's ~150 (each parsed anew
    # per user once put seconds into the requests of a ramp-up).
    assert probe(cert) == {"shared": True, "cas": 1, "verifies": True}


def test_without_a_certificate_the_system_cas_verify() -> None:
    found = probe(None)
    assert found["shared"] and found["verifies"]
