"""`up --local` restarts a running service when its environment or the code it would run
changed (an upgrade with `pip install -U`, an edit in a checkout); otherwise it leaves it alone."""

from __future__ import annotations

import os
from pathlib import Path

import flightctl.services.user_manager.service as module
from flightctl.local import services


def test_the_same_environment_and_code_give_the_same_fingerprint() -> None:
    code = services.code_identity()
    assert services.code_identity() == code
    env = {"HTTP_PORT": "1", "API_TOKEN": "t"}
    assert services.fingerprint(env, code) == services.fingerprint(dict(reversed(env.items())), code)
    assert services.fingerprint(env, code) != services.fingerprint({**env, "API_TOKEN": "u"}, code)


def test_changed_code_changes_the_fingerprint() -> None:
    source = Path(module.__file__)
    before = source.stat()
    code = services.code_identity()
    try:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        changed = services.code_identity()
    finally:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert changed != code
    assert services.fingerprint({}, changed) != services.fingerprint({}, code)
    assert services.code_identity() == code  # the file as it was
