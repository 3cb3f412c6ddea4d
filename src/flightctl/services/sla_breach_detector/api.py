"""sla-breach-detector's HTTP routes (the common factory adds /ping, /health and /metrics)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from flightctl.services.common import auth
from flightctl.services.common.http import json_body
from flightctl.services.sla_breach_detector import service
from flightctl.services.sla_breach_detector.config import ConfigStore
from flightctl.services.sla_breach_detector.sampler import BreachStats


def blueprint(store: ConfigStore, stats: BreachStats, prometheus: service.PrometheusRules) -> Blueprint:
    bp = Blueprint("sla", __name__)

    @bp.get("/sla/config")
    def get_config() -> Response:
        return jsonify(store.current().to_dict())

    @bp.post("/sla/config")
    @auth.requires(auth.ADMIN)
    def post_config() -> Response:
        return jsonify(service.update_config(store, json_body(), prometheus))

    @bp.get("/breach/stats")
    def breach_stats() -> Response:
        return jsonify(stats.snapshot())

    return bp
