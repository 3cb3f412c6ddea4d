"""data-collector: interests (airports a user watches, with thresholds on daily flights or on
live traffic), stored flights, collection cycles, and the collector's plan and credits."""

from __future__ import annotations

from typing import Any, Final

from flightctl.clients.base import ServiceApi


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = _Unchanged()
"""A threshold `update_interest` leaves as it is (None clears it)."""


class DataCollector(ServiceApi):
    service = "data-collector"

    def add_interest(
        self,
        email: str,
        airport: str,
        *,
        high: int | None = None,
        low: int | None = None,
        live: bool = False,
        key: str | None = None,
    ) -> Any:
        """Watch an airport: thresholds on its daily flights, or (``live``) on the aircraft near it now."""
        body: dict[str, Any] = {"email": email, "airport_code": airport, "high_value": high, "low_value": low}
        if live:
            body["live"] = True
        return self._change("POST", "/interests", body, key)

    def update_interest(
        self,
        email: str,
        airport: str,
        *,
        high: int | _Unchanged | None = UNCHANGED,
        low: int | _Unchanged | None = UNCHANGED,
        live: bool = False,
        key: str | None = None,
    ) -> Any:
        """Change the thresholds given (a number sets one, None clears it) of the user's daily
        interest in the airport, or (``live``) of the live one."""
        body: dict[str, Any] = {"email": email, "airport_code": airport}
        for name, value in (("high_value", high), ("low_value", low)):
            if value is not UNCHANGED:
                body[name] = value
        if live:
            body["live"] = True
        return self._change("PUT", "/interests", body, key)

    def remove_interest(self, email: str, airport: str, *, live: bool = False, key: str | None = None) -> Any:
        """Stop watching an airport: the user's daily interest in it, or (``live``) the live one."""
        body: dict[str, Any] = {"email": email, "airport_code": airport}
        if live:
            body["live"] = True
        return self._change("DELETE", "/interests", body, key)

    def interests(self, email: str) -> Any:
        return self.http.get(f"/interests/{email}")

    def flights(self, airport: str, *, kind: str | None = None, limit: int = 20, offset: int = 0) -> Any:
        """Stored flights of an airport, newest first (``kind``: arrivals or departures)."""
        return self.http.get(f"/flights/{airport}", type=kind, limit=limit, offset=offset)

    def average(self, airport: str, days: int) -> Any:
        return self.http.get(f"/flights/average/{airport}", days=days)

    def stats(self, airport: str, *, days: int = 7, kind: str | None = None, hourly: bool = False) -> Any:
        """Flights per UTC day (or hour) of the last ``days`` days, every bucket listed (0 when
        none); ``kind``: arrivals or departures (default: both)."""
        return self.http.get(f"/flights/stats/{airport}", days=days, type=kind, granularity="hour" if hourly else "day")

    def last(self, airport: str) -> Any:
        return self.http.get(f"/flights/last/{airport}")

    def collect(self, *, key: str | None = None) -> Any:
        """One collection cycle now, within the credit budget; its summary per airport (HTTP 409
        while one runs)."""
        return self._change("POST", "/collect", None, key)

    def collector_status(self) -> Any:
        """Per watched airport: last fetch, source, rows, next planned fetch, live count; the
        credits of each OpenSky family: used today, remaining, the plan's projection."""
        return self.http.get("/collector/status")
