#!/usr/bin/env bash
# Install and start a Docker Engine with the Compose v2 plugin on Debian 12, using only
# Debian's package archive (no Docker Hub, no download.docker.com).
#
#  * Engine: Docker 26 from Debian 13 (trixie): `docker.io` and `docker-cli` 26.1.5, whose only
#    dependencies (libc6 >= 2.34, containerd, runc, iptables, tini, sysvinit-utils >= 3.05) Debian 12
#    satisfies. Debian 12's own engine is 20.10, which has no health check `start_interval`, and the
#    collection needs Engine >= 25 (roles/host: host_docker_min_version). The two .debs are downloaded
#    through a private apt configuration (own sources list, lists and cache dirs), so the system is
#    never upgraded to trixie, and installed with Debian 12's containerd, runc, iptables and tini.
#    An older engine found running is stopped, upgraded in place (images and volumes stay) and
#    started again.
#  * Compose v2: Debian 12 has none; the trixie `docker-compose` package is a static binary
#    (2.26.x): only the plugin binary is extracted into /usr/libexec/docker/cli-plugins/.
#  * Daemon: there is no systemd; dockerd is started in the background (log:
#    /var/log/dockerd.log). A stale /var/run/docker.pid left by a killed daemon is removed
#    first.
#
# Idempotent: when `docker info` answers with an engine >= 25 and `docker compose version` >= 2.18 it
# does nothing.
# Must run as root.
set -euo pipefail

MIN_COMPOSE="2.18.0"
MIN_ENGINE="25.0"
PLUGIN_DIR="/usr/libexec/docker/cli-plugins"
DOCKERD_LOG="/var/log/dockerd.log"
DOCKERD_PIDFILE="/var/run/docker.pid"
DOCKERD_TIMEOUT="${DOCKERD_TIMEOUT:-60}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-}"

log() { printf 'install-docker: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
export DEBIAN_FRONTEND=noninteractive

version_ge() { # version_ge A B  -> A >= B
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

compose_version() {
  local v
  v="$(docker compose version --short 2>/dev/null)" || return 1
  v="${v#v}"
  [ -n "$v" ] && printf '%s\n' "$v"
}

compose_ok() {
  local v
  v="$(compose_version)" || return 1
  version_ge "$v" "$MIN_COMPOSE"
}

engine_ok() { docker info >/dev/null 2>&1; }

# the installed daemon's version ("Docker version 26.1.5+dfsg1, build 411e817" -> 26.1.5)
dockerd_version() {
  command -v dockerd >/dev/null 2>&1 || return 1
  dockerd --version 2>/dev/null | sed -nE 's/^Docker version ([0-9]+(\.[0-9]+)*).*/\1/p'
}

dockerd_ok() {
  local v
  v="$(dockerd_version)" && [ -n "$v" ] && version_ge "$v" "$MIN_ENGINE"
}

if command -v docker >/dev/null 2>&1 && dockerd_ok && engine_ok && compose_ok; then
  log "docker engine $(dockerd_version) running and compose $(compose_version) present: nothing to do"
  exit 0
fi

# ---------------------------------------------------------------------------------------
# apt helpers
# ---------------------------------------------------------------------------------------
APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    apt-get update -q >/dev/null
    APT_UPDATED=1
  fi
}

# The Debian mirror the system already uses (deb822 or one-line format).
detect_mirror() {
  local m=""
  if [ -n "$DEBIAN_MIRROR" ]; then printf '%s\n' "$DEBIAN_MIRROR"; return; fi
  m="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -v -- '-security' | grep -m1 '/debian/\?$' || true)"
  if [ -z "$m" ]; then
    m="$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
          | sed -E 's/\[[^]]*\]//' | awk '{print $2}' | grep -v -- '-security' \
          | grep -m1 '/debian/\?$' || true)"
  fi
  printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

# ---------------------------------------------------------------------------------------
# 1. What Debian 12 provides: containerd, runc, iptables, tini
# ---------------------------------------------------------------------------------------
if ! command -v iptables >/dev/null 2>&1 || ! command -v containerd >/dev/null 2>&1 \
   || ! command -v runc >/dev/null 2>&1 || ! command -v tini-static >/dev/null 2>&1; then
  apt_update_once
  log "installing containerd, runc, iptables and tini from Debian"
  apt-get install -y -q --no-install-recommends \
    containerd runc iptables ca-certificates xz-utils tini >/dev/null
fi

# ---------------------------------------------------------------------------------------
# 2. From Debian 13 (trixie), without touching the system's sources: the engine (docker.io,
#    docker-cli) when the installed one is missing or older than MIN_ENGINE, the Compose plugin
#    when missing or older than MIN_COMPOSE.
# ---------------------------------------------------------------------------------------
plugin_version() {
  [ -x "$PLUGIN_DIR/docker-compose" ] || return 1
  "$PLUGIN_DIR/docker-compose" version --short 2>/dev/null | sed 's/^v//'
}

want=()
dockerd_ok || want+=(docker.io/trixie docker-cli/trixie)
pv="$(plugin_version || true)"
if [ -z "$pv" ] || ! version_ge "$pv" "$MIN_COMPOSE"; then want+=(docker-compose/trixie); fi

if [ "${#want[@]}" -gt 0 ]; then
  mirror="$(detect_mirror)"
  log "fetching ${want[*]} from $mirror"
  work="$(mktemp -d /tmp/kompose-docker.XXXXXX)"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc/preferences.d" \
           "$work/etc/sources.list.d" "$work/deb" "$work/root"
  chmod 0755 "$work" "$work/deb"   # apt downloads as user _apt
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  printf 'deb [signed-by=%s] %s trixie main\n' "$keyring" "$mirror" > "$work/etc/sources.list"
  APT_TRIXIE=(
    -o "Dir::Etc::SourceList=$work/etc/sources.list"
    -o "Dir::Etc::SourceParts=$work/etc/sources.list.d"
    -o "Dir::Etc::PreferencesParts=$work/etc/preferences.d"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
    -o "Dir::Cache::pkgcache=$work/cache/pkgcache.bin"
    -o "Dir::Cache::srcpkgcache=$work/cache/srcpkgcache.bin"
    -o "APT::Get::List-Cleanup=0"
    -o "Debug::NoLocking=1"
  )
  if ! apt-get "${APT_TRIXIE[@]}" update -q >/dev/null 2>"$work/update.err"; then
    cat "$work/update.err" >&2
    die "could not read the trixie package index from $mirror"
  fi
  # `apt-get download` fetches from the private index, where the trixie version is the only
  # candidate
  (cd "$work/deb" && apt-get "${APT_TRIXIE[@]}" download -q "${want[@]}" >/dev/null 2>"$work/download.err") \
    || { cat "$work/download.err" >&2; die "apt-get download ${want[*]} failed"; }

  compose_deb="$(find "$work/deb" -maxdepth 1 -name 'docker-compose_*.deb' | head -n1)"
  if [ -n "$compose_deb" ]; then
    dpkg-deb -x "$compose_deb" "$work/root"
    src="$work/root/usr/libexec/docker/cli-plugins/docker-compose"
    [ -x "$src" ] || die "$compose_deb does not contain usr/libexec/docker/cli-plugins/docker-compose"
    install -d -m 0755 "$PLUGIN_DIR"
    install -m 0755 "$src" "$PLUGIN_DIR/docker-compose"
    log "installed $(basename "$compose_deb") -> $PLUGIN_DIR/docker-compose ($(plugin_version))"
  fi

  engine_debs=()
  while IFS= read -r deb; do engine_debs+=("$deb"); done \
    < <(find "$work/deb" -maxdepth 1 \( -name 'docker.io_*.deb' -o -name 'docker-cli_*.deb' \) | sort)
  if [ "${#engine_debs[@]}" -gt 0 ]; then
    [ "${#engine_debs[@]}" -eq 2 ] || die "expected the docker.io and docker-cli .debs, got: ${engine_debs[*]}"
    if pgrep -x dockerd >/dev/null 2>&1; then
      # an older engine runs: stop it before its binary is replaced (its containers stop with it;
      # those with a restart policy start again with the new engine)
      log "stopping dockerd $(dockerd_version || echo '?') for the upgrade"
      pkill -x dockerd || true
      for _ in $(seq 1 60); do pgrep -x dockerd >/dev/null 2>&1 || break; sleep 1; done
      pgrep -x dockerd >/dev/null 2>&1 && die "dockerd did not stop within 60 s"
      rm -f /var/run/docker.pid
    fi
    apt_update_once
    # the dependencies come from Debian 12; policy-rc.d keeps the package from starting its service
    # (this script starts dockerd itself below)
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
      own_policy=1
    fi
    installed=0
    apt-get install -y -q --no-install-recommends "${engine_debs[@]}" >"$work/install.log" 2>&1 && installed=1
    [ "$own_policy" -eq 0 ] || rm -f /usr/sbin/policy-rc.d
    if [ "$installed" -ne 1 ]; then
      tail -n 30 "$work/install.log" >&2
      die "installing ${engine_debs[*]} failed"
    fi
    log "installed $(for d in "${engine_debs[@]}"; do basename "$d"; done | tr '\n' ' ')"
  fi
  rm -rf "$work"; trap - EXIT
fi

# Make the plugin visible to any docker client on PATH (the packaged client and a newer
# client in /usr/local/bin both search /usr/libexec/docker/cli-plugins; also link into the
# /usr/local path for clients built with a different prefix).
install -d -m 0755 /usr/local/lib/docker/cli-plugins
if [ ! -e /usr/local/lib/docker/cli-plugins/docker-compose ]; then
  ln -sf "$PLUGIN_DIR/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose
fi

# ---------------------------------------------------------------------------------------
# 3. Start dockerd (no systemd)
# ---------------------------------------------------------------------------------------
# Networks made without a subnet (the image smoke tests', Compose's own) come from 198.18.0.0/16 (RFC 2544),
# never from 172.16.0.0/12: Docker's default pools rotate through 172.18-31.0.0/16, and a smoke
# test's network that lands on the lab's edge network (172.30.0.0/24) while the lab starts makes the
# lab's network creation fail ("Pool overlaps"). The lab's own networks have fixed subnets.
POOL_ARGS="--default-address-pool base=198.18.0.0/16,size=24"
dockerd_running() { pgrep -x dockerd >/dev/null 2>&1; }

wait_engine() { # wait_engine SECONDS
  local i
  for ((i = 0; i < $1; i++)); do
    engine_ok && return 0
    dockerd_running || return 1
    sleep 1
  done
  return 1
}

start_dockerd() { # start_dockerd ARGS...
  if ! dockerd_running && [ -e "$DOCKERD_PIDFILE" ]; then
    log "removing stale $DOCKERD_PIDFILE (no dockerd process)"
    rm -f "$DOCKERD_PIDFILE"
  fi
  # containerd is started by dockerd itself (managed mode) when no system containerd runs.
  log "starting dockerd $*"
  {
    printf '\n=== %s dockerd %s ===\n' "$(date -Is)" "$*"
  } >>"$DOCKERD_LOG"
  setsid nohup dockerd "$@" >>"$DOCKERD_LOG" 2>&1 </dev/null &
  DOCKERD_PID=$!
  wait_engine "$DOCKERD_TIMEOUT"
}

stop_failed_dockerd() { # stop the dockerd this script started (by its pid), if still alive
  if [ -n "${DOCKERD_PID:-}" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
  fi
  DOCKERD_PID=""
  dockerd_running || rm -f "$DOCKERD_PIDFILE"
}

if ! engine_ok; then
  if dockerd_running; then
    log "dockerd is running but not answering yet; waiting"
    wait_engine "$DOCKERD_TIMEOUT" || true
  fi
fi

if ! engine_ok; then
  started=0
  for args in "--storage-driver=overlay2" \
              "--storage-driver=overlay2 --iptables=false" \
              "--storage-driver=vfs --iptables=false"; do
    # shellcheck disable=SC2086
    if start_dockerd $args $POOL_ARGS; then started=1; break; fi
    log "dockerd $args did not come up; last log lines:"
    tail -n 15 "$DOCKERD_LOG" >&2 || true
    stop_failed_dockerd
  done
  if [ "$started" -ne 1 ]; then
    die "docker engine did not answer within ${DOCKERD_TIMEOUT}s with any option set (see $DOCKERD_LOG)"
  fi
fi

# ---------------------------------------------------------------------------------------
# 4. Verify with whichever client is first on PATH
# ---------------------------------------------------------------------------------------
engine_ok || die "docker info does not answer"
cv="$(compose_version)" || die "'docker compose version' fails with $(command -v docker)"
version_ge "$cv" "$MIN_COMPOSE" || die "compose $cv < $MIN_COMPOSE"
log "ready: client $(command -v docker), server $(docker version --format '{{.Server.Version}}' 2>/dev/null), compose $cv"
