"""The request journal: every mutating call flightctl makes, and what became of it.

One JSON object per line in ``$FLIGHTCTL_HOME/journal.jsonl`` (mode 0600), appended with
``O_APPEND`` under an exclusive ``flock`` so that concurrent flightctl processes never interleave
lines. Two kinds of line share the ``key`` (the request's Idempotency-Key):

- ``{"event": "request", "key", "service", "method", "path", "body", "time", "replay"}``, with
  ``"private": true`` when the body held personal data (below)
- ``{"event": "outcome", "key", "attempt", "time", "status", "body", "replayed"}`` or, when no
  answer came, ``{..., "error": "ConnectError: ..."}``

Personal data (a tax code, an IBAN, a Telegram chat id) is never written to the journal in the
clear: those fields are masked in every line. A request that carried any keeps its original body
aside, in ``journal-private/<hash of the key>.json`` (mode 0600), for `flightctl replay run`, only
as long as the service keeps the key: user-manager's idempotency TTL (IDEMPOTENCY_TTL_SECONDS,
default 86400 s). Every use of the journal removes the bodies older than that (and masks what a
journal written before this rule still holds in the clear); a replay after it is refused.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flightctl.errors import FlightctlError

FILE_NAME = "journal.jsonl"
SUMMARY_CHARS = 300
DEFAULT_TTL = 86400.0
"""user-manager's default IDEMPOTENCY_TTL_SECONDS."""
PRIVATE_FIELDS = frozenset({"tax_code", "iban", "telegram_chat_id", "chat_id"})
# A private field with a value in the clear, in a line or in a body summary inside one (where
# the quotes are escaped); a masked value starts with "*".
_FIELDS = "|".join(sorted(PRIVATE_FIELDS))
_CLEAR_TEXT = re.compile(r'(\\?"(?:' + _FIELDS + r')\\?"\s*:\s*\\?")([^"\\*][^"\\]*)')
_CLEAR_BYTES = re.compile(_CLEAR_TEXT.pattern.encode())


def mask_value(value: Any) -> Any:
    """``"RSSMRA80A01H501U"`` -> ``"************501U"``: at most a quarter of it, and never more
    than 4 characters, stays visible. Masking a masked value changes nothing."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value or value.startswith("*"):
        return value
    visible = min(4, len(value) // 4)
    return "*" * (len(value) - visible) + value[len(value) - visible :]


def mask(body: Any) -> Any:
    """``body`` with every private field masked, at any depth."""
    if isinstance(body, dict):
        return {k: mask_value(v) if k in PRIVATE_FIELDS else mask(v) for k, v in body.items()}
    if isinstance(body, list):
        return [mask(item) for item in body]
    return body


def mask_text(text: Any) -> Any:
    """A body summary (JSON text, possibly cut short) with its private fields masked."""
    if not isinstance(text, str):
        return text
    return _CLEAR_TEXT.sub(lambda m: m.group(1) + mask_value(m.group(2)), text)


def outcome_summary(body: Any) -> str:
    """What the journal keeps of a response body: masked, then summarized."""
    return summarize(mask(body))


class ExpiredRequest(FlightctlError):
    """A journaled request whose personal data was removed with the idempotency TTL."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def summarize(body: Any) -> str:
    """A short, single-line rendering of a response body for the journal."""
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


@dataclass
class Entry:
    """A journaled request with every outcome recorded for it (one per attempt)."""

    key: str
    service: str
    method: str
    path: str
    body: Any
    time: str
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    private: bool = False
    """The body held personal data: it is masked here, kept whole aside until the TTL."""

    @property
    def last(self) -> dict[str, Any] | None:
        return self.outcomes[-1] if self.outcomes else None

    def summary(self) -> dict[str, Any]:
        last = self.last or {}
        return {
            "key": self.key,
            "time": self.time,
            "service": self.service,
            "method": self.method,
            "path": self.path,
            "attempts": len(self.outcomes),
            "status": last.get("status"),
            "replayed": last.get("replayed"),
            "error": last.get("error"),
            "response": mask_text(last.get("body")),
        }


MAX_BYTES = 4 * 1024 * 1024
"""When the journal reaches this size it becomes ``journal.jsonl.1`` (replacing the previous
one) and a new file starts: the journal keeps between one and two times this much."""


class Journal:
    def __init__(
        self,
        path: Path,
        max_bytes: int = MAX_BYTES,
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.rotated = path.with_name(path.name + ".1")
        self.private = path.with_name(path.stem + "-private")
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.clock = clock

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # the last writer died mid-line: keep that fragment on its own
            if size >= self.max_bytes and os.path.samefile(self.path, f"/proc/self/fd/{fd}"):
                # Rotate under the lock; this line still goes to the file just rotated (it is
                # read too), the next writer starts the new one.
                os.replace(self.path, self.rotated)
            os.write(fd, line)
        finally:
            os.close(fd)  # closing releases the lock

    def request(self, key: str, service: str, method: str, path: str, body: Any, replay: bool = False) -> None:
        self.expire()
        masked = mask(body)
        record: dict[str, Any] = {
            "event": "request",
            "key": key,
            "service": service,
            "method": method,
            "path": path,
            "body": masked,
            "time": now_iso(),
            "replay": replay,
        }
        if masked != body:
            self._keep_private(key, body)
            record["private"] = True
        self.append(record)

    def outcome(
        self,
        key: str,
        attempt: int,
        *,
        status: int | None = None,
        body: Any = None,
        replayed: bool | None = None,
        error: str | None = None,
    ) -> None:
        record: dict[str, Any] = {"event": "outcome", "key": key, "attempt": attempt, "time": now_iso()}
        if error is not None:
            record["error"] = error
        else:
            record.update(status=status, body=outcome_summary(body), replayed=replayed)
        self.append(record)

    # -- personal data: kept aside until the TTL -------------------------------------------------
    def _private_file(self, key: str) -> Path:
        return self.private / (hashlib.sha256(key.encode()).hexdigest() + ".json")

    def _keep_private(self, key: str, body: Any) -> None:
        """The whole body, for a replay, from the first time ``key`` was sent: a replay does not
        extend how long it is kept (the service's TTL runs from the first request too)."""
        target = self._private_file(key)
        if target.exists():
            return
        self.private.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = target.with_name(f"{target.stem}.{os.getpid()}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"key": key, "time": self.clock(), "body": body}, handle, ensure_ascii=False)
        os.replace(partial, target)

    def request_body(self, entry: Entry) -> Any:
        """The body to re-send for ``entry``: as journaled, or the private one kept aside."""
        if not entry.private:
            return entry.body
        self.expire()
        try:
            stored = json.loads(self._private_file(entry.key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = None
        if not isinstance(stored, dict) or "body" not in stored:
            raise ExpiredRequest(
                f"the request journaled under Idempotency-Key {entry.key} is older than the idempotency TTL "
                f"({self.ttl:g}s): its tax code, IBAN or Telegram chat id are no longer kept and the service no "
                "longer knows the key; run the command again instead"
            )
        return stored["body"]

    def expire(self) -> None:
        """Remove the private bodies older than the TTL, and mask the personal data a journal
        written before they were kept aside still holds in the clear past it."""
        cutoff = self.clock() - self.ttl
        if self.private.is_dir():
            for path in self.private.glob("*.json"):
                try:
                    kept_since = float(json.loads(path.read_text(encoding="utf-8"))["time"])
                except (OSError, ValueError, KeyError, TypeError):
                    kept_since = -math.inf  # unreadable: of no use to a replay either
                if kept_since < cutoff:
                    path.unlink(missing_ok=True)
        for path in (self.rotated, self.path):
            self._scrub(path, cutoff)

    def _scrub(self, path: Path, cutoff: float) -> None:
        """Rewrite ``path`` in place (the same file: writers waiting for the lock append to it
        afterwards) with the personal data of its lines older than ``cutoff`` masked."""
        try:
            if not _CLEAR_BYTES.search(path.read_bytes()):
                return  # the usual case: nothing in the clear, nothing to rewrite
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            old = os.pread(fd, os.fstat(fd).st_size, 0)
            new = b"".join(_scrub_line(line, cutoff) for line in old.splitlines(keepends=True))
            if new != old:
                os.pwrite(fd, new, 0)
                os.ftruncate(fd, len(new))
        finally:
            os.close(fd)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, oldest first (the rotated file, then the current one)."""
        for path in (self.rotated, self.path):
            if not path.exists():
                continue
            with path.open(encoding="utf-8") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH)  # not while a scrub rewrites it
                for line in handle:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a crash; the rest is still readable
                    if isinstance(record, dict) and "key" in record:
                        yield record

    def entries(self) -> list[Entry]:
        """One entry per key, oldest first: the first request line, then every outcome."""
        self.expire()
        entries: dict[str, Entry] = {}
        for record in self.records():
            key = str(record["key"])
            if record.get("event") == "request":
                if key not in entries:
                    entries[key] = Entry(
                        key=key,
                        service=str(record.get("service")),
                        method=str(record.get("method")),
                        path=str(record.get("path")),
                        body=record.get("body"),
                        time=str(record.get("time")),
                        private=bool(record.get("private")),
                    )
            elif record.get("event") == "outcome" and key in entries:
                entries[key].outcomes.append(record)
        return list(entries.values())

    def find(self, key: str) -> Entry | None:
        return next((e for e in self.entries() if e.key == key), None)


def _scrub_line(line: bytes, cutoff: float) -> bytes:
    try:
        record = json.loads(line)
        when = datetime.fromisoformat(str(record["time"]).replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError):
        return line  # not a record (a torn line), or no time: left as it is
    if when >= cutoff:
        return line
    if record.get("event") == "request":
        masked = mask(record.get("body"))
        if masked != record.get("body"):
            record.update(body=masked, private=True)  # its body is gone: a replay is refused
    elif "body" in record:
        record["body"] = mask_text(record["body"])
    ending = b"\n" if line.endswith(b"\n") else b""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + ending
