# shellcheck shell=bash
# Throwaway PostgreSQL and Redis servers for the module integration tests and benchmarks.
# Source this file, then: servers_install; servers_start; ...; servers_stop
#
#   PostgreSQL  127.0.0.1:$KOMPOSE_PG_PORT   superuser postgres / $KOMPOSE_PG_PASSWORD (scram-sha-256)
#   Redis (aclfile)       :$KOMPOSE_REDIS_PORT        user default off, admin / $KOMPOSE_REDIS_PASSWORD
#   Redis (redis.conf)    :$KOMPOSE_REDIS_CONF_PORT   users in the config file (CONFIG REWRITE path)
#   Redis (neither)       :$KOMPOSE_REDIS_BARE_PORT   command line only, requirepass (cannot persist)

KOMPOSE_TEST_DIR=${KOMPOSE_TEST_DIR:-/tmp/kompose-servers}
KOMPOSE_PG_PORT=${KOMPOSE_PG_PORT:-55432}
KOMPOSE_PG_PASSWORD=${KOMPOSE_PG_PASSWORD:-kompose-test-superuser}
KOMPOSE_REDIS_PORT=${KOMPOSE_REDIS_PORT:-56379}
KOMPOSE_REDIS_CONF_PORT=${KOMPOSE_REDIS_CONF_PORT:-56380}
KOMPOSE_REDIS_BARE_PORT=${KOMPOSE_REDIS_BARE_PORT:-56381}
KOMPOSE_REDIS_PASSWORD=${KOMPOSE_REDIS_PASSWORD:-kompose-test-admin}
export KOMPOSE_TEST_DIR KOMPOSE_PG_PORT KOMPOSE_PG_PASSWORD KOMPOSE_REDIS_PORT KOMPOSE_REDIS_CONF_PORT \
  KOMPOSE_REDIS_BARE_PORT KOMPOSE_REDIS_PASSWORD

_pg_bindir() {
  local d found=
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/postgres" ] && found=$(printf '%s\n%s\n' "$found" "$d" | sort -V | tail -n 1)
  done
  [ -n "$found" ] || { echo "servers.sh: no PostgreSQL server binaries under /usr/lib/postgresql" >&2; return 1; }
  echo "$found"
}

# Run as the postgres system user when we are root (PostgreSQL refuses to run as root).
_as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

servers_install() {
  local missing=()
  _pg_bindir >/dev/null 2>&1 || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "servers.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

servers_start() {
  servers_stop 2>/dev/null
  rm -rf "$KOMPOSE_TEST_DIR"
  mkdir -p "$KOMPOSE_TEST_DIR/pg" "$KOMPOSE_TEST_DIR/pgsock" "$KOMPOSE_TEST_DIR/redis"
  local bin
  bin=$(_pg_bindir) || return 1
  [ "$(id -u)" = 0 ] && chown postgres: "$KOMPOSE_TEST_DIR/pg" "$KOMPOSE_TEST_DIR/pgsock"
  printf '%s\n' "$KOMPOSE_PG_PASSWORD" >"$KOMPOSE_TEST_DIR/pgpass"
  chmod 644 "$KOMPOSE_TEST_DIR/pgpass"
  _as_pg "$bin/initdb" -D "$KOMPOSE_TEST_DIR/pg/data" -U postgres --auth=scram-sha-256 \
    --pwfile="$KOMPOSE_TEST_DIR/pgpass" --encoding=UTF8 --locale=C.UTF-8 >"$KOMPOSE_TEST_DIR/initdb.log" 2>&1 \
    || { cat "$KOMPOSE_TEST_DIR/initdb.log" >&2; return 1; }
  rm -f "$KOMPOSE_TEST_DIR/pgpass"
  _as_pg "$bin/pg_ctl" -D "$KOMPOSE_TEST_DIR/pg/data" -l "$KOMPOSE_TEST_DIR/pg/server.log" -w -t 60 start \
    -o "-p $KOMPOSE_PG_PORT -c listen_addresses=127.0.0.1 -k $KOMPOSE_TEST_DIR/pgsock -c fsync=off" >/dev/null \
    || { cat "$KOMPOSE_TEST_DIR/pg/server.log" >&2; return 1; }

  local r="$KOMPOSE_TEST_DIR/redis"
  printf 'user default off\nuser admin on >%s ~* &* +@all\n' "$KOMPOSE_REDIS_PASSWORD" >"$r/users.acl"
  redis-server --port "$KOMPOSE_REDIS_PORT" --bind 127.0.0.1 --aclfile "$r/users.acl" --save '' \
    --appendonly no --dir "$r" --daemonize yes --pidfile "$r/acl.pid" --logfile "$r/acl.log" || return 1
  cat >"$r/redis.conf" <<EOF
port $KOMPOSE_REDIS_CONF_PORT
bind 127.0.0.1
save ""
appendonly no
dir $r
daemonize yes
pidfile $r/conf.pid
logfile $r/conf.log
user default off
user admin on >$KOMPOSE_REDIS_PASSWORD ~* &* +@all
EOF
  redis-server "$r/redis.conf" || return 1
  redis-server --port "$KOMPOSE_REDIS_BARE_PORT" --bind 127.0.0.1 --requirepass "$KOMPOSE_REDIS_PASSWORD" \
    --save '' --appendonly no --dir "$r" --daemonize yes --pidfile "$r/bare.pid" --logfile "$r/bare.log" || return 1
  local port
  for port in "$KOMPOSE_REDIS_PORT" "$KOMPOSE_REDIS_CONF_PORT" "$KOMPOSE_REDIS_BARE_PORT"; do
    for _ in $(seq 50); do
      redis-cli -p "$port" PING 2>/dev/null | grep -q -e PONG -e NOAUTH && break
      sleep 0.1
    done
  done
}

servers_stop() {
  local bin pid f
  bin=$(_pg_bindir 2>/dev/null) || bin=
  if [ -n "$bin" ] && [ -f "$KOMPOSE_TEST_DIR/pg/data/postmaster.pid" ]; then
    _as_pg "$bin/pg_ctl" -D "$KOMPOSE_TEST_DIR/pg/data" -m immediate -w stop >/dev/null 2>&1
  fi
  for f in acl conf bare; do
    if [ -f "$KOMPOSE_TEST_DIR/redis/$f.pid" ]; then
      pid=$(cat "$KOMPOSE_TEST_DIR/redis/$f.pid")
      kill "$pid" 2>/dev/null
      rm -f "$KOMPOSE_TEST_DIR/redis/$f.pid"
    fi
  done
  return 0
}
