"""The gateway certificate is made by flightctl.platform.certs (shared with the Kind context);
re-exported here for the imports that name this module."""

from __future__ import annotations

from flightctl.platform.certs import make_self_signed

__all__ = ["make_self_signed"]
