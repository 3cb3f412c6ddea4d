from __future__ import annotations

import re
from pathlib import Path

from flightctl.services.common.locks import AdvisoryLock

SERVICES = Path(__file__).resolve().parents[3] / "src" / "flightctl" / "services"


def test_keys_are_distinct_and_fixed() -> None:
    assert len({int(k) for k in AdvisoryLock}) == len(AdvisoryLock)
    # Replicas of different versions must agree: these numbers never change.
    assert {k.name: int(k) for k in AdvisoryLock} == {
        "MIGRATIONS": 7212001,
        "COLLECTION_CYCLE": 7212002,
        "TELEGRAM_UPDATES": 7212004,
    }


def test_no_service_takes_a_lock_by_a_number_of_its_own() -> None:
    literal = re.compile(r"advisory_(?:xact_)?lock\(\s*\d")
    offenders = [str(path.relative_to(SERVICES)) for path in SERVICES.rglob("*.py") if literal.search(path.read_text())]
    assert offenders == []
