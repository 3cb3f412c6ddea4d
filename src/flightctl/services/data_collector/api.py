"""data-collector's HTTP routes."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session, sessionmaker

from flightctl.services.common.db import Reads, transaction
from flightctl.services.common.errors import InvalidInput
from flightctl.services.common.http import json_body
from flightctl.services.data_collector import service
from flightctl.services.data_collector.collector import Collector

MAX_LIMIT = 1000
ICAO = re.compile(r"[A-Za-z0-9]{4}")


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} must be an integer from {low} to {high}")
    return int(raw)


def blueprint(
    factory: sessionmaker[Session],
    *,
    airports: Mapping[str, Any],
    user_exists: service.UserExists,
    collector: Collector,
    now: Callable[[], datetime],
    reads: Reads,
) -> Blueprint:
    """``reads`` serves the flight reads (prepared statements on autocommit connections)."""
    bp = Blueprint("data", __name__)

    @bp.post("/interests")
    def add_interest() -> tuple[Response, int]:
        payload = json_body()
        with transaction(factory) as session:
            return jsonify(service.add_interest(session, payload, airports, user_exists)), 201

    @bp.put("/interests")
    def update_interest() -> Response:
        payload = json_body()
        with transaction(factory) as session:
            return jsonify(service.update_interest(session, payload, airports))

    @bp.delete("/interests")
    def remove_interest() -> Response:
        payload = json_body()
        with transaction(factory) as session:
            return jsonify(service.remove_interest(session, payload))

    @bp.get("/interests/<path:email>")
    def list_interests(email: str) -> Response:
        with transaction(factory) as session:
            return jsonify(service.list_interests(session, email))

    @bp.get("/flights/<icao>")
    def list_flights(icao: str) -> Response:
        kind = request.args.get("type")
        if kind not in (None, "arrivals", "departures"):
            raise InvalidInput("type must be arrivals or departures")
        limit = _int_arg("limit", 100, 1, MAX_LIMIT)
        offset = _int_arg("offset", 0, 0, 10_000_000)
        return jsonify(service.list_flights(reads, icao, kind, limit, offset))

    @bp.get("/flights/average/<icao>")
    def average(icao: str) -> Response:
        days = _int_arg("days", 7, 1, 365)
        return jsonify(service.average_per_day(reads, icao, days, now()))

    @bp.get("/flights/stats/<icao>")
    def stats(icao: str) -> Response:
        if not ICAO.fullmatch(icao):
            raise InvalidInput("the airport must be an ICAO code: four letters or digits")
        kind = request.args.get("type")
        if kind is not None and kind not in service.STATS_KINDS:
            raise InvalidInput("type must be arrivals or departures")
        granularity = request.args.get("granularity", "day")
        if granularity not in service.STATS_GRANULARITY:
            raise InvalidInput("granularity must be day or hour")
        days = _int_arg("days", 7, 1, service.STATS_MAX_DAYS[granularity])
        return jsonify(service.flight_stats(reads, icao, kind, days, granularity, now()))

    @bp.get("/flights/last/<icao>")
    def last(icao: str) -> Response:
        return jsonify(service.last_flight(reads, icao))

    @bp.post("/collect")
    def collect() -> Response:
        return jsonify(collector.run_cycle().as_dict())

    @bp.get("/collector/status")
    def collector_status() -> Response:
        return jsonify(collector.status())

    return bp
