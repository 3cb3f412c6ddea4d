#!/usr/bin/env bash
# kafka-broker-api-versions.sh: org.apache.kafka.tools.BrokerApiVersionsCommand, as in Apache Kafka's distribution.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
