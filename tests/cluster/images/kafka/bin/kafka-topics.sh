#!/usr/bin/env bash
# kafka-topics.sh: org.apache.kafka.tools.TopicCommand, as in Apache Kafka's distribution.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.TopicCommand "$@"
