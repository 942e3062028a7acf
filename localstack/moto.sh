# moto server, the light default engine: sourced by localstack/emulator.sh
# (run that). TEL_EMULATOR_PORT (5000) and TEL_VENV (.venv) change the defaults.

name="moto server"
venv="${TEL_VENV:-$root/.venv}"
port="${TEL_EMULATOR_PORT:-5000}"
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
  wanted="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.tel-requirements" 2>/dev/null)" = "$wanted" ]; then
    return
  fi
  echo "installing moto server into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$wanted" >"$venv/.tel-requirements"
}

launch() {
  # Our launcher: moto server plus the DynamoDB transaction fixes in moto_server.py.
  nohup "$venv/bin/python" "$here/moto_server.py" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
}

stop() {
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}
