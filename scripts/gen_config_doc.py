"""Write docs/configuration.md from the services' settings classes (the only list of variables).

python scripts/gen_config_doc.py          # regenerate
python scripts/gen_config_doc.py --check  # exit 1 when the committed document is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flightctl.config import DOC_PATH, render_markdown

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT.joinpath(*DOC_PATH)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the document is stale")
    options = parser.parse_args()
    text = render_markdown()
    current = TARGET.read_text() if TARGET.exists() else None
    if options.check:
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run python scripts/gen_config_doc.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        TARGET.write_text(text)
        print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
