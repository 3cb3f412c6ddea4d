"""The request journal: every mutating call flightctl makes, and what became of it.

One JSON object per line in ``$FLIGHTCTL_HOME/journal.jsonl`` (mode 0600), appended with
``O_APPEND`` under an exclusive ``flock`` so that concurrent flightctl processes never interleave
lines. Two kinds of line share the ``key`` (the request's Idempotency-Key):

- ``{"event": "request", "key", "service", "method", "path", "body", "time", "replay"}``
- ``{"event": "outcome", "key", "attempt", "time", "status", "body", "replayed"}`` or, when no
  answer came, ``{..., "error": "ConnectError: ..."}``
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FILE_NAME = "journal.jsonl"
SUMMARY_CHARS = 300


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
            "response": last.get("body"),
        }


MAX_BYTES = 4 * 1024 * 1024
"""When the journal reaches this size it becomes ``journal.jsonl.1`` (replacing the previous
one) and a new file starts: the journal keeps between one and two times this much."""


class Journal:
    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.rotated = path.with_name(path.name + ".1")
        self.max_bytes = max_bytes

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
        self.append(
            {
                "event": "request",
                "key": key,
                "service": service,
                "method": method,
                "path": path,
                "body": body,
                "time": now_iso(),
                "replay": replay,
            }
        )

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
            record.update(status=status, body=summarize(body), replayed=replayed)
        self.append(record)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, oldest first (the rotated file, then the current one)."""
        for path in (self.rotated, self.path):
            if not path.exists():
                continue
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a crash; the rest is still readable
                    if isinstance(record, dict) and "key" in record:
                        yield record

    def entries(self) -> list[Entry]:
        """One entry per key, oldest first: the first request line, then every outcome."""
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
                    )
            elif record.get("event") == "outcome" and key in entries:
                entries[key].outcomes.append(record)
        return list(entries.values())

    def find(self, key: str) -> Entry | None:
        return next((e for e in self.entries() if e.key == key), None)
