#!/usr/bin/env bash
# Smoke test of the kompose-lab images: throwaway containers, removed afterwards.
# The built-in checks below and each image's own smoke script (lab/images/*/smoke) use
# containers and networks of their own, so they run side by side, KOMPOSE_LAB_JOBS at a time
# (default 3: they mostly wait for servers to start); each one's output is printed whole, in order.
set -uo pipefail
NET=klab-smoke-net; T="$(mktemp -d)"; FAIL=0
ok()   { printf 'ok   %s\n' "$*"; }
bad()  { printf 'FAIL %s\n' "$*"; FAIL=1; }
check() { local d="$1"; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else bad "$d"; fi; }
cleanup() { docker rm -fv klab-pg klab-redis klab-mqtt klab-prom klab-am klab-ne klab-pe klab-re klab-bb klab-traefik >/dev/null 2>&1; docker network rm $NET >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
cleanup; T="$(mktemp -d)"; chmod 755 "$T"
wait_for() { local _; for _ in $(seq 1 40); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done; return 1; }
stop_time() { # stop_time NAME -> fails if docker stop takes >= 3 s
  local s e; s=$(date +%s.%N); docker stop "$1" >/dev/null; e=$(date +%s.%N)
  local d; d=$(echo "$e - $s" | bc); printf '     docker stop %s: %.2fs\n' "$1" "$d" >&3
  [ "$(echo "$d < 3" | bc)" = 1 ]
}

builtin_checks() {
exec 3>&1
docker network create $NET >/dev/null

# --- postgres ---
printf 'p@ss word\n' >"$T/pgpw"; chmod 644 "$T/pgpw"
mkdir -p "$T/initdb"; printf 'CREATE TABLE seeded(id int); INSERT INTO seeded VALUES (42);\n' >"$T/initdb/10-seed.sql"
docker run -d --name klab-pg --init --network $NET -v "$T/pgpw:/run/secrets/pgpw:ro" \
  -v "$T/initdb:/docker-entrypoint-initdb.d:ro" \
  -e POSTGRES_PASSWORD_FILE=/run/secrets/pgpw -e POSTGRES_USER=app -e POSTGRES_DB=appdb \
  kompose-lab/postgres:15 >/dev/null
check "postgres: pg_isready" wait_for docker exec klab-pg pg_isready -h 127.0.0.1 -U app -d appdb
sleep 1; wait_for docker exec klab-pg pg_isready -h 127.0.0.1 -U app -d appdb
check "postgres: psql over TCP with password from POSTGRES_PASSWORD_FILE" \
  bash -c "docker run --rm --network $NET -e PGPASSWORD='p@ss word' kompose-lab/postgres:15 psql -h klab-pg -U app -d appdb -tAc 'select id from seeded' | grep -qx 42"
check "postgres: wrong password rejected" \
  bash -c "! docker run --rm --network $NET -e PGPASSWORD=wrong kompose-lab/postgres:15 psql -h klab-pg -U app -d appdb -tAc 'select 1'"
check "postgres: scram + listen *" \
  bash -c "docker exec klab-pg psql -U app -d appdb -tAc 'show password_encryption; show listen_addresses' | tr '\n' ' ' | grep -q 'scram-sha-256 \*'"
check "postgres: server runs as postgres (uid 999)" \
  bash -c "docker exec klab-pg sh -c 'stat -c %u /proc/\$(head -1 /var/lib/postgresql/data/postmaster.pid)' | grep -qx 999"
check "postgres: pg_dump on PATH" docker exec klab-pg pg_dump -U app -d appdb -s
check "postgres: docker stop < 3 s" stop_time klab-pg
docker start klab-pg >/dev/null
check "postgres: restart keeps data, no re-init" wait_for bash -c "docker logs klab-pg 2>&1 | grep -q 'Skipping initialization'"
docker rm -fv klab-pg >/dev/null

# --- redis ---
mkdir -p "$T/redis"; printf 'port 6379\nappendonly no\nuser default on >redispw ~* &* +@all\n' >"$T/redis/redis.conf"
docker run -d --name klab-redis --init --network $NET -v "$T/redis/redis.conf:/usr/local/etc/redis/redis.conf:ro" \
  kompose-lab/redis:7 redis-server /usr/local/etc/redis/redis.conf >/dev/null
check "redis: PING with mounted conf (ACL password)" wait_for bash -c "docker exec klab-redis redis-cli --no-auth-warning -a redispw ping | grep -qx PONG"
check "redis: runs as redis (uid 999)" bash -c "docker exec klab-redis sh -c 'stat -c %u /proc/\$(pidof redis-server)' | grep -qx 999"
check "redis: version 7" bash -c "docker exec klab-redis redis-server --version | grep -q 'v=7\.'"
check "redis: exporter scrapes it (REDIS_ADDR/REDIS_PASSWORD)" bash -c "
  docker run -d --name klab-re --network $NET -e REDIS_ADDR=redis://klab-redis:6379 -e REDIS_PASSWORD=redispw kompose-lab/redis-exporter:1 >/dev/null &&
  for i in \$(seq 20); do docker run --rm --network $NET kompose-lab/redis:7 bash -c 'exec 3<>/dev/tcp/klab-re/9121; printf \"GET /metrics HTTP/1.0\r\n\r\n\" >&3; cat <&3' 2>/dev/null | grep -q '^redis_up 1' && exit 0; sleep 0.5; done; exit 1"
check "redis-exporter: docker stop < 3 s" stop_time klab-re
check "redis: docker stop < 3 s" stop_time klab-redis
docker rm -fv klab-redis klab-re >/dev/null

# --- mosquitto ---
mkdir -p "$T/mqtt"; printf 'listener 1883\nallow_anonymous true\npersistence true\npersistence_location /mosquitto/data/\n' >"$T/mqtt/mosquitto.conf"
docker run -d --name klab-mqtt --init --network $NET -v "$T/mqtt/mosquitto.conf:/mosquitto/config/mosquitto.conf:ro" kompose-lab/mosquitto:2 >/dev/null
check "mosquitto: pub/sub from another container" wait_for bash -c "
  docker exec -d klab-mqtt sh -c 'mosquitto_sub -h 127.0.0.1 -t t -C 1 -W 5 > /tmp/got' ; sleep 0.5;
  docker run --rm --network $NET kompose-lab/mosquitto:2 mosquitto_pub -h klab-mqtt -t t -m hello &&
  sleep 0.5 && docker exec klab-mqtt cat /tmp/got | grep -qx hello"
check "mosquitto: drops privileges to mosquitto (uid 1883)" bash -c "docker exec klab-mqtt sh -c 'stat -c %u /proc/\$(pidof mosquitto)' | grep -qx 1883"
check "mosquitto: docker stop < 3 s" stop_time klab-mqtt
docker rm -fv klab-mqtt >/dev/null

# --- prometheus / alertmanager ---
check "prometheus --version" docker run --rm kompose-lab/prometheus:2 --version
check "promtool --version" docker run --rm --entrypoint /bin/promtool kompose-lab/prometheus:2 --version
check "promtool check config (default config)" docker run --rm --entrypoint /bin/promtool kompose-lab/prometheus:2 check config /etc/prometheus/prometheus.yml
printf 'global: {scrape_interval: nope}\n' >"$T/bad.yml"; chmod 644 "$T/bad.yml"
check "promtool check config rejects a bad config" bash -c "! docker run --rm -v $T/bad.yml:/bad.yml:ro --entrypoint /bin/promtool kompose-lab/prometheus:2 check config /bad.yml"
docker run -d --name klab-prom --init --network $NET kompose-lab/prometheus:2 >/dev/null
check "prometheus: ready" wait_for bash -c "docker run --rm --network $NET kompose-lab/prometheus:2 --version >/dev/null && docker exec klab-prom /bin/promtool query instant http://localhost:9090 up | grep -q prometheus"
check "prometheus: runs as nobody" bash -c "docker exec klab-prom id -u | grep -qx 65534"
check "prometheus: docker stop < 3 s" stop_time klab-prom
check "alertmanager --version" docker run --rm kompose-lab/alertmanager:0 --version
check "amtool check-config" docker run --rm --entrypoint /bin/amtool kompose-lab/alertmanager:0 check-config /etc/alertmanager/alertmanager.yml
docker run -d --name klab-am --init --network $NET kompose-lab/alertmanager:0 >/dev/null
check "alertmanager: ready (amtool config show)" wait_for docker exec klab-am /bin/amtool --alertmanager.url=http://localhost:9093 config show
check "alertmanager: docker stop < 3 s" stop_time klab-am

# --- exporters ---
docker run -d --name klab-ne --init --network $NET kompose-lab/node-exporter:1 >/dev/null
check "node-exporter: /metrics" wait_for bash -c "docker exec klab-prom true 2>/dev/null; docker run --rm --network $NET --entrypoint /bin/promtool kompose-lab/prometheus:2 check metrics < /dev/null; docker run --rm --network $NET kompose-lab/redis:7 bash -c 'exec 3<>/dev/tcp/klab-ne/9100; printf \"GET /metrics HTTP/1.0\r\n\r\n\" >&3; cat <&3' | grep -q '^node_exporter_build_info'"
check "node-exporter: docker stop < 3 s" stop_time klab-ne
docker run -d --name klab-pg --init --network $NET -e POSTGRES_PASSWORD=pw kompose-lab/postgres:15 >/dev/null
wait_for docker exec klab-pg pg_isready -h 127.0.0.1; sleep 2; wait_for docker exec klab-pg pg_isready -h 127.0.0.1
printf 'pw' >"$T/pepw"; chmod 644 "$T/pepw"
docker run -d --name klab-pe --init --network $NET -v "$T/pepw:/run/secrets/pw:ro" \
  -e DATA_SOURCE_URI='klab-pg:5432/postgres?sslmode=disable' -e DATA_SOURCE_USER=postgres -e DATA_SOURCE_PASS_FILE=/run/secrets/pw \
  kompose-lab/postgres-exporter:0 >/dev/null
check "postgres-exporter: pg_up 1 (DATA_SOURCE_URI/USER/PASS_FILE)" wait_for bash -c "docker run --rm --network $NET kompose-lab/redis:7 bash -c 'exec 3<>/dev/tcp/klab-pe/9187; printf \"GET /metrics HTTP/1.0\r\n\r\n\" >&3; cat <&3' | grep -q '^pg_up 1'"
check "postgres-exporter: docker stop < 3 s" stop_time klab-pe
docker run -d --name klab-bb --init --network $NET kompose-lab/blackbox-exporter:0 >/dev/null
check "blackbox-exporter: http probe of prometheus" wait_for bash -c "docker start klab-prom >/dev/null; docker run --rm --network $NET kompose-lab/redis:7 bash -c 'exec 3<>/dev/tcp/klab-bb/9115; printf \"GET /probe?module=http_2xx&target=http://klab-prom:9090/-/ready HTTP/1.0\r\n\r\n\" >&3; cat <&3' | grep -q '^probe_success 1'"
check "blackbox-exporter: docker stop < 3 s" stop_time klab-bb

# --- traefik ---
check "traefik version 3 at /usr/local/bin/traefik (ENTRYPOINT traefik)" \
  bash -c "docker run --rm kompose-lab/traefik:3 version | grep -qE '^Version: +3\.' && docker run --rm --entrypoint /usr/local/bin/traefik kompose-lab/traefik:3 version >/dev/null"
mkdir -p "$T/traefik/dynamic"
printf 'log: {noColor: true}\nentryPoints:\n  web: {address: ":80"}\n  web-secure: {address: ":443"}\n  traefik: {address: ":8080"}\nping: {entryPoint: traefik}\nproviders:\n  file: {directory: /etc/traefik/dynamic}\n' >"$T/traefik/traefik.yml"
# shellcheck disable=SC2016  # the backticks are Traefik's rule syntax
printf 'http:\n  routers:\n    smoke:\n      rule: "Host(`smoke.test`)"\n      entryPoints: [web]\n      service: ping@internal\n    smoke-tls:\n      rule: "Host(`smoke.test`)"\n      entryPoints: [web-secure]\n      service: ping@internal\n      tls: {}\n' >"$T/traefik/dynamic/smoke.yml"
chmod -R a+rX "$T/traefik"
docker run -d --name klab-traefik --init --network $NET -v "$T/traefik/traefik.yml:/etc/traefik/traefik.yml:ro" \
  -v "$T/traefik/dynamic:/etc/traefik/dynamic:ro" kompose-lab/traefik:3 >/dev/null
check "traefik: healthcheck --ping with the default /etc/traefik/traefik.yml" wait_for docker exec klab-traefik traefik healthcheck --ping
check "traefik: file-provider routers on :80 and :443 (default certificate), from another container (wget)" wait_for bash -c "
  docker run --rm --network $NET --entrypoint wget kompose-lab/traefik:3 -qO- --header 'Host: smoke.test' http://klab-traefik/ | grep -qx OK &&
  docker run --rm --network $NET --entrypoint wget kompose-lab/traefik:3 -qO- --no-check-certificate --header 'Host: smoke.test' https://klab-traefik/ | grep -qx OK"
check "traefik: CA certificates installed" docker exec klab-traefik test -s /etc/ssl/certs/ca-certificates.crt
check "traefik: no error logged" bash -c "! docker logs klab-traefik 2>&1 | grep -E ' (ERR|FTL) |\"level\":\"error\"'"
check "traefik: docker stop < 3 s" stop_time klab-traefik
docker rm -fv klab-traefik >/dev/null

return "$FAIL"
}

# --- the built-in checks and the images that carry their own smoke script (keycloak, oauth2-proxy,
# pebble, ...), side by side ---
names=(built-in); runs=(builtin_checks)
for script in "$(dirname "$0")"/*/smoke; do
  [ -x "$script" ] || continue
  names+=("$(basename "$(dirname "$script")") ($script)"); runs+=("$script")
done
jobs_max="${KOMPOSE_LAB_JOBS:-3}"
# the longest ones (a JVM's and a Next.js server's first starts, about a minute each) start first, so
# that the short ones fill the other slots beside them instead of waiting at the end; the output
# keeps the order above
slow="keycloak umami"
order=()
for i in "${!runs[@]}"; do case " $slow " in *" ${names[$i]%% *} "*) order+=("$i") ;; esac; done
for i in "${!runs[@]}"; do case " $slow " in *" ${names[$i]%% *} "*) ;; *) order+=("$i") ;; esac; done
for i in "${order[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  { SECONDS=0; "${runs[$i]}"; echo "$? $SECONDS" >"$T/rc.$i"; } >"$T/out.$i" 2>&1 &
done
wait
for i in "${!runs[@]}"; do
  read -r rc took <"$T/rc.$i" || { rc=1; took='?'; }
  echo "--- ${names[$i]}: ${took} s"
  cat "$T/out.$i"
  if [ "$rc" != 0 ]; then bad "${names[$i]%% *}: its smoke checks failed"; fi
done

if [ "$FAIL" = 0 ]; then echo "ALL OK"; else echo "SOME CHECKS FAILED"; exit 1; fi
