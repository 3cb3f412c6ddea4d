#!/bin/bash
# Starts one Apache Kafka node in KRaft combined mode (broker + controller).
# Inputs (environment): HOSTNAME (the StatefulSet pod name, kafka-N), POD_NAMESPACE,
# KAFKA_REPLICAS (the StatefulSet's replica count, filled in by kustomize), KAFKA_CLUSTER_ID,
# KAFKA_REPLICATION_FACTOR and KAFKA_MIN_INSYNC_REPLICAS (ConfigMap kafka-cluster).
# KAFKA_HOME, KAFKA_CONFIG_DIR and KAFKA_DATA_DIR default to the image's layout.
set -euo pipefail

kafka_home="${KAFKA_HOME:-/opt/kafka}"
config_dir="${KAFKA_CONFIG_DIR:-/tmp/kafka-config}"
data_dir="${KAFKA_DATA_DIR:-/var/lib/kafka/data}"

ordinal="${HOSTNAME##*-}"
if ! [[ "$ordinal" =~ ^[0-9]+$ ]]; then
  echo "cannot derive a node id from hostname '$HOSTNAME'" >&2
  exit 1
fi
domain="kafka-headless.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN:-cluster.local}"

# Static controller quorum: every node of the StatefulSet is a voter.
voters=""
for ((i = 0; i < KAFKA_REPLICAS; i++)); do
  voters+="${voters:+,}${i}@kafka-${i}.${domain}:9093"
done

mkdir -p "$config_dir"
cat >"$config_dir/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=${ordinal}
controller.quorum.voters=${voters}
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
advertised.listeners=PLAINTEXT://${HOSTNAME}.${domain}:9092
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
# A subdirectory: a fresh filesystem may hold lost+found, which is no Kafka log.
log.dirs=${data_dir}/kraft
num.partitions=${KAFKA_TOPIC_PARTITIONS:-3}
auto.create.topics.enable=false
default.replication.factor=${KAFKA_REPLICATION_FACTOR}
min.insync.replicas=${KAFKA_MIN_INSYNC_REPLICAS}
offsets.topic.replication.factor=${KAFKA_REPLICATION_FACTOR}
transaction.state.log.replication.factor=${KAFKA_REPLICATION_FACTOR}
transaction.state.log.min.isr=${KAFKA_MIN_INSYNC_REPLICAS}
share.coordinator.state.topic.replication.factor=${KAFKA_REPLICATION_FACTOR}
share.coordinator.state.topic.min.isr=${KAFKA_MIN_INSYNC_REPLICAS}
unclean.leader.election.enable=false
PROPERTIES

echo "node.id=${ordinal} voters=${voters}"
# Idempotent: an already formatted log directory is left as it is.
"$kafka_home/bin/kafka-storage.sh" format --ignore-formatted \
  --cluster-id "$KAFKA_CLUSTER_ID" --config "$config_dir/server.properties"
exec "$kafka_home/bin/kafka-server-start.sh" "$config_dir/server.properties"
