#!/bin/sh
# weft container entrypoint. `weft run` traces given pids (and their
# descendants); a container started with `pid: host` / hostPID finds them by
# command line here, since host pids are not known when the container starts.
#
#   WEFT_TARGETS       space-separated patterns matched against full command
#                      lines (pgrep -f), e.g. "store-fe.py catalog.py"
#   WEFT_PIDS          space-separated pids to trace as well
#   WEFT_WAIT_SECONDS  how long to wait for every pattern to match (120)
#   WEFT_BIN           the weft binary (/usr/local/bin/weft)
#
# Any command other than `run` (check, version, --help) goes to weft as is.
set -eu
weft=${WEFT_BIN:-/usr/local/bin/weft}

if [ "${1:-}" != "run" ]; then
  exec "$weft" "$@"
fi
shift

pid_args=""
for pid in ${WEFT_PIDS:-}; do
  pid_args="$pid_args --pid $pid"
done

deadline=$(( $(date +%s) + ${WEFT_WAIT_SECONDS:-120} ))
for pattern in ${WEFT_TARGETS:-}; do
  while :; do
    found=$(pgrep -f -- "$pattern" || true)
    [ -n "$found" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "weft-entrypoint: no process matches '$pattern' after ${WEFT_WAIT_SECONDS:-120}s;" \
           "is the container running with pid: host (hostPID: true)?" >&2
      exit 1
    fi
    sleep 1
  done
  for pid in $found; do
    echo "weft-entrypoint: '$pattern' -> pid $pid" >&2
    pid_args="$pid_args --pid $pid"
  done
done

if [ -z "$pid_args" ]; then
  echo "weft-entrypoint: nothing to trace: set WEFT_TARGETS or WEFT_PIDS" >&2
  exit 2
fi
# shellcheck disable=SC2086  # one word per --pid and pid
exec "$weft" run $pid_args "$@"
