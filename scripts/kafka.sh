#!/usr/bin/env bash
# A real Apache Kafka broker for tests and demos: one KRaft node (broker + controller, no
# ZooKeeper) on loopback ports, from the pinned jars of Maven Central.
#
#   scripts/kafka.sh fetch                  # org.apache.kafka:kafka_2.13 + kafka-tools and their
#                                           # dependencies into .cache/kafka/libs (Maven)
#   scripts/kafka.sh start                  # fetch if needed, format KRaft storage, start the
#                                           # broker; last line BOOTSTRAP=127.0.0.1:PORT
#   scripts/kafka.sh topic NAME [PARTITIONS]  # create a topic (idempotent; default 2 partitions)
#   scripts/kafka.sh stop                   # stop the broker and delete its data
#   scripts/kafka.sh status                 # exit 0 and print BOOTSTRAP=... when it answers
#
# The broker stops by itself after KAFKA_MAX_SECONDS (default 3600) even if nobody calls stop
# (a watchdog started with it), so a CI run or a killed test never leaves it behind.
# Messages up to KAFKA_MAX_MESSAGE_BYTES (default 60 MiB) are accepted, so hostile-input tests
# can publish a 50 MB page. Env: KAFKA_PORT (a free port when unset or taken), KAFKA_HEAP=768m.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/kafka"
RUN="$CACHE/run"
LIBS="$CACHE/libs"
M2="$ROOT/.cache/flink/m2"   # one local Maven repository for the project's Java parts
KAFKA_VERSION=4.1.1          # org.apache.kafka:kafka_2.13 (KRaft only since 4.0)
MAX_SECONDS="${KAFKA_MAX_SECONDS:-3600}"
MAX_MESSAGE_BYTES="${KAFKA_MAX_MESSAGE_BYTES:-62914560}"
HEAP="${KAFKA_HEAP:-768m}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
MVN=(mvn -B -q "-Dmaven.repo.local=$M2")

log() { echo "[kafka.sh] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
port_open() { "$PY" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$1))!=0)"; }

fetch() {
  command -v java >/dev/null || die "java not found"
  command -v mvn >/dev/null || die "mvn not found"
  [[ -f "$LIBS/.version" && "$(cat "$LIBS/.version")" == "$KAFKA_VERSION" ]] && { log "cached: $LIBS"; return 0; }
  local t0=$SECONDS dir="$CACHE/pom"
  mkdir -p "$dir"
  cat > "$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
 <groupId>local.kafka</groupId><artifactId>kafka-broker</artifactId><version>$KAFKA_VERSION</version>
 <packaging>pom</packaging>
 <dependencies>
  <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
  <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
  <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
  <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
 </dependencies>
</project>
EOF
  rm -rf "$LIBS.tmp"
  (cd "$dir" && "${MVN[@]}" dependency:copy-dependencies -DincludeScope=runtime \
     "-DoutputDirectory=$LIBS.tmp") >&2 || die "fetching kafka_2.13:$KAFKA_VERSION from Maven Central failed"
  echo "$KAFKA_VERSION" > "$LIBS.tmp/.version"
  rm -rf "$LIBS" && mv "$LIBS.tmp" "$LIBS"
  log "fetched Kafka $KAFKA_VERSION ($(ls "$LIBS" | wc -l) jars) in $((SECONDS - t0))s"
}

kafka_java() {  # main class + args, on the fetched classpath
  java "-Xmx$HEAP" -Djava.awt.headless=true "-Dlog4j2.configurationFile=$RUN/log4j2.properties" \
    -cp "$LIBS/*" "$@"
}

pid_alive() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

write_conf() {
  mkdir -p "$RUN/data" "$RUN/logs"
  cat > "$RUN/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$RUN/data
num.partitions=2
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes=$MAX_MESSAGE_BYTES
replica.fetch.max.bytes=$MAX_MESSAGE_BYTES
socket.request.max.bytes=$((MAX_MESSAGE_BYTES + 1048576))
EOF
  cat > "$RUN/log4j2.properties" <<EOF
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = File
appender.file.type = File
appender.file.name = File
appender.file.fileName = $RUN/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
EOF
}

start() {
  if status >/dev/null 2>&1; then log "already running"; status; return 0; fi
  stop >/dev/null 2>&1 || true
  fetch
  PORT="${KAFKA_PORT:-}"
  [[ -n "$PORT" ]] && port_open "$PORT" && PORT=""
  PORT="${PORT:-$(free_port)}" CONTROLLER_PORT=$(free_port)
  rm -rf "$RUN" && write_conf
  local t0=$SECONDS cluster
  cluster=$(kafka_java kafka.tools.StorageTool random-uuid | tail -1)
  kafka_java kafka.tools.StorageTool format -t "$cluster" -c "$RUN/server.properties" \
    > "$RUN/logs/format.out" 2>&1 || { cat "$RUN/logs/format.out" >&2; die "formatting KRaft storage failed"; }
  # New session (setsid), so stop can end the whole group; cwd is the run folder.
  (cd "$RUN" && exec setsid java "-Xmx$HEAP" "-Xms$HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
     "-Dlog4j2.configurationFile=$RUN/log4j2.properties" -cp "$LIBS/*" \
     kafka.Kafka "$RUN/server.properties" > "$RUN/logs/kafka.out" 2>&1 < /dev/null 9>&-) &
  echo $! > "$RUN/broker.pid"
  # The watchdog: stops this broker (this pid only) after MAX_SECONDS.
  (exec setsid bash -c "sleep $MAX_SECONDS; [[ -f '$RUN/broker.pid' && \$(cat '$RUN/broker.pid') == $(cat "$RUN/broker.pid") ]] \
     && exec '$ROOT/scripts/kafka.sh' stop" > /dev/null 2>&1 < /dev/null 9>&-) &
  echo $! > "$RUN/watchdog.pid"
  printf 'BOOTSTRAP=127.0.0.1:%s\nPORT=%s\n' "$PORT" "$PORT" > "$RUN/ports.env"
  local limit=90
  until port_open "$PORT" && grep -q "Kafka Server started" "$RUN/logs/server.log" 2>/dev/null; do
    pid_alive broker || { tail -30 "$RUN/logs/kafka.out" >&2; die "broker exited; logs in $RUN/logs"; }
    (( SECONDS - t0 >= limit )) && { stop; die "broker not up after ${limit}s; logs in $RUN/logs"; }
    sleep 1
  done
  log "Kafka $KAFKA_VERSION (KRaft) up in $((SECONDS - t0))s on 127.0.0.1:$PORT; stops by itself in ${MAX_SECONDS}s"
  echo "BOOTSTRAP=127.0.0.1:$PORT"
}

topic() {  # $1 = name, $2 = partitions
  [[ -n "${1:-}" ]] || die "topic needs a name"
  status >/dev/null || die "not running (scripts/kafka.sh start)"
  # shellcheck disable=SC1091
  . "$RUN/ports.env"
  kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --create \
    --if-not-exists --topic "$1" --partitions "${2:-2}" --replication-factor 1 \
    --config "max.message.bytes=$MAX_MESSAGE_BYTES" >&2
  log "topic $1 (${2:-2} partitions)"
}

stop() {
  local name pid t0
  for name in watchdog broker; do
    [[ -f "$RUN/$name.pid" ]] || continue
    pid=$(cat "$RUN/$name.pid")
    rm -f "$RUN/$name.pid"
    [[ "$pid" == "$$" || "$pid" == "$PPID" ]] && continue  # the watchdog stopping us
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      t0=$SECONDS
      while kill -0 "$pid" 2>/dev/null && (( SECONDS - t0 < 20 )); do sleep 0.5; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      [[ $name == broker ]] && log "stopped the broker (pid $pid)"
    fi
  done
  rm -rf "$RUN"
}

status() {
  [[ -f "$RUN/ports.env" ]] || { echo "not running"; return 1; }
  # shellcheck disable=SC1091
  . "$RUN/ports.env"
  pid_alive broker || { echo "broker: DOWN"; return 1; }
  port_open "$PORT" || { echo "broker: not answering on $BOOTSTRAP"; return 1; }
  echo "BOOTSTRAP=$BOOTSTRAP"
}

with_lock() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock -w 600 9 || die "timed out waiting for $CACHE/.lock"
}

case "${1:-}" in
  fetch) with_lock; fetch ;;
  start) with_lock; start ;;
  topic) shift; topic "$@" ;;
  stop) with_lock; stop ;;
  status) status ;;
  *) echo "usage: $0 {fetch|start|topic NAME [PARTITIONS]|stop|status}" >&2; exit 64 ;;
esac
