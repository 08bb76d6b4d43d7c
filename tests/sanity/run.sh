#!/usr/bin/env bash
# ansible-test sanity and units for the collection, offline-safe.
# ansible-test needs the tree at .../ansible_collections/pivoine/kompose inside a git checkout:
# copy the working tree (tracked + untracked, not ignored) there and index it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build/ansible_collections/pivoine/kompose

rm -rf "$root/build"
mkdir -p "$build"
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$root" && python3 -c '
import os, shutil, sys
dest = sys.argv[1]
for path in sys.stdin.buffer.read().decode().split("\0"):
    if path and os.path.lexists(path) and not os.path.isdir(path):
        os.makedirs(os.path.join(dest, os.path.dirname(path)), exist_ok=True)
        shutil.copy2(path, os.path.join(dest, path), follow_symlinks=False)
' "$build")
# the collections this one imports (community.docker's API client, community.general's Keycloak
# client, their doc fragments), from the pinned `ansible` package, where ansible-test looks for
# them: beside this collection
site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ansible_collections
mkdir -p "$root/build/ansible_collections/community"
for dep in docker general; do
  [ -d "$site/community/$dep" ] || { echo "run.sh: community.$dep not found in $site (make setup)" >&2; exit 1; }
  cp -a "$site/community/$dep" "$root/build/ansible_collections/community/$dep"
done

cd "$build"
git init -q && git add -A

# ansible-test bootstraps pip in each venv with a downloaded script; give it the local stand-in
at=$("$(command -v python3)" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
pip_version=$(grep -oP "pip='\K[0-9.]+" "$at/_internal/python_requirements.py")
cache=~/.ansible/test/cache
mkdir -p "$cache"
cp "$here/get_pip_standin.py" "$cache/get_pip_${pip_version//./_}.py"

case "${1:-all}" in
  sanity) ansible-test sanity --venv --python 3.11 --color no "${@:2}" ;;
  # units in this (the project's) venv: the pinned, locally installed packages, nothing fetched
  units) ansible-test units --local --python 3.11 --color no ;;
  all)
    ansible-test sanity --venv --python 3.11 --color no
    ansible-test units --local --python 3.11 --color no
    ;;
esac
