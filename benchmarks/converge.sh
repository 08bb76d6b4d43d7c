#!/usr/bin/env bash
# Lab converge benchmark: destroys the lab (only one the tests made, see molecule/default/destroy.yml),
# converges it (first run), converges again (no-op run),
# and prints seconds, task counts and the no-op/first ratio, all measured in this one run.
# Usage: benchmarks/converge.sh [extra ansible-playbook args]   (needs `make setup`)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/.collections ANSIBLE_FORCE_COLOR=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# shellcheck source=benchmarks/_lib.sh
. benchmarks/_lib.sh

run destroy -i inventories/local molecule/default/destroy.yml >/dev/null  # refuses a deployment the tests did not make
root=$(ansible-inventory -i inventories/local --host localhost \
       | python3 -c 'import json, sys; print(json.load(sys.stdin).get("kompose_root", "/opt/kompose"))')
mkdir -p "$root" && echo "Made by benchmarks/converge.sh: \`make test\` may destroy this deployment." >"$root/.kompose-test-lab"
run acme -i inventories/local lab/acme.yml >/dev/null  # the lab's ACME CA, outside the measured runs
first=$(run first -i inventories/local site.yml "$@")
noop=$(run noop -i inventories/local site.yml "$@")
printf '%-28s %8s\n' "first converge (s)" "$first" "no-op converge (s)" "$noop"
printf '%-28s %8s\n' "tasks (first run)" "$(tasks first)" "tasks (no-op run)" "$(tasks noop)"
printf '%-28s %8s\n' "changed (first run)" "$(recap first changed)" "changed (no-op run)" "$(recap noop changed)"
printf '%-28s %8.2f\n' "no-op / first" "$(echo "$noop / $first" | bc -l)"
