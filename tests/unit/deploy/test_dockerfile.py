"""Rules for the service images: the shipped Dockerfile, read statically."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flightctl import deploy

from .kube import all_containers, rendered, workloads

TARGETS = {
    "user-manager": "user_manager",
    "data-collector": "data_collector",
    "alert-system": "alert_system",
    "alert-notifier": "alert_notifier",
    "sla-breach-detector": "sla_breach_detector",
}
SECRET_LIKE = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_KEY|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction: comments dropped, continuation lines joined."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    result = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    return result


def _build_args() -> dict[str, str]:
    """The ARGs declared before the first FROM, with their defaults."""
    args: dict[str, str] = {}
    for keyword, arguments in _instructions(deploy.path("Dockerfile").read_text()):
        if keyword == "FROM":
            break
        if keyword == "ARG":
            name, _, default = arguments.partition("=")
            args[name] = default
    return args


def _stages() -> list[Stage]:
    stages: list[Stage] = []
    args = _build_args()
    for keyword, arguments in _instructions(deploy.path("Dockerfile").read_text()):
        if keyword == "FROM":
            arguments = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], arguments)
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", arguments, re.IGNORECASE)
            assert match is not None, arguments
            stages.append(Stage(base=match.group(1), name=match.group(2)))
        elif stages:
            stages[-1].instructions.append((keyword, arguments))
        else:
            assert keyword == "ARG", f"{keyword} before the first FROM"
    return stages


def _chain(stages: list[Stage], stage: Stage) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    by_name = {s.name: s for s in stages if s.name}
    chain = [stage]
    while chain[-1].base in by_name:
        chain.append(by_name[chain[-1].base])
    return chain


def _effective(stages: list[Stage], stage: Stage, keyword: str) -> str | None:
    for link in _chain(stages, stage):
        values = link.all(keyword)
        if values:
            return values[-1]
    return None


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return _stages()


def test_one_multi_stage_file_with_a_target_per_service(stages: list[Stage]) -> None:
    names = [s.name for s in stages]
    assert "builder" in names
    assert set(TARGETS) <= set(names)
    for target, package in TARGETS.items():
        stage = next(s for s in stages if s.name == target)
        module = f"flightctl.services.{package}"
        assert json.loads(_effective(stages, stage, "CMD") or "null") == ["python", "-m", module]
        assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{module} cannot run with -m"


def test_images_the_manifests_use_are_built_here(overlay: str) -> None:
    images = {
        c["image"].rpartition(":")[0]
        for w in workloads(rendered(overlay))
        for c in all_containers(w)
        if c["image"].startswith("flightctl/")
    }
    assert images == {f"flightctl/{target}" for target in TARGETS}


def test_base_images_are_pinned(stages: list[Stage]) -> None:
    named = {s.name for s in stages if s.name}
    external = {s.base for s in stages if s.base not in named}
    assert external, "no external base image"
    for image in external:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", image), f"{image} is not a pinned python:3.11 slim tag"


def test_final_stages_run_as_the_unprivileged_user(stages: list[Stage]) -> None:
    for target in TARGETS:
        stage = next(s for s in stages if s.name == target)
        user = _effective(stages, stage, "USER")
        assert user is not None, f"{target} runs as root"
        uid = user.split(":")[0]
        assert uid == "10001", f"{target} runs as {user}"
        environment = " ".join(env for link in _chain(stages, stage) for env in link.all("ENV"))
        assert "PYTHONDONTWRITEBYTECODE=1" in environment
        assert "PYTHONUNBUFFERED=1" in environment
        runtime_commands = " ".join(run for link in _chain(stages, stage) for run in link.all("RUN"))
        assert not re.search(r"\b(gcc|build-essential|make|git|curl)\b", runtime_commands), "build tools at runtime"
        assert any("--from=builder" in copy for link in _chain(stages, stage) for copy in link.all("COPY"))


def test_healthcheck_pings_the_http_port_with_urllib(stages: list[Stage]) -> None:
    for target in TARGETS:
        stage = next(s for s in stages if s.name == target)
        healthcheck = _effective(stages, stage, "HEALTHCHECK")
        assert healthcheck is not None, target
        assert "urllib" in healthcheck
        assert "/ping" in healthcheck
        assert "HTTP_PORT" in healthcheck


def test_no_secrets_go_into_the_image(stages: list[Stage]) -> None:
    for stage in stages:
        for keyword, arguments in stage.instructions:
            if keyword in ("ARG", "ENV"):
                assert not SECRET_LIKE.search(arguments), f"{keyword} {arguments}"
            if keyword in ("COPY", "ADD"):
                assert ".env" not in arguments.split(), arguments
                assert not re.search(r"\.(pem|key)\b", arguments), arguments


def _dependency_step(stages: list[Stage]) -> str:
    builder = next(s for s in stages if s.name == "builder")
    (step,) = [run for run in builder.all("RUN") if "-r requirements.txt" in run]
    return step


def test_dependencies_install_from_the_mounted_wheels_when_there_are_some(stages: list[Stage]) -> None:
    step = _dependency_step(stages)
    mounts = re.findall(r"--mount=(\S+)", step)
    assert "type=bind,source=wheels,target=/build/wheels" in mounts, "wheels/ is mounted, never a layer"
    builder = next(s for s in stages if s.name == "builder")
    assert not any("wheels" in copy for copy in builder.all("COPY"))
    assert any("dist/" in copy for copy in builder.all("COPY"))


@pytest.mark.parametrize("with_wheels", [True, False])
def test_the_dependency_step_runs_pip_offline_only_with_wheels(
    stages: list[Stage], tmp_path: Path, with_wheels: bool
) -> None:
    """The step's shell, run by sh with a pip that records its arguments: with wheels in
    wheels/, --no-index --find-links wheels (no network); without, the package index."""
    script = re.sub(r"^(--mount=\S+\s+)+", "", _dependency_step(stages))
    (tmp_path / "wheels").mkdir()
    if with_wheels:
        (tmp_path / "wheels" / "flask-3.1.3-py3-none-any.whl").write_bytes(b"")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pip").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$PIP_ARGS"\n')
    (bin_dir / "pip").chmod(0o755)
    result = subprocess.run(
        ["sh", "-c", script],
        cwd=tmp_path,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "PIP_ARGS": str(tmp_path / "args")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    args = (tmp_path / "args").read_text().split()
    offline = ["--no-index", "--find-links", "wheels"] if with_wheels else []
    assert args == [
        "--python",
        "/opt/venv/bin/python",
        "install",
        *offline,
        "--constraint",
        "constraints.txt",
        "-r",
        "requirements.txt",
    ]


def test_buildkit_is_named_where_the_dockerfile_needs_it() -> None:
    text = deploy.path("Dockerfile").read_text()
    assert "RUN --mount" in text
    assert "DOCKER_BUILDKIT=1" in text, "the header says how to build it"
    assert "# syntax=" not in text, "a syntax line makes BuildKit pull a frontend image from a registry"
