"""docs/cli.md is generated from the app (scripts/gen_cli_doc.py): it must say what the app does."""

from __future__ import annotations

from flightctl.cli.main import COMMANDS
from scripts.gen_cli_doc import DOC, render


def test_the_command_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "docs/cli.md is stale: run python scripts/gen_cli_doc.py"


def test_it_covers_every_command_the_global_options_and_the_exit_codes() -> None:
    text = render()
    for name in COMMANDS:
        assert f"\n### flightctl {name}\n" in text
    for sub in ("users create", "port-forward start", "replay run", "sla set", "context use"):
        assert f"\n### flightctl {sub}\n" in text
    assert "| `-o, --output <str>` | table, json or yaml [default: table] |" in text
    assert "| `--idempotency-key <str>` | reuse a key to make a retry safe (default: a new UUID) |" in text
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 4 |", "| 5 |", "| 130 |"):
        assert code in text
