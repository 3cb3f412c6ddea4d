"""data-collector's logic over a SQLAlchemy session: interests, flight storage and queries.
No Flask, gRPC or Kafka here."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    Subquery,
    TextClause,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    union,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from flightctl.services.common.db import Reads
from flightctl.services.common.emails import MAX_LENGTH, normalize_email
from flightctl.services.common.errors import Conflict, InvalidInput, NotFound
from flightctl.services.data_collector.models import CollectedDay, Flight, Interest, LiveTraffic

UserExists = Callable[[str], Callable[[], bool]]
"""Starts asking user-manager whether the user exists and returns the call that waits for the
answer; that call raises Unavailable when user-manager cannot answer (fail closed)."""

FLIGHT_FIELDS = {
    "icao24": "icao24",
    "firstSeen": "first_seen",
    "lastSeen": "last_seen",
    "estDepartureAirport": "est_departure_airport",
    "estArrivalAirport": "est_arrival_airport",
    "callsign": "callsign",
    "estDepartureAirportHorizDistance": "est_departure_airport_horiz_distance",
    "estDepartureAirportVertDistance": "est_departure_airport_vert_distance",
    "estArrivalAirportHorizDistance": "est_arrival_airport_horiz_distance",
    "estArrivalAirportVertDistance": "est_arrival_airport_vert_distance",
    "departureAirportCandidatesCount": "departure_airport_candidates_count",
    "arrivalAirportCandidatesCount": "arrival_airport_candidates_count",
}


# -- validation -------------------------------------------------------------------------------
def airport_code(value: Any, airports: Mapping[str, Any]) -> str:
    if not isinstance(value, str) or len(value.strip()) != 4:
        raise InvalidInput("airport_code must be a four-character ICAO code")
    code = value.strip().upper()
    if code not in airports:
        raise InvalidInput(f"airport_code {code} is not a known ICAO airport code")
    return code


def email(value: Any) -> str:
    if not isinstance(value, str) or "@" not in value or len(value) > MAX_LENGTH:
        raise InvalidInput("email is required and must be an email address")
    return normalize_email(value)


def threshold(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{field} must be a non-negative integer or null")
    return value


def check_order(high: int | None, low: int | None) -> None:
    if high is not None and low is not None and low > high:
        raise InvalidInput("low_value must not be greater than high_value")


def live_flag(value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput("live must be true or false")
    return value


def interest_view(interest: Interest) -> dict[str, Any]:
    return {
        "airport_code": interest.airport_code,
        "high_value": interest.high_value,
        "low_value": interest.low_value,
        "live": bool(interest.live),
    }


# -- interests --------------------------------------------------------------------------------
# A user has at most one interest of each kind per airport: a daily one and a live one. PUT and
# DELETE pick one with ``live`` (absent: the daily one).
def _one(address: str, code: str, live: bool) -> tuple[ColumnElement[bool], ...]:
    return (Interest.user_email == address, Interest.airport_code == code, Interest.live.is_(live))


def _missing(session: Session, address: str, code: str, live: bool) -> NotFound:
    """404 for the interest of one kind, pointing at the other kind when the user has that one."""
    kind, other = ("live traffic", "daily flights") if live else ("daily flights", "live traffic")
    hint = ""
    if session.scalar(select(Interest.id).where(*_one(address, code, not live))) is not None:
        hint = f" (the interest in {code} is on {other}: give live {'false' if live else 'true'})"
    return NotFound(f"{address} has no {kind} interest in {code}{hint}")


def add_interest(
    session: Session, payload: dict[str, Any], airports: Mapping[str, Any], user_exists: UserExists
) -> dict[str, Any]:
    address = email(payload.get("email"))
    code = airport_code(payload.get("airport_code"), airports)
    high = threshold(payload.get("high_value"), "high_value")
    low = threshold(payload.get("low_value"), "low_value")
    live = live_flag(payload.get("live"))
    check_order(high, low)
    # user-manager is asked while the row is inserted (the two answers take about as long), and
    # its answer is heard first: an unknown user is 404 before an existing interest is 409, and
    # the NotFound rolls the insert back.
    user_known = user_exists(address)
    # ON CONFLICT DO NOTHING: an interest that exists is an expected answer (409), not an error
    # PostgreSQL would log with the statement for every such request.
    added = session.scalar(
        insert(Interest)
        .values(user_email=address, airport_code=code, high_value=high, low_value=low, live=live)
        .on_conflict_do_nothing(constraint="uq_interest_user_airport_kind")
        .returning(Interest.id)
    )
    if not user_known():
        raise NotFound(f"user {address} does not exist")
    kind = "live traffic" if live else "daily flights"
    if added is None:
        raise Conflict(f"{address} already has a {kind} interest in {code}: change its thresholds instead")
    view = {"airport_code": code, "high_value": high, "low_value": low, "live": live}
    return {"message": "Interest added successfully", "email": address, **view}


def update_interest(session: Session, payload: dict[str, Any], airports: Mapping[str, Any]) -> dict[str, Any]:
    address = email(payload.get("email"))
    code = airport_code(payload.get("airport_code"), airports)
    live = live_flag(payload.get("live"))
    given = {k: threshold(payload[k], k) for k in ("high_value", "low_value") if k in payload}
    if not given:
        raise InvalidInput("give high_value and/or low_value (null clears one)")
    interest = session.scalar(select(Interest).where(*_one(address, code, live)).with_for_update())
    if interest is None:
        raise _missing(session, address, code, live)
    high = given.get("high_value", interest.high_value)  # a given null clears it
    low = given.get("low_value", interest.low_value)
    check_order(high, low)
    interest.high_value, interest.low_value = high, low
    interest.published_day = None  # the new thresholds are judged at the next check, not tomorrow
    return {"message": "Interest updated successfully", "email": address, **interest_view(interest)}


def remove_interest(session: Session, payload: dict[str, Any]) -> dict[str, Any]:
    address = email(payload.get("email"))
    code = payload.get("airport_code")
    if not isinstance(code, str) or not code.strip():
        raise InvalidInput("airport_code is required")
    code = code.strip().upper()
    live = live_flag(payload.get("live"))
    result = session.execute(delete(Interest).where(*_one(address, code, live)))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise _missing(session, address, code, live)
    return {"message": "Interest removed successfully"}


def list_interests(session: Session, raw_email: str) -> dict[str, Any]:
    """Both kinds, by airport, the daily one first."""
    address = normalize_email(raw_email)
    query = select(Interest).where(Interest.user_email == address).order_by(Interest.airport_code, Interest.live)
    return {"email": address, "interests": [interest_view(i) for i in session.scalars(query)]}


def delete_user_interests(session: Session, raw_email: str) -> int:
    result = session.execute(delete(Interest).where(Interest.user_email == normalize_email(raw_email)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def airports_of_interest(session: Session) -> list[str]:
    """Every watched airport (interests of either kind)."""
    return list(session.scalars(select(Interest.airport_code).distinct().order_by(Interest.airport_code)))


def live_airports(session: Session) -> list[str]:
    """The airports with at least one live interest."""
    query = select(Interest.airport_code).where(Interest.live.is_(True)).distinct().order_by(Interest.airport_code)
    return list(session.scalars(query))


def interest_counts(session: Session) -> dict[str, dict[str, int]]:
    """{airport: {"daily": n, "live": n}}."""
    counts: dict[str, dict[str, int]] = {}
    for code, live, n in session.execute(
        select(Interest.airport_code, Interest.live, func.count()).group_by(Interest.airport_code, Interest.live)
    ):
        counts.setdefault(code, {"daily": 0, "live": 0})["live" if live else "daily"] = int(n)
    return counts


def interests_with_thresholds(session: Session, airports: Sequence[str] | None = None, *, live: bool) -> list[Interest]:
    """The interests of one kind that have a threshold (of ``airports``, or all), oldest first."""
    query = (
        select(Interest)
        .where(Interest.live.is_(live))
        .where(or_(Interest.high_value.is_not(None), Interest.low_value.is_not(None)))
        .order_by(Interest.id)
    )
    if airports is not None:
        query = query.where(Interest.airport_code.in_(list(airports)))
    return list(session.scalars(query))


def mark_published(session: Session, interest_ids: Iterable[int], day: date) -> None:
    ids = list(interest_ids)
    if ids:
        session.execute(update(Interest).where(Interest.id.in_(ids)).values(published_day=day))


# -- what was collected -----------------------------------------------------------------------
def stored_days(
    session: Session, since: date, airports: Sequence[str] | None = None
) -> dict[tuple[str, str, date], str]:
    """(airport, direction, day) -> source of every stored day since ``since``."""
    query = select(CollectedDay.airport_code, CollectedDay.direction, CollectedDay.day, CollectedDay.source).where(
        CollectedDay.day >= since
    )
    if airports is not None:
        query = query.where(CollectedDay.airport_code.in_(list(airports)))
    return {(a, d, day): src for a, d, day, src in session.execute(query)}


def latest_fetches(session: Session) -> dict[str, dict[str, Any]]:
    """Each airport's last successful fetch: when, the days and directions it stored (every
    row noted at that moment: one call, or one cycle's calls), their source and rows."""
    newest: dict[str, list[CollectedDay]] = {}
    for row in session.scalars(select(CollectedDay).order_by(CollectedDay.fetched_at)):
        same = newest.get(row.airport_code)
        if same is None or same[0].fetched_at != row.fetched_at:
            newest[row.airport_code] = [row]
        else:
            same.append(row)
    return {
        airport: {
            "at": rows[0].fetched_at.isoformat(),
            "first_day": min(r.day for r in rows).isoformat(),
            "last_day": max(r.day for r in rows).isoformat(),
            "directions": sorted({r.direction for r in rows}),
            "source": "mock" if any(r.source == "mock" for r in rows) else "opensky",
            "rows": sum(r.rows for r in rows),
        }
        for airport, rows in newest.items()
    }


def record_days(
    session: Session,
    airport: str,
    direction: str,
    days: Sequence[date],
    rows_by_day: Mapping[date, int],
    source: str,
    credits: int,
    at: datetime,
) -> None:
    """Note what one call stored: a row per day (the call's credits on its first day)."""
    for i, day in enumerate(days):
        values = {
            "source": source,
            "rows": rows_by_day.get(day, 0),
            "credits": credits if i == 0 else 0,
            "fetched_at": at,
        }
        session.execute(
            insert(CollectedDay)
            .values(airport_code=airport, day=day, direction=direction, **values)
            .on_conflict_do_update(index_elements=["airport_code", "day", "direction"], set_=values)
        )


def delete_simulated(session: Session, airport: str, direction: str, start: datetime, end: datetime) -> int:
    """Simulated rows of one airport, direction and window: real data replaces them."""
    if direction == "arrival":
        where = and_(Flight.est_arrival_airport == airport, Flight.last_seen >= start, Flight.last_seen < end)
    else:
        where = and_(Flight.est_departure_airport == airport, Flight.first_seen >= start, Flight.first_seen < end)
    return int(session.execute(delete(Flight).where(where, Flight.source == "mock")).rowcount or 0)  # type: ignore[attr-defined]


def day_count(session: Session, airport: str, day: date, sources: Mapping[str, str]) -> int:
    """Distinct flights that arrived at (last_seen) or departed from (first_seen) the airport on
    ``day``, counting for each direction only the rows of the source that day was stored from."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    arrivals = select(Flight.icao24, Flight.first_seen).where(
        Flight.est_arrival_airport == airport,
        Flight.last_seen >= start,
        Flight.last_seen < end,
        Flight.source == sources["arrival"],
    )
    departures = select(Flight.icao24, Flight.first_seen).where(
        Flight.est_departure_airport == airport,
        Flight.first_seen >= start,
        Flight.first_seen < end,
        Flight.source == sources["departure"],
    )
    return int(session.scalar(select(func.count()).select_from(union(arrivals, departures).subquery())) or 0)


def live_view(session: Session) -> dict[str, LiveTraffic]:
    return {row.airport_code: row for row in session.scalars(select(LiveTraffic))}


def purge_collected_days(session: Session, before: date) -> int:
    return int(session.execute(delete(CollectedDay).where(CollectedDay.day < before)).rowcount or 0)  # type: ignore[attr-defined]


# -- flights ----------------------------------------------------------------------------------
def _timestamp(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def to_row(flight: Mapping[str, Any], source: str) -> dict[str, Any] | None:
    """An OpenSky flight object as a flight_data row, or None when it lacks its identity."""
    try:
        row: dict[str, Any] = {column: flight.get(field) for field, column in FLIGHT_FIELDS.items()}
        row["icao24"] = str(row["icao24"]).strip().lower()[:6]
        row["first_seen"] = _timestamp(flight["firstSeen"])
        row["last_seen"] = _timestamp(flight["lastSeen"])
    except (KeyError, TypeError, ValueError):
        return None
    for column in ("est_departure_airport", "est_arrival_airport"):
        row[column] = row[column].strip().upper()[:4] if isinstance(row[column], str) else None
    row["callsign"] = row["callsign"].strip()[:16] if isinstance(row["callsign"], str) else None
    row["source"] = source
    return row


UPSERT_BATCH = 1000  # rows per statement


def _upsert_statement() -> TextClause:
    """One constant statement for every batch: the batch as one JSON array of row objects, made
    rows again by ``json_to_recordset``. Not a multi-row VALUES list, which SQLAlchemy would
    compile anew for every batch (and psycopg parse: most of a collection cycle's time went
    there), nor an array per column, which psycopg writes out item by item in Python (a quarter
    of the collector's CPU in a cycle of 500 airports); ``json.dumps`` writes the whole batch in
    C. A flight seen again (same icao24, first_seen) is updated, never duplicated; ``xmax = 0``
    is true for a freshly inserted row."""
    columns = [*FLIGHT_FIELDS.values(), "source"]
    kinds = {c.name: c.type.compile(dialect=postgresql.dialect()) for c in Flight.__table__.c}
    # Read as unbounded types, then cast as the per-column arrays were: a text longer than its
    # column is cut to fit, not refused.
    record = ", ".join(f"{c} {kinds[c].split('(')[0]}" for c in columns)
    values = ", ".join(f"CAST({c} AS {kinds[c]})" for c in columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("icao24", "first_seen"))
    return text(
        f"INSERT INTO flight_data ({', '.join(columns)}) "  # noqa: S608 - our columns
        f"SELECT {values} FROM json_to_recordset(CAST(:rows AS json)) AS batch({record}) "
        f"ON CONFLICT ON CONSTRAINT uq_flight_icao24_first_seen DO UPDATE SET {updates}, fetched_at = now() "
        "RETURNING (xmax = 0)"
    )


_UPSERT = _upsert_statement()
_UPSERT_COLUMNS = (*FLIGHT_FIELDS.values(), "source")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()  # with its offset: read back as the same instant
    raise TypeError(f"not a flight value: {type(value).__name__}")


def upsert_flights(session: Session, rows: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """Insert flights; a flight seen again (same icao24, first_seen) is updated, never duplicated.
    Returns (flights written, of which new)."""
    unique = list({(r["icao24"], r["first_seen"]): r for r in rows}.values())
    new = 0
    for i in range(0, len(unique), UPSERT_BATCH):
        batch = [{c: r.get(c) for c in _UPSERT_COLUMNS} for r in unique[i : i + UPSERT_BATCH]]
        document = json.dumps(batch, default=_json_value, ensure_ascii=False)
        new += sum(1 for inserted in session.execute(_UPSERT, {"rows": document}).scalars() if inserted)
    return len(unique), new


def count_in_window(rows: Iterable[dict[str, Any]], airport: str, start: datetime, end: datetime) -> int:
    """Distinct flights that arrived at (last seen) or departed from (first seen) the airport
    inside [start, end]."""
    seen = set()
    for r in rows:
        arrived = r["est_arrival_airport"] == airport and start <= r["last_seen"] <= end
        departed = r["est_departure_airport"] == airport and start <= r["first_seen"] <= end
        if arrived or departed:
            seen.add((r["icao24"], r["first_seen"]))
    return len(seen)


def purge_old_flights(session: Session, before: datetime) -> int:
    return int(session.execute(delete(Flight).where(Flight.last_seen < before)).rowcount or 0)  # type: ignore[attr-defined]


VIEW_FIELDS = (
    "icao24", "first_seen", "last_seen", "est_departure_airport", "est_arrival_airport", "callsign",
    "est_departure_airport_horiz_distance", "est_departure_airport_vert_distance",
    "est_arrival_airport_horiz_distance", "est_arrival_airport_vert_distance",
    "departure_airport_candidates_count", "arrival_airport_candidates_count", "source",
)  # fmt: skip
"""What the API shows of a flight, in this order."""


# The read statements are built once, with bound parameters (code, depth, limit, offset, start,
# end), not per request: building a statement of unions and subqueries cost more than running
# it, and the same SQL text each time lets psycopg prepare it (no planning per request).
_CODE = bindparam("code", type_=String)
_FLIGHTS = Flight.__table__


def _newest_ids(kind: str | None) -> Subquery:
    """(id, last_seen) of the ``depth`` newest flights of an airport. Each branch reads its own
    index ((airport, last_seen, id), index-only) backwards and stops after ``depth`` rows; the two
    branches meet in a Merge Append. A flight that departed from and arrived at the airport is
    only in the arrivals branch (the departures index includes the arrival airport for that)."""
    arrivals = select(Flight.id, Flight.last_seen).where(Flight.est_arrival_airport == _CODE)
    departures = select(Flight.id, Flight.last_seen).where(Flight.est_departure_airport == _CODE)
    if kind == "arrivals":
        branches = [arrivals]
    elif kind == "departures":
        branches = [departures]
    else:
        branches = [arrivals, departures.where(Flight.est_arrival_airport.is_distinct_from(_CODE))]
    depth = bindparam("depth", type_=Integer)
    newest = [b.order_by(Flight.last_seen.desc(), Flight.id.desc()).limit(depth) for b in branches]
    return (union_all(*newest) if len(newest) > 1 else newest[0]).subquery("newest")


def _page(kind: str | None) -> Select[Any]:
    """One page, newest first (last_seen, then id, so pages never overlap). The page is chosen
    on the narrow indexes; only its ``limit`` rows are read from the table."""
    newest = _newest_ids(kind)
    page = (
        select(newest.c.id, newest.c.last_seen)
        .order_by(newest.c.last_seen.desc(), newest.c.id.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery("page")
    )
    return (
        select(*(_FLIGHTS.c[name] for name in VIEW_FIELDS))
        .join(page, Flight.id == page.c.id)
        .order_by(page.c.last_seen.desc(), page.c.id.desc())
    )


_PAGES = {kind: _page(kind) for kind in (None, "arrivals", "departures")}


def _average() -> Select[Any]:
    """How many flights touched the airport with last_seen in [start, end] (index-only)."""
    in_range = (
        Flight.last_seen >= bindparam("start", type_=DateTime(timezone=True)),
        Flight.last_seen <= bindparam("end", type_=DateTime(timezone=True)),
    )
    arrivals = select(Flight.id).where(Flight.est_arrival_airport == _CODE, *in_range)
    departures = select(Flight.id).where(
        Flight.est_departure_airport == _CODE, Flight.est_arrival_airport.is_distinct_from(_CODE), *in_range
    )
    return select(func.count()).select_from(union_all(arrivals, departures).subquery("touching"))


_AVERAGE = _average()


def _page_parameters(code: str, limit: int, offset: int) -> dict[str, Any]:
    return {"code": code.upper(), "depth": limit + offset, "limit": limit, "offset": offset}


def flights_statement(code: str, kind: str | None, limit: int, offset: int) -> Select[Any]:
    """The page query with its parameters bound (for EXPLAIN and tools; requests execute the
    prebuilt statement with a parameter dict)."""
    return _PAGES[kind].params(_page_parameters(code, limit, offset))


def average_statement(code: str, start: datetime, end: datetime) -> Select[Any]:
    return _AVERAGE.params(code=code.upper(), start=start, end=end)


def last_statement(code: str) -> Select[Any]:
    return flights_statement(code, None, 1, 0)


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """A row of :data:`VIEW_FIELDS` (a dict, in that order) as the API shows it."""
    row["first_seen"] = row["first_seen"].isoformat()
    row["last_seen"] = row["last_seen"].isoformat()
    return row


def list_flights(reads: Reads, code: str, kind: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    return [_shown(row) for row in reads.rows(_PAGES[kind], _page_parameters(code, limit, offset))]


def average_per_day(reads: Reads, code: str, days: int, now: datetime) -> dict[str, Any]:
    """Flights that touched the airport (arrived or departed) with last_seen in the last ``days``
    days, divided by ``days``."""
    code = code.upper()
    row = reads.first(_AVERAGE, {"code": code, "start": now - timedelta(days=days), "end": now})
    total = next(iter(row.values())) if row else 0
    if not total:
        raise NotFound(f"no flights stored for {code} in the last {days} day(s)")
    return {"airport": code, "average_flights_per_day": round(total / days, 2), "days": days}


# -- flights per day or hour ------------------------------------------------------------------
STATS_KINDS = ("arrivals", "departures")
STATS_GRANULARITY = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
STATS_MAX_DAYS = {"day": 365, "hour": 31}
_STATS_BRANCHES = {
    # an arrival counts at its last_seen, a departure at its first_seen (as a day's count does)
    "arrivals": "SELECT id, last_seen AS at FROM flight_data"
    " WHERE est_arrival_airport = :code AND last_seen >= :start AND last_seen < :end",
    "departures": "SELECT id, first_seen AS at FROM flight_data"
    " WHERE est_departure_airport = :code AND first_seen >= :start AND first_seen < :end",
}


def _stats(kind: str | None, granularity: str) -> TextClause:
    """Flights per UTC day or hour of [start, end), every bucket of the range present (0 when
    none: generate_series), in one statement. A flight is counted once per bucket even when it
    both departed from and arrived at the airport in it (distinct ids)."""
    branches = [_STATS_BRANCHES[kind]] if kind else list(_STATS_BRANCHES.values())
    step = "1 day" if granularity == "day" else "1 hour"
    # only the constants above go into the text; every value is a bound parameter
    return text(
        f"WITH touching AS ({' UNION ALL '.join(branches)}),"  # noqa: S608
        " series AS (SELECT generate_series(CAST(:first AS timestamp), CAST(:last AS timestamp),"
        f" CAST('{step}' AS interval)) AS bucket)"
        " SELECT series.bucket, count(DISTINCT touching.id) AS flights FROM series"
        f" LEFT JOIN touching ON date_trunc('{granularity}', touching.at AT TIME ZONE 'UTC') = series.bucket"
        " GROUP BY series.bucket ORDER BY series.bucket"
    )


_STATS = {(kind, unit): _stats(kind, unit) for kind in (None, *STATS_KINDS) for unit in STATS_GRANULARITY}


def stats_range(days: int, granularity: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the stats: from 00:00 UTC of the first of the ``days`` UTC days that end
    with today, to the end of the current bucket (today's end, or the current hour's)."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    if granularity == "day":
        return start, today + timedelta(days=1)
    return start, now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def flight_stats(
    reads: Reads, code: str, kind: str | None, days: int, granularity: str, now: datetime
) -> dict[str, Any]:
    """Flights that arrived at (``arrivals``), departed from (``departures``) or touched (None)
    the airport in each UTC day or hour of the last ``days`` days (today so far included)."""
    code = code.upper()
    start, end = stats_range(days, granularity, now)
    step = STATS_GRANULARITY[granularity]
    rows = reads.rows(
        _STATS[(kind, granularity)],
        {
            "code": code,
            "start": start,
            "end": end,
            "first": start.replace(tzinfo=None),
            "last": (end - step).replace(tzinfo=None),
        },
    )
    buckets = [{"start": row["bucket"].replace(tzinfo=UTC).isoformat(), "flights": int(row["flights"])} for row in rows]
    return {
        "airport": code,
        "type": kind or "all",
        "granularity": granularity,
        "days": days,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "total": sum(b["flights"] for b in buckets),
        "buckets": buckets,
    }


def last_flight(reads: Reads, code: str) -> dict[str, Any]:
    code = code.upper()
    row = reads.first(_PAGES[None], _page_parameters(code, 1, 0))
    if row is None:
        raise NotFound(f"no flights stored for {code}")
    return _shown(row)
