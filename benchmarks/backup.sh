#!/usr/bin/env bash
# Backup and restore benchmark on the deployed lab (`make deploy`): seeds a table of SIZE MiB of
# hard-to-compress rows into Linkwarden's database, takes a backup set (databases, Redis, Mosquitto;
# no data volumes), drops the table, restores Linkwarden's database alone, checks every row is back
# (count and digest), and prints the seconds and bytes measured in this one run. Removes the table
# and its backup sets afterwards.
# Usage: benchmarks/backup.sh [SIZE_MIB, default 1024] [extra ansible-playbook args]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/.collections ANSIBLE_FORCE_COLOR=0
size=${1:-1024}
shift || true
[[ $size =~ ^[1-9][0-9]*$ ]] || { echo "SIZE_MIB must be a whole number of MiB, got '$size'" >&2; exit 2; }
log=$(mktemp -d)
sets=/var/local/data/backup-benchmark
trap 'rm -rf "$log" "$sets"; psql -c "DROP TABLE IF EXISTS kompose_benchmark" >/dev/null 2>&1 || true' EXIT

# shellcheck source=benchmarks/_lib.sh
. benchmarks/_lib.sh

psql() {  # as the superuser, through the server's local socket, in Linkwarden's database
  docker exec -i core-postgres psql -X -q -v ON_ERROR_STOP=1 -U postgres -d linkwarden -tA "$@"
}
digest() { psql -c "SELECT count(*) || ' ' || md5(string_agg(payload, '' ORDER BY id)) FROM kompose_benchmark"; }

# 512 hex characters of random data per row (about 560 bytes on disk with the row overhead)
rows=$(( size * 1024 * 1024 / 560 ))
start=$(date +%s.%N)
psql -c "DROP TABLE IF EXISTS kompose_benchmark" \
     -c "CREATE TABLE kompose_benchmark (id bigint PRIMARY KEY, payload text NOT NULL)" \
     -c "INSERT INTO kompose_benchmark SELECT i, (SELECT string_agg(md5(random()::text || i || j), '') FROM generate_series(1, 16) j)
         FROM generate_series(1, $rows) i"
seed=$(echo "$(date +%s.%N) - $start" | bc)
table=$(psql -c "SELECT pg_total_relation_size('kompose_benchmark')")
before=$(digest)

extra=(-e "kompose_backup_dir=$sets" -e '{"kompose_backup_volumes": {}}')
backup=$(run backup -i inventories/local playbooks/backup.yml "${extra[@]}" "$@")
set_bytes=$(du -sb "$sets"/2* | cut -f1)
dump_bytes=$(find "$sets" -name 'linkwarden*' -printf '%s\n' | head -n1)

psql -c "DROP TABLE kompose_benchmark"
restore=$(run restore -i inventories/local playbooks/restore.yml "${extra[@]}" -e kompose_restore_from=latest \
          -e kompose_restore_confirm=true -e '{"kompose_restore_services": ["linkwarden"]}' "$@")
after=$(digest)
[ "$before" = "$after" ] || { echo "restored rows differ: before '$before', after '$after'" >&2; exit 1; }

printf '%-34s %14s\n' "rows seeded" "$rows" "table size (bytes)" "$table" "seeding (s)" "$seed" \
  "backup (s)" "$backup" "backup set (bytes)" "$set_bytes" "linkwarden dump (bytes)" "${dump_bytes:-?}" \
  "restore linkwarden alone (s)" "$restore" "rows and digest after restore" "identical"
