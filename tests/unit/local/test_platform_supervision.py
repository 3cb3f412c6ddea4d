"""LocalPlatform's side of supervision, with real processes: what `up` starts runs under a
supervisor; a component that exits while `up` waits for it is reported with its exit reason and
left stopped (not retried behind `up`'s back); `down` of a component stops it for good."""

from __future__ import annotations

import sys
from pathlib import Path

from flightctl.local.platform import LocalPlatform
from flightctl.platform import proc
from flightctl.platform.layout import Home


def test_a_component_exiting_during_up_is_reported_with_its_reason_and_left_stopped(tmp_path: Path) -> None:
    platform = LocalPlatform(Home(tmp_path))
    platform._ensure("demo", [sys.executable, "-c", "import sys; print('bad setting'); sys.exit(3)"], {})

    reasons: list[str] = []

    def crashed() -> bool:
        reason = platform._crashed("demo")
        if reason:
            reasons.append(reason)
        return bool(reason)

    assert proc.wait_until(crashed, 20)
    assert reasons == ["exited during start (exit code 3)"]
    assert proc.find(tmp_path / "run", "demo") is None  # its supervisor stopped: no retries behind up's back
    assert "bad setting" in (tmp_path / "logs" / "demo.log").read_text()


def test_a_stopped_component_is_not_restarted(tmp_path: Path) -> None:
    platform = LocalPlatform(Home(tmp_path))
    platform._ensure("demo", [sys.executable, "-c", "import time; time.sleep(120)"], {})
    assert proc.wait_until(lambda: (platform.supervision("demo") or {}).get("state") == "running", 10)
    child = (platform.supervision("demo") or {})["child_pid"]

    assert platform.down(components=["gateway"]) == []  # another component: nothing happens to demo
    assert platform._stop("demo")

    assert not proc.alive(child)
    assert proc.find(tmp_path / "run", "demo") is None
    assert platform.supervision("demo") is None
