"""sla-breach-detector starts while Kafka is not reachable (a first deploy starts the broker
and the services together): the producer is made when a breach is first published, and a
publish that cannot connect fails like any failed publish, retried at the next check."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka.errors import KafkaTimeoutError

from flightctl.platform.layout import free_port
from flightctl.services.sla_breach_detector.app import LazyProducer, create_app
from flightctl.services.sla_breach_detector.config import DEFAULT_CONFIG_PATH
from flightctl.services.sla_breach_detector.settings import Settings


class Producer:
    def __init__(self) -> None:
        self.closed: list[float | None] = []

    def close(self, timeout: float | None = None) -> None:
        self.closed.append(timeout)


def test_the_producer_is_made_on_first_use_and_again_after_a_failure() -> None:
    made: list[Producer] = []
    attempts = iter([KafkaTimeoutError("Failed to bootstrap"), None])

    def factory() -> Producer:
        failure = next(attempts)
        if failure is not None:
            raise failure
        made.append(Producer())
        return made[-1]

    lazy = LazyProducer(factory)  # type: ignore[arg-type]
    assert made == []
    with pytest.raises(KafkaTimeoutError):
        lazy.get()
    producer = lazy.get()
    assert made == [producer] and lazy.get() is producer
    lazy.close(timeout=3)
    assert producer.closed == [3]
    LazyProducer(factory).close()  # never made: nothing to close


def test_the_service_starts_without_a_reachable_broker(tmp_path: Path) -> None:
    config = tmp_path / "sla.yaml"
    config.write_text(DEFAULT_CONFIG_PATH.read_text())
    settings = Settings.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "PROMETHEUS_URL": f"http://127.0.0.1:{free_port()}",
            "SLA_CONFIG_PATH": str(config),
            "USER_MANAGER_GRPC_TARGET": f"127.0.0.1:{free_port()}",
            "API_TOKEN": "t",
        }
    )
    started = time.monotonic()
    detector = create_app(settings)
    assert time.monotonic() - started < 5, "no wait for the broker at start"
    response = detector.app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["checks"]["kafka"] == "broker not reachable"
    for component in reversed(detector.components):
        component.stop()
