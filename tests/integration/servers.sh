# shellcheck shell=bash
# Throwaway PostgreSQL and Redis servers for the module integration tests and benchmarks.
# Source this file, then: servers_install; servers_start; ...; servers_stop
#
#   PostgreSQL  127.0.0.1:$KOMPOSE_PG_PORT   superuser postgres / $KOMPOSE_PG_PASSWORD (scram-sha-256)
#   Redis (aclfile)       :$KOMPOSE_REDIS_PORT        user default off, admin / $KOMPOSE_REDIS_PASSWORD
#   Redis (redis.conf)    :$KOMPOSE_REDIS_CONF_PORT   users in the config file (CONFIG REWRITE path)
#   Redis (neither)       :$KOMPOSE_REDIS_BARE_PORT   command line only, requirepass (cannot persist)
#
# The same set on newer server versions, as containers of the kompose-lab images (built from
# Debian 13 packages by lab/images/build.sh): containers_start; ...; containers_stop
#
#   PostgreSQL 17 (kompose-lab/postgres:17)  127.0.0.1:$KOMPOSE_PG17_PORT  container kompose-it-pg17
#   Redis 8 (kompose-lab/redis:8), aclfile   127.0.0.1:$KOMPOSE_REDIS8_PORT       kompose-it-redis8-acl
#   Redis 8, redis.conf                      127.0.0.1:$KOMPOSE_REDIS8_CONF_PORT  kompose-it-redis8-conf
#   Redis 8, neither                         127.0.0.1:$KOMPOSE_REDIS8_BARE_PORT  kompose-it-redis8-bare
#   with the same users and passwords; the Redis files (users.acl, redis.conf) are in
#   $KOMPOSE_TEST_DIR/redis8 on the host, bind-mounted as /data.

KOMPOSE_TEST_DIR=${KOMPOSE_TEST_DIR:-/tmp/kompose-servers}
# below the kernel's ephemeral range (32768-60999): an outgoing connection can never hold them
KOMPOSE_PG_PORT=${KOMPOSE_PG_PORT:-25432}
KOMPOSE_PG_PASSWORD=${KOMPOSE_PG_PASSWORD:-kompose-test-superuser}
KOMPOSE_REDIS_PORT=${KOMPOSE_REDIS_PORT:-26379}
KOMPOSE_REDIS_CONF_PORT=${KOMPOSE_REDIS_CONF_PORT:-26380}
KOMPOSE_REDIS_BARE_PORT=${KOMPOSE_REDIS_BARE_PORT:-26381}
KOMPOSE_REDIS_PASSWORD=${KOMPOSE_REDIS_PASSWORD:-kompose-test-admin}
KOMPOSE_PG17_PORT=${KOMPOSE_PG17_PORT:-25433}
KOMPOSE_REDIS8_PORT=${KOMPOSE_REDIS8_PORT:-26382}
KOMPOSE_REDIS8_CONF_PORT=${KOMPOSE_REDIS8_CONF_PORT:-26383}
KOMPOSE_REDIS8_BARE_PORT=${KOMPOSE_REDIS8_BARE_PORT:-26384}
export KOMPOSE_TEST_DIR KOMPOSE_PG_PORT KOMPOSE_PG_PASSWORD KOMPOSE_REDIS_PORT KOMPOSE_REDIS_CONF_PORT \
  KOMPOSE_REDIS_BARE_PORT KOMPOSE_REDIS_PASSWORD KOMPOSE_PG17_PORT KOMPOSE_REDIS8_PORT \
  KOMPOSE_REDIS8_CONF_PORT KOMPOSE_REDIS8_BARE_PORT

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

# Containers of the newer servers (needs Docker and the images: lab/images/build.sh).
_kompose_it_containers=(kompose-it-pg17 kompose-it-redis8-acl kompose-it-redis8-conf kompose-it-redis8-bare)

containers_start() {
  containers_stop
  local r="$KOMPOSE_TEST_DIR/redis8" run=(docker run -d --init)
  rm -rf "$r"; mkdir -p "$r"
  "${run[@]}" --name kompose-it-pg17 -p "127.0.0.1:$KOMPOSE_PG17_PORT:5432" \
    --tmpfs /var/lib/postgresql/data -e POSTGRES_PASSWORD="$KOMPOSE_PG_PASSWORD" \
    kompose-lab/postgres:17 -c fsync=off >/dev/null || return 1

  # Redis listens on 6379 in the containers, published on 127.0.0.1 only; protected-mode no
  # because connections arrive from the docker bridge. /data is $r (users.acl, redis.conf).
  printf 'user default off\nuser admin on >%s ~* &* +@all\n' "$KOMPOSE_REDIS_PASSWORD" >"$r/users.acl"
  cat >"$r/redis.conf" <<EOF
port 6379
protected-mode no
save ""
appendonly no
dir /data
user default off
user admin on >$KOMPOSE_REDIS_PASSWORD ~* &* +@all
EOF
  "${run[@]}" --name kompose-it-redis8-acl -p "127.0.0.1:$KOMPOSE_REDIS8_PORT:6379" -v "$r:/data" \
    kompose-lab/redis:8 redis-server --aclfile /data/users.acl --protected-mode no --save '' \
    --appendonly no >/dev/null || return 1
  "${run[@]}" --name kompose-it-redis8-conf -p "127.0.0.1:$KOMPOSE_REDIS8_CONF_PORT:6379" -v "$r:/data" \
    kompose-lab/redis:8 redis-server /data/redis.conf >/dev/null || return 1
  "${run[@]}" --name kompose-it-redis8-bare -p "127.0.0.1:$KOMPOSE_REDIS8_BARE_PORT:6379" \
    kompose-lab/redis:8 redis-server --requirepass "$KOMPOSE_REDIS_PASSWORD" --protected-mode no \
    --save '' --appendonly no >/dev/null || return 1

  local port ok
  for port in "$KOMPOSE_REDIS8_PORT" "$KOMPOSE_REDIS8_CONF_PORT" "$KOMPOSE_REDIS8_BARE_PORT"; do
    ok=
    for _ in $(seq 100); do
      redis-cli -p "$port" PING 2>/dev/null | grep -q -e PONG -e NOAUTH && { ok=1; break; }
      sleep 0.1
    done
    [ -n "$ok" ] || { echo "servers.sh: Redis 8 on port $port did not come up" >&2; return 1; }
  done
  # The entrypoint runs initdb and a Unix-socket-only server first: wait for the real one.
  ok=
  for _ in $(seq 300); do
    PGPASSWORD="$KOMPOSE_PG_PASSWORD" psql -h 127.0.0.1 -p "$KOMPOSE_PG17_PORT" -U postgres -d postgres \
      -XtAc 'SELECT 1' >/dev/null 2>&1 && { ok=1; break; }
    sleep 0.1
  done
  [ -n "$ok" ] || { echo "servers.sh: PostgreSQL 17 on port $KOMPOSE_PG17_PORT did not come up" >&2
                    docker logs --tail 20 kompose-it-pg17 >&2; return 1; }
}

containers_stop() {
  docker rm -fv "${_kompose_it_containers[@]}" >/dev/null 2>&1
  return 0
}
