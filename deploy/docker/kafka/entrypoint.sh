#!/bin/bash
# Writes server.properties, formats the KRaft storage on first start, then
# runs the broker in the foreground; its log also goes to
# /var/lib/kafka/server.log for the healthcheck.
set -euo pipefail
dir=/var/lib/kafka
host=${KAFKA_ADVERTISED_HOST:-kafka}
external_port=${KAFKA_EXTERNAL_PORT:-19092}
cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=PLAINTEXT://0.0.0.0:9092,EXTERNAL://0.0.0.0:19092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://$host:9092,EXTERNAL://127.0.0.1:$external_port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
log.retention.hours=${KAFKA_LOG_RETENTION_HOURS:--1}
PROPS
cp=/opt/kafka/libs/*
java_opts=(${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m} -XX:+UseSerialGC
  -Djava.awt.headless=true -Dlog4j.configuration=file:/opt/kafka/log4j.properties)
if [[ ! -f "$dir/data/meta.properties" ]]; then
  cluster_id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  java "${java_opts[@]}" -cp "$cp" kafka.tools.StorageTool format \
    -t "$cluster_id" -c "$dir/server.properties" >/dev/null
fi
rm -f "$dir/server.log"
exec java "${java_opts[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" \
  > >(tee "$dir/server.log") 2>&1
