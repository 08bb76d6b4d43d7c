#!/usr/bin/env bash
# Portal benchmark (issue 21) on a converged lab with the kmps stack (run `make deploy` first). As a
# browser sees it: lab-admin signs in through Traefik, OAuth2 Proxy and Keycloak's form (the lab's
# files/sso_flow.py), then N overview pages (default 30, after 3 not counted) are timed from the
# request to the last byte, each a fresh Docker listing and inspection of every container, alerts
# from Alertmanager and three Prometheus queries; then the users page and the audit log the same way.
# Prints the median and the slowest of each, and the portal's and its socket proxy's memory.
# Usage: benchmarks/kmps.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-30}
exec .venv/bin/python - "$n" <<'PY'
import os, statistics, subprocess, sys, time

n = int(sys.argv[1])
sys.argv = ["sso_flow", "kompose.test", ".lab/pebble-root.pem", ".secrets/localhost"]
sys.path.insert(0, os.path.join(os.getcwd(), "molecule/default/files"))
from sso_flow import CA_FILE, login, url  # noqa: E402

session, report = login("lab-admin", url("kmps"))
if report.get("status") != 200:
    sys.exit(f"kmps.sh: lab-admin did not reach the portal: {report}")

def timed(path, count):
    for _warm in range(3):
        session.get(url("kmps", path), verify=CA_FILE, timeout=30)
    times = []
    for _i in range(count):
        start = time.perf_counter()
        answer = session.get(url("kmps", path), verify=CA_FILE, timeout=30)
        answer.content
        times.append((time.perf_counter() - start) * 1000)
        if answer.status_code != 200:
            sys.exit(f"kmps.sh: {path} answered {answer.status_code}")
    return times

containers = subprocess.check_output(["docker", "ps", "-q", "--filter", "label=org.pivoine.kompose.stack"], text=True).split()
for path in ("/", "/users", "/audit"):
    ms = timed(path, n)
    print(f"{path:8} {n} pages: median {statistics.median(ms):.0f} ms, slowest {max(ms):.0f} ms"
          + (f" ({len(containers)} containers)" if path == "/" else ""))
for name in ("kmps_app", "kmps_socket_proxy"):
    usage = subprocess.check_output(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", name], text=True).strip()
    print(f"{name}: memory {usage}")
PY
