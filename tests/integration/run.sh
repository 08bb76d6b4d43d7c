#!/usr/bin/env bash
# Integration tests of the collection's modules against throwaway PostgreSQL, Redis and Gotify servers
# (and the portal's audit log, kmps/, against the same PostgreSQL servers).
# Usage: tests/integration/run.sh [target ...]   (default: every target under targets/)
#
# 1. Host servers (servers.sh): installs Debian 12's postgresql and redis-server when missing,
#    starts PostgreSQL 15 on 127.0.0.1:25432 and three Redis 7.0 (aclfile :26379, redis.conf
#    :26380, neither :26381), and runs each target with ansible-playbook on localhost.
# 2. Newer servers in containers (servers.sh containers_start), after the targets passed on the
#    host: builds kompose-lab/postgres:17 and kompose-lab/redis:8 from Debian 13 packages when
#    needed (lab/images/build.sh, ~1 s when up to date, ~40 s cold), starts PostgreSQL 17 on
#    127.0.0.1:25433 and three Redis 8.0 (aclfile :26382, redis.conf :26383, neither :26384) as
#    containers kompose-it-*, and runs the same targets, unchanged, against them (~+35 s).
#    KOMPOSE_IT_CONTAINERS=0 skips this step (no Docker).
# 3. The target gotify_application runs against the real Gotify server 3.0.0 (kompose-lab/gotify:3,
#    built from its upstream source archive, lab/images/gotify/fetch) in a container on
#    127.0.0.1:28080 (KOMPOSE_GOTIFY_PORT). Without Docker or without the archive it is not run,
#    and the run says so.
# Every server and container is stopped and removed on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/servers.sh
. "$here/servers.sh"

if [ -x "$root/.venv/bin/ansible-playbook" ]; then PATH="$root/.venv/bin:$PATH"; fi
collections="$root/.collections"
mkdir -p "$collections/ansible_collections/pivoine"
ln -sfn "$root" "$collections/ansible_collections/pivoine/kompose"
export ANSIBLE_COLLECTIONS_PATH="$collections${ANSIBLE_COLLECTIONS_PATH:+:$ANSIBLE_COLLECTIONS_PATH}"
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for t in "$here"/targets/*/; do targets+=("$(basename "$t")"); done
fi
# gotify_application runs against the real Gotify (step 3); the others against the database servers
server_targets=(); gotify=0
for t in "${targets[@]}"; do
  if [ "$t" = gotify_application ]; then gotify=1; else server_targets+=("$t"); fi
done
with_containers=${KOMPOSE_IT_CONTAINERS:-1}

cleanup() {
  servers_stop
  if [ "$with_containers" != 0 ]; then containers_stop; docker rm -fv kompose-it-gotify >/dev/null 2>&1; fi
  rm -rf "$KOMPOSE_TEST_DIR"  # a test run leaves nothing behind
}
servers_install
trap cleanup EXIT
servers_start

# write_playbook FILE PG_PORT REDIS_PORT REDIS_CONF_PORT REDIS_BARE_PORT REDIS_DIR
write_playbook() {
  cat >"$1" <<YAML
- name: Module integration tests
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "$(command -v python3)"
    pg_port: $2
    pg_password: "$KOMPOSE_PG_PASSWORD"
    redis_port: $3
    redis_conf_port: $4
    redis_bare_port: $5
    redis_password: "$KOMPOSE_REDIS_PASSWORD"
    redis_dir: "$6"
  # the collection's module_defaults groups (meta/runtime.yml action_groups)
  module_defaults:
    group/pivoine.kompose.postgres:
      login_host: 127.0.0.1
      login_port: $2
      login_user: postgres
      login_password: "$KOMPOSE_PG_PASSWORD"
    group/pivoine.kompose.redis:
      login_host: 127.0.0.1
      login_port: $3
      login_user: admin
      login_password: "$KOMPOSE_REDIS_PASSWORD"
  tasks:
    - name: Run target {{ target }}
      ansible.builtin.include_tasks: "$here/targets/{{ target }}/tasks/main.yml"
YAML
}

failed=()
# The portal's migrations and audit log against the same PostgreSQL (kmps/tests/test_audit.py: the
# test that `make units` skips for want of a server); it must run and pass, not be skipped.
run_kmps_audit() { # run_kmps_audit PG_PORT LABEL
  local out
  echo "=== kmps: migrations and audit log on a real PostgreSQL ($2)"
  if out=$(KMPS_TEST_PG_PORT="$1" KMPS_TEST_PG_PASSWORD="$KOMPOSE_PG_PASSWORD" \
             python -m pytest -q -p no:cacheprovider "$root/kmps/tests/test_audit.py" -k real_postgresql 2>&1) \
     && grep -qE '^1 passed' <<<"$(tail -n 1 <<<"$out")"; then
    tail -n 1 <<<"$out"
  else
    echo "$out"; failed+=("kmps audit ($2)")
  fi
}
run_targets() { # run_targets PLAYBOOK LABEL TARGET...
  local target playbook="$1" label="$2"
  shift 2
  for target in "$@"; do
    echo "=== integration target: $target ($label)"
    if ! ansible-playbook -i localhost, "$playbook" -e "target=$target"; then
      failed+=("$target ($label)")
    fi
  done
}

playbook="$KOMPOSE_TEST_DIR/integration.yml"
write_playbook "$playbook" "$KOMPOSE_PG_PORT" "$KOMPOSE_REDIS_PORT" "$KOMPOSE_REDIS_CONF_PORT" \
  "$KOMPOSE_REDIS_BARE_PORT" "$KOMPOSE_TEST_DIR/redis"
ran=0
if [ ${#server_targets[@]} -gt 0 ]; then
  run_targets "$playbook" "host: PostgreSQL $(basename "$(dirname "$(_pg_bindir)")"), Redis $(redis-server --version | sed -E 's/.* v=([0-9.]+).*/\1/')" "${server_targets[@]}"
  ran=$((ran + ${#server_targets[@]}))
  run_kmps_audit "$KOMPOSE_PG_PORT" "host: PostgreSQL $(basename "$(dirname "$(_pg_bindir)")")"
fi

if [ ${#failed[@]} -eq 0 ] && [ "$with_containers" != 0 ] && [ ${#server_targets[@]} -gt 0 ]; then
  start=$SECONDS
  "$root/lab/images/build.sh" postgres redis
  containers_start
  echo "integration: containers ready in $((SECONDS - start)) s"
  playbook="$KOMPOSE_TEST_DIR/integration-containers.yml"
  write_playbook "$playbook" "$KOMPOSE_PG17_PORT" "$KOMPOSE_REDIS8_PORT" "$KOMPOSE_REDIS8_CONF_PORT" \
    "$KOMPOSE_REDIS8_BARE_PORT" "$KOMPOSE_TEST_DIR/redis8"
  run_targets "$playbook" "containers: PostgreSQL $(docker exec kompose-it-pg17 postgres --version | awk '{print $3}'), Redis $(docker exec kompose-it-redis8-bare redis-server --version | sed -E 's/.* v=([0-9.]+).*/\1/')" "${server_targets[@]}"
  ran=$((ran + ${#server_targets[@]}))
  run_kmps_audit "$KOMPOSE_PG17_PORT" "container: PostgreSQL $(docker exec kompose-it-pg17 postgres --version | awk '{print $3}')"
fi

# 3. The real Gotify (kompose-lab/gotify:3, built from its upstream source archive when that is
#    present: lab/images/gotify/fetch), SQLite in a tmpfs, on 127.0.0.1:$gotify_port.
if [ ${#failed[@]} -eq 0 ] && [ "$gotify" = 1 ]; then
  gotify_image=kompose-lab/gotify:3 gotify_port=${KOMPOSE_GOTIFY_PORT:-28080} gotify_password=kompose-test-gotify
  if [ "$with_containers" = 0 ]; then
    echo "integration: gotify_application NOT RUN: it needs Docker for the real Gotify (KOMPOSE_IT_CONTAINERS=0)"
  else
    "$root/lab/images/build.sh" gotify
    if ! docker image inspect "$gotify_image" >/dev/null 2>&1; then
      echo "integration: gotify_application NOT RUN: $gotify_image is not built (its upstream source archive is absent, see lab/images/gotify/fetch)"
    else
      docker rm -fv kompose-it-gotify >/dev/null 2>&1
      docker run -d --init --name kompose-it-gotify -p "127.0.0.1:$gotify_port:80" --tmpfs /app/data \
        -e GOTIFY_DEFAULTUSER_NAME=admin -e GOTIFY_DEFAULTUSER_PASS="$gotify_password" "$gotify_image" >/dev/null
      for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$gotify_port/health" >/dev/null 2>&1 && break; sleep 0.1; done
      playbook="$KOMPOSE_TEST_DIR/integration-gotify.yml"
      cat >"$playbook" <<YAML
- name: Module integration tests against the real Gotify
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "$(command -v python3)"
    gotify_url: http://127.0.0.1:$gotify_port
    gotify_password: $gotify_password
  module_defaults:
    group/pivoine.kompose.gotify:
      url: http://127.0.0.1:$gotify_port
      username: admin
      password: $gotify_password
  tasks:
    - name: Run target {{ target }}
      ansible.builtin.include_tasks: "$here/targets/{{ target }}/tasks/main.yml"
YAML
      run_targets "$playbook" "Gotify $(curl -fsS "http://127.0.0.1:$gotify_port/version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" gotify_application
      ran=$((ran + 1))
      docker rm -fv kompose-it-gotify >/dev/null 2>&1
    fi
  fi
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "integration: FAILED targets: ${failed[*]} (passed: $((ran - ${#failed[@]})))" >&2
  exit 1
fi
echo "integration: $ran target runs passed (${targets[*]})"
