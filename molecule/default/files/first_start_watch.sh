#!/usr/bin/env bash
# first_start_watch.sh LOG [CONTAINER] [SECONDS] - the first-deploy window of Umami, watched from its
# very first start: started in the background before the converge, it asks Umami's login API with the
# image's default administrator (admin / umami) every 0.2 s from the moment the container exists until
# it has been healthy for 10 s (or SECONDS pass), from the Docker host (which reaches the container's own
# network). One line per answer: "<unix time> <HTTP status>" (000: nothing listens yet). verify_apps.yml
# asserts that Umami answered and that no answer was 200.
set -u
log="$1" container="${2:-track_app}" limit="${3:-900}"
mkdir -p "$(dirname "$log")" && : >"$log" || exit 1
end=$(( $(date +%s) + limit )) healthy_since=0
while [ "$(date +%s)" -lt "$end" ]; do
  state=$(docker inspect -f '{{ .State.Status }} {{ if .State.Health }}{{ .State.Health.Status }}{{ else }}-{{ end }} {{ range .NetworkSettings.Networks }}{{ .IPAddress }} {{ end }}' \
          "$container" 2>/dev/null) || { sleep 0.2; continue; }
  read -r status health addresses <<<"$state"
  for address in $addresses; do
    code=$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 2 -X POST \
           -H 'Content-Type: application/json' --data '{"username":"admin","password":"umami"}' \
           "http://$address:3000/api/auth/login")
    echo "$(date +%s.%N) $code $address $status/$health" >>"$log"
  done
  if [ "$health" = healthy ]; then
    [ "$healthy_since" -eq 0 ] && healthy_since=$(date +%s)
    [ $(( $(date +%s) - healthy_since )) -ge 10 ] && break
  fi
  sleep 0.2
done
echo "done" >>"$log"
