"""`make audit`: the pinned dependency set (requirements.lock) checked for known vulnerabilities
by pip-audit against the OSV database (osv.dev), every package by its exact pinned version.

pip-audit is not a dependency of flightctl: it is installed on first use into its own virtual
environment under .cache/audit. ``--strict`` makes any package that could not be checked a
failure, so an audit that could not reach its database never passes: where osv.dev is not
reachable this exits non-zero and says so (no offline vulnerability database is shipped by a
package this project can install; see docs/RELIABILITY.md, Supply chain).

    python scripts/audit.py [--service osv|pypi]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
TOOL = ROOT / ".cache" / "audit"
PIP_AUDIT = "pip-audit==2.10.1"


def tool() -> Path:
    binary = TOOL / "bin" / "pip-audit"
    if not binary.exists():
        print(f"» installing {PIP_AUDIT} into {TOOL.relative_to(ROOT)}", file=sys.stderr)
        venv.create(TOOL, with_pip=True, clear=True)
        subprocess.run([str(TOOL / "bin" / "pip"), "install", "-q", PIP_AUDIT], check=True)
    return binary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", choices=("osv", "pypi"), default="osv", help="the vulnerability database")
    args = parser.parse_args()
    command = [
        str(tool()),
        "--requirement",
        str(LOCK),
        "--no-deps",  # the lock is the whole set, every package pinned
        "--disable-pip",
        "--strict",  # a package that could not be checked fails the audit
        "--vulnerability-service",
        args.service,
        "--progress-spinner",
        "off",
    ]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    sys.stdout.write(result.stdout)
    if result.returncode == 0:
        return 0
    errors = result.stderr.strip().splitlines()
    unreachable = [line for line in errors if "ConnectionError" in line or "could not be audited" in line]
    if unreachable:
        print(
            f"audit: not done: the {args.service} vulnerability service cannot be reached from here "
            f"({unreachable[-1].strip()[:200]})",
            file=sys.stderr,
        )
    else:
        sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
