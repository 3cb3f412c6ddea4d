#!/usr/bin/env bash
# kafka-console-producer.sh: org.apache.kafka.tools.ConsoleProducer, as in Apache Kafka's distribution.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.ConsoleProducer "$@"
