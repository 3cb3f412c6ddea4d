"""The build context of the service images, made from the installed flightctl package.

The images run exactly the code of the `flightctl` that builds them, whether that is a wheel
installed from an index or an editable install of a checkout: :func:`build_wheel` packs the
installed ``flightctl`` package and its distribution metadata into a wheel (PEP 427), and
:func:`write_context` lays out what ``deploy/Dockerfile`` expects:

    Dockerfile         the shipped Dockerfile
    dist/              that wheel
    requirements.txt   the package's runtime requirements (Requires-Dist without extras)
    constraints.txt    name==version of every installed distribution those requirements pull in

The wheel is reproducible: the same files give the same bytes (sorted entries, fixed
timestamps), so docker's layer cache holds while nothing changed.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import flightctl
from flightctl import deploy
from flightctl.errors import FlightctlError

DISTRIBUTION = "flightctl-platform"
WHEEL_FILE = "Wheel-Version: 1.0\nGenerator: flightctl\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
SKIPPED_DIRS = {"__pycache__"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _package_files() -> Iterator[tuple[str, Path]]:
    """(name in the wheel, file) for every file of the installed ``flightctl`` package."""
    root = Path(flightctl.__file__).resolve().parent
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_dir() or SKIPPED_DIRS & set(relative.parts) or path.suffix in SKIPPED_SUFFIXES:
            continue
        yield f"flightctl/{relative.as_posix()}", path


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _installed() -> metadata.Distribution:
    """The installed distribution (a wheel's or an editable install's .dist-info; a stray
    .egg-info of a source tree on sys.path has no METADATA and is passed over)."""
    for dist in metadata.distributions(name=DISTRIBUTION):
        if dist.read_text("METADATA") is not None:
            return dist
    raise FlightctlError(f"{DISTRIBUTION} is not installed (pip install it, or `pip install -e .` in a checkout)")


def build_wheel(dest_dir: Path) -> Path:
    """The wheel of the installed flightctl package, written into ``dest_dir``."""
    dist = _installed()
    version = dist.version
    stem = f"{DISTRIBUTION.replace('-', '_')}-{version}"
    info = f"{stem}.dist-info"
    entries: list[tuple[str, bytes]] = [(name, path.read_bytes()) for name, path in _package_files()]
    for name in ("METADATA", "entry_points.txt"):
        text = dist.read_text(name)
        if text is not None:
            entries.append((f"{info}/{name}", text.encode()))
    entries.append((f"{info}/WHEEL", WHEEL_FILE.encode()))
    record = [_record_line(name, data) for name, data in entries] + [f"{info}/RECORD,,"]
    entries.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))

    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / f"{stem}-py3-none-any.whl"
    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            entry = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    partial.replace(target)
    return target


def runtime_requirements() -> list[str]:
    """The package's Requires-Dist entries that are not behind an extra (the dev tools)."""
    requires = _installed().requires or []
    return [r for r in requires if not _EXTRA_MARKER.search(r.partition(";")[2])]


def _wanted(requirement: str, extras: frozenset[str]) -> tuple[str, frozenset[str]] | None:
    """(name, extras it asks for) of a Requires-Dist entry, or None when it belongs to an extra
    that was not asked for."""
    match = _REQUIREMENT.match(requirement)
    if match is None:
        return None
    marker = _EXTRA_MARKER.search(requirement.partition(";")[2])
    if marker is not None and _canonical(marker.group(1)) not in extras:
        return None
    asked = frozenset(_canonical(e) for e in (match.group(2) or "").split(",") if e.strip())
    return _canonical(match.group(1)), asked


def pinned_closure(requirements: list[str]) -> list[str]:
    """name==version for every installed distribution the requirements pull in, transitively
    (extras included: ``psycopg[binary]`` brings psycopg-binary)."""
    pins: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [w for r in requirements if (w := _wanted(r, frozenset()))]
    while pending:
        name, extras = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform (an environment marker)
        pins[name] = f"{name}=={dist.version}"
        pending.extend(w for r in dist.requires or [] if (w := _wanted(r, extras)))
    return [pins[name] for name in sorted(pins)]


def write_context(dest: Path) -> Path:
    """Lay out the image build context in ``dest`` (replacing what was there); return it."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    build_wheel(dest / "dist")
    shutil.copyfile(deploy.path("Dockerfile"), dest / "Dockerfile")
    requirements = runtime_requirements()
    (dest / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    (dest / "constraints.txt").write_text("".join(f"{p}\n" for p in pinned_closure(requirements)))
    return dest
