#!/usr/bin/env bash
# Render-only benchmark (kompose_deploy=false, into a temporary root), measured in this one run:
#  - the site with EVERY stack enabled (the render scenario's inventory): a first run and a no-op
#    re-run, their seconds and task counts;
#  - inventories/example (its host reached through the local connection, without become): the
#    median of 3 no-op re-runs, against the 5 s budget of issue 16.
# Usage: benchmarks/render.sh   (needs `make setup`; touches nothing outside its temporary root)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/.collections ANSIBLE_CONFIG=$PWD/ansible.cfg ANSIBLE_FORCE_COLOR=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
vars="{\"kompose_root\": \"$work/root\", \"kompose_secrets_dir\": \"$work/secrets\"}"

log=$work
# shellcheck source=benchmarks/_lib.sh
. benchmarks/_lib.sh

first=$(run first -i molecule/render/inventory/hosts.yml site.yml -e "$vars")
noop=$(run noop -i molecule/render/inventory/hosts.yml site.yml -e "$vars")
stacks=$(find "$work/root" -mindepth 2 -maxdepth 2 -name compose.yaml | wc -l)
files=$(find "$work/root" -type f | wc -l)
printf '%-32s %8s\n' "stacks rendered" "$stacks" "files rendered" "$files"
printf '%-32s %8s\n' "first render (s)" "$first" "no-op re-run (s)" "$noop"
printf '%-32s %8s\n' "tasks (first run)" "$(tasks first)" "tasks (no-op run)" "$(tasks noop)"
printf '%-32s %8s\n' "changed (first run)" "$(recap first changed)" "changed (no-op run)" "$(recap noop changed)"

example=(-i inventories/example site.yml -e kompose_deploy=false -e ansible_connection=local -e ansible_become=false
         -e "ansible_python_interpreter=$PWD/.venv/bin/python"
         -e "{\"kompose_root\": \"$work/example\", \"kompose_secrets_dir\": \"$work/example-secrets\"}")
run example-first "${example[@]}" >/dev/null
ex=$(for i in 1 2 3; do run "example-$i" "${example[@]}"; done | sort -n | sed -n 2p)
printf '%-32s %8s\n' "example no-op, median of 3 (s)" "$ex" "tasks (example no-op)" "$(tasks example-1)" \
  "changed (example no-op)" "$(recap example-3 changed)"
printf '%-32s %8.2f\n' "example no-op / 5 s budget" "$(echo "$ex / 5" | bc -l)"
