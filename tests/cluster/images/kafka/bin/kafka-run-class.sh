#!/usr/bin/env bash
# kafka-run-class.sh [-daemon] [-name NAME] [-loggc] CLASS [ARGS...]
# The stand-in image's version of Apache Kafka's launcher: runs CLASS with every jar of
# /opt/kafka/libs, honouring the variables the official scripts read: JAVA_HOME,
# KAFKA_HEAP_OPTS (default -Xmx256M), KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_GC_LOG_OPTS,
# KAFKA_JMX_OPTS, KAFKA_LOG4J_OPTS (default: config/tools-log4j2.yaml), KAFKA_OPTS, LOG_DIR
# (default /opt/kafka/logs). -daemon is not supported (containers run in the foreground).
set -euo pipefail
base_dir="$(cd "$(dirname "$0")/.." && pwd)"

name="" gc_log=""
while [ $# -gt 0 ]; do
  case "$1" in
    -name) name="$2"; shift 2 ;;
    -loggc) gc_log=1; shift ;;
    -daemon) echo "kafka-run-class.sh: -daemon is not supported by this image" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: kafka-run-class.sh [-name NAME] [-loggc] CLASS [ARGS...]" >&2; exit 2; }

LOG_DIR="${LOG_DIR:-$base_dir/logs}"
mkdir -p "$LOG_DIR"
log4j="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/tools-log4j2.yaml}"
heap="${KAFKA_HEAP_OPTS:--Xmx256M}"
perf="${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
gc=""
if [ -n "$gc_log" ] && [ -n "$name" ]; then
  gc="${KAFKA_GC_LOG_OPTS:--Xlog:gc*:file=$LOG_DIR/$name-gc.log:time,tags:filecount=10,filesize=100M}"
fi
java="java"
[ -n "${JAVA_HOME:-}" ] && java="$JAVA_HOME/bin/java"

# shellcheck disable=SC2086 # each *_OPTS is a list of JVM options, as in the official scripts
exec "$java" $heap $perf $gc ${KAFKA_JMX_OPTS:-} -Dkafka.logs.dir="$LOG_DIR" $log4j \
  -cp "$base_dir/libs/*" ${KAFKA_OPTS:-} "$@"
