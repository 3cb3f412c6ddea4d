"""serve(): every service's entry point. A bad configuration ends the process at once with one
line naming the variable (exit 2), before anything connects."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flightctl.config import SETTINGS, catalogue


@pytest.mark.parametrize("service", list(SETTINGS))
def test_python_dash_m_stops_on_a_missing_setting_with_one_line(service: str) -> None:
    module = "flightctl.services." + service.replace("-", "_")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    done = subprocess.run([sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    prefix, _, variable = line.removesuffix(" is required but not set").rpartition(" ")
    assert prefix == f"{service}: configuration error:"
    assert catalogue()[variable].required and service in catalogue()[variable].services
