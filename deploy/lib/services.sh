# Shell library (source it): start and stop a private PostgreSQL 15 cluster and
# a single-node KRaft Kafka broker under a state directory. Used by
# deploy/local/stack.sh (the local stack) and tests/support/test_services.sh
# (ephemeral services for integration tests). Processes are tracked by pid
# files and stopped only through them, never by name.

ENRICH_REPO_ROOT=${ENRICH_REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ENRICH_PG_OS_USER=${ENRICH_PG_OS_USER:-enrich-pg}

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null || true)"; do
    [[ -x "$d/postgres" ]] && { echo "$d"; return 0; }
  done
  echo "services: PostgreSQL 15 server binaries not found (run deploy/install-deps.sh)" >&2
  return 1
}

# Runs a command as the PostgreSQL OS user: PostgreSQL refuses to run as root,
# so as root we use a dedicated system user.
as_pg_user() {
  if ((EUID == 0)); then
    runuser -u "$ENRICH_PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

ensure_pg_os_user() {
  ((EUID == 0)) || return 0
  id -u "$ENRICH_PG_OS_USER" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --shell /usr/sbin/nologin "$ENRICH_PG_OS_USER"
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints a port nobody listens on. Random, so concurrent test binaries
# rarely collide; a collision makes the server fail to start loudly. Outside
# the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by
# default): there any outgoing connection of a concurrent test may hold the
# port as its local end, which no listener check sees, and the server's bind
# fails (seen: a bench_smoke Kafka beside the integration tests). So below
# that range (from 10000), or above it when it starts too low. Never one of
# the local stack's ports (deploy/local/stack.sh), even while it is down,
# so private servers cannot keep it from starting.
free_port() {
  local p i low=32768 high=60999 base span
  read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  if ((low > 12000)); then
    base=10000 span=$((low - 10000))
  else
    base=$((high + 1)) span=$((65536 - high - 1))
  fi
  local stack=" ${ENRICH_LOCAL_PG_PORT:-25432} ${ENRICH_LOCAL_KAFKA_PORT:-29092} ${ENRICH_LOCAL_KAFKA_CONTROLLER_PORT:-29093} "
  for i in $(seq 1 200); do
    p=$((base + (RANDOM * 32768 + RANDOM) % span))
    [[ "$stack" == *" $p "* ]] && continue
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  echo "services: no free port found" >&2
  return 1
}

# The cluster's data directory. It lives under the state dir, unless the
# PostgreSQL OS user cannot reach that path (a state dir inside a private
# home or a 0700 temp dir), in which case it lives under /var/tmp and the
# state dir records where.
pg_datadir() {
  local state=$1
  if [[ -f "$state/pg.location" ]]; then
    cat "$state/pg.location"
  elif ((EUID != 0)) || runuser -u "$ENRICH_PG_OS_USER" -- test -x "$state" 2>/dev/null; then
    echo "$state/pg"
  else
    echo "/var/tmp/enrich-pg-$(echo "$state" | md5sum | cut -c1-12)/pg"
  fi
}

pg_is_running() {
  local data; data=$(pg_datadir "$1")
  [[ -f "$data/postmaster.pid" ]] || return 1
  as_pg_user "$(pg_bindir)/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# pg_start STATE PORT [fsync on|off] [EXTRA_CONF] [HBA] [FILES_DIR]
# At the cluster's creation only: EXTRA_CONF (a file) is appended to
# postgresql.conf, HBA (a file) replaces the loopback-trust pg_hba.conf, and
# the files in FILES_DIR (TLS certificates and keys) are copied into the data
# directory, owned by the server's user with mode 0600 as PostgreSQL
# requires of a key. Tests use them for a server on TLS only.
pg_start() {
  local state=$1 port=$2 fsync=${3:-on} extra_conf=${4:-} hba=${5:-} files=${6:-} bin data
  bin=$(pg_bindir)
  ensure_pg_os_user
  mkdir -p "$state"
  data=$(pg_datadir "$state")
  echo "$data" > "$state/pg.location"
  if pg_is_running "$state"; then
    echo "services: PostgreSQL already running ($data)" >&2
    return 0
  fi
  if [[ ! -f "$data/PG_VERSION" ]]; then
    mkdir -p "$data"
    ((EUID == 0)) && chown "$ENRICH_PG_OS_USER" "$data"
    chmod 700 "$data"
    as_pg_user "$bin/initdb" -D "$data" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 || {
        cat "$state/initdb.log" >&2; return 1; }
    cat >>"$data/postgresql.conf" <<CONF
# enrich: settings for logical replication (see README)
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
wal_level = logical
max_replication_slots = 16
max_wal_senders = 16
max_connections = 100
shared_buffers = 256MB
fsync = $fsync
full_page_writes = $fsync
logging_collector = off
CONF
    if [[ -n "$extra_conf" ]]; then
      cat "$extra_conf" >>"$data/postgresql.conf"
    fi
    if [[ -n "$hba" ]]; then
      cp "$hba" "$data/pg_hba.conf"
    else
      cat >"$data/pg_hba.conf" <<HBA
# enrich: local development and tests only, loopback with trust.
host all         all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
HBA
    fi
    if [[ -n "$files" ]]; then
      local f
      for f in "$files"/*; do
        install -m 0600 "$f" "$data/$(basename "$f")"
        ((EUID == 0)) && chown "$ENRICH_PG_OS_USER" "$data/$(basename "$f")"
      done
    fi
    ((EUID == 0)) && chown "$ENRICH_PG_OS_USER" "$data/pg_hba.conf"
  fi
  sed -i "/^port = /d" "$data/postgresql.conf"
  echo "port = $port" >>"$data/postgresql.conf"
  as_pg_user "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null || {
    tail -n 20 "$data/server.log" >&2; return 1; }
  as_pg_user "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'enrich'" | grep -q 1 ||
    as_pg_user "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
      -c "CREATE DATABASE enrich" >/dev/null
}

pg_stop() {
  local state=$1 data
  data=$(pg_datadir "$state")
  if pg_is_running "$state"; then
    as_pg_user "$(pg_bindir)/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
  fi
}

pg_port() {
  sed -n "s/^port = \([0-9]*\)$/\1/p" "$(pg_datadir "$1")/postgresql.conf" | tail -n 1
}

pg_dsn() {
  echo "host=127.0.0.1 port=$(pg_port "$1") user=postgres dbname=enrich"
}

kafka_pid() {
  local pidfile="$1/kafka/kafka.pid" pid
  [[ -f "$pidfile" ]] || return 1
  pid=$(cat "$pidfile")
  # Only our broker: the pid must still be a java process run on our config.
  grep -qa "$1/kafka/server.properties" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

kafka_is_running() { kafka_pid "$1" >/dev/null; }

# kafka_start STATE PORT CONTROLLER_PORT [SETTINGS_FILE [FORMAT_ARG...]]
#
# SETTINGS_FILE holds broker properties that override ours (a property file
# keeps the last value of a key), e.g. a SASL_SSL client listener on PORT
# (tests/integration/security/kafka_sasl_ssl_broker.sh). It is kept in the
# state dir, so a later start without it keeps the same settings. The
# FORMAT_ARGs go to `kafka-storage format` when the log dir is new, e.g.
# `--add-scram SCRAM-SHA-512=[name=u,password=p]`: in KRaft, SCRAM users
# exist before the broker first starts only that way.
kafka_start() {
  local state=$1 port=$2 cport=$3 dir="$1/kafka" libs cp pid i
  local settings=${4:-}
  local format_args=("${@:5}")
  if kafka_is_running "$state"; then
    echo "services: Kafka already running (pid $(kafka_pid "$state"))" >&2
    return 0
  fi
  libs=$("$ENRICH_REPO_ROOT/deploy/kafka/fetch.sh")
  cp="$libs/*"
  mkdir -p "$dir"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
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
log.retention.hours=-1
PROPS
  if [[ -n "$settings" ]]; then
    cp "$settings" "$dir/settings.properties"
    chmod 600 "$dir/settings.properties"
  fi
  if [[ -f "$dir/settings.properties" ]]; then
    cat "$dir/settings.properties" >>"$dir/server.properties"
  fi
  local java_opts=(-Xms128m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$ENRICH_REPO_ROOT/deploy/kafka/log4j.properties")
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local cluster_id
    cluster_id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    java "${java_opts[@]}" -cp "$cp" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$dir/server.properties" "${format_args[@]}" \
      >"$dir/format.log" 2>&1 || {
        cat "$dir/format.log" >&2; return 1; }
  fi
  setsid nohup java "${java_opts[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" \
    >"$dir/kafka.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/kafka.pid"
  echo "$port" >"$dir/port"
  for i in $(seq 1 120); do
    if grep -q "Kafka Server started" "$dir/kafka.log" 2>/dev/null && port_in_use "$port"; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "services: Kafka exited during start-up:" >&2
      tail -n 20 "$dir/kafka.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "services: Kafka did not start within 60 s:" >&2
  tail -n 20 "$dir/kafka.log" >&2
  return 1
}

kafka_stop() {
  local state=$1 pid i
  pid=$(kafka_pid "$state") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$state/kafka/kafka.pid"; return 0; }
    sleep 0.5
  done
  echo "services: Kafka did not stop in 30 s; killing pid $pid" >&2
  kill -KILL "$pid" 2>/dev/null || true
  # Until the process is gone it still holds its ports and its log dir: an
  # `up` right after would fail to bind them.
  for i in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  rm -f "$state/kafka/kafka.pid"
}

kafka_brokers() {
  echo "127.0.0.1:$(cat "$1/kafka/port")"
}
