#!/usr/bin/env bash
# The local AWS emulator (moto server): installs it into a venv if missing,
# starts it on 127.0.0.1, stops it. Everything reaches it through AWS_ENDPOINT_URL.
#
#   localstack/emulator.sh start     install if needed, start, print the endpoint
#   localstack/emulator.sh stop      stop the server this script started
#   localstack/emulator.sh status    say whether it answers
#   localstack/emulator.sh install   only install
#
# TEL_EMULATOR_PORT (default 5000) and TEL_VENV (default .venv) change the defaults.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${TEL_VENV:-$root/.venv}"
port="${TEL_EMULATOR_PORT:-5000}"
state="$root/.tel"
pidfile="$state/emulator.pid"
logfile="$state/emulator.log"
endpoint="http://127.0.0.1:$port"

answers() {
  python3 - "$endpoint" <<'PY' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1).read()
PY
}

install() {
  # Installed from exactly these requirements before? (A changed file installs again.)
  local wanted
  wanted="$(sha256sum "$root/localstack/requirements.txt" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.tel-requirements" 2>/dev/null)" = "$wanted" ]; then
    return
  fi
  echo "installing moto server into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/localstack/requirements.txt"
  echo "$wanted" >"$venv/.tel-requirements"
}

start() {
  mkdir -p "$state"
  if answers; then
    echo "AWS_ENDPOINT_URL=$endpoint"
    return
  fi
  install
  # Our launcher: moto server plus the DynamoDB transaction fixes in moto_server.py.
  nohup "$venv/bin/python" "$root/localstack/moto_server.py" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 100); do
    if answers; then
      echo "AWS_ENDPOINT_URL=$endpoint"
      return
    fi
    sleep 0.1
  done
  echo "moto server did not start; see $logfile" >&2
  exit 1
}

stop() {
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  install) install ;;
  status) if answers; then echo "up at $endpoint"; else echo "down"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status|install" >&2; exit 2 ;;
esac
