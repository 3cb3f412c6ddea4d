"""Every PostgreSQL advisory lock key the services take, in one registry, so no two uses can
pick the same number. The values are what running replicas agree on: never change one."""

from __future__ import annotations

import enum


@enum.unique
class AdvisoryLock(enum.IntEnum):
    MIGRATIONS = 7212001
    """Transaction lock around Alembic's upgrade (every service's database): replicas starting
    together migrate one after another."""

    COLLECTION_CYCLE = 7212002
    """data-collector, session lock for one collection cycle: one replica polls OpenSky and
    publishes per cycle."""

    TELEGRAM_UPDATES = 7212004
    """alert-notifier, session lock held by the one replica that long-polls Telegram's
    getUpdates (Telegram answers 409 to a second poller)."""


# user-manager's Idempotency-Key locks are transaction locks on hashtextextended(key, 0), a
# 64-bit hash in its own database: a collision with a key above is a 2**-64 event per request.
