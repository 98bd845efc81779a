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
# KAFKA_SASL_SSL  when set: the client port is SASL_SSL (SCRAM-SHA-256/512), the broker's certificate and
#                 key from KAFKA_SSL_CERT and KAFKA_SSL_KEY (PEM, key unencrypted PKCS#8), the SCRAM user
#                 KAFKA_SCRAM_USER / KAFKA_SCRAM_PASSWORD created at format time; the brokers' own traffic
#                 uses a plaintext loopback listener on KAFKA_PORT+2. For tests (test/kafka-sasl-ssl.test.ts);
#                 the default broker on 9092 is unchanged.
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
  if [[ -n "${KAFKA_SASL_SSL:-}" ]]; then
    local iport=$((port + 2))
    # PEM keystore: the key, then the certificate chain, in one file.
    cat "$KAFKA_SSL_KEY" "$KAFKA_SSL_CERT" >"$home/keystore.pem"
    chmod 600 "$home/keystore.pem"
    cat >"$conf" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=SASL_SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,INTERNAL://127.0.0.1:$iport
advertised.listeners=SASL_SSL://127.0.0.1:$port,INTERNAL://127.0.0.1:$iport
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$home/keystore.pem
ssl.client.auth=none
PROPS
  else
    cat >"$conf" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
PROPS
  fi
  cat >>"$conf" <<PROPS
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
    local scram=()
    if [[ -n "${KAFKA_SASL_SSL:-}" ]]; then
      for m in SCRAM-SHA-256 SCRAM-SHA-512; do
        scram+=(--add-scram "$m=[name=${KAFKA_SCRAM_USER:?},password=${KAFKA_SCRAM_PASSWORD:?}]")
      done
    fi
    java -cp "$libs/*" kafka.tools.StorageTool format -t "wardwatch-local-kafka01" -c "$conf" --standalone "${scram[@]}" >/dev/null 2>&1 ||
      java -cp "$libs/*" kafka.tools.StorageTool format -t "wardwatch-local-kafka01" -c "$conf" "${scram[@]}" >&2
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
