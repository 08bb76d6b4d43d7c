#!/usr/bin/env bash
# Integration tests of the collection's modules against throwaway PostgreSQL and Redis servers.
# Usage: tests/integration/run.sh [target ...]   (default: every target under targets/)
# Installs Debian's postgresql and redis-server when missing, starts the servers (servers.sh),
# runs each target with ansible-playbook on localhost, and stops the servers on exit.
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

servers_install
trap servers_stop EXIT
servers_start

playbook="$KOMPOSE_TEST_DIR/integration.yml"
cat >"$playbook" <<YAML
- name: Module integration tests
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "$(command -v python3)"
    pg_port: $KOMPOSE_PG_PORT
    pg_password: "$KOMPOSE_PG_PASSWORD"
    redis_port: $KOMPOSE_REDIS_PORT
    redis_conf_port: $KOMPOSE_REDIS_CONF_PORT
    redis_bare_port: $KOMPOSE_REDIS_BARE_PORT
    redis_password: "$KOMPOSE_REDIS_PASSWORD"
    redis_dir: "$KOMPOSE_TEST_DIR/redis"
  module_defaults:
    pivoine.kompose.postgres_database: &pg
      login_host: 127.0.0.1
      login_port: $KOMPOSE_PG_PORT
      login_user: postgres
      login_password: "$KOMPOSE_PG_PASSWORD"
    pivoine.kompose.redis_acl:
      login_host: 127.0.0.1
      login_port: $KOMPOSE_REDIS_PORT
      login_user: admin
      login_password: "$KOMPOSE_REDIS_PASSWORD"
  tasks:
    - name: Run target {{ target }}
      ansible.builtin.include_tasks: "$here/targets/{{ target }}/tasks/main.yml"
YAML

failed=()
for target in "${targets[@]}"; do
  echo "=== integration target: $target"
  if ! ansible-playbook -i localhost, "$playbook" -e "target=$target"; then
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "integration: FAILED targets: ${failed[*]} (passed: $((${#targets[@]} - ${#failed[@]})))" >&2
  exit 1
fi
echo "integration: ${#targets[@]} targets passed"
