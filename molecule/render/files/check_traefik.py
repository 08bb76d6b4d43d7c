# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check rendered Traefik configurations with the real Traefik (the lab image kompose-lab/traefik:3).

    check_traefik.py PROXY_DIR [PROXY_DIR ...]   # each holds traefik.yml and dynamic/
    check_traefik.py --merged PROXY_DIR          # print dynamic/ merged as the file provider merges it (JSON)
    check_traefik.py --self-test                 # prove the check fails on known-bad files

For each proxy dir, two throwaway containers, both with `--network none` (the rendered static
configuration names Let's Encrypt: nothing may leave this machine) and `--pull never`:

1. the real thing: the rendered traefik.yml as /etc/traefik/traefik.yml, dynamic/ as
   /etc/traefik/dynamic, traefik.env as the environment (as compose.yaml does), an empty
   acme.json where each ACME resolver stores its certificates. `traefik healthcheck --ping` must
   succeed inside it, and its log must hold no error: a bad static file stops Traefik
   (`Command error` "command traefik error: field not found, node: ..." / "decoding
   configuration file ..."), a bad dynamic file drops the WHOLE file provider while /ping stays
   up ("Error while building configuration" "... field not found, node: ...", "yaml: ...",
   "strconv.Parse..."), a router that cannot be built logs an error naming it ('middleware
   "x@file" does not exist', 'the service "x@file" does not exist', "EntryPoint doesn't
   exist", "error while parsing rule ...", "Router uses a nonexistent certificate resolver",
   "unknown TLS options: ...", "cannot create middleware: ...", "cannot parse CIDRs ..."), and an
   object defined twice is a warning ("HTTP router already configured, skipping"), reported too.
   Only errors caused by the missing network are expected and tolerated: the Docker provider
   finding no docker.sock, and ACME failing to reach its CA ("unable to communicate with the API
   server", "network is unreachable").
2. the same dynamic/ with a static configuration of the checker's own (the rendered entry points,
   the file provider, ping, and `api.insecure` on the internal entry point `traefik`), whose API is
   read from inside the container (wget): /api/overview must count 0 errors, every router,
   middleware and service must be "enabled", every router, middleware and service the rendered
   files define must be loaded as <name>@file, and every reference (router -> middlewares and
   service, chain -> middlewares, errors -> service) must name a loaded object.

Prints one line per dir; on failure the problems, each naming the object and Traefik's error,
and exits 1. The containers (kompose-check-traefik-*) are always removed.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

IMAGE = os.environ.get("KOMPOSE_TRAEFIK_IMAGE", "kompose-lab/traefik:3")
STATIC_PATH = "/etc/traefik/traefik.yml"
DYNAMIC_PATH = "/etc/traefik/dynamic"
API = "http://127.0.0.1:8080/api"
PING_TIMEOUT = 30
LOAD_TIMEOUT = 30
SETTLE = 1.5  # after /ping answers, for the routers to be built and their errors logged
SECTIONS = {"http": ("routers", "middlewares", "services"), "tcp": ("routers", "middlewares", "services"),
            "udp": ("routers", "services")}
SINGULAR = {"routers": "router", "middlewares": "middleware", "services": "service"}

ANSI = re.compile(r"\x1b\[[0-9;]*m")
CONSOLE_LINE = re.compile(r"^\S+ (TRC|DBG|INF|WRN|ERR|FTL|PNC) ?(.*)$")
LEVELS = {"TRC": "trace", "DBG": "debug", "INF": "info", "WRN": "warn", "ERR": "error", "FTL": "fatal", "PNC": "panic"}
FIELD = re.compile(r'(?:^|\s)(routerName|middlewareName|serviceName|providerName|entryPointName|'
                   r'certificateResolver|origin|error)=("(?:[^"\\]|\\.)*"|\S+)')
FIRST_FIELD = re.compile(r"(?:^|\s)[A-Za-z][A-Za-z0-9_]*=")

# Errors expected because the container has no network and no docker.sock (never configuration).
ENVIRONMENT = [
    # providers.docker without /var/run/docker.sock
    lambda e: e.get("providerName") == "docker" and re.search(r"(?i)docker (api|daemon)|docker\.sock", e.get("error", "")),
    # ACME cannot reach its CA (or the DNS provider's API)
    lambda e: "ACME" in e["message"] and re.search(
        r"unable to communicate with the API server|network is unreachable|no such host|dial (tcp|udp)", e.get("error", "")),
]

_containers = set()
_lock = threading.Lock()
_counter = [0]


class CheckError(Exception):
    pass


# --- the rendered files ------------------------------------------------------------------------
def read_config(path):
    if path.endswith(".toml"):
        import tomllib
        with open(path, "rb") as handle:
            return tomllib.load(handle) or {}
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def dynamic_files(dynamic_dir):
    found = []
    for root, dirs, files in os.walk(dynamic_dir):
        dirs.sort()
        found += [os.path.join(root, f) for f in sorted(files) if f.endswith((".yml", ".yaml", ".toml"))]
    return found


def merge_dynamic(dynamic_dir):
    """The files of a dynamic dir merged as the file provider merges them; (merged, origins, problems)."""
    merged, origins, problems = {}, {}, []
    for path in dynamic_files(dynamic_dir):
        rel = os.path.relpath(path, os.path.dirname(dynamic_dir))
        try:
            config = read_config(path)
        except (yaml.YAMLError, ValueError) as exc:
            problems.append("%s: cannot parse: %s" % (rel, exc))
            continue
        if not isinstance(config, dict):
            problems.append("%s: not a mapping" % rel)
            continue
        for section, kinds in config.items():
            if not isinstance(kinds or {}, dict):
                problems.append("%s: %s is not a mapping" % (rel, section))
                continue
            for kind, items in (kinds or {}).items():
                target = merged.setdefault(section, {})
                if isinstance(items, list):
                    target[kind] = target.get(kind, []) + items
                    continue
                if not isinstance(items or {}, dict):
                    problems.append("%s: %s.%s is not a mapping" % (rel, section, kind))
                    continue
                target = target.setdefault(kind, {})
                for name, item in (items or {}).items():
                    if name in target:
                        problems.append("%s: %s.%s.%s is already defined in %s"
                                        % (rel, section, kind, name, origins[(section, kind, name)]))
                    target[name] = item
                    origins[(section, kind, name)] = rel
    return merged, origins, problems


# --- docker ------------------------------------------------------------------------------------
def docker(*args, timeout=60):
    return subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=timeout, check=False)


def start(role, mounts, env_file=None):
    with _lock:
        _counter[0] += 1
        name = "kompose-check-traefik-%d-%d-%s" % (os.getpid(), _counter[0], role)
        _containers.add(name)
    argv = ["run", "-d", "--pull", "never", "--name", name, "--network", "none", "--label", "kompose.check=traefik"]
    for src, dest, mode in mounts:
        argv += ["-v", "%s:%s:%s" % (src, dest, mode)]
    if env_file:
        argv += ["--env-file", env_file]
    result = docker(*(argv + [IMAGE]))
    if result.returncode != 0:
        raise CheckError("docker run %s failed: %s" % (IMAGE, result.stderr.strip()))
    return name


def remove(name):
    docker("rm", "-f", "-v", name)
    with _lock:
        _containers.discard(name)


def remove_all():
    for name in list(_containers):
        remove(name)


def running(name):
    return docker("inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", name).stdout.split()


def logs(name):
    result = docker("logs", name)
    return (result.stdout + result.stderr).splitlines()


def wait_ping(name, deadline):
    """True when `traefik healthcheck --ping` succeeds; False when Traefik exited or time ran out."""
    while time.monotonic() < deadline:
        if docker("exec", name, "traefik", "healthcheck", "--ping", timeout=15).returncode == 0:
            return True
        if running(name)[:1] != ["true"]:
            return False
        time.sleep(0.25)
    return False


def api_get(name, path):
    """GET a list or object of the API from inside the container, every page of a list."""
    items, page = None, 1
    while True:
        sep = "&" if "?" in path else "?"
        url = "%s/%s%sper_page=1000&page=%d" % (API, path, sep, page)
        result = docker("exec", name, "wget", "-qSO-", url, timeout=15)
        if result.returncode != 0:
            raise CheckError("GET %s failed: %s" % (url, result.stderr.strip()))
        body = json.loads(result.stdout)
        if not isinstance(body, list):
            return body
        items = (items or []) + body
        nxt = re.search(r"(?im)^\s*X-Next-Page:\s*(\d+)", result.stderr)
        if not nxt or int(nxt.group(1)) <= page:
            return items
        page = int(nxt.group(1))


# --- Traefik's log -----------------------------------------------------------------------------
def parse_log(lines):
    """Entries {level, message, error, routerName, ...} of console (colored or not) and JSON lines."""
    entries = []
    for raw in lines:
        line = ANSI.sub("", raw).strip()
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            entry = {k: v if isinstance(v, str) else json.dumps(v) for k, v in entry.items()}
            entry.setdefault("message", "")
            entry["level"] = entry.get("level", "").lower()
            entries.append(entry)
            continue
        match = CONSOLE_LINE.match(line)
        if not match:
            continue  # continuation lines of multi-line messages
        text = match.group(2)
        first = FIRST_FIELD.search(text)
        entry = {"level": LEVELS[match.group(1)], "message": (text[:first.start()] if first else text).strip()}
        for key, value in FIELD.findall(text):
            if value.startswith('"'):
                try:
                    value = json.loads(value)
                except ValueError:
                    value = value[1:-1]
            entry[key] = value
        entries.append(entry)
    return entries


def describe(entry, proxy_dir):
    subject = []
    for key, label in (("routerName", "router"), ("middlewareName", "middleware"), ("serviceName", "service"),
                       ("entryPointName", "entry point"), ("certificateResolver", "certificate resolver"),
                       ("providerName", "provider"), ("origin", "in")):
        if entry.get(key) and not (key == "entryPointName" and entry.get("routerName")):
            subject.append("%s %s" % (label, entry[key]))
    text = "; ".join(x for x in (entry["message"], entry.get("error", "")) if x)
    text = text.replace(DYNAMIC_PATH + "/", os.path.join(proxy_dir, "dynamic") + "/")
    text = text.replace(STATIC_PATH, os.path.join(proxy_dir, "traefik.yml"))
    return "%s%s" % (" ".join(subject) + ": " if subject else "", text)


def log_problems(entries, proxy_dir, tolerate):
    problems = []
    for entry in entries:
        bad = entry["level"] in ("error", "fatal", "panic") or (
            entry["level"] == "warn" and "already configured" in entry["message"])
        if bad and not any(rule(entry) for rule in tolerate):
            problem = "Traefik logged %s: %s" % (entry["level"].upper(), describe(entry, proxy_dir))
            if problem not in problems:
                problems.append(problem)
    return problems


def config_error_logged(entries):
    return any(e["level"] in ("error", "fatal") and "building configuration" in e["message"] for e in entries)


def version(entries):
    for entry in entries:
        match = re.match(r"Traefik version (\S+)", entry["message"])
        if match:
            return match.group(1)
    return None


# --- the two runs ------------------------------------------------------------------------------
def run_real(proxy_dir, static, work):
    """The rendered static configuration as it is deployed; (problems, version).

    An entry point bound to one address of the site's networks (Traefik's ping and metrics port, on
    its own network only) cannot be bound in a container without a network: that one address is run
    as ":<port>", everything else as rendered (verify.yml asserts the address itself)."""
    static_file = os.path.join(proxy_dir, "traefik.yml")
    bound = {name: ep for name, ep in (static.get("entryPoints") or {}).items()
             if not str((ep or {}).get("address", ":")).startswith(":")}
    if bound:
        copy = dict(static, entryPoints=dict(static["entryPoints"], **{
            name: dict(ep, address=":" + str(ep["address"]).rsplit(":", 1)[1]) for name, ep in bound.items()}))
        static_file = os.path.join(work, "traefik.yml")
        with open(static_file, "w", encoding="utf-8") as handle:
            yaml.safe_dump(copy, handle)
    mounts = [(static_file, STATIC_PATH, "ro"),
              (os.path.join(proxy_dir, "dynamic"), DYNAMIC_PATH, "ro")]
    stores = {}
    for resolver in (static.get("certificatesResolvers") or {}).values():
        storage = ((resolver or {}).get("acme") or {}).get("storage") or "acme.json"
        storage = storage if storage.startswith("/") else "/" + storage
        stores.setdefault(os.path.dirname(storage), set()).add(os.path.basename(storage))
    for i, (where, files) in enumerate(sorted(stores.items())):
        local = os.path.join(work, "acme-%d" % i)
        os.makedirs(local, mode=0o700)
        for name in files:
            os.close(os.open(os.path.join(local, name), os.O_CREAT | os.O_WRONLY, 0o600))
        if where == "/":
            for name in files:
                mounts.append((os.path.join(local, name), "/" + name, "rw"))
        else:
            mounts.append((local, where, "rw"))
    # the private ACME CA bundle, where compose.yaml mounts it (proxy_acme_ca_certificates)
    if os.path.isfile(os.path.join(proxy_dir, "acme-ca.pem")):
        mounts.append((os.path.join(proxy_dir, "acme-ca.pem"), "/etc/traefik/acme-ca.pem", "ro"))
    env_file = os.path.join(proxy_dir, "traefik.env")
    name = start("real", mounts, env_file if os.path.isfile(env_file) else None)
    try:
        up = wait_ping(name, time.monotonic() + PING_TIMEOUT)
        if up:
            time.sleep(SETTLE)
        lines = logs(name)
        log_file = (static.get("log") or {}).get("filePath")
        if log_file and running(name)[:1] == ["true"]:
            lines += docker("exec", name, "cat", log_file).stdout.splitlines()
        entries = parse_log(lines)
        problems = []
        if not up:
            state = running(name)
            if state[:1] != ["true"]:
                problems.append("Traefik exited (code %s) with the rendered traefik.yml" % (state[1:] or ["?"])[0])
            else:
                problems.append("`traefik healthcheck --ping` did not succeed within %ds" % PING_TIMEOUT)
        problems += log_problems(entries, proxy_dir, ENVIRONMENT)
        if not up and len(problems) == 1:
            problems += ["log: " + ANSI.sub("", l) for l in lines[-10:]]
        return problems, version(entries)
    finally:
        remove(name)


def test_static(static):
    """The checker's own static configuration: the rendered entry points, file provider, API, ping."""
    entry_points = {"web": {"address": ":80"}, "web-secure": {"address": ":443"}}
    for ep_name, ep in (static.get("entryPoints") or {}).items():
        address = str((ep or {}).get("address", ""))
        if ":" in address:
            entry_points[ep_name] = {"address": ":" + address.rsplit(":", 1)[1]}
    entry_points["traefik"] = {"address": ":8080"}
    return {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "log": {"level": "INFO", "noColor": True},
        "entryPoints": entry_points,
        "api": {"insecure": True, "dashboard": True},
        "ping": {"entryPoint": "traefik"},
        "providers": {"file": {"directory": DYNAMIC_PATH}},
    }


def qualify(ref):
    return ref if "@" in ref else ref + "@file"


def run_api(proxy_dir, static, merged, origins, work):
    """The rendered dynamic files under the checker's static configuration, read through the API."""
    static_file = os.path.join(work, "traefik-api.yml")
    with open(static_file, "w", encoding="utf-8") as handle:
        yaml.safe_dump(test_static(static), handle)
    os.chmod(static_file, 0o644)
    expected = {(section, kind): {qualify(n) for n in (merged.get(section) or {}).get(kind) or {}}
                for section, kinds in SECTIONS.items() for kind in kinds}
    name = start("api", [(static_file, STATIC_PATH, "ro"), (os.path.join(proxy_dir, "dynamic"), DYNAMIC_PATH, "ro")])
    try:
        if not wait_ping(name, time.monotonic() + PING_TIMEOUT):
            entries = parse_log(logs(name))
            return ["API run: Traefik did not answer /ping"] + log_problems(entries, proxy_dir, []), {}
        deadline = time.monotonic() + LOAD_TIMEOUT
        while True:  # until every object the files define is loaded, or a load error is logged
            loaded = {(s, k): {o["name"] for o in api_get(name, "%s/%s" % (s, k))}
                      for (s, k), names in expected.items() if names}
            if all(names <= loaded.get(key, set()) for key, names in expected.items() if names):
                break
            if time.monotonic() > deadline or config_error_logged(parse_log(logs(name))):
                break
            time.sleep(0.25)
        time.sleep(0.5)
        overview = api_get(name, "overview")
        objects = {(s, k): api_get(name, "%s/%s" % (s, k)) for s, kinds in SECTIONS.items() for k in kinds}
        entries = parse_log(logs(name))
    finally:
        remove(name)

    problems = []
    for section, kinds in SECTIONS.items():
        for kind in kinds:
            errors = ((overview.get(section) or {}).get(kind) or {}).get("errors", 0)
            if errors:
                problems.append("/api/overview: %s %s: %d error(s)" % (section, kind, errors))
    names = {key: {o["name"] for o in items} for key, items in objects.items()}
    for (section, kind), items in objects.items():
        for obj in items:
            if obj.get("status") != "enabled" or obj.get("error"):
                problems.append("%s %s %s: status %s: %s" % (section, SINGULAR[kind], obj["name"], obj.get("status"),
                                                             "; ".join(obj.get("error") or []) or "no error given"))
    for (section, kind), wanted in expected.items():
        missing = sorted(wanted - names[(section, kind)])
        if missing:
            files = sorted({origins.get((section, kind, n[:-len("@file")]), "?") for n in missing})
            problems.append("%s %s not loaded by Traefik (%d of %d defined in %s): %s" % (
                section, kind, len(missing), len(wanted), ", ".join(files), ", ".join(missing)))

    # References to objects the files do not define at all, also those Traefik never reports (it
    # stops at a router's first error). Objects of other providers are not running here: skipped.
    def unresolved(ref, kind, section):
        ref = qualify(ref)
        return ref.endswith(("@file", "@internal")) and ref not in names[(section, kind)] | expected[(section, kind)]

    for section in ("http", "tcp"):
        conf = merged.get(section) or {}
        for router, spec in (conf.get("routers") or {}).items():
            for ref in (spec or {}).get("middlewares") or []:
                if unresolved(ref, "middlewares", section):
                    problems.append("%s router %s@file: middleware %s is not defined" % (section, router, qualify(ref)))
            service = (spec or {}).get("service")
            if service and unresolved(service, "services", section):
                problems.append("%s router %s@file: service %s is not defined" % (section, router, qualify(service)))
        for middleware, spec in (conf.get("middlewares") or {}).items():
            for ref in ((spec or {}).get("chain") or {}).get("middlewares") or []:
                if unresolved(ref, "middlewares", section):
                    problems.append("%s middleware %s@file (chain): middleware %s is not defined"
                                    % (section, middleware, qualify(ref)))
            service = ((spec or {}).get("errors") or {}).get("service")
            if service and unresolved(service, "services", section):
                problems.append("%s middleware %s@file (errors): service %s is not defined"
                                % (section, middleware, qualify(service)))
    # the resolvers exist in the rendered static configuration (run 1 checks them), not in this one
    resolvers = set(static.get("certificatesResolvers") or {})
    tolerate = [lambda e: "nonexistent certificate resolver" in e["message"] and e.get("certificateResolver") in resolvers]
    problems += [p for p in log_problems(entries, proxy_dir, tolerate) if p not in problems]
    counts = {kind: (len(expected[("http", kind)]), len(expected[("http", kind)] & names[("http", kind)]))
              for kind in SECTIONS["http"]}
    return problems, counts


def check_dir(proxy_dir):
    """(ok, summary line, problems) for one rendered proxy dir."""
    started = time.monotonic()
    proxy_dir = os.path.abspath(proxy_dir)
    static_path, dynamic_dir = os.path.join(proxy_dir, "traefik.yml"), os.path.join(proxy_dir, "dynamic")
    if not os.path.isfile(static_path) or not os.path.isdir(dynamic_dir):
        return False, "FAIL %s: no traefik.yml and dynamic/ here" % proxy_dir, []
    try:
        static = read_config(static_path)
        if not isinstance(static, dict):
            raise ValueError("not a mapping")
    except (yaml.YAMLError, ValueError) as exc:
        static = {}
        parse_problem = ["traefik.yml: cannot parse: %s" % exc]
    else:
        parse_problem = []
    merged, origins, problems = merge_dynamic(dynamic_dir)
    problems = parse_problem + problems
    work = tempfile.mkdtemp(prefix="kompose-check-traefik-")
    os.chmod(work, 0o755)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            real = pool.submit(run_real, proxy_dir, static, work)
            api = pool.submit(run_api, proxy_dir, static, merged, origins, work)
            real_problems, traefik_version = real.result()
            api_problems, counts = api.result()
    except (CheckError, subprocess.TimeoutExpired, ValueError) as exc:
        return False, "FAIL %s: %s" % (proxy_dir, exc), problems
    finally:
        shutil.rmtree(work, ignore_errors=True)
    problems += ["traefik.yml run: " + p for p in real_problems]
    problems += ["API run: " + p for p in api_problems if not (p.startswith("Traefik logged") and p in real_problems)]
    took = time.monotonic() - started
    if problems:
        line = "FAIL %s: Traefik %s: %d problem(s) (%.1fs)" % (proxy_dir, traefik_version or "(did not start)", len(problems), took)
        return False, line, problems
    summary = ", ".join("%d/%d %s" % (counts[k][1], counts[k][0], k) for k in SECTIONS["http"])
    return True, ("ok   %s: Traefik %s runs traefik.yml with dynamic/ (healthcheck --ping ok, no configuration error "
                  "logged); API: %s @file loaded and enabled, 0 errors (%.1fs)" % (proxy_dir, traefik_version, summary, took)), []


def check(dirs):
    if docker("image", "inspect", IMAGE).returncode != 0:
        sys.stderr.write("check_traefik.py: image %s not found: build it with lab/images/build.sh traefik "
                         "(make setup)\n" % IMAGE)
        return 2
    with ThreadPoolExecutor(max_workers=max(1, len(dirs))) as pool:
        results = list(pool.map(check_dir, dirs))
    failed = 0
    for ok, line, problems in results:
        (sys.stdout if ok else sys.stderr).write(line + "\n")
        for problem in problems:
            sys.stderr.write("     - %s\n" % problem)
        failed += not ok
    return 1 if failed else 0


# --- self-test ---------------------------------------------------------------------------------
SELF_STATIC = """\
log: {level: INFO, noColor: true}
entryPoints:
  web: {address: ":80", http: {redirections: {entryPoint: {to: web-secure, scheme: https}}}}
  web-secure: {address: ":443"}
  traefik: {address: ":8080"}
ping: {entryPoint: traefik}
api: {dashboard: true}
providers:
  file: {directory: /etc/traefik/dynamic}
"""
SELF_MIDDLEWARES = """\
http:
  middlewares:
    selftest-headers:
      headers: {frameDeny: true}
    selftest-chain:
      chain: {middlewares: [selftest-headers]}
"""
SELF_ROUTERS = """\
http:
  routers:
    selftest-router:
      rule: "Host(`selftest.kompose.test`)"
      entryPoints: [web-secure]
      service: selftest-service
      middlewares: [selftest-chain]
      tls: {}
  services:
    selftest-service:
      loadBalancer:
        servers: [{url: "http://selftest:80"}]
"""
# name -> (traefik.yml, middlewares.yml, routers.yml, the strings the failure must contain)
SELF_CASES = {
    "good": (SELF_STATIC, SELF_MIDDLEWARES, SELF_ROUTERS, None),
    "router naming a missing middleware": (
        SELF_STATIC, SELF_MIDDLEWARES, SELF_ROUTERS.replace("[selftest-chain]", "[selftest-missing]"),
        ["router selftest-router@file", 'middleware "selftest-missing@file" does not exist']),
    "unknown key in a dynamic file": (
        SELF_STATIC, SELF_MIDDLEWARES.replace("frameDeny:", "frameDenyy:"), SELF_ROUTERS,
        ["Error while building configuration", "middlewares.yml: field not found, node: frameDenyy",
         "http routers not loaded by Traefik (1 of 1 defined in dynamic/routers.yml): selftest-router@file"]),
    "unknown key in traefik.yml": (
        SELF_STATIC.replace('web-secure: {address:', 'web-secure: {adress:'), SELF_MIDDLEWARES, SELF_ROUTERS,
        ["Traefik exited (code 1)", "command traefik error: field not found, node: adress"]),
}


def self_test():
    if docker("image", "inspect", IMAGE).returncode != 0:
        sys.stderr.write("check_traefik.py: image %s not found: build it with lab/images/build.sh traefik\n" % IMAGE)
        return 2
    root = tempfile.mkdtemp(prefix="kompose-check-traefik-selftest-")
    os.chmod(root, 0o755)
    try:
        dirs = {}
        for i, (case, (static, middlewares, routers, dummy)) in enumerate(SELF_CASES.items()):
            proxy = os.path.join(root, "case%d" % i, "proxy")
            os.makedirs(os.path.join(proxy, "dynamic"))
            for rel, text in (("traefik.yml", static), ("dynamic/middlewares.yml", middlewares),
                              ("dynamic/routers.yml", routers)):
                with open(os.path.join(proxy, rel), "w", encoding="utf-8") as handle:
                    handle.write(text)
            for sub in (os.path.dirname(proxy), proxy, os.path.join(proxy, "dynamic")):
                os.chmod(sub, 0o755)
            dirs[case] = proxy
        with ThreadPoolExecutor(max_workers=len(dirs)) as pool:
            results = dict(zip(dirs, pool.map(check_dir, dirs.values())))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    failed = 0
    for case, (ok, line, problems) in results.items():
        expect = SELF_CASES[case][3]
        text = "\n".join([line] + problems)
        if expect is None:
            good = ok
            why = "passes" if ok else "fails on good files:\n" + text
        else:
            missing = [s for s in expect if s not in text]
            good = not ok and not missing
            why = ("fails as it must, naming %s" % " / ".join(repr(s) for s in expect) if good else
                   "did not fail naming %s; it said:\n%s" % (missing if not ok else "anything", text))
        sys.stdout.write("%s self-test %s: %s\n" % ("ok  " if good else "FAIL", case, why))
        failed += not good
    return 1 if failed else 0


def main(argv):
    signal.signal(signal.SIGTERM, lambda *args: sys.exit(143))
    try:
        if argv[1:2] == ["--self-test"] and len(argv) == 2:
            return self_test()
        if argv[1:2] == ["--merged"] and len(argv) == 3:
            if not os.path.isdir(os.path.join(argv[2], "dynamic")):
                sys.stderr.write("check_traefik.py: %s has no dynamic/ directory\n" % argv[2])
                return 1
            merged, dummy, problems = merge_dynamic(os.path.join(argv[2], "dynamic"))
            if problems:
                sys.stderr.write("\n".join(problems) + "\n")
                return 1
            json.dump(merged, sys.stdout)
            return 0
        if len(argv) < 2 or argv[1].startswith("-"):
            sys.stderr.write(__doc__)
            return 2
        return check(argv[1:])
    finally:
        remove_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
