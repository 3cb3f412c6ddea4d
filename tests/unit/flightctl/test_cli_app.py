"""The shape of the CLI: commands load lazily through public Click/Typer API, `--help` imports
nothing heavy, shell completion goes through the app's own completion protocol."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from flightctl.cli.main import COMMANDS, app

SRC = Path(__file__).resolve().parents[3] / "src" / "flightctl"
HEAVY = ("httpx", "yaml", "cryptography", "rich", "flightctl.services", "flightctl.local", "flightctl.kind")
PROBE = """
import json, sys
sys.argv = ["flightctl", *sys.argv[1:]]
from flightctl.cli.main import run
try:
    run()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def imported_by(*args: str) -> list[str]:
    """The modules a fresh `flightctl ARGS` process has imported when it is done."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_help_imports_nothing_heavy() -> None:
    for args in (["--help"], ["users", "create", "--help"]):
        modules = imported_by(*args)
        heavy = [m for m in modules if m.startswith(HEAVY)]
        assert heavy == [], (args, heavy)
    root = imported_by("--help")
    assert "pydantic" not in root  # the root's help converts no value at all


def test_only_the_command_run_is_loaded() -> None:
    modules = imported_by("users", "--help")
    assert "flightctl.cli.data" in modules
    assert not {"flightctl.cli.smoke", "flightctl.cli.doctor", "flightctl.cli.sla"} & set(modules)


def test_no_private_typer_module_is_used() -> None:
    private = re.compile(r"\btyper\._|\bfrom typer import _")
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if private.search(p.read_text())]
    assert offenders == []


def test_every_listed_command_is_defined_and_help_lists_them_in_order() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.stdout.split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert listed == list(COMMANDS)
    assert "--install-completion" not in result.stdout  # Typer's own completion options stay hidden
    typo = CliRunner().invoke(app, ["usrs"])
    assert typo.exit_code == 2 and "Did you mean 'users'?" in typo.stderr


def test_completion_of_a_lazily_loaded_group_and_every_shell() -> None:
    completed = CliRunner().invoke(
        app,
        [],
        prog_name="flightctl",
        env={"_FLIGHTCTL_COMPLETE": "complete_bash", "COMP_WORDS": "flightctl users cr", "COMP_CWORD": "2"},
    )
    assert completed.stdout.split() == ["create"]
    for shell in ("bash", "zsh", "fish", "powershell", "pwsh"):
        script = CliRunner().invoke(app, ["completion", shell])
        assert script.exit_code == 0 and "_FLIGHTCTL_COMPLETE" in script.stdout, (shell, script.output)
        assert script.stdout.strip("\n") == script.stdout[:-1], "one script, one final newline"
