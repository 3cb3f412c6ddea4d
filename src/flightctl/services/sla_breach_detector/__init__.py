"""sla-breach-detector: samples Prometheus every ``t_check`` seconds and publishes SLA breaches
to the ``sla_breach`` Kafka topic."""
