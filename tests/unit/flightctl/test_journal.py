from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path

import pytest

from flightctl.journal import SUMMARY_CHARS, ExpiredRequest, Journal, mask, mask_text, mask_value, now_iso
from tests.fakes.clock import FakeClock


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


PERSONAL = {
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "tax_code": "RSSMRA80A01H501U",
    "iban": "IT60X0542811101000000123456",
}
CHAT = {"email": "ada@example.com", "telegram_chat_id": "123456789"}
LINKED = {"message": "Telegram chat id linked", **CHAT}
CLEAR = ("RSSMRA80A01H501U", "IT60X0542811101000000123456", "123456789")


def everything_written(root: Path) -> str:
    return "".join(path.read_text() for path in sorted(root.rglob("*")) if path.is_file())


def test_personal_data_is_masked_and_the_whole_body_kept_aside_until_the_ttl(tmp_path: Path) -> None:
    clock = FakeClock(time.time())
    journal = Journal(tmp_path / "journal.jsonl", ttl=100, clock=clock)
    journal.request("k1", "user-manager", "POST", "/users", PERSONAL)
    journal.outcome("k1", 1, status=201, body={"message": "User created successfully"})
    journal.request("k2", "user-manager", "POST", "/users/telegram", CHAT)
    journal.outcome("k2", 1, status=200, body=LINKED)
    journal.request("k3", "data-collector", "POST", "/collect", None)

    lines = journal.path.read_text()
    assert not [value for value in CLEAR if value in lines]
    first, second, third = journal.entries()
    assert first.private and first.body["tax_code"] == "************501U"
    assert first.body["iban"] == "***********************3456" and first.body["email"] == "ada@example.com"
    assert second.summary()["response"] == json.dumps(
        {**LINKED, "telegram_chat_id": "*******89"}, separators=(",", ":")
    )
    assert not third.private and journal.request_body(third) is None
    # Within the TTL a replay gets the body as it was sent; it is kept 0600 in a 0700 folder.
    assert journal.request_body(first) == PERSONAL and journal.request_body(second) == CHAT
    kept = sorted(journal.private.iterdir())
    assert len(kept) == 2 and stat.S_IMODE(journal.private.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in kept)

    clock.advance(50)
    journal.request("k1", "user-manager", "POST", "/users", PERSONAL, replay=True)  # does not extend the TTL
    clock.advance(51)
    entries = journal.entries()  # any use of the journal expires what is past the TTL
    assert list(journal.private.iterdir()) == []
    assert not [value for value in CLEAR if value in everything_written(tmp_path)]
    with pytest.raises(ExpiredRequest, match="older than the idempotency TTL \\(100s\\)"):
        journal.request_body(entries[0])


def legacy_line(event: str, key: str, when: str, body: object, **fields: object) -> str:
    return json.dumps({"event": event, "key": key, "time": when, "body": body, **fields}, separators=(",", ":"))


def test_a_journal_written_before_masking_is_masked_once_past_the_ttl(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    old, recent = "2020-01-01T00:00:00.000Z", now_iso()
    path.write_text(
        "\n".join(
            [
                legacy_line("request", "old", old, PERSONAL, service="user-manager", method="POST", path="/users"),
                legacy_line("outcome", "old", old, json.dumps(LINKED), attempt=1, status=200),
                legacy_line("request", "new", recent, CHAT, service="user-manager", method="POST", path="/x"),
                legacy_line("outcome", "new", recent, json.dumps(LINKED), attempt=1, status=200),
                '{"event": "outcome", "key": "new", "att',  # a torn line stays as it is
            ]
        )
        + "\n"
    )
    journal = Journal(path)
    old_entry, new_entry = journal.entries()
    text = path.read_text()
    assert "RSSMRA80A01H501U" not in text and "IT60X0542811101000000123456" not in text
    assert text.count("123456789") == 2, "the recent request and its outcome stay until their TTL"
    assert '{"event": "outcome", "key": "new", "att\n' in text
    assert old_entry.private and old_entry.body["tax_code"] == "************501U"
    with pytest.raises(ExpiredRequest):
        journal.request_body(old_entry)
    assert journal.request_body(new_entry) == CHAT  # a replay within the TTL still works
    assert all("123456789" not in str(e.summary()["response"]) for e in (old_entry, new_entry))


def test_masking() -> None:
    assert mask_value("RSSMRA80A01H501U") == "************501U"
    assert mask_value("9001") == "***1" and mask_value(-100123) == "******3"
    assert mask_value(mask_value("IT60X0542811101000000123456")) == mask_value("IT60X0542811101000000123456")
    assert mask_value(None) is None and mask_value("") == ""
    assert mask({"users": [{"chat_id": "42424242", "name": "x"}]}) == {"users": [{"chat_id": "******42", "name": "x"}]}
    cut_short = '{"telegram_chat_id":"123456789","tax_code":"RSSMRA80A01H5'
    assert mask_text(cut_short) == '{"telegram_chat_id":"*******89","tax_code":"**********1H5'
