#!/usr/bin/env bash
# Integration tests of the collection's modules against throwaway PostgreSQL and Redis servers.
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
with_containers=${KOMPOSE_IT_CONTAINERS:-1}

cleanup() {
  servers_stop
  if [ "$with_containers" != 0 ]; then containers_stop; fi
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
run_targets() { # run_targets PLAYBOOK LABEL
  local target
  for target in "${targets[@]}"; do
    echo "=== integration target: $target ($2)"
    if ! ansible-playbook -i localhost, "$1" -e "target=$target"; then
      failed+=("$target ($2)")
    fi
  done
}

playbook="$KOMPOSE_TEST_DIR/integration.yml"
write_playbook "$playbook" "$KOMPOSE_PG_PORT" "$KOMPOSE_REDIS_PORT" "$KOMPOSE_REDIS_CONF_PORT" \
  "$KOMPOSE_REDIS_BARE_PORT" "$KOMPOSE_TEST_DIR/redis"
run_targets "$playbook" "host: PostgreSQL $(basename "$(dirname "$(_pg_bindir)")"), Redis $(redis-server --version | sed -E 's/.* v=([0-9.]+).*/\1/')"
runs=1

if [ ${#failed[@]} -eq 0 ] && [ "$with_containers" != 0 ]; then
  start=$SECONDS
  "$root/lab/images/build.sh" postgres redis
  containers_start
  echo "integration: containers ready in $((SECONDS - start)) s"
  playbook="$KOMPOSE_TEST_DIR/integration-containers.yml"
  write_playbook "$playbook" "$KOMPOSE_PG17_PORT" "$KOMPOSE_REDIS8_PORT" "$KOMPOSE_REDIS8_CONF_PORT" \
    "$KOMPOSE_REDIS8_BARE_PORT" "$KOMPOSE_TEST_DIR/redis8"
  run_targets "$playbook" "containers: PostgreSQL $(docker exec kompose-it-pg17 postgres --version | awk '{print $3}'), Redis $(docker exec kompose-it-redis8-bare redis-server --version | sed -E 's/.* v=([0-9.]+).*/\1/')"
  runs=2
fi

total=$((${#targets[@]} * runs))
if [ ${#failed[@]} -gt 0 ]; then
  echo "integration: FAILED targets: ${failed[*]} (passed: $((total - ${#failed[@]})))" >&2
  exit 1
fi
echo "integration: ${#targets[@]} targets passed on each of $runs server set(s)"
