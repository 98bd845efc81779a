#!/usr/bin/env bash
# Starts (or stops) a real single-node Apache Kafka broker in KRaft mode on 127.0.0.1:9092 for tests
# and local development, on machines without a Docker engine. The broker's jars come from Maven Central
# (pom.xml beside this script, resolved with mvn). Safe to run twice: `start` returns at once when the
# broker already answers.
#
#   kafka.sh start | stop | status | restart
#
# KAFKA_HOME_DIR  where jars, config, data and logs live (default: <repo>/.kafka)
# KAFKA_PORT      client port (default 9092); the controller listens on KAFKA_PORT+1
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
home="${KAFKA_HOME_DIR:-$repo/.kafka}"
port="${KAFKA_PORT:-9092}"
cport=$((port + 1))
libs="$home/libs"
conf="$home/server.properties"
data="$home/data"
pidfile="$home/kafka.pid"
log="$home/kafka.log"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

running_pid() {
  [[ -f "$pidfile" ]] || return 1
  local pid; pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

fetch_jars() {
  [[ -f "$libs/.complete" ]] && return 0
  echo "kafka-local: resolving broker jars from Maven Central into $libs" >&2
  mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
  touch "$libs/.complete"
}

write_config() {
  mkdir -p "$home" "$data"
  cat >"$conf" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
num.partitions=4
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
PROPS
}

start() {
  if answers; then echo "kafka-local: already answering on 127.0.0.1:$port"; return 0; fi
  command -v java >/dev/null || { echo "kafka-local: java not found" >&2; exit 1; }
  fetch_jars
  write_config
  if [[ ! -f "$data/meta.properties" ]]; then
    java -cp "$libs/*" kafka.tools.StorageTool format -t "wardwatch-local-kafka01" -c "$conf" --standalone >/dev/null 2>&1 ||
      java -cp "$libs/*" kafka.tools.StorageTool format -t "wardwatch-local-kafka01" -c "$conf" >&2
  fi
  echo "kafka-local: starting broker (log: $log)" >&2
  nohup java -Xms256m -Xmx1g -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$home" \
    -cp "$libs/*" kafka.Kafka "$conf" >"$log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if answers; then echo "kafka-local: broker answers on 127.0.0.1:$port"; return 0; fi
    if ! running_pid >/dev/null; then echo "kafka-local: broker exited; tail of $log:" >&2; tail -n 40 "$log" >&2; exit 1; fi
    sleep 0.5
  done
  echo "kafka-local: broker did not answer within 60 s" >&2; tail -n 40 "$log" >&2; exit 1
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    echo "kafka-local: stopped"
  fi
  rm -f "$pidfile"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if answers; then echo "up"; else echo "down"; exit 1; fi ;;
  *) echo "usage: kafka.sh start|stop|status|restart" >&2; exit 2 ;;
esac
