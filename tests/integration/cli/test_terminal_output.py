"""The same commands piped, with NO_COLOR on a terminal, and on a terminal (a real pseudo-
terminal): piped and NO_COLOR give the plain output byte for byte (the table the plain renderer
makes of the -o json data; progress as `» message` on stderr); a terminal gets Rich tables with
colour and the same cells, and the steps of long work with a mark and their elapsed time."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios

from flightctl.cli.data import INTEREST_COLUMNS, USER_COLUMNS
from flightctl.cli.output import table
from tests.conftest import FLIGHTCTL, Platform, run_flightctl

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def in_terminal(env: dict[str, str], *args: str) -> tuple[str, int]:
    """(what the command wrote to its terminal, exit code): stdout and stderr on one pseudo-
    terminal of 200 x 50, line ends as the terminal got them turned back into \\n."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    process = subprocess.Popen([*FLIGHTCTL, *args], stdin=terminal, stdout=terminal, stderr=terminal, env=env)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the command closed its terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    code = process.wait(timeout=120)
    return b"".join(chunks).decode().replace("\r\n", "\n"), code


def test_piped_and_no_color_are_the_plain_output_and_a_terminal_is_coloured(platform: Platform) -> None:
    env = {k: v for k, v in platform.env.items() if k != "NO_COLOR"}
    email = platform.create_user("tty")
    run_flightctl(env, "interests", "add", email, "LIRF", "--high", "5")
    for args, columns in ((("users", "list"), USER_COLUMNS), (("interests", "list", email), INTEREST_COLUMNS)):
        data = json.loads(run_flightctl(env, *args, "-o", "json").stdout)
        rows = data if isinstance(data, list) else [{**i, "kind": "daily"} for i in data["interests"]]
        plain = table(rows, columns) + "\n"
        assert run_flightctl(env, *args).stdout == plain  # piped
        shown, code = in_terminal({**env, "NO_COLOR": "1"}, *args)
        assert code == 0 and shown == plain  # a terminal, but NO_COLOR
        coloured, code = in_terminal(env, *args)
        assert code == 0 and coloured != plain and ANSI.search(coloured)
        cells = ANSI.sub("", coloured)
        assert [c.upper() for c in columns] == [w for w in cells.split() if w in {c.upper() for c in columns}][
            : len(columns)
        ]
        assert (email if args[0] == "users" else "LIRF") in cells

    status_piped = run_flightctl(env, "status").stdout
    assert "\x1b[" not in status_piped and "SERVICE" in status_piped
    status_tty, code = in_terminal(env, "status")
    assert code == 0 and ANSI.sub("", status_tty) == status_piped  # the same text, coloured
    assert "\x1b[32myes" in status_tty  # healthy in green


def test_progress_on_a_terminal_and_in_a_pipe(platform: Platform) -> None:
    env = {k: v for k, v in platform.env.items() if k != "NO_COLOR"}
    piped = run_flightctl(env, "collect")
    assert piped.stderr.startswith("» collecting: ")
    shown, code = in_terminal(env, "collect")
    assert code == 0
    text = ANSI.sub("", shown)
    assert re.search(r"✓ collecting: .* \d+\.\ds", text), text
    assert "AIRPORT" in text


def test_an_error_on_a_terminal_is_still_one_plain_line(platform: Platform) -> None:
    env = {k: v for k, v in platform.env.items() if k != "NO_COLOR"}
    shown, code = in_terminal(env, "users", "get", "nobody-tty@example.com")
    assert code == 1
    assert ANSI.sub("", shown).strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in shown
