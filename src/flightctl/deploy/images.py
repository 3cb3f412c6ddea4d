"""The build context of the service images, made from the installed flightctl package.

The images run exactly the code of the `flightctl` that builds them, whether that is a wheel
installed from an index or an editable install of a checkout: :func:`build_wheel` packs the
installed ``flightctl`` package and its distribution metadata into a wheel (PEP 427), and
:func:`write_context` lays out what ``deploy/Dockerfile`` expects:

    Dockerfile         the shipped Dockerfile
    dist/              that wheel
    requirements.txt   the package's runtime requirements (Requires-Dist without extras)
    constraints.txt    name==version of every installed distribution those requirements pull in
    wheels/            from a wheelhouse on the host: the wheels of exactly those versions that
                       run in the image (CPython 3.11, glibc Linux of the image's architecture);
                       with them the Dockerfile installs with --no-index, so the build needs no
                       network (empty without a wheelhouse: pip then uses the package index)

The wheel is reproducible: the same files give the same bytes (sorted entries, fixed
timestamps), so docker's layer cache holds while nothing changed.

The wheelhouse is a plain directory of wheels (default ``$FLIGHTCTL_WHEELHOUSE``, else
``~/.cache/flightctl/wheelhouse``, the one ``make bootstrap`` fills in a checkout). What it lacks
for the image, :func:`download_command` fetches on the host with ``pip download`` for the image's
platform (``--only-binary=:all:``, so only wheels, never a build).
"""

from __future__ import annotations

import base64
import hashlib
import os
import platform
import re
import shutil
import sys
import zipfile
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path

import flightctl
from flightctl import deploy
from flightctl.errors import FlightctlError

FLIGHTCTL_WHEELHOUSE = "FLIGHTCTL_WHEELHOUSE"
# The image's Python and C library: the Dockerfile's default PYTHON_IMAGE,
# python:3.11.*-slim-bookworm (Debian 12, glibc 2.36). A --python-image must match them.
IMAGE_PYTHON = (3, 11)
IMAGE_GLIBC = (2, 36)
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


def default_wheelhouse(environ: Mapping[str, str] | None = None) -> Path:
    """$FLIGHTCTL_WHEELHOUSE, else ~/.cache/flightctl/wheelhouse (where `make bootstrap` puts it)."""
    environ = os.environ if environ is None else environ
    configured = environ.get(FLIGHTCTL_WHEELHOUSE)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "flightctl" / "wheelhouse"


def image_arch(machine: str | None = None) -> str:
    """The image's CPU architecture as wheel tags name it: the machine's (docker builds for its own)."""
    machine = (machine or platform.machine()).lower()
    return {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def _platform_ok(tag: str, arch: str) -> bool:
    if tag == "any":
        return True
    if tag == f"linux_{arch}":  # built on a Linux host (pip wheel of an sdist)
        return True
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    for name, glibc in legacy.items():
        if tag == f"{name}_{arch}":
            return glibc <= IMAGE_GLIBC
    match = re.fullmatch(rf"manylinux_(\d+)_(\d+)_{re.escape(arch)}", tag)
    return match is not None and (int(match.group(1)), int(match.group(2))) <= IMAGE_GLIBC


def _python_ok(python: str, abi: str) -> bool:
    major, minor = IMAGE_PYTHON
    cpython = f"cp{major}{minor}"
    if abi == "abi3":  # the stable ABI: any CPython from the one named on
        found = re.fullmatch(r"cp(\d)(\d+)", python)
        return found is not None and (int(found.group(1)), int(found.group(2))) <= IMAGE_PYTHON
    if abi == "none":
        return python in (f"py{major}", f"py{major}{minor}", cpython)
    return abi == cpython and python == cpython


def wheel_fits(filename: str, arch: str) -> tuple[str, str] | None:
    """(canonical name, version) of a wheel that installs in the image (CPython 3.11, glibc
    Linux on ``arch``), else None. Compressed tag sets (``py2.py3``, ``manylinux...x.manylinux...``)
    count when any combination fits."""
    if not filename.endswith(".whl"):
        return None
    parts = filename[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        return None
    name, version = parts[0], parts[1]
    pythons, abis, platforms = (part.split(".") for part in parts[-3:])
    if not any(_python_ok(py, abi) for py in pythons for abi in abis):
        return None
    if not any(_platform_ok(tag, arch) for tag in platforms):
        return None
    return _canonical(name), version


def pins() -> dict[str, str]:
    """canonical name -> version of every distribution the image installs (constraints.txt)."""
    return {
        name: version for name, _, version in (pin.partition("==") for pin in pinned_closure(runtime_requirements()))
    }


def select_wheels(wheelhouse: Path, wanted: Mapping[str, str], arch: str) -> tuple[list[Path], list[str]]:
    """The wheelhouse's wheels of exactly the ``wanted`` versions that fit the image, and the
    ``name==version`` pins it has no fitting wheel for."""
    chosen: list[Path] = []
    have: set[str] = set()
    for wheel in sorted(wheelhouse.glob("*.whl")) if wheelhouse.is_dir() else []:
        fit = wheel_fits(wheel.name, arch)
        if fit is None:
            continue
        name, version = fit
        if wanted.get(name) in (version, version.replace("_", "-")):
            chosen.append(wheel)
            have.add(name)
    missing = [f"{name}=={version}" for name, version in sorted(wanted.items()) if name not in have]
    return chosen, missing


def missing_wheels(wheelhouse: Path, arch: str | None = None) -> list[str]:
    """``name==version`` of each pin the wheelhouse has no wheel of for the image; reads only."""
    return select_wheels(wheelhouse, pins(), arch or image_arch())[1]


def download_command(wheelhouse: Path, wanted: list[str], arch: str | None = None) -> list[str]:
    """`pip download` of exactly ``wanted`` (``name==version``) as wheels for the image's
    platform into ``wheelhouse``, with this Python's pip, on the host (which has the network
    the build does not)."""
    arch = arch or image_arch()
    major, minor = IMAGE_PYTHON
    glibc_major, glibc_minor = IMAGE_GLIBC
    platforms = [f"manylinux_{glibc_major}_{minor_}_{arch}" for minor_ in range(glibc_minor, 16, -1)] + [
        f"manylinux2014_{arch}",
        f"manylinux2010_{arch}",
        f"manylinux1_{arch}",
        f"linux_{arch}",
    ]
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        f"{major}.{minor}",
        "--abi",
        f"cp{major}{minor}",
        "--abi",
        "abi3",
        "--abi",
        "none",
        *(option for tag in platforms for option in ("--platform", tag)),
        "--dest",
        str(wheelhouse),
        *wanted,
    ]


class WheelsMissing(FlightctlError):
    """The wheelhouse lacks wheels the image needs (``missing``: name==version)."""

    def __init__(self, wheelhouse: Path, missing: list[str]) -> None:
        super().__init__(
            f"the wheelhouse {wheelhouse} has no wheel for the image (CPython "
            f"{'.'.join(map(str, IMAGE_PYTHON))}, Linux {image_arch()}) of {', '.join(missing)}"
        )
        self.missing = missing


def write_context(dest: Path, wheelhouse: Path | None = None, arch: str | None = None) -> Path:
    """Lay out the image build context in ``dest`` (replacing what was there); return it.
    With a ``wheelhouse``, ``wheels/`` gets the fitting wheel of every pin (hard links where
    possible), and a pin without one is :class:`WheelsMissing`."""
    chosen: list[Path] = []
    if wheelhouse is not None:
        chosen, missing = select_wheels(wheelhouse, pins(), arch or image_arch())
        if missing:
            raise WheelsMissing(wheelhouse, missing)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    build_wheel(dest / "dist")
    shutil.copyfile(deploy.path("Dockerfile"), dest / "Dockerfile")
    requirements = runtime_requirements()
    (dest / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    (dest / "constraints.txt").write_text("".join(f"{p}\n" for p in pinned_closure(requirements)))
    wheels = dest / "wheels"
    wheels.mkdir()
    for wheel in chosen:
        try:
            os.link(wheel, wheels / wheel.name)
        except OSError:  # another file system, or links not allowed
            shutil.copyfile(wheel, wheels / wheel.name)
    return dest
