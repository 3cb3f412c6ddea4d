"""The local platform's processes are supervised by flightctl.platform.proc (shared with the
Kind context's port-forwards); re-exported here for the imports that name this module."""

from __future__ import annotations

from flightctl.platform.proc import (
    Running,
    alive,
    find,
    follow,
    interrupts_deferred,
    read_cmdline,
    record,
    spawn,
    stop,
    tail,
    wait_until,
)

__all__ = [
    "Running",
    "alive",
    "find",
    "follow",
    "interrupts_deferred",
    "read_cmdline",
    "record",
    "spawn",
    "stop",
    "tail",
    "wait_until",
]
