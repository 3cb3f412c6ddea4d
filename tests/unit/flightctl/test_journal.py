from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

from flightctl.journal import SUMMARY_CHARS, Journal


def test_entries_group_outcomes_by_key_and_skip_a_torn_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "home" / "journal.jsonl")
    journal.request("k1", "user-manager", "POST", "/users", {"email": "a@b.it"})
    journal.outcome("k1", 1, error="ReadTimeout: timed out")
    journal.request("k2", "data-collector", "POST", "/collect", None)
    with journal.path.open("a") as handle:
        handle.write('{"event": "outcome", "key": "k2", "att')  # a crash mid-line
    journal.outcome("k1", 2, status=201, body={"message": "ok"}, replayed=True)
    journal.request("k1", "user-manager", "POST", "/users", {"email": "a@b.it"}, replay=True)

    entries = journal.entries()
    assert [e.key for e in entries] == ["k1", "k2"]
    first = entries[0].summary()
    assert first["attempts"] == 2 and first["status"] == 201 and first["replayed"] is True
    assert first["response"] == '{"message":"ok"}'
    assert entries[1].summary()["status"] is None
    assert journal.find("nope") is None
    assert (journal.path.stat().st_mode & 0o777) == 0o600


def test_long_bodies_are_summarized(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.request("k", "data-collector", "POST", "/collect", None)
    journal.outcome("k", 1, status=200, body={"airports": ["x" * 50] * 50})
    stored = journal.entries()[0].outcomes[0]["body"]
    assert len(stored) == SUMMARY_CHARS and stored.endswith("…")


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")

    def write(worker: int) -> None:
        for i in range(50):
            journal.request(f"{worker}-{i}", "user-manager", "POST", "/users", {"pad": "y" * 2000})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = journal.path.read_text().splitlines()
    assert len(lines) == 200
    assert all(json.loads(line)["body"]["pad"] == "y" * 2000 for line in lines)


def test_the_journal_rotates_and_still_finds_every_recent_request(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl", max_bytes=1000)
    for n in range(30):
        journal.request(f"k{n}", "user-manager", "POST", "/users", {"n": n})
        journal.outcome(f"k{n}", 1, status=201, body={"message": "User created successfully"})
    assert journal.rotated.exists() and journal.path.stat().st_size < 1000 + 300
    assert journal.rotated.stat().st_size < 2 * 1000 + 300  # only the last rotation is kept
    keys = [entry.key for entry in journal.entries()]
    assert keys == sorted(keys, key=lambda k: int(k[1:]))  # oldest first, across both files
    assert keys[-1] == "k29" and len(keys) < 30  # the oldest went with an earlier rotation
    assert all(entry.last and entry.last["status"] == 201 for entry in journal.entries() if entry.key != keys[0])
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
