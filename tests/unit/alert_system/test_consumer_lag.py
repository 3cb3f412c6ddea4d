"""kafka_consumer_lag{service, topic} as alert-system's runner reports it: end offsets minus
positions, summed over the partitions assigned to this instance."""

from __future__ import annotations

from typing import Any

from kafka import TopicPartition
from kafka.errors import IllegalStateError
from prometheus_client import CollectorRegistry

from flightctl.services.common.kafka import TO_ALERT_SYSTEM, Handled, KafkaRunner
from flightctl.services.common.metrics import KafkaMetrics


class FakeConsumer:
    def __init__(self, ends: dict[TopicPartition, int | None], positions: dict[TopicPartition, int | None]) -> None:
        self.ends = ends
        self.positions = positions

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends[tp]

    def position(self, tp: TopicPartition, timeout_ms: int | None = None) -> int | None:
        value = self.positions[tp]
        if value is None:
            raise IllegalStateError("not assigned any more")
        return value


def runner(registry: CollectorRegistry) -> KafkaRunner:
    return KafkaRunner(
        name="alert-system",
        bootstrap="127.0.0.1:9",
        group_id="g",
        topics=[TO_ALERT_SYSTEM],
        handler=lambda m: Handled(),
        producer=object(),  # type: ignore[arg-type]
        metrics=KafkaMetrics(registry),
    )


def lag(registry: CollectorRegistry) -> Any:
    return registry.get_sample_value("kafka_consumer_lag", {"service": "alert-system", "topic": TO_ALERT_SYSTEM})


def test_lag_is_summed_over_the_assigned_partitions() -> None:
    registry = CollectorRegistry()
    p0, p1, p2 = (TopicPartition(TO_ALERT_SYSTEM, p) for p in range(3))
    r = runner(registry)
    r.update_lag(FakeConsumer({p0: 10, p1: 7, p2: None}, {p0: 4, p1: 7, p2: 0}))  # type: ignore[arg-type]
    assert lag(registry) == 6  # p2 has no end offset yet: not counted
    r.update_lag(FakeConsumer({p0: 10, p1: 9}, {p0: 10, p1: None}))  # type: ignore[arg-type]
    assert lag(registry) == 0


def test_an_instance_without_partitions_reports_zero() -> None:
    registry = CollectorRegistry()
    runner(registry).update_lag(FakeConsumer({}, {}))  # type: ignore[arg-type]
    assert lag(registry) == 0
