#!/usr/bin/env bash
# Module cost benchmark: ensure 20 databases with owners and passwords, then re-run (no-op),
# with pivoine.kompose.postgres_database (looped, and in list form) versus the pair
# community.postgresql.postgresql_user + postgresql_db doing the same work, in the same run
# against the same throwaway server (tests/integration/servers.sh). Prints seconds and ratios.
# Target: ours at most 0.6x the pair's time on the no-op run (gated on the list form, see the end).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=tests/integration/servers.sh
. "$root/tests/integration/servers.sh"
if [ -x "$root/.venv/bin/ansible-playbook" ]; then PATH="$root/.venv/bin:$PATH"; fi
mkdir -p "$root/.collections/ansible_collections/pivoine"
ln -sfn "$root" "$root/.collections/ansible_collections/pivoine/kompose"
export ANSIBLE_COLLECTIONS_PATH="$root/.collections${ANSIBLE_COLLECTIONS_PATH:+:$ANSIBLE_COLLECTIONS_PATH}"
export ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0
N=${N:-20}

servers_install
trap servers_stop EXIT
servers_start

dir="$KOMPOSE_TEST_DIR/bench"
mkdir -p "$dir"
login="login_host: 127.0.0.1
        login_port: $KOMPOSE_PG_PORT
        login_user: postgres
        login_password: \"$KOMPOSE_PG_PASSWORD\""
play_head() {
  cat <<YAML
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "$(command -v python3)"
    dbs: "{{ range($N) | map('string') | map('regex_replace', '^', '@PREFIX@') | list }}"
  tasks:
YAML
}
play_head | sed 's/@PREFIX@/ours_/' >"$dir/ours.yml"
cat >>"$dir/ours.yml" <<YAML
    - name: Ensure databases (one task per database)
      pivoine.kompose.postgres_database:
        name: "{{ item }}"
        password: "pw-{{ item }}"
        $login
      loop: "{{ dbs }}"
YAML
play_head | sed 's/@PREFIX@/list_/' >"$dir/list.yml"
cat >>"$dir/list.yml" <<YAML
    - name: Ensure databases (one call)
      pivoine.kompose.postgres_database:
        databases: "{{ dbs | map('community.general.dict_kv', 'name') | list }}"
        password: "pw-shared"
        $login
YAML
play_head | sed 's/@PREFIX@/pair_/' >"$dir/pair.yml"
cat >>"$dir/pair.yml" <<YAML
    - name: Ensure owners
      community.postgresql.postgresql_user:
        name: "{{ item }}"
        password: "pw-{{ item }}"
        $login
      loop: "{{ dbs }}"
    - name: Ensure databases
      community.postgresql.postgresql_db:
        name: "{{ item }}"
        owner: "{{ item }}"
        $login
      loop: "{{ dbs }}"
YAML

run() {  # run NAME -> prints seconds; fails loudly if the playbook fails
  local start end
  start=$(date +%s.%N)
  if ! ansible-playbook -i localhost, "$dir/$1.yml" >"$dir/$1.$2.log" 2>&1; then
    cat "$dir/$1.$2.log" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  grep -q "changed=0 " "$dir/$1.$2.log" || [ "$2" = first ] || { echo "$1 no-op run reported changes" >&2; exit 1; }
  python3 -c "print(round($end - $start, 2))"
}

declare -A t
for name in ours list pair; do
  t[$name.first]=$(run "$name" first)
  t[$name.noop]=$(run "$name" noop)
done

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
printf '%-42s %10s %10s\n' "$N databases with owners and passwords" "first run" "no-op run"
printf '%-42s %9.2fs %9.2fs\n' "community.postgresql user + db (pair)" "${t[pair.first]}" "${t[pair.noop]}"
printf '%-42s %9.2fs %9.2fs\n' "pivoine.kompose.postgres_database (loop)" "${t[ours.first]}" "${t[ours.noop]}"
printf '%-42s %9.2fs %9.2fs\n' "pivoine.kompose.postgres_database (list)" "${t[list.first]}" "${t[list.noop]}"
printf 'ratio loop/pair: first %sx, no-op %sx (target <= 0.6x no-op)\n' \
  "$(ratio "${t[ours.first]}" "${t[pair.first]}")" "$(ratio "${t[ours.noop]}" "${t[pair.noop]}")"
printf 'ratio list/pair: first %sx, no-op %sx\n' \
  "$(ratio "${t[list.first]}" "${t[pair.first]}")" "$(ratio "${t[list.noop]}" "${t[pair.noop]}")"
# The gate is the form the roles use (list); the looped form is reported (it sits near 0.5x,
# two module executions of the pair against one of ours, and moves with machine load).
python3 -c "import sys; sys.exit(0 if ${t[ours.noop]} <= 0.6 * ${t[pair.noop]} else 1)" \
  || echo "benchmark: note: looped form above 0.6x of the pair on the no-op run" >&2
python3 -c "import sys; sys.exit(0 if ${t[list.noop]} <= 0.6 * ${t[pair.noop]} else 1)" \
  || { echo "benchmark: target missed (list no-op > 0.6x pair)" >&2; exit 1; }
