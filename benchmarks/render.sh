#!/usr/bin/env bash
# Render-only benchmark: the site with EVERY stack enabled and kompose_deploy=false (the render
# scenario's inventory, into a temporary root): a first run and a no-op re-run, their seconds and
# task counts, measured in this one run. The budget for the no-op re-run is 15 s (DESIGN.md).
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
printf '%-32s %8.2f\n' "no-op re-run / 15 s budget" "$(echo "$noop / 15" | bc -l)"
