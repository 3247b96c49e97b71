#!/usr/bin/env bash
# A single-node Kafka broker whose only client listener is SASL_SSL with
# SCRAM-SHA-512, for tests/integration/security/kafka_sasl_ssl_test.cc.
# The broker is the local stack's (deploy/lib/services.sh kafka_start) with
# extra settings; the certificate authority and the broker's certificate are
# made here with the openssl CLI, and the SCRAM users exist from the storage
# format on (`kafka-storage format --add-scram`, Kafka >= 3.5).
#
#   ENRICH_TEST_KAFKA_USER=u ENRICH_TEST_KAFKA_PASSWORD=p \
#     kafka_sasl_ssl_broker.sh start DIR OWNER_PID   prints KEY=VALUE lines:
#       BROKERS=127.0.0.1:PORT  CA=DIR/tls/ca.crt  MECHANISM=SCRAM-SHA-512
#   kafka_sasl_ssl_broker.sh stop DIR
#
# The password comes through the environment, not argv, so that it is not in
# the test's command lines. `start` also leaves a reaper that stops the broker
# once OWNER_PID is gone.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
source "$root/deploy/lib/services.sh"

cmd=${1:-}; state=${2:-}
[[ -n "$state" ]] || { echo "usage: $0 start|stop DIR [OWNER_PID]" >&2; exit 2; }

# A self-signed authority and a broker certificate it signs, valid for the
# address clients dial (librdkafka checks the name: ssl.endpoint.
# identification.algorithm=https is its default).
make_certificates() {
  local tls=$1
  mkdir -p "$tls"
  chmod 700 "$tls"
  openssl req -x509 -new -nodes -newkey rsa:2048 -days 2 -sha256 \
    -subj "/CN=enrich test authority" -keyout "$tls/ca.key" -out "$tls/ca.crt"
  openssl req -new -nodes -newkey rsa:2048 -sha256 -subj "/CN=127.0.0.1" \
    -keyout "$tls/broker.key" -out "$tls/broker.csr"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' \
    >"$tls/broker.ext"
  openssl x509 -req -in "$tls/broker.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
    -CAcreateserial -days 2 -sha256 -extfile "$tls/broker.ext" -out "$tls/broker.crt"
  # Kafka's PEM key store: the PKCS#8 key, then the certificate chain. (Its
  # trust store, the authority, serves the broker's own client side: Kafka
  # checks at start-up that the two sides of its listener can talk.)
  cat "$tls/broker.key" "$tls/broker.crt" >"$tls/broker.pem"
  chmod 600 "$tls"/*.key "$tls/broker.pem"
}

case "$cmd" in
  start)
    owner=${3:?owner pid required}
    user=${ENRICH_TEST_KAFKA_USER:?}
    password=${ENRICH_TEST_KAFKA_PASSWORD:?}
    [[ ! -e "$state/kafka" ]] || { echo "$state: already started" >&2; exit 1; }
    mkdir -p "$state"
    make_certificates "$state/tls" >"$state/openssl.log" 2>&1 || {
      cat "$state/openssl.log" >&2; exit 1; }
    # The broker's own SCRAM user, for its inter-broker listener.
    broker_password=$(openssl rand -hex 16)
    port=$(free_port)
    cport=$(free_port)
    while [[ "$cport" == "$port" ]]; do cport=$(free_port); done
    umask 077
    cat >"$state/settings.properties" <<PROPS
listeners=SASL_SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=SASL_SSL://127.0.0.1:$port
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="enrich-broker" password="$broker_password";
ssl.keystore.type=PEM
ssl.keystore.location=$state/tls/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$state/tls/ca.crt
PROPS
    kafka_start "$state" "$port" "$cport" "$state/settings.properties" \
      --add-scram "SCRAM-SHA-512=[name=enrich-broker,password=$broker_password]" \
      --add-scram "SCRAM-SHA-512=[name=$user,password=$password]" >&2
    rm -f "$state/settings.properties"
    setsid nohup bash -c '
      while kill -0 "$1" 2>/dev/null; do sleep 1; done
      exec "$2" stop "$3"' reaper "$owner" "$0" "$state" >/dev/null 2>&1 </dev/null &
    echo "BROKERS=$(kafka_brokers "$state")"
    echo "CA=$state/tls/ca.crt"
    echo "MECHANISM=SCRAM-SHA-512"
    ;;
  stop)
    [[ -d "$state" ]] || exit 0
    kafka_stop "$state"
    rm -rf "$state"
    ;;
  *)
    echo "usage: $0 start|stop DIR [OWNER_PID]" >&2
    exit 2
    ;;
esac
