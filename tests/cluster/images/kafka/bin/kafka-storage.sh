#!/usr/bin/env bash
# kafka-storage.sh: kafka.tools.StorageTool, as in Apache Kafka's distribution.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
