"""The one switch of cli/output.py: plain output, byte for byte as before colour existed, when
stdout is not a terminal, with NO_COLOR, or with -o json/yaml; Rich tables with colour only on
a terminal. The expected strings below are the plain renderer's output from before the
terminal rendering was added; they must never change."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import click
import pytest

from flightctl.cli import output
from flightctl.cli.data import COLLECT_COLUMNS, NOTIFICATION_COLUMNS, USER_COLUMNS

USERS = [
    {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "telegram_chat_id": "123456",
     "tax_code": "RSS***"},
    {"email": "bob@example.com", "first_name": "Bob", "last_name": "Ross", "telegram_chat_id": None},
]  # fmt: skip
NOTIFICATIONS = [
    {"created_at": "2026-12-01T10:00:00+00:00", "kind": "alert", "status": "sent", "user_email": "ada@example.com",
     "chat_id": "123456", "attempts": 1, "text": "LIRF: 12 flights"},
    {"created_at": "2026-12-01T11:00:00+00:00", "kind": "sla", "status": "failed", "user_email": "admin@example.com",
     "chat_id": None, "attempts": 3, "text": "SLA breach"},
]  # fmt: skip
COLLECTED = [
    {"airport": "LIRF", "source": "opensky", "flights_stored": 12, "day": "2026-12-01", "flight_count": 12,
     "live_count": None, "messages": 1, "error": None},
]  # fmt: skip
FIELDS = {"message": "User created successfully", "live": True, "n": None}

CASES: list[tuple[str, Any, list[str] | None, str]] = [
    (
        "users",
        USERS,
        USER_COLUMNS,
        "EMAIL            FIRST_NAME  LAST_NAME  TELEGRAM_CHAT_ID\n"
        "ada@example.com  Ada         Lovelace   123456\n"
        "bob@example.com  Bob         Ross       -\n",
    ),
    (
        "notifications",
        NOTIFICATIONS,
        NOTIFICATION_COLUMNS,
        "CREATED_AT                 KIND   STATUS  USER_EMAIL         CHAT_ID  ATTEMPTS  TEXT\n"
        "2026-12-01T10:00:00+00:00  alert  sent    ada@example.com    123456   1         LIRF: 12 flights\n"
        "2026-12-01T11:00:00+00:00  sla    failed  admin@example.com  -        3         SLA breach\n",
    ),
    (
        "collect",
        COLLECTED,
        COLLECT_COLUMNS,
        "AIRPORT  SOURCE   FLIGHTS_STORED  DAY         FLIGHT_COUNT  LIVE_COUNT  MESSAGES  ERROR\n"
        "LIRF     opensky  12              2026-12-01  12            -           1         -\n",
    ),
    ("fields", FIELDS, None, "FIELD    VALUE\nmessage  User created successfully\nlive     yes\nn        -\n"),
    ("empty", [], None, "(none)\n"),
    ("text", "SERVICE   HEALTHY\nuser-manager  yes\ndata-collector  NO", None,
     "SERVICE   HEALTHY\nuser-manager  yes\ndata-collector  NO\n"),
]  # fmt: skip


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def shown(monkeypatch: pytest.MonkeyPatch, stream: io.StringIO, data: Any, fmt: str, columns: Any) -> str:
    monkeypatch.setattr("sys.stdout", stream)
    output.emit(data, fmt, columns)
    return stream.getvalue()


@pytest.mark.parametrize(("name", "data", "columns", "plain"), CASES, ids=[c[0] for c in CASES])
def test_a_pipe_gets_the_plain_output_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch, name: str, data: Any, columns: Any, plain: str
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert shown(monkeypatch, Pipe(), data, "table", columns) == plain


@pytest.mark.parametrize(("name", "data", "columns", "plain"), CASES, ids=[c[0] for c in CASES])
def test_no_color_on_a_terminal_gets_the_plain_output(
    monkeypatch: pytest.MonkeyPatch, name: str, data: Any, columns: Any, plain: str
) -> None:
    monkeypatch.setenv("NO_COLOR", "")  # set, even empty: https://no-color.org
    assert shown(monkeypatch, Terminal(), data, "table", columns) == plain


@pytest.mark.parametrize(("name", "data", "columns", "plain"), CASES, ids=[c[0] for c in CASES])
def test_json_and_yaml_on_a_terminal_are_unchanged(
    monkeypatch: pytest.MonkeyPatch, name: str, data: Any, columns: Any, plain: str
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert json.loads(shown(monkeypatch, Terminal(), data, "json", None)) == data
    assert shown(monkeypatch, Terminal(), data, "json", None) == json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def test_the_switch() -> None:
    assert output.fancy("json") is False and output.fancy("yaml") is False


def test_lines_written_while_steps_are_shown_go_above_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """click writes to a text stream's buffer when it takes the stream for a binary one: the
    stand-in stderr of the steps refuses bytes, so click's lines reach it (and the terminal)."""
    terminal = Terminal()
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr("sys.stdout", Pipe())
    output.progress("first step")
    click.echo("stopped: a, b", err=True)
    output.finish_progress()
    assert sys.stderr is terminal and isinstance(sys.stdout, Pipe)  # restored; a pipe never replaced
    shown = terminal.getvalue()
    assert "stopped: a, b" in shown and "first step" in shown
    assert shown.index("stopped: a, b") < shown.rindex("✓")
