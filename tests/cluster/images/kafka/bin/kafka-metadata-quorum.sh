#!/usr/bin/env bash
# kafka-metadata-quorum.sh: org.apache.kafka.tools.MetadataQuorumCommand, as in Apache Kafka's distribution.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.MetadataQuorumCommand "$@"
