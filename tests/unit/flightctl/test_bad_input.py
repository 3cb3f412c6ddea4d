"""Malformed flags and files: the CLI exits 2 with exactly one line on stderr (no usage block,
no traceback) and nothing on stdout, before it connects to anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightctl.cli.main import app, hoist_global_options

CLEAN = {"FLIGHTCTL_CONTEXT": None, "FLIGHTCTL_TOKEN": None, "API_TOKEN": None, "FLIGHTCTL_USER_MANAGER_URL": None}


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, hoist_global_options(list(args)), env={**CLEAN, "FLIGHTCTL_HOME": str(home)})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "broken.yaml").write_text("metrics: [unclosed\n  settings: {t_check: 60\n")
    (tmp_path / "broken.json").write_text('{"metrics": [{"name": "x",}')
    (tmp_path / "list.yaml").write_text("- just\n- a list\n")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00metrics")
    return {name: str(tmp_path / name) for name in ("broken.yaml", "broken.json", "list.yaml", "binary.yaml")}


CASES = {
    "unknown option": (["users", "list", "--colour"], "No such option: --colour"),
    "unknown command": (["usres", "list"], "Did you mean 'users'?"),
    "bad option value": (["flights", "list", "LIRF", "--limit", "many"], "--limit"),
    "bad choice": (["auth", "token", "create", "--scope", "root"], "--scope"),
    "missing option": (["auth", "token", "create"], "--scope"),
    "bad argument type": (["auth", "token", "revoke", "first"], "ID"),
    "bad global option": (["-o", "xml", "status"], "--output"),
    "bad context": (["--context", "prod", "status"], "--context"),
    "missing argument": (["users", "get"], "EMAIL"),
    "extra argument": (["sla", "set", "config.yaml"], "unexpected extra argument"),
    "bad idempotency key": (["users", "delete", "a@b.it", "--idempotency-key", ""], "Idempotency-Key"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_malformed_flag_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    args, mentioned = CASES[case]
    code, stdout, stderr = run(tmp_path, *args)
    assert code == 2, (stdout, stderr)
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert mentioned.lower() in lines[0].lower()
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("name", "mentioned"),
    [
        ("missing.yaml", "cannot read"),
        ("broken.yaml", "not valid YAML or JSON"),
        ("broken.json", "not valid YAML or JSON"),
        ("list.yaml", "must hold an object"),
        ("binary.yaml", "cannot read"),
    ],
)
def test_a_malformed_sla_config_file_is_one_line_and_exit_2(
    tmp_path: Path, files: dict[str, str], name: str, mentioned: str
) -> None:
    path = files.get(name, str(tmp_path / name))
    code, stdout, stderr = run(tmp_path, "sla", "set", "-f", path)
    assert code == 2, (stdout, stderr)
    assert stdout == ""
    (line,) = stderr.splitlines()
    assert line.startswith("error: ") and mentioned in line and path in line


def test_a_group_given_nothing_still_shows_its_help(tmp_path: Path) -> None:
    code, stdout, stderr = run(tmp_path, "users")
    assert "Usage: flightctl users" in stdout + stderr
    assert code in (0, 2)
