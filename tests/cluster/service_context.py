"""Write the flightctl services' image build context so that the build needs no network.

Run with the Python that has flightctl installed (the checkout's .venv):

    .venv/bin/python tests/cluster/service_context.py --wheelhouse DIR CONTEXT

1. ``flightctl.deploy.images.write_context(CONTEXT)``: the context users get (Dockerfile,
   dist/ with the wheel of the installed flightctl, requirements.txt, constraints.txt).
2. ``wheels/``: from the wheelhouse, the wheels of exactly the versions in constraints.txt
   (every one must be there).
3. The Dockerfile's dependency step installs from ``wheels/`` only (``--no-index
   --find-links wheels``) when that directory holds wheels. This is the change the shipped
   Dockerfile needs (see README.md); until it has it, it is made here, on the copy in CONTEXT.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import sys
from pathlib import Path

# The shipped Dockerfile's dependency step, and what it becomes.
DEPENDENCY_STEP = """\
COPY requirements.txt constraints.txt ./
RUN --mount=type=cache,target=/root/.cache/pip \\
    pip --python /opt/venv/bin/python install --constraint constraints.txt -r requirements.txt
"""
OFFLINE_STEP = """\
COPY requirements.txt constraints.txt ./
# wheels/: the wheels of exactly the pinned versions, when the context was written with a
# wheelhouse; then pip uses nothing else and the build needs no network (--network=none).
COPY wheels/ ./wheels/
RUN --mount=type=cache,target=/root/.cache/pip \\
    if [ -n "$(ls wheels)" ]; then set -- --no-index --find-links wheels; fi; \\
    pip --python /opt/venv/bin/python install "$@" --constraint constraints.txt -r requirements.txt
"""
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(constraints: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in constraints.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            found[canonical(match.group(1))] = match.group(2)
    return found


def wheel_key(path: Path) -> tuple[str, str] | None:
    """(canonical name, version) from a wheel's file name (PEP 427), or None."""
    parts = path.name[: -len(".whl")].split("-")
    if not path.name.endswith(".whl") or len(parts) not in (5, 6):
        return None
    return canonical(parts[0]), parts[1].replace("_", "+")


def copy_wheels(wheelhouse: Path, wanted: dict[str, str], dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    copied: list[Path] = []
    have: set[str] = set()
    for wheel in sorted(wheelhouse.glob("*.whl")):
        key = wheel_key(wheel)
        if key is None or wanted.get(key[0]) != key[1]:
            continue
        target = dest / wheel.name
        try:
            os.link(wheel, target)
        except OSError:
            shutil.copyfile(wheel, target)
        copied.append(target)
        have.add(key[0])
    missing = sorted(f"{name}=={version}" for name, version in wanted.items() if name not in have)
    if missing:
        raise SystemExit(f"the wheelhouse {wheelhouse} lacks {', '.join(missing)} (run make bootstrap)")
    return copied


def offline_dockerfile(dockerfile: Path) -> str:
    """Make the dependency step install from wheels/; return the diff (empty if it already does)."""
    before = dockerfile.read_text()
    if "--find-links wheels" in before:
        return ""
    if before.count(DEPENDENCY_STEP) != 1:
        raise SystemExit(
            f"{dockerfile}: its dependency step is not the one this script knows; update DEPENDENCY_STEP in {__file__}"
        )
    after = before.replace(DEPENDENCY_STEP, OFFLINE_STEP)
    dockerfile.write_text(after)
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), "deploy/Dockerfile", "CONTEXT/Dockerfile"
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheelhouse", type=Path, required=True)
    parser.add_argument("context", type=Path)
    args = parser.parse_args(argv)

    from flightctl.deploy.images import write_context

    context = write_context(args.context)
    wanted = pins(context / "constraints.txt")
    wheels = copy_wheels(args.wheelhouse, wanted, context / "wheels")
    diff = offline_dockerfile(context / "Dockerfile")
    print(f"build context {context}: {len(wanted)} pinned distributions, {len(wheels)} wheels", file=sys.stderr)
    if diff:
        (context / "Dockerfile.offline.diff").write_text(diff)
        print(f"Dockerfile made offline (diff: {context / 'Dockerfile.offline.diff'})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
