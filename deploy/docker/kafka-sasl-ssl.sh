#!/bin/sh
# The compose stack's broker with SASL_SSL (deploy/docker/kafka-sasl-ssl.yml): the only listener other
# containers reach is SASL_SSL on 9092 (SCRAM-SHA-512 over TLS, the certificate from the operator's
# directory); the controller and the inter-broker listener are bound to the container's loopback. One
# SCRAM user per Wardwatch service is created when the storage is formatted (the first start); to add
# or change one later: docker-compose exec kafka /opt/kafka/bin/kafka-configs.sh --bootstrap-server
# 127.0.0.1:9094 --alter --entity-type users --entity-name NAME --add-config 'SCRAM-SHA-512=[password=…]'
set -eu
certs=/etc/kafka/wardwatch-certs
conf=/tmp/wardwatch-server.properties
data=/var/lib/kafka/data

# PEM keystore: the private key, then the certificate chain, in one file only this user reads.
umask 077
cat "$certs/broker-key.pem" "$certs/broker-cert.pem" >/tmp/wardwatch-keystore.pem

cat >"$conf" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=SASL_SSL://:9092,CONTROLLER://127.0.0.1:9093,INTERNAL://127.0.0.1:9094
advertised.listeners=SASL_SSL://kafka:9092,INTERNAL://127.0.0.1:9094
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=/tmp/wardwatch-keystore.pem
ssl.client.auth=none
log.dirs=$data
num.partitions=8
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
log.retention.hours=24
PROPS

if [ ! -f "$data/meta.properties" ]; then
  /opt/kafka/bin/kafka-storage.sh format -t "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" -c "$conf" \
    --add-scram "SCRAM-SHA-512=[name=wardwatch-collector,password=${KAFKA_COLLECTOR_PASSWORD:?}]" \
    --add-scram "SCRAM-SHA-512=[name=wardwatch-analytics,password=${KAFKA_ANALYTICS_PASSWORD:?}]" \
    --add-scram "SCRAM-SHA-512=[name=wardwatch-policy,password=${KAFKA_POLICY_PASSWORD:?}]" >/dev/null
fi
exec /opt/kafka/bin/kafka-server-start.sh "$conf"
