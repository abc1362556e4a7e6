#!/usr/bin/env bash
# Starts the demo shop: store-fe -> catalog -> stock (x3), store-fe -> auth.
# Prints one `name pid` line per service on stdout, then waits. SIGTERM or
# SIGINT stops all four; so does any one of them dying.
#
# Ports: STORE_FE_PORT (8080) CATALOG_PORT (8081) STOCK_PORT (8082) AUTH_PORT (8083).
# Service output goes to SHOP_LOG_DIR (default: a fresh temp dir, named on stderr).
# PYTHON picks the interpreter (default /usr/bin/python3, where Debian's
# python3-flask and python3-requests live).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
log_dir=${SHOP_LOG_DIR:-$(mktemp -d -t weft-shop.XXXXXX)}
mkdir -p "$log_dir"

export STORE_FE_PORT=${STORE_FE_PORT:-8080}
export CATALOG_PORT=${CATALOG_PORT:-8081}
export STOCK_PORT=${STOCK_PORT:-8082}
export AUTH_PORT=${AUTH_PORT:-8083}
host=${SHOP_HOST:-127.0.0.1}
export CATALOG_URL=${CATALOG_URL:-http://$host:$CATALOG_PORT}
export STOCK_URL=${STOCK_URL:-http://$host:$STOCK_PORT}
export AUTH_URL=${AUTH_URL:-http://$host:$AUTH_PORT}

if ! "$python" -c 'import flask, requests' 2>/dev/null; then
  echo "run.sh: $python lacks flask or requests; run scripts/setup (python3-flask python3-requests)" >&2
  exit 1
fi

pids=()
stop_all() {
  trap - TERM INT EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap 'stop_all; exit 0' TERM INT
trap stop_all EXIT

echo "run.sh: service logs in $log_dir" >&2
# Upstream first, so the front end's first request finds its peers.
for service in stock auth catalog store-fe; do
  # A plain command in the background: $! is the python process itself,
  # the pid weft must trace.
  "$python" "$here/$service.py" >"$log_dir/$service.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  # Print the pid once it runs the script, not while it is still the forked
  # shell: a tracer that reads /proc/PID at once must see the service.
  for _ in $(seq 1 100); do
    grep -qF "$service.py" "/proc/$pid/cmdline" 2>/dev/null && break
    sleep 0.05
  done
  echo "$service $pid"
done

# Returns when any service exits; then the EXIT trap stops the others.
wait -n
echo "run.sh: a service exited; stopping the shop (see $log_dir)" >&2
exit 1
