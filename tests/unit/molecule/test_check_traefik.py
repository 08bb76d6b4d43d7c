"""molecule/render/files/check_traefik.py without Docker: its pure logic, and its two Traefik runs
against a fake `docker` (subprocess.run replaced at the boundary) that answers like the CLI does."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import tempfile
import threading
import types
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "molecule", "render", "files", "check_traefik.py")


def _load():
    spec = importlib.util.spec_from_file_location("kompose_check_traefik", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ct = _load()

ROUTER_ERROR = ('2026-01-05T10:00:01Z ERR error="middleware \\"selftest-missing@file\\" does not exist" '
                'entryPointName=web-secure routerName=selftest-router@file')
DOCKER_SOCK = ('2026-01-05T10:00:00Z ERR Provider error, retrying in 1s error="Cannot connect to the Docker daemon at '
               'unix:///var/run/docker.sock. Is the docker daemon running?" providerName=docker')
ACME_OFFLINE = ('2026-01-05T10:00:02Z ERR Unable to obtain ACME certificate for domains error="unable to generate a '
                'certificate for the domains [a.kompose.test]: ACME: unable to communicate with the API server" '
                'ACME CA=https://acme-v02.api.letsencrypt.org/directory providerName=le.acme')
VERSION_LINE = "2026-01-05T09:59:59Z INF Traefik version 3.3.4 built on 2025-02-25T10:11:01Z version=3.3.4"


# --- helpers -----------------------------------------------------------------------------------
def write_proxy(root, static=ct.SELF_STATIC, middlewares=ct.SELF_MIDDLEWARES, routers=ct.SELF_ROUTERS, **extra):
    """A rendered proxy dir: traefik.yml, dynamic/middlewares.yml and dynamic/routers.yml (+ extra files)."""
    proxy = root / "proxy"
    (proxy / "dynamic").mkdir(parents=True)
    (proxy / "traefik.yml").write_text(static)
    (proxy / "dynamic" / "middlewares.yml").write_text(middlewares)
    (proxy / "dynamic" / "routers.yml").write_text(routers)
    for rel, text in extra.items():
        (proxy / rel.replace("__", "/")).write_text(text)
    return str(proxy)


class Clock:
    """time.monotonic/sleep of the script: sleeping advances the clock, nothing waits."""

    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class Box:
    """How one fake Traefik container behaves."""

    def __init__(self, ping=True, running=True, exit_code=0, logs=(), files=None, api=None, run_error=None):
        self.ping = ping  # True, False, or a list of answers in turn (the last one repeats)
        self.running, self.exit_code = running, exit_code
        self.logs = list(logs)
        self.files = files or {}
        self.api = api or {}  # path -> body (or a list of pages for a list)
        self.run_error = run_error
        self.argv = None
        self.static = None  # the text of the static configuration mounted when it ran

    def answer_ping(self):
        if isinstance(self.ping, list):
            return self.ping.pop(0) if len(self.ping) > 1 else self.ping[0]
        return self.ping


class FakeDocker:
    """subprocess.run for `docker ...`; each container's role (real/api) picks its Box."""

    def __init__(self, image=True, **boxes):
        self.image, self.boxes = image, boxes
        self.calls, self.names = [], {}
        self.lock = threading.Lock()

    def __call__(self, argv, capture_output=False, text=False, timeout=None, check=True):
        assert argv[0] == "docker" and capture_output and text and check is False and timeout
        args = argv[1:]
        with self.lock:
            self.calls.append(args)
        if args[:2] == ["image", "inspect"]:
            return self._done(argv, 0 if self.image else 1, stderr="" if self.image else "Error: No such image")
        if args[0] == "run":
            name = args[args.index("--name") + 1]
            box = self.boxes[name.rsplit("-", 1)[1]]
            if box.run_error:
                return self._done(argv, 125, stderr=box.run_error + "\n")
            box.argv = args
            for i, arg in enumerate(args):
                if arg == "-v" and args[i + 1].split(":")[1] == ct.STATIC_PATH and os.path.isfile(args[i + 1].split(":")[0]):
                    with open(args[i + 1].split(":")[0], encoding="utf-8") as handle:
                        box.static = handle.read()
            self.names[name] = box
            return self._done(argv, 0, "0123abcd\n")
        box = self.names[args[-1] if args[0] in ("inspect", "logs", "rm") else args[1]]
        if args[0] == "inspect":
            return self._done(argv, 0, "%s %d\n" % ("true" if box.running else "false", box.exit_code))
        if args[0] == "logs":
            return self._done(argv, 0, "".join(line + "\n" for line in box.logs))
        if args[0] == "rm":
            return self._done(argv, 0, args[-1] + "\n")
        command = args[2:]
        if command == ["traefik", "healthcheck", "--ping"]:
            up = box.answer_ping()
            return self._done(argv, 0 if up else 1, "OK: http://:8080/ping\n" if up else "", "" if up else "Error: connection refused")
        if command[0] == "cat":
            return self._done(argv, 0, box.files.get(command[1], ""))
        if command[:2] == ["wget", "-qSO-"]:
            url = urlsplit(command[2])
            assert url.geturl().startswith(ct.API + "/")
            page = int(parse_qs(url.query)["page"][0])
            body = box.api.get(url.path[len("/api/"):])
            if body is None:
                return self._done(argv, 1, stderr="wget: server returned error: HTTP/1.1 404 Not Found")
            if isinstance(body, list) and body and isinstance(body[0], list):  # pages
                headers = "  HTTP/1.1 200 OK\n" + ("  X-Next-Page: %d\n" % (page + 1) if page < len(body) else "")
                return self._done(argv, 0, json.dumps(body[page - 1]), headers)
            return self._done(argv, 0, json.dumps(body), "  HTTP/1.1 200 OK\n  Content-Type: application/json\n")
        raise AssertionError("unexpected docker call %r" % (args,))

    @staticmethod
    def _done(argv, returncode, stdout="", stderr=""):
        return subprocess.CompletedProcess(argv, returncode, stdout, stderr)

    def of(self, command):
        return [call for call in self.calls if call[0] == command]


def api_for(merged, missing=(), disabled=None, overview_errors=None):
    """What Traefik's API answers when it loaded the merged files (internal objects included)."""
    disabled = disabled or {}
    objects = {}
    for section, kinds in ct.SECTIONS.items():
        for kind in kinds:
            names = ["%s@file" % n for n in sorted((merged.get(section) or {}).get(kind) or {})]
            if section == "http":
                names += {"routers": ["api@internal", "ping@internal"], "middlewares": ["dashboard_redirect@internal"],
                          "services": ["api@internal", "ping@internal"]}[kind]
            items = []
            for name in names:
                if name in missing:
                    continue
                item = {"name": name, "status": "enabled", "provider": name.split("@")[1]}
                if name in disabled:
                    item.update(status="disabled", error=disabled[name])
                items.append(item)
            objects["%s/%s" % (section, kind)] = items
    overview = {section: {kind: {"total": len(objects["%s/%s" % (section, kind)]), "warnings": 0,
                                 "errors": (overview_errors or {}).get((section, kind), 0)} for kind in kinds}
                for section, kinds in ct.SECTIONS.items()}
    return dict(objects, overview=overview)


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(ct, "time", types.SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    return fake


@pytest.fixture
def fake_docker(monkeypatch, clock):
    """Install a FakeDocker built from the given boxes; the script's container registry starts empty."""
    del clock
    monkeypatch.setattr(ct, "_containers", set())

    def install(**kwargs):
        fake = FakeDocker(**kwargs)
        monkeypatch.setattr(ct, "subprocess", types.SimpleNamespace(run=fake, TimeoutExpired=subprocess.TimeoutExpired))
        return fake
    return install


# --- the rendered files ------------------------------------------------------------------------
def test_read_config_yaml_toml_and_empty(tmp_path):
    (tmp_path / "a.yml").write_text("http:\n  routers: {r: {rule: 'Host(`a`)'}}\n")
    (tmp_path / "b.toml").write_text('[http.services.s.loadBalancer]\nservers = [{url = "http://s:80"}]\n')
    (tmp_path / "empty.yml").write_text("")
    assert ct.read_config(str(tmp_path / "a.yml")) == {"http": {"routers": {"r": {"rule": "Host(`a`)"}}}}
    assert ct.read_config(str(tmp_path / "b.toml")) == {"http": {"services": {"s": {"loadBalancer": {"servers": [{"url": "http://s:80"}]}}}}}
    assert ct.read_config(str(tmp_path / "empty.yml")) == {}


def test_dynamic_files_recursive_sorted_and_only_config_files(tmp_path):
    for rel in ("z.yml", "a.yaml", "sub/b.toml", "sub/a.yml", "README.md", "x.yml.bak", "a/z.yml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}\n")
    found = [os.path.relpath(p, tmp_path) for p in ct.dynamic_files(str(tmp_path))]
    assert found == ["a.yaml", "z.yml", "a/z.yml", "sub/a.yml", "sub/b.toml"]


def test_merge_dynamic_merges_sections_and_remembers_origins(tmp_path):
    proxy = write_proxy(tmp_path, **{"dynamic__tls.yml": "tls:\n  certificates: [{certFile: /a.crt}]\n  options: {modern: {minVersion: VersionTLS13}}\n",
                                     "dynamic__tls2.toml": '[[tls.certificates]]\ncertFile = "/b.crt"\n'})
    merged, origins, problems = ct.merge_dynamic(os.path.join(proxy, "dynamic"))
    assert problems == []
    assert sorted(merged["http"]["middlewares"]) == ["selftest-chain", "selftest-headers"]
    assert merged["http"]["routers"]["selftest-router"]["middlewares"] == ["selftest-chain"]
    assert merged["http"]["services"]["selftest-service"]["loadBalancer"]["servers"] == [{"url": "http://selftest:80"}]
    # lists (tls.certificates) from several files are concatenated in file order, mappings merged
    assert merged["tls"]["certificates"] == [{"certFile": "/a.crt"}, {"certFile": "/b.crt"}]
    assert merged["tls"]["options"] == {"modern": {"minVersion": "VersionTLS13"}}
    assert origins[("http", "routers", "selftest-router")] == "dynamic/routers.yml"
    assert origins[("http", "middlewares", "selftest-headers")] == "dynamic/middlewares.yml"


def test_merge_dynamic_reports_duplicates_and_unreadable_files(tmp_path):
    proxy = write_proxy(tmp_path, **{
        "dynamic__zz-again.yml": "http:\n  middlewares:\n    selftest-headers: {compress: {}}\n",
        "dynamic__broken.yml": "http: [unclosed\n",
        "dynamic__list.yml": "- not a mapping\n",
        "dynamic__bad.toml": "[http\n"})
    merged, origins, problems = ct.merge_dynamic(os.path.join(proxy, "dynamic"))
    # in the order the files are read (sorted): a parse error skips its file, the rest is merged
    assert problems[0].startswith("dynamic/bad.toml: cannot parse: ")
    assert problems[1].startswith("dynamic/broken.yml: cannot parse: ")
    assert problems[2] == "dynamic/list.yml: not a mapping"
    assert problems[3] == "dynamic/zz-again.yml: http.middlewares.selftest-headers is already defined in dynamic/middlewares.yml"
    assert len(problems) == 4
    # the file read later wins the merge (as the report says: defined twice), and is the origin now
    assert merged["http"]["middlewares"]["selftest-headers"] == {"compress": {}}
    assert origins[("http", "middlewares", "selftest-headers")] == "dynamic/zz-again.yml"
    assert "selftest-router" in merged["http"]["routers"]


@pytest.mark.parametrize("text", ["http: [a]\n", "http:\n  routers: a-string\n"])
def test_merge_dynamic_reports_a_section_that_is_not_a_mapping(tmp_path, text):
    proxy = write_proxy(tmp_path, **{"dynamic__odd.yml": text})
    dummy, dummy2, problems = ct.merge_dynamic(os.path.join(proxy, "dynamic"))
    assert [p for p in problems if p.startswith("dynamic/odd.yml: ")]


def test_merge_dynamic_of_a_missing_dir_is_empty(tmp_path):
    assert ct.merge_dynamic(str(tmp_path / "nope" / "dynamic")) == ({}, {}, [])


def test_merged_refuses_a_proxy_dir_without_dynamic(tmp_path, capsys):
    assert ct.main(["check_traefik.py", "--merged", str(tmp_path / "nope")]) == 1
    assert "has no dynamic/ directory" in capsys.readouterr().err


# --- Traefik's log -----------------------------------------------------------------------------
def test_parse_log_console_lines_colored_or_not():
    colored = "\x1b[90m2026-01-05T10:00:01Z\x1b[0m \x1b[31mERR\x1b[0m " + ROUTER_ERROR.split(" ERR ", 1)[1]
    lines = [VERSION_LINE, ROUTER_ERROR, colored, "   continuation of a multi-line message", "",
             "2026-01-05T10:00:03Z WRN HTTP router already configured, skipping providerName=file routerName=r"]
    entries = ct.parse_log(lines)
    assert entries[0] == {"level": "info", "message": "Traefik version 3.3.4 built on 2025-02-25T10:11:01Z"}
    router = {"level": "error", "message": "", "error": 'middleware "selftest-missing@file" does not exist',
              "entryPointName": "web-secure", "routerName": "selftest-router@file"}
    assert entries[1] == router and entries[2] == router
    assert entries[3] == {"level": "warn", "message": "HTTP router already configured, skipping", "providerName": "file",
                          "routerName": "r"}
    assert len(entries) == 4


def test_parse_log_json_lines():
    lines = [json.dumps({"level": "error", "providerName": "docker", "error": "Cannot connect to the Docker daemon",
                         "time": "2026-01-05T10:00:00Z", "message": "Provider error, retrying in 1s", "retry": 3}),
             json.dumps({"level": "WARN", "routerName": "r@file"}), "{not json"]
    entries = ct.parse_log(lines)
    assert entries[0]["level"] == "error" and entries[0]["providerName"] == "docker"
    assert entries[0]["retry"] == "3" and entries[0]["message"] == "Provider error, retrying in 1s"
    assert entries[1] == {"level": "warn", "routerName": "r@file", "message": ""}
    assert len(entries) == 2


def test_describe_names_the_object_and_maps_container_paths(tmp_path):
    proxy = str(tmp_path / "proxy")
    entry = ct.parse_log([ROUTER_ERROR])[0]
    # the entry point is left out when a router is named
    assert ct.describe(entry, proxy) == 'router selftest-router@file: middleware "selftest-missing@file" does not exist'
    entry = {"level": "error", "message": "Error while building configuration", "providerName": "file",
             "error": "%s/middlewares.yml: field not found, node: frameDenyy" % ct.DYNAMIC_PATH}
    assert ct.describe(entry, proxy) == ("provider file: Error while building configuration; %s/dynamic/middlewares.yml: "
                                         "field not found, node: frameDenyy" % proxy)
    entry = {"level": "error", "message": "Command error", "error": "decoding configuration file %s" % ct.STATIC_PATH}
    assert ct.describe(entry, proxy) == "Command error; decoding configuration file %s/traefik.yml" % proxy
    entry = {"level": "error", "message": "x", "entryPointName": "web", "certificateResolver": "le", "origin": "o"}
    assert ct.describe(entry, proxy) == "entry point web certificate resolver le in o: x"


def test_log_problems_errors_and_double_definitions_only_once_each(tmp_path):
    lines = [VERSION_LINE, ROUTER_ERROR, ROUTER_ERROR,
             "2026-01-05T10:00:03Z WRN HTTP router already configured, skipping providerName=file routerName=r",
             "2026-01-05T10:00:03Z WRN some other warning", "2026-01-05T10:00:04Z DBG debug error=ignored",
             '2026-01-05T10:00:05Z FTL fatal thing error="boom"', "2026-01-05T10:00:06Z PNC panic"]
    problems = ct.log_problems(ct.parse_log(lines), str(tmp_path), [])
    assert problems == [
        'Traefik logged ERROR: router selftest-router@file: middleware "selftest-missing@file" does not exist',
        "Traefik logged WARN: router r provider file: HTTP router already configured, skipping",
        "Traefik logged FATAL: fatal thing; boom",
        "Traefik logged PANIC: panic"]


def test_environment_tolerates_only_the_missing_network_and_docker_sock(tmp_path):
    other_docker = '2026-01-05T10:00:00Z ERR Provider error error="field not found, node: exposedbydefault" providerName=docker'
    acme_other = ('2026-01-05T10:00:02Z ERR Unable to obtain ACME certificate error="acme: error: 400 :: '
                  'urn:ietf:params:acme:error:malformed" providerName=le.acme')
    offline = [DOCKER_SOCK, ACME_OFFLINE,
               '2026-01-05T10:00:02Z ERR Building ACME client error="Get https://x/dir: dial tcp: lookup x: no such host" '
               'providerName=le.acme',
               '2026-01-05T10:00:02Z ERR Cannot get ACME client error="network is unreachable" providerName=le.acme']
    assert ct.log_problems(ct.parse_log(offline), str(tmp_path), ct.ENVIRONMENT) == []
    problems = ct.log_problems(ct.parse_log(offline + [other_docker, acme_other, ROUTER_ERROR]), str(tmp_path), ct.ENVIRONMENT)
    assert problems == ["Traefik logged ERROR: provider docker: Provider error; field not found, node: exposedbydefault",
                        "Traefik logged ERROR: provider le.acme: Unable to obtain ACME certificate; "
                        "acme: error: 400 :: urn:ietf:params:acme:error:malformed",
                        'Traefik logged ERROR: router selftest-router@file: middleware "selftest-missing@file" does not exist']
    # without the tolerance the same lines are problems
    assert len(ct.log_problems(ct.parse_log(offline), str(tmp_path), [])) == 4


def test_config_error_logged_and_version():
    building = '2026-01-05T10:00:01Z ERR Error while building configuration (for more information set the log level to DEBUG) ' \
               'error="yaml: line 3: did not find expected key" providerName=file'
    assert ct.config_error_logged(ct.parse_log([VERSION_LINE, building]))
    assert not ct.config_error_logged(ct.parse_log([VERSION_LINE, ROUTER_ERROR]))
    assert ct.version(ct.parse_log([ROUTER_ERROR, VERSION_LINE])) == "3.3.4"
    assert ct.version(ct.parse_log([ROUTER_ERROR])) is None


# --- the checker's own static configuration ------------------------------------------------------
def test_the_api_static_keeps_the_rendered_entry_points_ports_only():
    static = yaml.safe_load(ct.SELF_STATIC)
    static["entryPoints"]["metrics"] = {"address": "127.0.0.1:8082"}
    static["entryPoints"]["dns"] = {"address": ":53/udp"}
    static["entryPoints"]["odd"] = None
    out = ct.test_static(static)
    assert out["entryPoints"] == {"web": {"address": ":80"}, "web-secure": {"address": ":443"}, "traefik": {"address": ":8080"},
                                  "metrics": {"address": ":8082"}, "dns": {"address": ":53/udp"}}
    assert out["api"] == {"insecure": True, "dashboard": True} and out["ping"] == {"entryPoint": "traefik"}
    assert out["providers"] == {"file": {"directory": ct.DYNAMIC_PATH}}
    # nothing of the rendered file but its entry points: no resolvers, no docker provider, no redirections
    assert "certificatesResolvers" not in out and "http" not in out["entryPoints"]["web"]
    assert ct.test_static({})["entryPoints"] == {"web": {"address": ":80"}, "web-secure": {"address": ":443"},
                                                 "traefik": {"address": ":8080"}}


def test_qualify():
    assert ct.qualify("x") == "x@file" and ct.qualify("x@docker") == "x@docker" and ct.qualify("api@internal") == "api@internal"


# --- docker ------------------------------------------------------------------------------------
def test_start_builds_an_isolated_run_and_remove_forgets_it(fake_docker):
    fake = fake_docker(real=Box())
    name = ct.start("real", [("/p/traefik.yml", ct.STATIC_PATH, "ro"), ("/p/dynamic", ct.DYNAMIC_PATH, "ro")], "/p/traefik.env")
    assert name.startswith("kompose-check-traefik-%d-" % os.getpid()) and name.endswith("-real")
    assert fake.calls[0] == ["run", "-d", "--pull", "never", "--name", name, "--network", "none", "--label",
                             "kompose.check=traefik", "-v", "/p/traefik.yml:%s:ro" % ct.STATIC_PATH,
                             "-v", "/p/dynamic:%s:ro" % ct.DYNAMIC_PATH, "--env-file", "/p/traefik.env", ct.IMAGE]
    second = ct.start("real", [])
    assert second != name and "--env-file" not in fake.calls[1]
    assert ct._containers == {name, second}
    ct.remove(name)
    assert fake.calls[-1] == ["rm", "-f", "-v", name] and ct._containers == {second}
    ct.remove_all()
    assert fake.calls[-1] == ["rm", "-f", "-v", second] and ct._containers == set()


def test_start_failure_is_a_check_error(fake_docker):
    fake_docker(real=Box(run_error="Unable to find image 'kompose-lab/traefik:3' locally"))
    with pytest.raises(ct.CheckError, match="docker run .* failed: Unable to find image"):
        ct.start("real", [])


def test_wait_ping_until_up_exited_or_deadline(fake_docker, clock):
    fake = fake_docker(real=Box(ping=[False, False, True]))
    name = ct.start("real", [])
    assert ct.wait_ping(name, clock.now + 30) is True
    assert [c[2:] for c in fake.of("exec")] == [["traefik", "healthcheck", "--ping"]] * 3 and clock.slept == [0.25, 0.25]
    fake = fake_docker(real=Box(ping=False, running=False, exit_code=1))
    assert ct.wait_ping(ct.start("real", []), clock.now + 30) is False
    assert len(fake.of("exec")) == 1  # exited: no point asking again
    fake = fake_docker(real=Box(ping=False))
    assert ct.wait_ping(ct.start("real", []), clock.now + 2) is False
    assert len(fake.of("exec")) == 8  # every 0.25 s until the deadline


def test_api_get_reads_every_page(fake_docker):
    fake = fake_docker(api=Box(api={"http/routers": [[{"name": "a"}], [{"name": "b"}], [{"name": "c"}]],
                                    "overview": {"http": {}}}))
    name = ct.start("api", [])
    assert ct.api_get(name, "http/routers") == [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    urls = [c[4] for c in fake.of("exec")]
    assert urls == ["%s/http/routers?per_page=1000&page=%d" % (ct.API, page) for page in (1, 2, 3)]
    assert ct.api_get(name, "overview") == {"http": {}}
    with pytest.raises(ct.CheckError, match="GET .*/api/tcp/routers.* failed: .*404"):
        ct.api_get(name, "tcp/routers")


# --- the real run ------------------------------------------------------------------------------
def test_run_real_good_tolerates_the_missing_network(fake_docker, tmp_path, clock):
    static_text = ct.SELF_STATIC + ("certificatesResolvers:\n  le: {acme: {storage: /letsencrypt/acme.json}}\n"
                                    "  staging: {acme: {storage: acme-staging.json}}\n  plain: {acme: {}}\n")
    proxy = write_proxy(tmp_path, static=static_text, **{"traefik.env": "X=1\n", "acme-ca.pem": "pem"})
    work = tmp_path / "work"
    work.mkdir()
    fake = fake_docker(real=Box(logs=[VERSION_LINE, DOCKER_SOCK, ACME_OFFLINE]))
    problems, version = ct.run_real(proxy, yaml.safe_load(static_text), str(work))
    assert (problems, version) == ([], "3.3.4")
    argv = fake.boxes["real"].argv
    mounts = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-v"]
    # every ACME store is an empty file of its own, 0600, mounted where the resolver keeps it
    assert sorted(mounts) == sorted(["%s/traefik.yml:%s:ro" % (proxy, ct.STATIC_PATH), "%s/dynamic:%s:ro" % (proxy, ct.DYNAMIC_PATH),
                                     "%s/acme-0/acme-staging.json:/acme-staging.json:rw" % work, "%s/acme-0/acme.json:/acme.json:rw" % work,
                                     "%s/acme-1:/letsencrypt:rw" % work, "%s/acme-ca.pem:/etc/traefik/acme-ca.pem:ro" % proxy])
    assert sorted(os.listdir(work / "acme-0")) == ["acme-staging.json", "acme.json"] and os.listdir(work / "acme-1") == ["acme.json"]
    assert oct(os.stat(work / "acme-1" / "acme.json").st_mode & 0o777) == "0o600" and os.path.getsize(work / "acme-1" / "acme.json") == 0
    assert argv[argv.index("--env-file") + 1] == os.path.join(proxy, "traefik.env")
    assert ct.SETTLE in clock.slept  # routers get time to log their errors after /ping answers
    assert fake.of("rm") == [["rm", "-f", "-v", argv[argv.index("--name") + 1]]] and ct._containers == set()


def test_run_real_reports_a_router_error_and_reads_the_log_file(fake_docker, tmp_path):
    static_text = ct.SELF_STATIC.replace("log: {level: INFO, noColor: true}", "log: {level: INFO, filePath: /var/log/traefik.log}")
    proxy = write_proxy(tmp_path, static=static_text)
    fake = fake_docker(real=Box(logs=[VERSION_LINE], files={"/var/log/traefik.log": ROUTER_ERROR + "\n"}))
    problems, version = ct.run_real(proxy, yaml.safe_load(static_text), str(tmp_path))
    assert problems == ['Traefik logged ERROR: router selftest-router@file: middleware "selftest-missing@file" does not exist']
    assert version == "3.3.4"
    assert ["cat", "/var/log/traefik.log"] in [c[2:] for c in fake.of("exec")]
    assert "--env-file" not in fake.boxes["real"].argv


def test_run_real_traefik_exits_on_a_bad_static_file(fake_docker, tmp_path):
    proxy = write_proxy(tmp_path)
    fake_docker(real=Box(ping=False, running=False, exit_code=1, logs=[
        '2026-01-05T10:00:00Z ERR Command error error="command traefik error: field not found, node: adress"']))
    problems, version = ct.run_real(proxy, {}, str(tmp_path))
    assert problems == ["Traefik exited (code 1) with the rendered traefik.yml",
                        "Traefik logged ERROR: Command error; command traefik error: field not found, node: adress"]
    assert version is None


def test_run_real_no_ping_and_nothing_logged_shows_the_log_tail(fake_docker, tmp_path):
    proxy = write_proxy(tmp_path)
    lines = ["\x1b[32mline %d\x1b[0m" % i for i in range(15)]
    fake_docker(real=Box(ping=False, logs=lines))
    problems, dummy = ct.run_real(proxy, {}, str(tmp_path))
    assert problems == ["`traefik healthcheck --ping` did not succeed within %ds" % ct.PING_TIMEOUT] + [
        "log: line %d" % i for i in range(5, 15)]


# --- the API run -------------------------------------------------------------------------------
def api_case(tmp_path, routers=ct.SELF_ROUTERS, middlewares=ct.SELF_MIDDLEWARES, static=ct.SELF_STATIC):
    proxy = write_proxy(tmp_path, static=static, middlewares=middlewares, routers=routers)
    merged, origins, problems = ct.merge_dynamic(os.path.join(proxy, "dynamic"))
    assert problems == []
    work = tmp_path / "work"
    work.mkdir()
    return proxy, yaml.safe_load(static), merged, origins, str(work)


def test_run_api_everything_loaded_and_enabled(fake_docker, tmp_path):
    proxy, static, merged, origins, work = api_case(tmp_path)
    fake = fake_docker(api=Box(api=api_for(merged), logs=[VERSION_LINE]))
    problems, counts = ct.run_api(proxy, static, merged, origins, work)
    assert problems == []
    assert counts == {"routers": (1, 1), "middlewares": (2, 2), "services": (1, 1)}
    box = fake.boxes["api"]
    # the checker's own static file (API on the internal entry point), dynamic/ as rendered, no env file
    assert yaml.safe_load(box.static) == ct.test_static(static)
    assert "%s/dynamic:%s:ro" % (proxy, ct.DYNAMIC_PATH) in box.argv and "--env-file" not in box.argv
    assert fake.of("rm") and ct._containers == set()


def test_run_api_names_what_traefik_did_not_load_and_why(fake_docker, tmp_path, clock):
    routers = ct.SELF_ROUTERS.replace("[selftest-chain]", "[selftest-missing]")
    proxy, static, merged, origins, work = api_case(tmp_path, routers=routers)
    api = api_for(merged, missing={"selftest-router@file"}, overview_errors={("http", "routers"): 1})
    fake_docker(api=Box(api=api, logs=[VERSION_LINE, ROUTER_ERROR]))
    problems, counts = ct.run_api(proxy, static, merged, origins, work)
    assert problems == [
        "/api/overview: http routers: 1 error(s)",
        "http routers not loaded by Traefik (1 of 1 defined in dynamic/routers.yml): selftest-router@file",
        "http router selftest-router@file: middleware selftest-missing@file is not defined",
        'Traefik logged ERROR: router selftest-router@file: middleware "selftest-missing@file" does not exist']
    assert counts["routers"] == (1, 0)
    # it waited for the router until the load deadline (no configuration error was logged)
    assert sum(clock.slept) >= ct.LOAD_TIMEOUT


def test_run_api_stops_waiting_on_a_configuration_error(fake_docker, tmp_path, clock):
    middlewares = ct.SELF_MIDDLEWARES.replace("frameDeny:", "frameDenyy:")
    proxy, static, merged, origins, work = api_case(tmp_path, middlewares=middlewares)
    building = ('2026-01-05T10:00:01Z ERR Error while building configuration (for more information set the log level to DEBUG) '
                'error="%s/middlewares.yml: field not found, node: frameDenyy" providerName=file' % ct.DYNAMIC_PATH)
    api = api_for({}, overview_errors=None)  # the whole file provider dropped: only @internal objects
    fake_docker(api=Box(api=api, logs=[VERSION_LINE, building]))
    problems, counts = ct.run_api(proxy, static, merged, origins, work)
    assert sum(clock.slept) < 1  # no waiting for the load deadline
    assert problems == [
        "http routers not loaded by Traefik (1 of 1 defined in dynamic/routers.yml): selftest-router@file",
        "http middlewares not loaded by Traefik (2 of 2 defined in dynamic/middlewares.yml): selftest-chain@file, selftest-headers@file",
        "http services not loaded by Traefik (1 of 1 defined in dynamic/routers.yml): selftest-service@file",
        "Traefik logged ERROR: provider file: Error while building configuration (for more information set the log level to DEBUG); "
        "%s/dynamic/middlewares.yml: field not found, node: frameDenyy" % proxy]
    assert counts == {"routers": (1, 0), "middlewares": (2, 0), "services": (1, 0)}


def test_run_api_disabled_objects_and_unresolved_references(fake_docker, tmp_path):
    routers = ct.SELF_ROUTERS.replace("[selftest-chain]", "[selftest-chain, auth@docker, dashboard_redirect@internal, gone@internal]").replace(
        "  services:\n", "    other:\n      rule: Host(`o`)\n      service: nowhere\n  services:\n")
    middlewares = ct.SELF_MIDDLEWARES.replace("[selftest-headers]", "[selftest-headers, absent]") + (
        "    pages:\n      errors: {status: ['500'], service: no-such-service, query: '/{status}.html'}\n")
    tcp = "tcp:\n  routers:\n    db:\n      rule: HostSNI(`*`)\n      service: pg\n      middlewares: [allow]\n"
    proxy, static, merged, origins, work = api_case(tmp_path, routers=routers + tcp, middlewares=middlewares)
    api = api_for(merged, disabled={"other@file": ["the service \"nowhere@file\" does not exist"], "pages@file": None})
    api["http/middlewares"][[m["name"] for m in api["http/middlewares"]].index("pages@file")]["status"] = "warning"
    fake_docker(api=Box(api=api, logs=[VERSION_LINE]))
    problems, dummy = ct.run_api(proxy, static, merged, origins, work)
    assert problems == [
        'http router other@file: status disabled: the service "nowhere@file" does not exist',
        "http middleware pages@file: status warning: no error given",
        "http router selftest-router@file: middleware gone@internal is not defined",
        "http router other@file: service nowhere@file is not defined",
        "http middleware selftest-chain@file (chain): middleware absent@file is not defined",
        "http middleware pages@file (errors): service no-such-service@file is not defined",
        "tcp router db@file: middleware allow@file is not defined",
        "tcp router db@file: service pg@file is not defined"]


def test_run_api_tolerates_only_the_rendered_resolvers(fake_docker, tmp_path):
    static_text = ct.SELF_STATIC + "certificatesResolvers:\n  le: {acme: {storage: acme.json}}\n"
    proxy, static, merged, origins, work = api_case(tmp_path, static=static_text)
    logs = [VERSION_LINE,
            "2026-01-05T10:00:01Z ERR Router uses a nonexistent certificate resolver certificateResolver=le routerName=a@file",
            "2026-01-05T10:00:01Z ERR Router uses a nonexistent certificate resolver certificateResolver=typo routerName=b@file"]
    fake = fake_docker(api=Box(api=api_for(merged), logs=logs))
    problems, dummy = ct.run_api(proxy, static, merged, origins, work)
    assert problems == ["Traefik logged ERROR: router b@file certificate resolver typo: Router uses a nonexistent certificate resolver"]
    assert "certificatesResolvers" not in yaml.safe_load(fake.boxes["api"].static)


def test_run_api_without_ping(fake_docker, tmp_path):
    proxy, static, merged, origins, work = api_case(tmp_path)
    fake = fake_docker(api=Box(ping=False, running=False, exit_code=1, logs=["2026-01-05T10:00:00Z ERR Command error error=boom"]))
    assert ct.run_api(proxy, static, merged, origins, work) == (
        ["API run: Traefik did not answer /ping", "Traefik logged ERROR: Command error; boom"], {})
    assert fake.of("rm") and ct._containers == set()


# --- one dir, several dirs, main ----------------------------------------------------------------
def test_check_dir_ok_summary(fake_docker, tmp_path):
    proxy = write_proxy(tmp_path)
    merged = ct.merge_dynamic(os.path.join(proxy, "dynamic"))[0]
    fake_docker(real=Box(logs=[VERSION_LINE, DOCKER_SOCK]), api=Box(api=api_for(merged), logs=[VERSION_LINE]))
    ok, line, problems = ct.check_dir(proxy)
    assert ok and problems == []
    assert line.startswith("ok   %s: Traefik 3.3.4 runs traefik.yml with dynamic/" % proxy)
    assert "API: 1/1 routers, 2/2 middlewares, 1/1 services @file loaded and enabled, 0 errors" in line


def test_check_dir_collects_both_runs_once_each(fake_docker, tmp_path):
    proxy = write_proxy(tmp_path, routers=ct.SELF_ROUTERS.replace("[selftest-chain]", "[selftest-missing]"),
                        **{"dynamic__dup.yml": "http:\n  services:\n    selftest-service: {loadBalancer: {servers: []}}\n"})
    merged = ct.merge_dynamic(os.path.join(proxy, "dynamic"))[0]
    fake_docker(real=Box(logs=[VERSION_LINE, ROUTER_ERROR]),
                api=Box(api=api_for(merged, missing={"selftest-router@file"}), logs=[VERSION_LINE, ROUTER_ERROR]))
    ok, line, problems = ct.check_dir(proxy)
    assert not ok and line.startswith("FAIL %s: Traefik 3.3.4: 4 problem(s)" % proxy)
    assert problems == [
        "dynamic/routers.yml: http.services.selftest-service is already defined in dynamic/dup.yml",
        'traefik.yml run: Traefik logged ERROR: router selftest-router@file: middleware "selftest-missing@file" does not exist',
        "API run: http routers not loaded by Traefik (1 of 1 defined in dynamic/routers.yml): selftest-router@file",
        "API run: http router selftest-router@file: middleware selftest-missing@file is not defined"]


def test_check_dir_unparsable_static_and_missing_files(fake_docker, tmp_path):
    assert ct.check_dir(str(tmp_path)) == (False, "FAIL %s: no traefik.yml and dynamic/ here" % tmp_path, [])
    proxy = write_proxy(tmp_path, static="entryPoints: [oops\n")
    merged = ct.merge_dynamic(os.path.join(proxy, "dynamic"))[0]
    fake_docker(real=Box(ping=False, running=False, exit_code=1), api=Box(api=api_for(merged)))
    ok, dummy, problems = ct.check_dir(proxy)
    assert not ok and problems[0].startswith("traefik.yml: cannot parse: ")
    assert problems[1] == "traefik.yml run: Traefik exited (code 1) with the rendered traefik.yml"


def test_check_dir_docker_failure_is_one_fail_line(monkeypatch, fake_docker, tmp_path):
    proxy = write_proxy(tmp_path)
    (tmp_path / "tmp").mkdir()
    works = []

    def mkdtemp(prefix):
        works.append(tempfile.mkdtemp(prefix=prefix, dir=str(tmp_path / "tmp")))
        return works[-1]
    monkeypatch.setattr(ct, "tempfile", types.SimpleNamespace(mkdtemp=mkdtemp))
    fake_docker(real=Box(run_error="Cannot connect to the Docker daemon"), api=Box(run_error="Cannot connect to the Docker daemon"))
    ok, line, problems = ct.check_dir(proxy)
    assert not ok and problems == []
    assert line == "FAIL %s: docker run %s failed: Cannot connect to the Docker daemon" % (proxy, ct.IMAGE)
    # its work dir (the ACME stores, the API run's static file) is removed whatever happened
    assert len(works) == 1 and works[0].startswith(str(tmp_path / "tmp" / "kompose-check-traefik-"))
    assert not os.path.exists(works[0])


def test_check_without_the_image(fake_docker, capsys):
    fake = fake_docker(image=False)
    assert ct.check(["/nowhere"]) == 2
    assert "image %s not found" % ct.IMAGE in capsys.readouterr().err
    assert fake.calls == [["image", "inspect", ct.IMAGE]]


def test_check_prints_one_line_a_dir_and_fails_if_one_fails(monkeypatch, fake_docker, capsys):
    fake_docker()
    verdicts = {"/a": (True, "ok   /a: fine", []), "/b": (False, "FAIL /b: broken", ["one", "two"])}
    monkeypatch.setattr(ct, "check_dir", verdicts.get)
    assert ct.check(["/a", "/b"]) == 1
    out = capsys.readouterr()
    assert out.out == "ok   /a: fine\n" and out.err == "FAIL /b: broken\n     - one\n     - two\n"
    assert ct.check(["/a"]) == 0


def test_main_merged_prints_the_merge_or_the_problems(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    proxy = write_proxy(tmp_path)
    assert ct.main(["check_traefik.py", "--merged", proxy]) == 0
    assert json.loads(capsys.readouterr().out) == ct.merge_dynamic(os.path.join(proxy, "dynamic"))[0]
    with open(os.path.join(proxy, "dynamic", "again.yml"), "w", encoding="utf-8") as handle:
        handle.write(ct.SELF_ROUTERS)
    assert ct.main(["check_traefik.py", "--merged", proxy]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "http.routers.selftest-router is already defined in dynamic/again.yml" in out.err


@pytest.mark.parametrize("argv", [[], ["--merged"], ["--merged", "a", "b"], ["--self-test", "x"], ["-h"]])
def test_main_usage(monkeypatch, capsys, argv):
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    assert ct.main(["check_traefik.py"] + argv) == 2
    assert capsys.readouterr().err == ct.__doc__


def test_main_removes_leftover_containers_and_exits_143_on_sigterm(monkeypatch, fake_docker):
    handlers = {}
    monkeypatch.setattr(signal, "signal", handlers.__setitem__)
    fake = fake_docker(real=Box())
    monkeypatch.setattr(ct, "check", lambda dirs: ct.start("real", []) and 1)
    assert ct.main(["check_traefik.py", "/a"]) == 1
    assert ct._containers == set() and len(fake.of("rm")) == 1
    with pytest.raises(SystemExit) as exc:
        handlers[signal.SIGTERM](signal.SIGTERM, None)
    assert exc.value.code == 143


# --- self-test ---------------------------------------------------------------------------------
def test_each_bad_self_test_case_differs_from_the_good_one():
    good = ct.SELF_CASES["good"][:3]
    for case, (static, middlewares, routers, expect) in ct.SELF_CASES.items():
        if case != "good":
            changed = [a != b for a, b in zip((static, middlewares, routers), good)]
            assert changed.count(True) == 1 and expect, case


@pytest.mark.parametrize("honest", [True, False])
def test_self_test_verdicts(monkeypatch, fake_docker, capsys, honest):
    """--self-test passes only when check_dir passes the good files and fails each bad case naming what it must."""
    fake_docker()
    written = {}

    def check_dir(proxy):
        files = []
        for rel in ("traefik.yml", "dynamic/middlewares.yml", "dynamic/routers.yml"):
            with open(os.path.join(proxy, rel), encoding="utf-8") as handle:
                files.append(handle.read())
        files = tuple(files)
        case = [name for name, spec in ct.SELF_CASES.items() if spec[:3] == files][0]
        written[case] = proxy
        expect = ct.SELF_CASES[case][3]
        if expect is None:
            return True, "ok   %s" % proxy, []
        return False, "FAIL %s" % proxy, (expect if honest else expect[:-1] + ["something else"])

    monkeypatch.setattr(ct, "check_dir", check_dir)
    assert ct.self_test() == (0 if honest else 1)
    out = capsys.readouterr().out.splitlines()
    assert sorted(written) == sorted(ct.SELF_CASES)
    assert not any(os.path.exists(p) for p in written.values())  # the case dirs are removed
    assert out[0] == "ok   self-test good: passes"
    bad = [line for line in out[1:] if "self-test" in line]
    assert len(bad) == len(ct.SELF_CASES) - 1
    assert all(line.startswith("ok   ") if honest else line.startswith("FAIL ") for line in bad)


def test_self_test_fails_when_the_good_files_fail(monkeypatch, fake_docker, capsys):
    fake_docker()
    monkeypatch.setattr(ct, "check_dir", lambda proxy: (False, "FAIL %s: oops" % proxy, ["x"]))
    assert ct.self_test() == 1
    assert "FAIL self-test good: fails on good files:" in capsys.readouterr().out
