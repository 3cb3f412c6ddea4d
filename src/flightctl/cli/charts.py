"""Charts of `flightctl flights stats`: in the terminal (plotext) and as a PNG or SVG image
(matplotlib, Agg backend, an optional extra: `pip install 'flightctl-platform[charts]'`; without
it --png/--svg exit 5 saying so). Both draw the same numbers, one bar per UTC day or hour, and
the thresholds of a user's interest as horizontal lines."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flightctl.errors import PrerequisiteMissing, UsageError

INSTALL_CHARTS = "pip install 'flightctl-platform[charts]'"
IMAGE_FORMATS = ("png", "svg")


@dataclass(frozen=True)
class Threshold:
    name: str  # "high" or "low"
    value: int


@dataclass(frozen=True)
class Series:
    """What a chart shows: one count per bucket, oldest first, and the thresholds to draw."""

    title: str
    labels: list[str]
    counts: list[int]
    hourly: bool
    thresholds: list[Threshold]

    @classmethod
    def of(cls, stats: dict[str, Any], thresholds: list[Threshold], owner: str | None = None) -> Series:
        hourly = stats.get("granularity") == "hour"
        buckets = stats.get("buckets") or []
        labels = [str(b["start"])[5:13].replace("T", " ") + "h" if hourly else str(b["start"])[:10] for b in buckets]
        kind = {"arrivals": "arrivals", "departures": "departures"}.get(str(stats.get("type")), "flights")
        unit = "hour" if hourly else "day"
        title = f"{stats.get('airport')}: {kind} per {unit} (UTC), last {stats.get('days')} day(s)"
        if owner and thresholds:
            title += f"; thresholds of {owner}"
        return cls(title, labels, [int(b["flights"]) for b in buckets], hourly, thresholds)


THRESHOLD_COLOURS = {"high": "red", "low": "orange"}


def _ticks(labels: list[str], most: int) -> tuple[list[int], list[str]]:
    """At most ``most`` evenly spread tick positions (1-based, as the bars) and their labels."""
    if not labels:
        return [], []
    step = max(1, -(-len(labels) // most))
    positions = list(range(0, len(labels), step))
    return [p + 1 for p in positions], [labels[p] for p in positions]


def _nice(raw: float) -> int:
    """1, 2 or 5 times a power of ten, at least ``raw``."""
    power = 1
    while power * 10 <= raw:
        power *= 10
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def terminal(series: Series, width: int, height: int) -> str:
    """The chart as text with ANSI colours, ``width`` x ``height`` characters."""
    import plotext as plt

    figure = plt.figure
    figure.clear()
    figure.plot_size(width, height)
    figure.theme("simple")
    x = list(range(1, len(series.counts) + 1))
    drawn = figure.bar(x, series.counts, width=0.9 if series.hourly else 0.6)
    drawn.label("flights")
    figure.draw(drawn)
    for threshold in series.thresholds:
        colour = THRESHOLD_COLOURS[threshold.name]
        figure.line(threshold.value, pixel=plt.pixel(colour, "default"), style="dotted")
        figure.draw(figure.text(1, threshold.value, plt.colorize(f" {threshold.name} {threshold.value} ", colour)))
    top = max([*series.counts, *(t.value for t in series.thresholds), 1])
    figure.ruler("y").lim(0, top * 1.15)
    step = max(1, _nice(top / 4))
    levels = list(range(0, int(top * 1.15) + 1, step))
    figure.ruler("y").ticks(levels, [str(level) for level in levels])  # whole flights, not 1.1e3
    positions, labels = _ticks(series.labels, max(2, width // 14))
    figure.ruler("x").lim(0.5, len(x) + 0.5)
    figure.ruler("x").ticks(positions, labels)
    figure.legend(active=False)
    figure.title(series.title)
    return str(figure.build())


def image_format(png: Path | None, svg: Path | None) -> tuple[Path, str] | None:
    """(path, format) of the image to write, or None; refuses both at once and a missing
    matplotlib (before anything is fetched)."""
    if png is not None and svg is not None:
        raise UsageError("give --png or --svg, not both")
    if png is None and svg is None:
        return None
    if importlib.util.find_spec("matplotlib") is None:
        raise PrerequisiteMissing(f"--png and --svg need matplotlib; install it with: {INSTALL_CHARTS}")
    return (png, "png") if png is not None else (svg, "svg")  # type: ignore[return-value]


def write_image(series: Series, path: Path, fmt: str) -> None:
    """The chart as a PNG or SVG file (matplotlib's Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(max(8.0, min(24.0, len(series.counts) * 0.35)), 4.5), layout="constrained")
    axes = figure.subplots()
    x = list(range(len(series.counts)))
    if series.hourly:
        axes.plot(x, series.counts, color="tab:blue", label="flights")
    else:
        axes.bar(x, series.counts, color="tab:blue", label="flights")
    for threshold in series.thresholds:
        colour = "tab:red" if threshold.name == "high" else "tab:orange"
        label = f"{threshold.name} threshold ({threshold.value})"
        axes.axhline(threshold.value, color=colour, linestyle="--", label=label)
    positions, labels = _ticks(series.labels, 16)
    axes.set_xticks([p - 1 for p in positions], labels, rotation=45, ha="right")
    axes.set_ylim(bottom=0)
    axes.set_ylabel("flights")
    axes.set_title(series.title)
    axes.legend(loc="upper left")
    try:
        figure.savefig(path, format=fmt)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
