"""The supply chain's first line: requirements.lock pins the whole dependency set, every package
at one exact version (what the images, CI and `make bootstrap` install, and what `make audit`
checks), and it covers every dependency pyproject.toml declares, extras included."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)$")


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for number, line in enumerate((ROOT / "requirements.lock").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line.strip())
        assert match, f"requirements.lock:{number}: not an exact pin (name==version): {line!r}"
        name = canonicalize_name(match["name"])
        assert name not in found, f"requirements.lock:{number}: {name} is pinned twice"
        found[name] = match["version"]
    return found


def test_every_line_is_one_exact_pin() -> None:
    assert len(pins()) > 50


def test_every_declared_dependency_is_pinned_at_a_version_it_allows() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *(d for extra in project["optional-dependencies"].values() for d in extra)]
    locked = pins()
    problems = []
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name not in locked:
            problems.append(f"{name}: not in requirements.lock")
        elif not requirement.specifier.contains(locked[name], prereleases=True):
            problems.append(f"{name}=={locked[name]} is outside {requirement.specifier}")
    assert problems == []
