"""Rendering: a readable table by default, the data unchanged with -o json / -o yaml.

:func:`fancy` is the one switch between the terminal's output (Rich tables with colour, charts,
spinners, live views) and the plain output scripts read, which stays byte for byte what it has
always been: plain whenever the stream is not a terminal, ``NO_COLOR`` is set (to anything,
https://no-color.org) or the format is json or yaml. Progress goes to stderr: on a terminal each
step is a spinner with its elapsed time until the next step (:func:`progress`), elsewhere the
``» message`` line. Errors stay one plain line on stderr."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

import typer

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress, ProgressColumn, TaskID
    from rich.text import Text


def fancy(fmt: str = "table", stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default stdout) is a terminal a person reads: table format, a TTY,
    no NO_COLOR."""
    if fmt != "table" or "NO_COLOR" in os.environ:
        return False
    isatty = getattr(stream or sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def terminal_size() -> tuple[int, int]:
    """(columns, lines) of the terminal, 80 x 24 when unknown."""
    import shutil

    size = shutil.get_terminal_size((80, 24))
    return size.columns, size.lines


def emit(data: Any, fmt: str, columns: Sequence[str] | None = None) -> None:
    finish_progress()
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "yaml":
        import yaml

        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
    elif fancy(fmt):
        rich_table(data, columns)
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


# -- on a terminal ---------------------------------------------------------------------------------
STYLES = {
    # by value, whatever the column
    "yes": "green",
    "no": "red",
    "NO": "bold red",
    "healthy": "green",
    "unhealthy": "bold red",
    # by column
    ("status", "sent"): "green",
    ("status", "failed"): "bold red",
    ("status", "skipped"): "yellow",
    ("status", "pending"): "yellow",
    ("kind", "high"): "bold red",
    ("kind", "low"): "yellow",
    ("kind", "resolved"): "green",
    ("kind", "alert"): "cyan",
    ("kind", "sla"): "magenta",
    ("kind", "live"): "blue",
    ("source", "mock"): "yellow",
    ("source", "opensky"): "green",
    ("breach_type", "high"): "bold red",
    ("breach_type", "low"): "yellow",
}
COUNT_COLUMNS = ("breach", "violations", "errors", "failed")
"""A column whose name holds one of these, with a number above 0, is shown in red."""


def _styled(column: str, value: Any) -> Text:
    from rich.text import Text

    text = _cell(value)
    style = STYLES.get((column.lower(), text)) or STYLES.get(text)  # type: ignore[call-overload]
    if style is None and column.lower() == "error" and value:
        style = "red"
    counted = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    if style is None and counted and any(word in column.lower() for word in COUNT_COLUMNS):
        style = "bold red"
    if value is None:
        style = "dim"
    return Text(text, style=style or "")


def stdout_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def rich_table(data: Any, columns: Sequence[str] | None = None) -> None:
    """The terminal's rendering of what :func:`table` prints plainly: the same rows and cells."""
    from rich import box
    from rich.table import Table

    console = stdout_console()
    if isinstance(data, dict) and columns is None:
        grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        grid.add_column("FIELD", style="bold")
        grid.add_column("VALUE")
        for key, value in data.items():
            grid.add_row(str(key), _styled(str(key), value))
        console.print(grid)
    elif isinstance(data, list):
        if not data:
            console.print("(none)", style="dim")
            return
        cols = list(columns or data[0].keys())
        grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
        for column in cols:
            grid.add_column(column.upper(), overflow="fold")
        for item in data:
            grid.add_row(*(_styled(c, item.get(c)) for c in cols))
        console.print(grid)
    else:
        console.print(highlighted(_cell(data)))


def highlighted(text: str) -> Text:
    """Text already laid out (e.g. `flightctl status`): health words and headings coloured."""
    from rich.text import Text

    shown = Text(text)
    shown.highlight_regex(r"(?m)^[A-Z][A-Z_]+(?: +[A-Z_]+)*$", "bold")
    # The HEALTHY cell: last on its line, or followed by the RESTARTS column of a supervised platform.
    shown.highlight_regex(r"(?m)(?<=  )yes(?=$| +\d)", "green")
    shown.highlight_regex(r"(?m)(?<=  )NO(?=$| +\d)", "bold red")
    shown.highlight_regex(r"\b(?:unhealthy|failed|unreachable)\b", "bold red")
    shown.highlight_regex(r"\bhealthy\b", "green")
    return shown


# -- progress ---------------------------------------------------------------------------------------
class Steps:
    """The steps of long work on a terminal's stderr: the current one with a spinner and its
    elapsed time, the finished ones with a mark and the time they took."""

    def __init__(self, described: ProgressColumn | None = None) -> None:
        """``described``: the column of the step's description (default: its text)."""
        from rich.console import Console
        from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
        from rich.text import Text

        spinner = SpinnerColumn(style="cyan")

        class Mark(ProgressColumn):
            def render(self, task: Task) -> Text:
                if not task.finished:
                    return spinner.render(task)  # type: ignore[return-value]
                return Text("✓", style="green") if task.fields.get("ok", True) else Text("✗", style="bold red")

        class Elapsed(ProgressColumn):
            def render(self, task: Task) -> Text:
                return Text(f"{task.elapsed or 0:.1f}s", style="dim" if task.finished else "yellow")

        console = Console(file=sys.stderr, highlight=False)  # the real stderr, not whatever replaces it
        # Rich's own redirection is off: click writes through a stream's binary buffer, past
        # Rich's proxy, and the display would overwrite those lines. Text-only streams instead.
        self.progress: Progress = Progress(
            Mark(),
            described or TextColumn("{task.description}"),
            Elapsed(),
            console=console,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.current: TaskID | None = None
        self.saved = (sys.stdout, sys.stderr)
        self.progress.start()
        sys.stderr = Above(console, sys.stderr)
        if fancy("table", sys.stdout):  # a file or a pipe is left alone: its bytes never move
            sys.stdout = Above(console, sys.stdout)

    def step(self, message: str) -> None:
        self.done()
        self.current = self.progress.add_task(message, total=1)

    def done(self, ok: bool = True) -> None:
        if self.current is not None:
            self.progress.update(self.current, completed=1, ok=ok)
            self.progress.stop_task(self.current)
            self.current = None

    def stop(self, ok: bool = True) -> None:
        self.done(ok)
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, Above):
                stream.close()
        sys.stdout, sys.stderr = self.saved
        self.progress.stop()


class CycleSteps(Steps):
    """`flightctl collect` on a terminal: its one step, with a bar of the airports fetched (done
    or failed, of those the cycle fetches) once the data-collector reports its cycle under way,
    and a line per airport as it finishes; the spinner alone while it reports none (another
    replica collects, or the cycle has nothing to fetch)."""

    def __init__(self, message: str) -> None:
        from rich.progress import ProgressColumn, Task
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        class Described(ProgressColumn):
            def render(self, task: Task) -> RenderableType:
                of = task.fields.get("of")
                if not of:
                    return Text(task.description)
                done, failed = task.fields.get("done", 0), task.fields.get("failed", 0)
                count = Text(f"{done + failed}/{of} airports")
                if failed:
                    count.append(f", {failed} failed", style="bold red")
                if task.fields.get("phase") == "counting" and not task.finished:
                    count.append(", counting", style="dim")
                bar = ProgressBar(
                    total=of, completed=done + failed, width=30, complete_style="cyan", finished_style="green"
                )
                row = Table.grid(padding=(0, 1))
                row.add_row(Text(task.description), bar, count)
                return row

        super().__init__(Described())
        super().step(message)
        self.task = self.current
        self.started_at: str | None = None
        self.shown: set[str] = set()

    def step(self, message: str) -> None:
        """A note while the cycle runs (a retry of the request): a line above the bar."""
        from rich.text import Text

        self.progress.console.print(Text(f"» {message}", style="dim"), soft_wrap=True)

    def follow(self, cycle: Any) -> None:
        """One answer of ``GET /collector/status``'s ``cycle``: the cycle under way, or the one
        followed so far now over (its last airports)."""
        if not isinstance(cycle, dict) or self.task is None:
            return
        started = cycle.get("started_at")
        if not cycle.get("running") and (started is None or started != self.started_at):
            return  # no cycle under way here: the spinner stays
        if started != self.started_at:
            self.started_at, self.shown = started, set()
        airports = [a for a in cycle.get("airports") or [] if isinstance(a, dict)]
        if not airports:
            return
        states = [a.get("state") for a in airports]
        self.progress.update(
            self.task,
            of=len(airports),
            done=states.count("done"),
            failed=states.count("failed"),
            phase=cycle.get("phase"),
        )
        for airport in airports:
            name = str(airport.get("airport"))
            if airport.get("state") in ("done", "failed") and name not in self.shown:
                self.shown.add(name)
                self.progress.console.print(airport_line(airport), soft_wrap=True)


def airport_line(airport: dict[str, Any]) -> Text:
    """An airport the cycle finished: ✓ ICAO, its source and the flights stored (and, in
    brackets, the OpenSky error a simulated day stands in for), or ✗ ICAO and why it failed."""
    from rich.text import Text

    name, error = str(airport.get("airport")), airport.get("error")
    line = Text()
    if airport.get("state") == "failed":
        line.append("✗ ", style="bold red").append(name, style="bold")
        return line.append(f"  failed: {error or 'no flights stored'}", style="red")
    source = str(airport.get("source"))
    line.append("✓ ", style="green").append(name, style="bold").append("  ")
    line.append(source, style=STYLES.get(("source", source), ""))  # type: ignore[call-overload]
    line.append(f", {airport.get('flights_stored', 0)} flight(s) stored")
    if error:
        line.append(f" ({error})", style="yellow")
    return line


def cycle_steps(message: str) -> CycleSteps:
    """The display of `flightctl collect` on a terminal (the process's one display of steps)."""
    finish_progress()
    view = CycleSteps(message)
    _steps.append(view)
    return view


class Above(io.TextIOBase):
    """While the steps are shown: a terminal's stdout or stderr whose lines are printed above
    them. Text only (a bytes write raises TypeError, so click writes text to it, not past it)."""

    def __init__(self, console: Console, real: TextIO) -> None:
        self.console, self.real, self.pending = console, real, ""

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.real, "errors", None)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.real.isatty()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        from rich.text import Text

        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            self.console.print(Text.from_ansi(line), soft_wrap=True)
        return len(text)

    def close(self) -> None:
        if self.pending:
            self.write("\n")
        super().close()


_steps: list[Steps] = []
"""The process's one display of steps while it runs (a terminal has one stderr)."""


def progress(message: str, fmt: str = "table") -> None:
    """A step of long work: a spinner with elapsed time on a terminal, else ``» message``."""
    if not fancy(fmt, sys.stderr):
        print(f"» {message}", file=sys.stderr, flush=True)
        return
    if not _steps:
        _steps.append(Steps())
    _steps[0].step(message)


def finish_progress(ok: bool = True) -> None:
    """End the display of steps (the last one done, or failed): before data is printed, at the
    end of a command, before its error line."""
    while _steps:
        _steps.pop().stop(ok)
