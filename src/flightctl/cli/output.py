"""Rendering: a readable table by default, the data unchanged with -o json / -o yaml.

:func:`fancy` is the one switch between the terminal's output (colour, charts, live views) and
the plain output scripts read: plain whenever stdout is not a terminal, ``NO_COLOR`` is set (to
anything, https://no-color.org) or the format is json or yaml."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import typer


def fancy(fmt: str = "table") -> bool:
    """True when stdout is a terminal a person reads: table format, a TTY, no NO_COLOR."""
    if fmt != "table" or "NO_COLOR" in os.environ:
        return False
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def terminal_size() -> tuple[int, int]:
    """(columns, lines) of the terminal, 80 x 24 when unknown."""
    import shutil

    size = shutil.get_terminal_size((80, 24))
    return size.columns, size.lines


def emit(data: Any, fmt: str, columns: Sequence[str] | None = None) -> None:
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "yaml":
        import yaml

        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
    else:
        typer.echo(table(data, columns))


def table(data: Any, columns: Sequence[str] | None = None) -> str:
    if isinstance(data, dict) and columns is None:
        rows = [[str(k), _cell(v)] for k, v in data.items()]
        return _grid(["FIELD", "VALUE"], rows)
    if isinstance(data, list):
        if not data:
            return "(none)"
        cols = list(columns or data[0].keys())
        return _grid([c.upper() for c in cols], [[_cell(item.get(c)) for c in cols] for item in data])
    return _cell(data)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
