#!/usr/bin/env bash
# No-op benchmark of a converged lab (run `make deploy` first): the full site and `--tags core`,
# each run N times (default 3), median seconds, task counts and changed counts, all measured in
# this one run. Budgets (issue 16): full-site no-op <= 15 s, `--tags core` no-op <= 5 s.
# Usage: benchmarks/noop.sh [N]   (needs `make setup`; changes nothing on a converged lab)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/.collections ANSIBLE_CONFIG=$PWD/ansible.cfg ANSIBLE_FORCE_COLOR=0
n=${1:-3}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# shellcheck source=benchmarks/_lib.sh
. benchmarks/_lib.sh

for kind in site core; do
  args=(-i inventories/local site.yml)
  [ "$kind" = core ] && args+=(--tags core)
  for i in $(seq "$n"); do run "$kind-$i" "${args[@]}"; done | median >"$log/$kind.median"
done
printf '%-34s %8s\n' "full-site no-op, median of $n (s)" "$(cat "$log/site.median")" \
  "tasks (full site)" "$(tasks site-1)" "changed (full site, last run)" "$(recap "site-$n" changed)" \
  "--tags core no-op, median of $n (s)" "$(cat "$log/core.median")" \
  "tasks (--tags core)" "$(tasks core-1)" "changed (--tags core, last run)" "$(recap "core-$n" changed)"
printf '%-34s %8.2f\n' "full-site no-op / 15 s budget" "$(echo "$(cat "$log/site.median") / 15" | bc -l)" \
  "--tags core no-op / 5 s budget" "$(echo "$(cat "$log/core.median") / 5" | bc -l)"
