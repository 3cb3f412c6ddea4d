"""Generate docs/cli.md, the command-line reference, from the flightctl Typer app itself: every
command with its help, arguments and options, the global options and the exit codes.

    python scripts/gen_cli_doc.py          # regenerate
    python scripts/gen_cli_doc.py --check  # exit 1 when docs/cli.md is stale

Only public Typer/Click API is used: ``typer.main.get_command``, ``typer.Context``, and each
command's ``list_commands``, ``get_command``, ``get_params``, ``collect_usage_pieces`` and each
parameter's ``get_help_record``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "cli.md"


def _cell(text: str, code: bool = False) -> str:
    """Markdown table cell text on one line: pipes escaped, and angle brackets outside code
    spans (``code``: the whole cell is one)."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2) if not code else ():
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _anchor(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, spaces to dashes, punctuation dropped."""
    return "".join(c for c in title.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def _rows(ctx: Any, kind: str) -> list[tuple[str, str]]:
    rows = []
    for param in ctx.command.get_params(ctx):
        record = param.get_help_record(ctx)
        if param.param_type_name != kind or record is None or param.name == "help":
            continue  # --help: every command has it
        rows.append(record)
    return rows


def _table(title: str, rows: list[tuple[str, str]]) -> list[str]:
    if not rows:
        return []
    lines = [f"| {title} | description |", "|---|---|"]
    lines += [f"| `{_cell(term, code=True)}` | {_cell(text) or ' '} |" for term, text in rows]
    return [*lines, ""]


def _help(command: Any) -> list[str]:
    text = (command.help or "").strip()
    return [text, ""] if text else []


def _walk(ctx: Any) -> list[Any]:
    """The context of every command below ``ctx``, depth first, in `--help` order."""
    found = []
    for name in ctx.command.list_commands(ctx):
        import typer

        child = typer.Context(ctx.command.get_command(ctx, name), info_name=name, parent=ctx)
        found.append(child)
        if hasattr(child.command, "list_commands"):
            found += _walk(child)
    return found


def render() -> str:
    import typer
    import typer.main

    from flightctl.cli.main import app
    from flightctl.errors import EXIT_CODES

    root = typer.Context(typer.main.get_command(app), info_name="flightctl")
    commands = _walk(root)
    lines = [
        "# The flightctl command line",
        "",
        "<!-- Generated from the Typer app by scripts/gen_cli_doc.py: do not edit by hand;",
        "     `python scripts/gen_cli_doc.py` rewrites it, a test fails when it is stale. -->",
        "",
        *_help(root.command),
        "Every command has `-h` / `--help`. Data goes to stdout (a table, or `-o json` / `-o yaml` for",
        "scripts), progress and errors to stderr, one line per error.",
        "",
        "## Global options",
        "",
        "Accepted before or after the command (`flightctl status -o json`).",
        "",
        *_table("option", _rows(root, "option")),
        "## Exit codes",
        "",
        "| code | meaning |",
        "|---|---|",
        *(f"| {code} | {_cell(meaning)} |" for code, meaning in sorted(EXIT_CODES.items())),
        "",
        "## Commands",
        "",
    ]
    for ctx in commands:
        depth = ctx.command_path.count(" ") - 1
        summary = _cell(ctx.command.get_short_help_str(limit=200))
        lines.append(f"{'  ' * depth}- [`{ctx.command_path}`](#{_anchor(ctx.command_path)}): {summary}")
    lines.append("")
    for ctx in commands:
        usage = " ".join([ctx.command_path, *ctx.command.collect_usage_pieces(ctx)])
        lines += [f"### {ctx.command_path}", "", "```text", usage, "```", ""]
        lines += _help(ctx.command)
        if hasattr(ctx.command, "list_commands"):
            names = ", ".join(f"`{name}`" for name in ctx.command.list_commands(ctx))
            lines += [f"Commands: {names}.", ""]
        lines += _table("argument", _rows(ctx, "argument"))
        lines += _table("option", _rows(ctx, "option"))
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/cli.md is not what the app says")
    check = parser.parse_args().check
    text = render()
    if check:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC.relative_to(ROOT)} is stale: run python scripts/gen_cli_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
