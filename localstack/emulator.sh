#!/usr/bin/env bash
# The local AWS emulator: installs it if missing, starts it on 127.0.0.1,
# stops it. Everything reaches it through AWS_ENDPOINT_URL. TEL_ENGINE picks
# the engine: moto (the default; localstack/moto.sh) or localstack
# (LocalStack in host mode, no Docker; localstack/localstack-host.sh).
#
#   localstack/emulator.sh start     install if needed, start, print the endpoint
#   localstack/emulator.sh stop      stop the emulator this script started
#   localstack/emulator.sh status    say whether it answers
#   localstack/emulator.sh install   only install
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
state="$root/.tel"

# Each engine defines: name, endpoint, logfile, pidfile, answers, install,
# launch (start it in the background, writing pidfile) and stop.
case "${TEL_ENGINE:-moto}" in
  moto) source "$here/moto.sh" ;;
  localstack) source "$here/localstack-host.sh" ;;
  *) echo "TEL_ENGINE must be moto or localstack, not ${TEL_ENGINE}" >&2; exit 2 ;;
esac

start() {
  mkdir -p "$state"
  if answers; then
    echo "AWS_ENDPOINT_URL=$endpoint"
    return
  fi
  install
  launch
  for _ in $(seq 1 300); do
    if answers; then
      echo "AWS_ENDPOINT_URL=$endpoint"
      return
    fi
    sleep 0.1
  done
  echo "$name did not start; see $logfile" >&2
  exit 1
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  install) install ;;
  status) if answers; then echo "up at $endpoint"; else echo "down"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status|install" >&2; exit 2 ;;
esac
