#!/usr/bin/env bash
# Custom stack benchmark (issue 19) on a converged lab (run `make deploy` first): what one stack adds
# to a no-op converge, for the lab's custom stack (reader: Miniflux, one container with a database,
# an OIDC client, a route, a scrape job and a probe) and a built-in stack of the same size (track:
# Umami, one container with a database, Redis, a route and a probe). Each is run alone with its tag
# (`--tags reader`, `--tags track`: the validation of the whole site, then that stack's lifecycle)
# N times (default 5); prints the medians, their difference and the task counts, all measured in this
# one run. Changes nothing on a converged lab.
# Usage: benchmarks/custom.sh [N]   (needs `make setup`)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/.collections ANSIBLE_CONFIG=$PWD/ansible.cfg ANSIBLE_FORCE_COLOR=0
n=${1:-5}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# shellcheck source=benchmarks/_lib.sh
. benchmarks/_lib.sh

# alternate the two, so that a slow phase of the machine weighs on both
for i in $(seq "$n"); do
  for stack in reader track; do
    run "$stack-$i" -i inventories/local site.yml --tags "$stack" >>"$log/$stack.times"
  done
done
for stack in reader track; do median <"$log/$stack.times" >"$log/$stack.median"; done
printf '%-40s %8s\n' \
  "--tags reader no-op (custom), median of $n (s)" "$(cat "$log/reader.median")" \
  "--tags track no-op (built-in), median of $n (s)" "$(cat "$log/track.median")" \
  "tasks (reader / track)" "$(tasks reader-1) / $(tasks track-1)" \
  "changed (reader / track, last runs)" "$(recap "reader-$n" changed) / $(recap "track-$n" changed)"
printf '%-40s %8.2f\n' "custom - built-in (s)" "$(echo "$(cat "$log/reader.median") - $(cat "$log/track.median")" | bc -l)"
