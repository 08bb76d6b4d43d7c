#!/usr/bin/env bash
# Event engine benchmark (issue 20) on a converged lab with the events stack (run `make deploy`
# first; the real Vaultwarden and Gotify of lab_real). End to end, as a user would see it: a wrong
# Vaultwarden password through Traefik, Vaultwarden logs it, the engine reads the log, publishes
# kompose/vault/security/failed, its rule posts to Gotify's security application. Each of N
# measured logins (default 15, after 10 that reach the `locked` threshold, for a fresh account name)
# is timed from the login's HTTP answer until its message (the title names the attempt count) is in
# Gotify, polled every 20 ms. Prints the median and the slowest, and the memory of the engine and
# of the Vaultwarden source.
# Usage: benchmarks/events.sh [N]   (Vaultwarden's lab rate limit, 30 logins a minute, bounds N + 10)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-15}
exec .venv/bin/python - "$n" <<'PY'
import json, statistics, subprocess, sys, time, urllib.request, base64

n = int(sys.argv[1])
secrets = ".secrets/localhost"
admin = open(f"{secrets}/gotify-admin").read().strip()
ip = lambda c: subprocess.check_output(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", c], text=True).split()[0]
gotify = f"http://{ip('messaging_gotify')}:80"
auth = {"Authorization": "Basic " + base64.b64encode(f"admin:{admin}".encode()).decode()}

def get(path):
    with urllib.request.urlopen(urllib.request.Request(gotify + path, headers=auth), timeout=5) as answer:
        return json.load(answer)

app = next(a["id"] for a in get("/application") if a["name"] == "security")
user = f"bench-{int(time.time())}@kompose.test"

def wrong_login():
    out = subprocess.run(["curl", "--silent", "--output", "/dev/null", "--write-out", "%{http_code}", "--cacert", ".lab/pebble-root.pem",
                          "--resolve", "vault.kompose.test:443:127.0.0.1", "--data-urlencode", "grant_type=password",
                          "--data-urlencode", f"username={user}", "--data-urlencode", "password=d3JvbmctaGFzaA==",
                          "--data-urlencode", "scope=api offline_access", "--data-urlencode", "client_id=cli",
                          "--data-urlencode", "device_identifier=6f2a6c3e-4d1b-4a8e-9b2c-1a2b3c4d5e6f",
                          "--data-urlencode", "device_name=bench", "--data-urlencode", "device_type=8",
                          "https://vault.kompose.test/identity/connect/token"], capture_output=True, text=True)
    if out.stdout != "400":
        sys.exit(f"events.sh: a wrong login answered {out.stdout!r}, not 400 (rate limit? wait a minute)")

def arrived(attempts):
    messages = get(f"/application/{app}/message?limit=20")["messages"]
    return any(m["title"].startswith(f"Vaultwarden: {attempts} failed logins") and user in m["message"] for m in messages)

threshold = 10
for attempt in range(1, threshold):  # below the threshold: events, no notification
    wrong_login()
latencies = []
for attempt in range(threshold, threshold + n):
    wrong_login()
    start = time.monotonic()
    while not arrived(attempt):
        if time.monotonic() - start > 10:
            sys.exit(f"events.sh: no Gotify message for attempt {attempt} within 10 s")
        time.sleep(0.02)
    latencies.append(time.monotonic() - start)
memory = dict(line.split(" ", 1) for line in subprocess.check_output(
    ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "events_engine", "vault_events"], text=True).splitlines())
print(f"{'failed login -> Gotify message, median of %d (s)' % n:<52} {statistics.median(latencies):8.3f}")
print(f"{'slowest (s)':<52} {max(latencies):8.3f}")
for name in ("events_engine", "vault_events"):
    print(f"{name + ' memory (docker stats)':<52} {memory[name]}")
PY
