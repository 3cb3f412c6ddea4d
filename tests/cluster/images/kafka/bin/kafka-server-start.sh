#!/usr/bin/env bash
# kafka-server-start.sh server.properties [--override key=value ...]
# Defaults as the official script: KAFKA_HEAP_OPTS -Xmx1G -Xms1G, KAFKA_LOG4J_OPTS
# config/log4j2.yaml, EXTRA_ARGS "-name kafkaServer -loggc".
set -euo pipefail
base_dir="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -gt 0 ] || { echo "usage: kafka-server-start.sh server.properties [--override property=value]*" >&2; exit 1; }
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/log4j2.yaml}"
# shellcheck disable=SC2086 # EXTRA_ARGS is a list of launcher options
exec "$base_dir/bin/kafka-run-class.sh" ${EXTRA_ARGS--name kafkaServer -loggc} kafka.Kafka "$@"
