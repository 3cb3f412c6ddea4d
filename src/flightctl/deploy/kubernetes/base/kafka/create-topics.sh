#!/bin/bash
# Creates the flightctl topics once the brokers answer. Idempotent (--if-not-exists); a
# creation that fails because not enough brokers have joined yet is retried until the Job's
# activeDeadlineSeconds.
set -euo pipefail

topics=(to-alert-system to-notifier sla_breach to-alert-system.dlq)
bootstrap="${KAFKA_BOOTSTRAP_SERVERS:?}"
kafka_bin="${KAFKA_HOME:-/opt/kafka}/bin"

until "$kafka_bin/kafka-broker-api-versions.sh" --bootstrap-server "$bootstrap" >/dev/null 2>&1; do
  echo "waiting for the broker at $bootstrap"
  sleep 3
done

for topic in "${topics[@]}"; do
  until "$kafka_bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$topic" --partitions "$KAFKA_TOPIC_PARTITIONS" \
    --replication-factor "$KAFKA_REPLICATION_FACTOR" \
    --config "min.insync.replicas=$KAFKA_MIN_INSYNC_REPLICAS"; do
    echo "retrying topic $topic"
    sleep 3
  done
done
"$kafka_bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --describe --topic "$(IFS='|'; echo "${topics[*]}")"
