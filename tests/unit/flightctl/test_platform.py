"""One Platform interface for both contexts: what each implementation answers without running
anything, and the options each refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightctl.errors import FlightctlError, UsageError
from flightctl.kind import layout as kind_layout
from flightctl.kind import secrets
from flightctl.kind.platform import KindPlatform
from flightctl.kind.runner import Completed, RecordingRunner
from flightctl.local.platform import LocalPlatform
from flightctl.platform.certs import make_self_signed
from flightctl.platform.interface import KIND, LOCAL, Platform, create, existing
from flightctl.platform.layout import Home, State


def quiet(_message: str) -> None:
    pass


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


def test_create_gives_each_context_its_platform(home: Home) -> None:
    runner = RecordingRunner()
    local = create(LOCAL, home, quiet, runner=lambda: runner)
    kind = create(KIND, home, quiet, runner=lambda: runner, dry_run=True)
    assert isinstance(local, LocalPlatform) and isinstance(kind, KindPlatform)
    assert isinstance(local, Platform) and isinstance(kind, Platform)
    assert (local.name, kind.name) == ("local", "kind")
    assert kind.runner is runner and kind.dry_run
    assert "kind" in kind.required_tools and "kind" not in local.required_tools
    with pytest.raises(ValueError, match="unknown context"):
        create("prod", home, quiet, runner=lambda: runner)


def test_the_local_platform_refuses_what_only_the_cluster_does(home: Home, tmp_path: Path) -> None:
    for options in ({"multi_node": True}, {"ingress": False}):
        with pytest.raises(UsageError, match="apply to the kind cluster only"):
            LocalPlatform(home).up({}, tmp_path, **options)
    with pytest.raises(UsageError, match="apply to the kind cluster only"):
        LocalPlatform(home, dry_run=True).up({}, tmp_path)
    with pytest.raises(UsageError, match="--dry-run applies to the kind cluster only"):
        LocalPlatform(home, dry_run=True).down()
    assert not home.root.exists(), "refused before anything was written"


def test_the_cluster_is_deleted_as_a_whole(home: Home) -> None:
    runner = RecordingRunner()
    with pytest.raises(UsageError, match="deleted as a whole"):
        KindPlatform(home, runner, quiet).down(components=["data-collector"])
    assert runner.calls == []
    runner.script[("kind", "get", "clusters")] = Completed(0, "")
    assert KindPlatform(home, runner, quiet, dry_run=True, echo=quiet).down() is None  # a plan, not a result


def test_endpoints_token_and_certificate_of_each_platform(home: Home) -> None:
    local, kind = LocalPlatform(home), KindPlatform(home, RecordingRunner(), quiet)
    with pytest.raises(FlightctlError, match=r"no local platform in .*; start it with `flightctl up --local`"):
        local.service_url("user-manager")
    assert local.api_token() is None and local.certificate() is None
    home.save_state(State(port_base=23400, api_token="from-state", postgres_password="p", kafka_cluster_id="c"))
    assert local.service_url("alert-notifier") == "http://127.0.0.1:23413"
    assert local.api_token() == ("from-state", "state.json")
    make_self_signed(home.path("certs"))
    assert local.certificate() == home.path("certs", "gateway.crt")

    assert kind.service_url("sla-breach-detector") == "https://127.0.0.1/sla-detector"
    assert kind.api_token() is None and kind.certificate() is None
    secrets.write(kind_layout.secrets_file(home), {"API_TOKEN": "from-secret"})
    assert kind.api_token() == ("from-secret", "the kind cluster's secret")


def test_logs_of_each_platform(home: Home) -> None:
    written: list[str] = []
    with pytest.raises(UsageError, match="unknown component mysql"):
        LocalPlatform(home).logs("mysql", 5, False, written.append)
    with pytest.raises(FlightctlError, match="no log for kafka yet"):
        LocalPlatform(home).logs("kafka", 5, False, written.append)
    home.logs.mkdir(parents=True)
    home.log_file("nginx-access").write_text("one\ntwo\nthree\n")
    LocalPlatform(home).logs("gateway-access", 2, False, written.append)
    assert written == ["two\nthree\n"]

    runner = RecordingRunner()
    runner.script[("kubectl",)] = Completed(0, "pod line\n")
    KindPlatform(home, runner, quiet).logs("prometheus", 7, False, written.append)
    assert written[-1] == "pod line\n"
    assert runner.commands() == [
        "kubectl --context kind-flightctl -n flightctl logs deployment/prometheus --all-containers --tail=7"
    ]


def test_down_stops_the_platform_this_home_has(home: Home) -> None:
    runner = RecordingRunner()
    assert existing(home, lambda: runner) == KIND
    runner.programs.discard("kind")
    assert existing(home, lambda: runner) == LOCAL  # nothing to stop either way
    runner.programs.add("kind")
    home.save_state(State(port_base=23400, api_token="t", postgres_password="p", kafka_cluster_id="c"))
    assert existing(home, lambda: runner) == LOCAL
