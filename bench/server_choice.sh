#!/usr/bin/env bash
# Measures the HTTP servers considered for `laurels serve` on this machine, in one run:
# the same Laurels app, the same worker count, wrk on loopback for a fixed time.
#   bash bench/server_choice.sh            (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
WORKERS=${WORKERS:-2}
DURATION=${DURATION:-10s}
PORT=${PORT:-8191}
export LAURELS_HOME=$(mktemp -d)
export DJANGO_SETTINGS_MODULE=laurels.settings
"$VENV/bin/laurels" manage migrate -v0
"$VENV/bin/laurels" manage collectstatic --noinput -v0

start() {
  case "$1" in
    granian) exec "$VENV/bin/granian" --interface wsgi --workers "$WORKERS" --blocking-threads "${THREADS:-4}" \
               --port "$PORT" --no-ws --log-level warning laurels.wsgi:application ;;
    gunicorn) exec "$VENV/bin/gunicorn" -k gthread --threads "${THREADS:-4}" -w "$WORKERS" -b "127.0.0.1:$PORT" \
               --log-level warning laurels.wsgi:application ;;
    uvicorn) exec "$VENV/bin/uvicorn" --workers "$WORKERS" --port "$PORT" --log-level warning \
               --no-access-log laurels.asgi:application ;;
  esac
}

printf "%-9s %-22s %10s %10s\n" server path req/s p99
for server in ${SERVERS:-granian gunicorn uvicorn}; do
  PORT=$((PORT + 1))
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
    echo "port $PORT is already in use; stop what listens there first" >&2; exit 1
  fi
  start "$server" > /dev/null 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
  for path in /healthz /v2/users/self; do
    wrk -t2 -c32 -d2s --latency "http://127.0.0.1:$PORT$path" > /dev/null  # warm-up
    out=$(wrk -t2 -c32 -d"$DURATION" --latency "http://127.0.0.1:$PORT$path")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    printf "%-9s %-22s %10s %10s\n" "$server" "$path" "$rps" "$p99"
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
rm -rf "$LAURELS_HOME"
