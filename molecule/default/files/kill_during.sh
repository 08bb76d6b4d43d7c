#!/usr/bin/env bash
# Start `ansible-playbook site.yml ARGS...` and kill it (SIGKILL, the whole process group) as soon
# as the task named by KILL_AT has started (default: the core stack's `up`), as an interrupted run
# would be. Prints the last task the killed run reached. Processes of the run that left its process
# group (Mitogen's connection multiplexer calls setsid) are found by a marker in their environment
# and killed too: an interrupted run leaves nothing behind that could act later.
# Usage: KILL_AT='<task name>' kill_during.sh <ansible-playbook> <site.yml> ARGS...
set -euo pipefail
at=${KILL_AT:-Bring the stack up, recreating what changed - core}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
marker="KOMPOSE_KILL_DURING=$$.$RANDOM"
setsid env "$marker" "$@" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  if grep -qF "TASK [pivoine.kompose.kompose : $at" "$log"; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "the run ended before reaching: $at" >&2; cat "$log" >&2; exit 1; fi
  sleep 0.1
done
sleep "${KILL_DELAY:-1}"
kill -KILL -- "-$pid"
wait "$pid" 2>/dev/null || true
for environ in /proc/[0-9]*/environ; do
  if tr '\0' '\n' <"$environ" 2>/dev/null | grep -qxF "$marker"; then
    p=${environ#/proc/}; kill -KILL "${p%/environ}" 2>/dev/null || true
  fi
done
grep -oE 'TASK \[[^]]+\]' "$log" | tail -n 1
