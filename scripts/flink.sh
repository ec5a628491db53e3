#!/usr/bin/env bash
# Real Apache Flink for Beam: fetch, start, stop and inspect a standalone session
# cluster (JobManager + TaskManager JVMs) plus Beam's Flink job server.
#
#   scripts/flink.sh fetch   # Flink dist (PyPI apache-flink-libraries), job-server jar (Maven Central),
#                            # Beam Python boot program (Go module proxy) into .cache/flink/
#   scripts/flink.sh start   # fetch if needed, start everything; last line JOB_ENDPOINT=localhost:PORT
#   scripts/flink.sh stop    # stop everything this script started
#   scripts/flink.sh status  # exit 0 and print JOB_ENDPOINT=... when all processes are up
#   scripts/flink.sh args [loopback|process]   # Beam pipeline args for the running job server
#   scripts/flink.sh expansion  # HOST:PORT of the Java expansion service for Beam's Kafka connector
#   scripts/flink.sh acquire PID / release PID  # shared use (tests): start unless running and
#                            # hold a lease for process PID; the last live lease's release stops it
# A plain `start` holds a lease that only `stop` drops. fetch/start/stop/acquire/release are
# serialized with flock, so concurrent test sessions share one cluster safely.
#
# Job server: the official shaded jar org.apache.beam:beam-runners-flink-<minor>-job-server:<beam>
# is tried first. Maven Central (as reachable here) does not serve it for any Beam version, so
# the script assembles the same jar (maven-shade-plugin, FlinkJobServerDriver main class) from
# the served, non-shaded org.apache.beam:beam-runners-flink-1.19:2.62.0 and its dependencies.
# (Central lists beam-runners-flink-1.19 only at 2.62.0 and 2.70.0, and no beam-runners-flink-1.20;
# 2.70.0 needs beam-runners-java-job-service:2.70.0, which is not served: that is listed up to
# 2.65.0.) The cluster then runs the matching Flink minor from PyPI's apache-flink-libraries.
# Beam 2.62 (Java runner) with the 2.77 Python SDK: the portable protocols are compatible.
#
# Env: FLINK_MODE=session|embedded (embedded = job server's in-process Flink, --flink-master=[local])
#      FLINK_JOBSERVER=auto|official|assembled  FLINK_TM_MEMORY=4608m  FLINK_SLOTS=4 (default parallelism stays 2)
#      FLINK_REST_PORT=8081 (a free port is chosen when it is taken)  PYTHON=<python for workers>
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/flink"
RUN="$CACHE/run"
M2="$CACHE/m2"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
MODE="${FLINK_MODE:-session}"
SLOTS="${FLINK_SLOTS:-4}"
TM_MEMORY="${FLINK_TM_MEMORY:-4608m}"
JM_MEMORY="${FLINK_JM_MEMORY:-1024m}"
BEAM_PY_VERSION="$("$PY" -c 'import importlib.metadata as m; print(m.version("apache-beam"))' 2>/dev/null || echo 2.77.0)"
# Official artifact wanted by the issue (Flink 1.20 pairs with apache-flink-libraries 1.20.5).
OFFICIAL_FLINK_MINOR=1.20 OFFICIAL_FLINK_VERSION=1.20.5
# Assembled fallback: newest fully served beam-runners-flink artifact and its Flink minor.
ASSEMBLED_BEAM_VERSION=2.62.0 ASSEMBLED_FLINK_MINOR=1.19 ASSEMBLED_FLINK_VERSION=1.19.3
# Beam's Kafka connector (KafkaIO) shaded into the assembled job server, so that its expansion
# service (`expansion` below) expands ReadFromKafka and Flink's JVMs run it. kafka-clients is a
# "provided" dependency of beam-sdks-java-io-kafka: pinned here. The Confluent schema-registry
# modules it lists (io.confluent:*) are not served by Maven Central and are left out (KafkaIO
# needs them only for Confluent-Avro deserializers). The Java SDK harness runs those transforms
# inside the TaskManager (EMBEDDED environment); jamm is a "provided" dependency of it.
# Changing these rebuilds the jar. (The official job-server jar, were Central to serve it,
# has no KafkaIO: FLINK_JOBSERVER=assembled keeps the Kafka stream working then.)
KAFKA_IO_VERSION=$ASSEMBLED_BEAM_VERSION KAFKA_CLIENTS_VERSION=3.9.1 JAMM_VERSION=0.4.0
JOBSERVER_EXTRAS="beam-sdks-java-io-kafka-$KAFKA_IO_VERSION+kafka-clients-$KAFKA_CLIENTS_VERSION+harness+jamm-$JAMM_VERSION"
MVN=(mvn -B -q "-Dmaven.repo.local=$M2")

log() { echo "[flink.sh] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

java17_opts() {  # the --add-opens/--add-exports Flink's own scripts pass on Java 17
  local o="--add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED"
  o+=" --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED"
  local p
  for p in java.lang java.net java.io java.nio sun.nio.ch java.lang.reflect java.text java.time \
           java.util java.util.concurrent java.util.concurrent.atomic java.util.concurrent.locks; do
    o+=" --add-opens=java.base/$p=ALL-UNNAMED"
  done
  echo "$o"
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("localhost",0)); print(s.getsockname()[1]); s.close()'; }
port_free() { "$PY" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('localhost',$1))==0)"; }

# ---------------------------------------------------------------- fetch
fetch_official() {  # $1 = output jar; returns non-zero (with Maven's error logged) when not served
  local art="org.apache.beam:beam-runners-flink-$OFFICIAL_FLINK_MINOR-job-server:$BEAM_PY_VERSION:jar"
  local out
  if out=$("${MVN[@]}" dependency:copy "-Dartifact=$art" "-DoutputDirectory=$CACHE/jobserver" 2>&1); then
    mv "$CACHE/jobserver/beam-runners-flink-$OFFICIAL_FLINK_MINOR-job-server-$BEAM_PY_VERSION.jar" "$1"
    return 0
  fi
  log "official job server $art not served by Maven Central:"
  echo "$out" | grep -m1 -E 'Could not find|not found|Unable to find|Failed to execute' >&2 || echo "$out" | tail -3 >&2
  return 1
}

fetch_assembled() {  # $1 = output jar: shade beam-runners-flink-<minor> + deps like Beam's job-server build
  local dir="$CACHE/jobserver/assembled"
  mkdir -p "$dir"
  cat > "$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
 <groupId>local.beam</groupId><artifactId>beam-runners-flink-$ASSEMBLED_FLINK_MINOR-job-server</artifactId>
 <version>$ASSEMBLED_BEAM_VERSION</version><packaging>jar</packaging>
 <properties><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
 <dependencies>
  <dependency><groupId>org.apache.beam</groupId><artifactId>beam-runners-flink-$ASSEMBLED_FLINK_MINOR</artifactId><version>$ASSEMBLED_BEAM_VERSION</version></dependency>
  <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-jdk14</artifactId><version>1.7.30</version></dependency>
  <dependency><groupId>org.apache.beam</groupId><artifactId>beam-sdks-java-io-kafka</artifactId><version>$KAFKA_IO_VERSION</version>
   <exclusions><exclusion><groupId>io.confluent</groupId><artifactId>*</artifactId></exclusion></exclusions></dependency>
  <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId><version>$KAFKA_CLIENTS_VERSION</version></dependency>
  <dependency><groupId>org.apache.beam</groupId><artifactId>beam-sdks-java-harness</artifactId><version>$ASSEMBLED_BEAM_VERSION</version></dependency>
  <dependency><groupId>com.github.jbellis</groupId><artifactId>jamm</artifactId><version>$JAMM_VERSION</version></dependency>
 </dependencies>
 <build><plugins><plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-shade-plugin</artifactId><version>3.5.1</version>
  <executions><execution><phase>package</phase><goals><goal>shade</goal></goals><configuration>
   <createDependencyReducedPom>false</createDependencyReducedPom>
   <filters><filter><artifact>*:*</artifact><excludes>
    <exclude>META-INF/*.SF</exclude><exclude>META-INF/*.DSA</exclude><exclude>META-INF/*.RSA</exclude></excludes></filter></filters>
   <transformers>
    <transformer implementation="org.apache.maven.plugins.shade.resource.ServicesResourceTransformer"/>
    <transformer implementation="org.apache.maven.plugins.shade.resource.ManifestResourceTransformer">
     <mainClass>org.apache.beam.runners.flink.FlinkJobServerDriver</mainClass></transformer>
   </transformers>
  </configuration></execution></executions></plugin></plugins></build>
</project>
EOF
  (cd "$dir" && "${MVN[@]}" package) >&2 || die "assembling the job server from beam-runners-flink-$ASSEMBLED_FLINK_MINOR:$ASSEMBLED_BEAM_VERSION failed"
  mv "$dir/target/beam-runners-flink-$ASSEMBLED_FLINK_MINOR-job-server-$ASSEMBLED_BEAM_VERSION.jar" "$1"
  rm -rf "$dir/target"
}

fetch_flink_dist() {  # $1 = flink version; unpacks deps/{lib,bin} of apache-flink-libraries into dist-<v>/
  local v="$1" dist="$CACHE/dist-$1"
  [[ -f "$dist/lib/flink-dist-$v.jar" ]] && return 0
  local dl="$CACHE/download"
  mkdir -p "$dl"
  "$PY" -m pip download --quiet --no-deps "apache-flink-libraries==$v" -d "$dl" >&2 \
    || die "pip download apache-flink-libraries==$v failed"
  local sdist
  sdist=$(ls "$dl"/apache[-_]flink[-_]libraries-"$v".tar.gz)
  rm -rf "$dist.tmp" && mkdir -p "$dist.tmp"
  tar xzf "$sdist" -C "$dist.tmp" --strip-components=2 --wildcards '*/deps/lib/*' '*/deps/bin/*'
  rm -rf "$dist" && mv "$dist.tmp" "$dist" && rm -f "$sdist"
}

fetch() {
  command -v java >/dev/null || die "java not found"
  command -v mvn >/dev/null || die "mvn not found"
  mkdir -p "$CACHE/jobserver"
  local start=$SECONDS choice="${FLINK_JOBSERVER:-auto}" jar
  if [[ -f "$CACHE/jobserver.env" ]]; then
    # shellcheck disable=SC1091
    . "$CACHE/jobserver.env"
    if [[ -f "$JOBSERVER_JAR" && ( "$choice" == auto || "$choice" == "$JOBSERVER_KIND" )
          && "${JOBSERVER_BUILT_WITH:-}" == "$JOBSERVER_EXTRAS" ]]; then
      fetch_flink_dist "$FLINK_VERSION"; fetch_boot; log "cached: $JOBSERVER_JAR"; return 0
    fi
  fi
  local kind=assembled flink_version=$ASSEMBLED_FLINK_VERSION
  jar="$CACHE/jobserver/beam-runners-flink-$OFFICIAL_FLINK_MINOR-job-server-$BEAM_PY_VERSION.jar"
  if [[ "$choice" != assembled ]] && fetch_official "$jar"; then
    kind=official flink_version=$OFFICIAL_FLINK_VERSION
  else
    [[ "$choice" == official ]] && die "FLINK_JOBSERVER=official but the jar is not served"
    jar="$CACHE/jobserver/beam-runners-flink-$ASSEMBLED_FLINK_MINOR-job-server-$ASSEMBLED_BEAM_VERSION.jar"
    log "assembling $(basename "$jar") from beam-runners-flink-$ASSEMBLED_FLINK_MINOR:$ASSEMBLED_BEAM_VERSION"
    fetch_assembled "$jar"
  fi
  fetch_flink_dist "$flink_version"
  fetch_boot
  printf 'JOBSERVER_KIND=%s\nJOBSERVER_JAR=%q\nFLINK_VERSION=%s\nJOBSERVER_BUILT_WITH=%s\n' \
    "$kind" "$jar" "$flink_version" "$JOBSERVER_EXTRAS" > "$CACHE/jobserver.env"
  log "fetched ($kind job server, Flink $flink_version) in $((SECONDS - start))s"
}

fetch_boot() {  # Beam's Python boot program + a wrapper pinning the worker's python and dirs
  local boot
  boot=$("$ROOT/scripts/build_prism.sh" --boot | tail -1)
  mkdir -p "$CACHE/boot/bin"
  # Workers run in their own venv that sees the project venv's packages through a .pth file:
  # what boot pip-installs for a job (--setup_file, --requirements_file) stays out of .venv.
  local venv="$CACHE/boot/venv"
  [[ -x "$venv/bin/python" ]] || "$PY" -m venv --without-pip "$venv" >&2
  local purelib='import sysconfig; print(sysconfig.get_paths()["purelib"])'
  "$PY" -c "$purelib" > "$("$venv/bin/python" -c "$purelib")/_project_venv.pth"
  # boot installs staged packages with --no-build-isolation: setuptools < 70.1 needs `wheel`.
  "$venv/bin/python" -c 'import setuptools.command.bdist_wheel' 2>/dev/null \
    || "$venv/bin/python" -c 'import wheel' 2>/dev/null \
    || "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "wheel==0.45.1" >&2
  # boot runs "python" from PATH: a wrapper (not a symlink, which would lose the venv) pins it.
  rm -f "$CACHE/boot/bin/python" "$CACHE/boot/beam_boot.sh"  # never write through an old symlink
  printf '#!/bin/sh\nexec %q "$@"\n' "$venv/bin/python" > "$CACHE/boot/bin/python"
  chmod +x "$CACHE/boot/bin/python"
  cat > "$CACHE/boot/beam_boot.sh" <<EOF
#!/usr/bin/env bash
# Started by the Flink TaskManager for --environment_type=PROCESS; runs Beam's boot in this env.
export PATH="$CACHE/boot/bin:\$PATH" RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT=1
mkdir -p "$CACHE/boot/work" "$RUN/logs"
exec "$boot" --semi_persist_dir="$CACHE/boot/work" "\$@" >> "$RUN/logs/sdk-workers.log" 2>&1
EOF
  chmod +x "$CACHE/boot/beam_boot.sh"
}

# ---------------------------------------------------------------- processes
pid_alive() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

launch() {  # $1 = name; rest = command. New session so stop can end its children (SDK workers) too.
  local name="$1"; shift
  # cwd is the run folder, so PROCESS workers cannot import the repo's code by accident.
  (cd "$RUN" && exec setsid "$@" > "$RUN/logs/$name.out" 2>&1 < /dev/null 9>&-) &
  echo $! > "$RUN/$name.pid"
}

wait_for() {  # $1 = seconds, $2 = description, rest = test command
  local limit="$1" what="$2"; shift 2
  local t0=$SECONDS
  until "$@" >/dev/null 2>&1; do
    (( SECONDS - t0 >= limit )) && { log "timed out after ${limit}s waiting for $what"; return 1; }
    sleep 1
  done
  log "$what ready after $((SECONDS - t0))s"
}

write_conf() {
  mkdir -p "$RUN/conf" "$RUN/logs" "$RUN/tmp"
  cat > "$RUN/conf/config.yaml" <<EOF
jobmanager.rpc.address: localhost
jobmanager.rpc.port: $RPC_PORT
jobmanager.bind-host: localhost
jobmanager.memory.process.size: $JM_MEMORY
taskmanager.host: localhost
taskmanager.bind-host: localhost
taskmanager.memory.process.size: $TM_MEMORY
taskmanager.numberOfTaskSlots: $SLOTS
# Beam's batch translation runs every stage as its own operator: a real pipeline with
# ~8 output tables needs far more shuffle buffers than Flink's default 10% / 64 MiB minimum.
taskmanager.memory.network.fraction: 0.2
taskmanager.memory.network.min: 512m
taskmanager.memory.network.max: 1g
# Each blocking (sort-shuffle) result partition reserves this many 32 KiB buffers (default 512);
# Beam's plans have dozens of such partitions in flight at once.
taskmanager.network.sort-shuffle.min-buffers: 64
# Direct memory beyond Flink's own: Beam's Fn API (gRPC/netty) buffers whole elements off-heap,
# and a Kafka stream can carry a 50 MB page (it becomes an errors row, TooLarge).
taskmanager.memory.task.off-heap.size: 512m
# Every job loads the job jar's classes (KafkaIO, kafka-clients, the embedded Java SDK harness)
# in its own class loader, and not all of them are unloaded when it ends: a test session runs
# a dozen jobs on one TaskManager (the default 256 MiB ran out after about ten).
taskmanager.memory.jvm-metaspace.size: 768m
taskmanager.memory.managed.fraction: 0.3
parallelism.default: 2
rest.address: localhost
rest.bind-address: localhost
rest.port: $REST_PORT
blob.server.port: $BLOB_PORT
io.tmp.dirs: $RUN/tmp
web.tmpdir: $RUN/tmp
EOF
  cat > "$RUN/conf/log4j.properties" <<'EOF'
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
appender.main.name = MainAppender
appender.main.type = File
appender.main.append = false
appender.main.fileName = ${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
EOF
}

resource_params() {  # $1 = GET_JM_RESOURCE_PARAMS|GET_TM_RESOURCE_PARAMS -> "jvm args" line then "-D dynamic" line
  java -cp "$DIST/bin/bash-java-utils.jar:$FLINK_CP" org.apache.flink.runtime.util.bash.BashJavaUtils \
    "$1" --configDir "$RUN/conf" 2>/dev/null | sed -n 's/^BASH_JAVA_UTILS_EXEC_RESULT://p'
}

rest_ready() { curl -sf "http://localhost:$REST_PORT/overview" | grep -q "\"taskmanagers\":[1-9]"; }
jobserver_ready() { grep -q "JobService started" "$RUN/logs/jobserver.out" && ! port_free "$JOB_PORT"; }
expansion_ready() { ! port_free "$KAFKA_EXPANSION_PORT"; }

start() {  # $1 = lease name (default: manual)
  if status >/dev/null 2>&1; then
    log "already running"; mkdir -p "$RUN/leases"; touch "$RUN/leases/${1:-manual}"; status; return 0
  fi
  stop >/dev/null 2>&1 || true
  fetch
  # shellcheck disable=SC1091
  . "$CACHE/jobserver.env"
  DIST="$CACHE/dist-$FLINK_VERSION"
  FLINK_CP="$(ls "$DIST"/lib/*.jar | grep -v '/flink-dist-' | tr '\n' ':')$DIST/lib/flink-dist-$FLINK_VERSION.jar"
  REST_PORT="${FLINK_REST_PORT:-8081}"
  port_free "$REST_PORT" || REST_PORT=$(free_port)
  RPC_PORT=$(free_port) BLOB_PORT=$(free_port)
  JOB_PORT=$(free_port) ARTIFACT_PORT=$(free_port) EXPANSION_PORT=$(free_port)
  KAFKA_EXPANSION_PORT=$(free_port)
  rm -rf "$RUN" && write_conf
  local t0=$SECONDS j17 master
  j17=$(java17_opts)
  if [[ "$MODE" == session ]]; then
    local jm tm
    mapfile -t jm < <(resource_params GET_JM_RESOURCE_PARAMS)
    mapfile -t tm < <(resource_params GET_TM_RESOURCE_PARAMS)
    [[ ${#jm[@]} -eq 2 && ${#tm[@]} -eq 2 ]] || die "BashJavaUtils could not size the JVMs (see $RUN/conf)"
    # shellcheck disable=SC2086
    launch jobmanager java ${jm[0]} $j17 "-Dlog.file=$RUN/logs/jobmanager.log" \
      "-Dlog4j.configurationFile=file:$RUN/conf/log4j.properties" -cp "$FLINK_CP" \
      org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint \
      --configDir "$RUN/conf" --executionMode cluster ${jm[1]}
    # shellcheck disable=SC2086
    launch taskmanager java ${tm[0]} $j17 "-Dlog.file=$RUN/logs/taskmanager.log" \
      "-Dlog4j.configurationFile=file:$RUN/conf/log4j.properties" -cp "$FLINK_CP" \
      org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir "$RUN/conf" ${tm[1]}
    wait_for 120 "Flink session cluster (REST :$REST_PORT, 1 TaskManager)" rest_ready \
      || { stop; die "cluster did not come up; logs in $RUN/logs"; }
    master="localhost:$REST_PORT"
  else
    master="[local]"
  fi
  # shellcheck disable=SC2086
  launch jobserver java $j17 -jar "$JOBSERVER_JAR" "--flink-master=$master" \
    --job-host=localhost "--artifacts-dir=$RUN/artifacts" "--job-port=$JOB_PORT" "--artifact-port=$ARTIFACT_PORT" "--expansion-port=$EXPANSION_PORT"
  wait_for 90 "Beam job server (:$JOB_PORT)" jobserver_ready || { stop; die "job server did not start; see $RUN/logs"; }
  # Java expansion service for cross-language transforms (Beam's Kafka connector), from the
  # same jar. Its transforms run in the TaskManager's JVM (EMBEDDED Java environment: the
  # jar, shipped with each job, holds KafkaIO and the Java SDK harness), and KafkaIO reads
  # through the primitive Read that Flink's runner translates natively (use_deprecated_read).
  launch expansion java -Xmx512m $j17 -cp "$JOBSERVER_JAR" org.apache.beam.sdk.expansion.service.ExpansionService \
    "$KAFKA_EXPANSION_PORT" --defaultEnvironmentType=EMBEDDED --experiments=use_deprecated_read
  wait_for 90 "Java expansion service (:$KAFKA_EXPANSION_PORT)" expansion_ready \
    || { stop; die "expansion service did not start; see $RUN/logs/expansion.out"; }
  cat > "$RUN/ports.env" <<EOF
MODE=$MODE
JOBSERVER_KIND=$JOBSERVER_KIND
FLINK_VERSION=$FLINK_VERSION
FLINK_MASTER=$master
REST_PORT=$REST_PORT
JOB_PORT=$JOB_PORT
ARTIFACT_PORT=$ARTIFACT_PORT
EXPANSION_PORT=$EXPANSION_PORT
KAFKA_EXPANSION_PORT=$KAFKA_EXPANSION_PORT
EOF
  mkdir -p "$RUN/leases" && touch "$RUN/leases/${1:-manual}"
  log "started in $((SECONDS - t0))s (mode=$MODE, Flink $FLINK_VERSION, $JOBSERVER_KIND job server)"
  echo "JOB_ENDPOINT=localhost:$JOB_PORT"
}

stop() {
  local name pid t0
  for name in expansion jobserver taskmanager jobmanager; do
    [[ -f "$RUN/$name.pid" ]] || continue
    pid=$(cat "$RUN/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      t0=$SECONDS
      while kill -0 "$pid" 2>/dev/null && (( SECONDS - t0 < 15 )); do sleep 0.5; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      log "stopped $name (pid $pid)"
    fi
    rm -f "$RUN/$name.pid"
  done
  rm -f "$RUN/ports.env"
  rm -rf "$RUN/leases"
}

release() {  # $1 = holder pid: drop its lease and dead holders' leases; stop when none is left
  [[ "${1:-}" =~ ^[0-9]+$ ]] || die "release needs a holder pid"
  rm -f "$RUN/leases/$1"
  local lease
  for lease in "$RUN"/leases/*; do
    [[ -e "$lease" ]] || continue
    lease=$(basename "$lease")
    [[ "$lease" =~ ^[0-9]+$ ]] && ! kill -0 "$lease" 2>/dev/null && rm -f "$RUN/leases/$lease"
  done
  if compgen -G "$RUN/leases/*" >/dev/null; then
    log "still in use by: $(ls "$RUN/leases" | tr '\n' ' ')"
  else
    stop
  fi
}

with_lock() {  # serialize state-changing commands across processes
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock -w 1200 9 || die "timed out waiting for $CACHE/.lock"
}

status() {
  [[ -f "$RUN/ports.env" ]] || { echo "not running"; return 1; }
  # shellcheck disable=SC1091
  . "$RUN/ports.env"
  local ok=0 name names=(jobserver expansion)
  [[ "$MODE" == session ]] && names+=(jobmanager taskmanager)
  for name in "${names[@]}"; do
    if pid_alive "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"; else echo "$name: DOWN"; ok=1; fi
  done
  if [[ "$MODE" == session ]]; then
    curl -sf "http://localhost:$REST_PORT/overview" || { echo "REST :$REST_PORT not answering"; ok=1; }
    echo
  fi
  [[ $ok == 0 ]] && echo "JOB_ENDPOINT=localhost:$JOB_PORT"
  return $ok
}

args() {  # Beam pipeline options for the running job server
  status >/dev/null || die "not running (scripts/flink.sh start)"
  # shellcheck disable=SC1091
  . "$RUN/ports.env"
  echo "--runner=PortableRunner"
  echo "--job_endpoint=localhost:$JOB_PORT"
  case "${1:-loopback}" in
    loopback) echo "--environment_type=LOOPBACK" ;;
    process)  echo "--environment_type=PROCESS"
              echo "--environment_config={\"command\":\"$CACHE/boot/beam_boot.sh\"}" ;;
    *) die "args: loopback|process" ;;
  esac
}

expansion() {
  status >/dev/null || die "not running (scripts/flink.sh start)"
  # shellcheck disable=SC1091
  . "$RUN/ports.env"
  echo "localhost:$KAFKA_EXPANSION_PORT"
}

case "${1:-}" in
  fetch) with_lock; fetch ;;
  start) with_lock; start ;;
  stop) with_lock; stop ;;
  acquire) [[ "${2:-}" =~ ^[0-9]+$ ]] || die "acquire needs a holder pid"; with_lock; start "$2" ;;
  release) with_lock; release "${2:-}" ;;
  status) status ;;
  args) shift; args "$@" ;;
  expansion) expansion ;;
  *) echo "usage: $0 {fetch|start|stop|status|args [loopback|process]|expansion|acquire PID|release PID}" >&2
     exit 64 ;;
esac
