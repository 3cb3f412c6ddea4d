#!/usr/bin/env bash
# kafka-console-consumer.sh: org.apache.kafka.tools.consumer.ConsoleConsumer, as in Apache Kafka's distribution.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
