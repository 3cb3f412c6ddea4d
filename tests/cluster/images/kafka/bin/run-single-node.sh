#!/usr/bin/env bash
# The image's default command: a throwaway single-node KRaft broker on localhost:9092
# (format with a new cluster id, then start), for `docker run` only.
set -euo pipefail
base_dir="$(cd "$(dirname "$0")/.." && pwd)"
config="${KAFKA_CONFIG:-$base_dir/config/server.properties}"
cluster_id="${CLUSTER_ID:-$("$base_dir/bin/kafka-storage.sh" random-uuid)}"
"$base_dir/bin/kafka-storage.sh" format --ignore-formatted --standalone --cluster-id "$cluster_id" --config "$config"
exec "$base_dir/bin/kafka-server-start.sh" "$config"
