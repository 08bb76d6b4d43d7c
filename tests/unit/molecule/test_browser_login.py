"""molecule/default/files/browser_login.py without a browser: its arguments, the CA fingerprint, how it
reads Chromium's DevTools log, retries a navigation cut by the network, fills Keycloak's form, and
main()'s setup checks and retry verdicts, against a fake WebDriver."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import types

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "molecule", "default", "files", "browser_login.py")


def _load():
    spec = importlib.util.spec_from_file_location("kompose_browser_login", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bl = _load()
DOMAIN = "kompose.test"
AUTH = "https://auth.kompose.test/realms/kompose/protocol/openid-connect/auth?client_id=oauth2-proxy"


def args_for(tmp_path, *extra):
    return bl.parse_args([DOMAIN, str(tmp_path / "ca.pem"), str(tmp_path / "secrets"), str(tmp_path / "shots")] + list(extra))


# --- arguments and the CA -----------------------------------------------------------------------
def test_parse_args_defaults_and_repeatable_headers(tmp_path):
    args = args_for(tmp_path)
    assert (args.domain, args.realm, args.sso_secure_url, args.expect_header, args.timeout) == (DOMAIN, "kompose", "", [], 30)
    assert (args.chromium, args.chromedriver) == ("/usr/bin/chromium", "/usr/bin/chromedriver")
    args = args_for(tmp_path, "--sso-secure-url", "https://analytics.kompose.test/headers", "--expect-header", "A=1",
                    "--expect-header", "B=x=y", "--timeout", "5", "--realm", "other")
    assert args.sso_secure_url == "https://analytics.kompose.test/headers" and args.expect_header == ["A=1", "B=x=y"]
    assert (args.timeout, args.realm) == (5, "other")
    with pytest.raises(SystemExit):
        bl.parse_args([DOMAIN, "ca"])


def make_ca(path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kompose lab root")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    path.write_bytes(b"some text before\n" + cert.public_bytes(serialization.Encoding.PEM) + b"-----BEGIN CERTIFICATE-----\nAAAA\n")
    return cert


def test_pem_fingerprint_is_the_sha256_of_the_first_certificate(tmp_path):
    cert = make_ca(tmp_path / "ca.pem")
    expected = ":".join("%02X" % byte for byte in cert.fingerprint(hashes.SHA256()))
    assert bl.pem_fingerprint(str(tmp_path / "ca.pem")) == expected
    (tmp_path / "empty.pem").write_text("no certificate here\n")
    with pytest.raises(bl.Failure, match="trust: no certificate in .*empty.pem"):
        bl.pem_fingerprint(str(tmp_path / "empty.pem"))


@pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl")
def test_pem_fingerprint_as_openssl_shows_it(tmp_path):
    make_ca(tmp_path / "ca.pem")
    shown = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(tmp_path / "ca.pem")],
                           capture_output=True, text=True, check=True).stdout
    assert shown.strip().split("=", 1)[1] == bl.pem_fingerprint(str(tmp_path / "ca.pem"))


def test_expect_and_final():
    bl.expect(True, "step", "unused")
    with pytest.raises(bl.Failure, match="^step: what went wrong$"):
        bl.expect([], "step", "what went wrong")
    assert bl.final([{"url": "a"}, {"url": "b"}], "s") == {"url": "b"}
    with pytest.raises(bl.Failure, match="Chromium logged no document"):
        bl.final([], "s")


@pytest.mark.parametrize("shown, name, value, found", [
    ('{\n  "X-Auth-Request-Email": "lab-user@kompose.test",\n  "X-Auth-Request-Preferred-Username": "lab-user"\n}',
     "X-Auth-Request-Preferred-Username", "lab-user", True),
    ('{"X-Auth-Request-Email": "lab-user@kompose.test"}', "X-Auth-Request-Email", "lab-user@kompose.test", True),
    ("X-Auth-Request-Preferred-Username: lab-user\nX-Forwarded-For: 10.0.0.1", "x-auth-request-preferred-username", "lab-user", True),
    # a longer value that starts with the wanted one is not it
    ('{"X-Auth-Request-Preferred-Username": "lab-user2"}', "X-Auth-Request-Preferred-Username", "lab-user", False),
    ('{"X-Auth-Request-Preferred-Username": "lab-user@kompose.test"}', "X-Auth-Request-Preferred-Username", "lab-user", False),
    ('{"X-Auth-Request-User": "lab-user"}', "X-Auth-Request-Preferred-Username", "lab-user", False),
    ('{"X-Auth-Request-Preferred-Username": "lab-admin"}', "X-Auth-Request-Preferred-Username", "lab-user", False),
    ('{"X-Auth-Request-Preferred-Username-Other": "lab-user"}', "X-Auth-Request-Preferred-Username", "lab-user", False),
])
def test_shows_header(shown, name, value, found):
    assert bool(bl.shows_header(shown, name, value)) is found


# --- a fake WebDriver ----------------------------------------------------------------------------
def event(method, **params):
    return {"message": json.dumps({"message": {"method": method, "params": params}}), "level": "INFO"}


def document(url, status=200, secure="secure", frame="TOP", request="r1", redirect_from=None, issuer="Pebble Intermediate"):
    """The DevTools events of a top-frame document (and of the redirect that led to it)."""
    out = []
    if redirect_from:
        out.append(event("Network.requestWillBeSent", type="Document", frameId=frame, requestId=request, request={"url": url},
                         redirectResponse={"status": redirect_from[1], "url": redirect_from[0], "securityState": secure,
                                           "securityDetails": {"issuer": issuer}}))
    else:
        out.append(event("Network.requestWillBeSent", type="Document", frameId=frame, requestId=request, request={"url": url}))
    response = {"status": status, "url": url, "securityState": secure if url.startswith("https") else "insecure"}
    if url.startswith("https"):
        response["securityDetails"] = {"issuer": issuer}
    out.append(event("Network.responseReceived", type="Document", frameId=frame, requestId=request, response=response))
    return out


class Element:
    def __init__(self, driver, name, text="", displayed=True):
        self.driver, self.name, self.text, self.displayed = driver, name, text, displayed
        self.typed = []

    def clear(self):
        self.typed = []

    def send_keys(self, text):
        self.typed.append(text)

    def click(self):
        self.driver.clicked(self.name)

    def is_displayed(self):
        return self.displayed


class Driver:
    """Navigations are scripted: site[url] -> (final url, title, DevTools events) or an exception to raise."""

    def __init__(self, site=None, cookies=(), fetches=None):
        self.site = site or {}
        self.pending, self.gets, self.current_url, self.title = [], [], "about:blank", ""
        self.elements = {}  # (by, value) -> [Element]
        self.body, self.cookie_names, self.fetches = "", set(cookies), fetches or {}
        self.async_calls, self.screenshots, self.capabilities = [], [], {"browserVersion": "131.0"}
        self.on_click, self.quit_called = None, False

    def execute_cdp_cmd(self, command, params):
        del params
        if command == "Page.getFrameTree":
            return {"frameTree": {"frame": {"id": "TOP"}}}
        if command == "Network.getAllCookies":
            return {"cookies": [{"name": name, "value": "v"} for name in sorted(self.cookie_names)]}
        raise AssertionError(command)

    def get_log(self, kind):
        assert kind == "performance"
        out, self.pending = self.pending, []
        return out

    def get(self, url):
        self.gets.append(url)
        page = self.site[url]
        if isinstance(page, list):
            page = page.pop(0) if len(page) > 1 else page[0]
        if isinstance(page, Exception):
            raise page
        self.current_url, self.title, events = page
        self.pending += events

    def execute_script(self, script):
        assert script == "return document.readyState"
        return "complete"

    def execute_async_script(self, script, path):
        self.async_calls.append((script, path))
        return list(self.fetches[path])

    def find_elements(self, by, value):
        return self.elements.get((by, value), [])

    def find_element(self, by, value):
        if by == By.TAG_NAME and value == "body":
            return Element(self, "body", self.body)
        found = self.find_elements(by, value)
        if not found:
            raise WebDriverException("no such element: %s" % value)
        return found[0]

    def clicked(self, name):
        self.on_click(name)

    def save_screenshot(self, path):
        self.screenshots.append(path)
        return not path.endswith("unwritable.png")

    def quit(self):
        self.quit_called = True


def browser_with(driver, tmp_path, *extra):
    """A Browser around a fake driver (its __init__ starts Chromium: tested on its own below)."""
    browser = bl.Browser.__new__(bl.Browser)
    browser.args, browser.home, browser.domain = args_for(tmp_path, *extra), str(tmp_path), DOMAIN
    browser.lines, browser.driver, browser.version = [], driver, "131.0"
    return browser


@pytest.fixture
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(bl, "time", types.SimpleNamespace(sleep=slept.append, monotonic=lambda: 0.0))
    return slept


# --- what Chromium saw ---------------------------------------------------------------------------
def test_hops_are_the_top_frames_documents_with_their_redirects(tmp_path):
    driver = Driver()
    driver.pending = (document("https://prometheus.kompose.test/", request="r1")[:1]
                      + document(AUTH, request="r1", redirect_from=("https://prometheus.kompose.test/", 302))
                      + document("https://iframe.kompose.test/", frame="CHILD", request="r2")
                      + [event("Network.responseReceived", type="XHR", frameId="TOP", requestId="r3",
                               response={"status": 500, "url": "https://x/api"}),
                         event("Network.requestWillBeSent", type="Document", frameId="TOP", requestId="r4",
                               request={"url": "https://gone.kompose.test/"}),
                         event("Network.loadingFailed", type="Document", frameId="TOP", requestId="r4", canceled=True,
                               errorText="net::ERR_ABORTED"),
                         event("Network.requestWillBeSent", type="Document", frameId="TOP", requestId="r5",
                               request={"url": "https://bad.kompose.test/"}),
                         event("Network.loadingFailed", type="Document", frameId="TOP", requestId="r5",
                               errorText="net::ERR_CERT_AUTHORITY_INVALID")])
    browser = browser_with(driver, tmp_path)
    assert browser.hops() == [
        {"status": 302, "url": "https://prometheus.kompose.test/", "secure": "secure", "issuer": "Pebble Intermediate", "error": None},
        {"status": 200, "url": AUTH, "secure": "secure", "issuer": "Pebble Intermediate", "error": None},
        {"status": None, "url": "https://bad.kompose.test/", "secure": None, "issuer": "", "error": "net::ERR_CERT_AUTHORITY_INVALID"}]
    assert browser.hops() == []  # each call reads what came since the last one


def test_hops_without_a_frame_tree_take_every_frame(tmp_path):
    driver = Driver()

    def no_frame_tree(command, params):
        raise WebDriverException("no page for %s %s" % (command, params))
    driver.execute_cdp_cmd = no_frame_tree
    driver.pending = document("http://plain.kompose.test/", frame="CHILD")
    assert browser_with(driver, tmp_path).hops() == [
        {"status": 200, "url": "http://plain.kompose.test/", "secure": "insecure", "issuer": "", "error": None}]


def hop(url, status=200, secure="secure", error=None):
    return {"status": status, "url": url, "secure": secure, "issuer": "", "error": error}


def test_checked_refuses_errors_untrusted_chains_and_error_pages(tmp_path):
    driver = Driver()
    driver.current_url = "https://prometheus.kompose.test/"
    browser = browser_with(driver, tmp_path)
    good = [hop("http://prometheus.kompose.test/", 301, None), hop("https://prometheus.kompose.test/")]
    assert browser.checked("s", good) == good
    with pytest.raises(bl.Interrupted, match="s: net::ERR_NETWORK_CHANGED on https://a/"):
        browser.checked("s", [hop("https://a/", None, None, "net::ERR_NETWORK_CHANGED")])
    with pytest.raises(bl.Failure, match="s: Chromium could not load https://a/: net::ERR_CERT_DATE_INVALID") as exc:
        browser.checked("s", [hop("https://a/", None, None, "net::ERR_CERT_DATE_INVALID")])
    assert not isinstance(exc.value, bl.Interrupted)
    with pytest.raises(bl.Failure, match="s: Chromium rates https://a/ as 'insecure'"):
        browser.checked("s", [hop("https://a/", secure="insecure")])
    driver.elements[(By.ID, "main-frame-error")] = [Element(driver, "err")]
    driver.body = "This site can't be reached"
    with pytest.raises(bl.Failure, match="s: Chromium shows an error page: This site can't be reached"):
        browser.checked("s", good)
    driver.elements.clear()
    driver.current_url = "chrome-error://chromewebdata/"
    with pytest.raises(bl.Failure, match="error page"):
        browser.checked("s", good)


def test_visit_asks_again_after_a_network_change(tmp_path, no_sleep):
    url = "https://prometheus.kompose.test/"
    cut = (url, "", [event("Network.requestWillBeSent", type="Document", frameId="TOP", requestId="a", request={"url": url}),
                     event("Network.loadingFailed", type="Document", frameId="TOP", requestId="a", errorText="net::ERR_NETWORK_CHANGED")])
    driver = Driver({url: [cut, (AUTH, "Sign in", document(AUTH))]})
    browser = browser_with(driver, tmp_path)
    assert browser.visit("anonymous", url) == [hop(AUTH) | {"issuer": "Pebble Intermediate"}]
    assert driver.gets == [url, url] and no_sleep == [1]
    assert browser.lines == ["  (anonymous: net::ERR_NETWORK_CHANGED on %s, asked again)" % url]
    # a sign-out is not asked again: the cut is no verdict, the walk starts over
    driver = Driver({url: [cut, (AUTH, "Sign in", document(AUTH))]})
    with pytest.raises(bl.Interrupted):
        browser_with(driver, tmp_path).visit("sign-out", url, repeatable=False)
    assert driver.gets == [url]
    # nor more than ATTEMPTS times
    driver = Driver({url: [cut]})
    with pytest.raises(bl.Interrupted):
        browser_with(driver, tmp_path).visit("anonymous", url)
    assert len(driver.gets) == bl.ATTEMPTS


def test_visit_timeout_is_a_failure(tmp_path):
    driver = Driver({"https://slow/": TimeoutException("timeout")})
    with pytest.raises(bl.Failure, match="step: https://slow/ did not load within 30s"):
        browser_with(driver, tmp_path).visit("step", "https://slow/")


def test_fetch_cookies_shot_and_login_form(tmp_path):
    driver = Driver(cookies={"_oauth2_proxy", "KEYCLOAK_IDENTITY"},
                    fetches={"/api/v1/status/buildinfo": (200, '{"status": "success"}'), "/down": (0, "TypeError: Failed to fetch")})
    browser = browser_with(driver, tmp_path)
    assert browser.fetch("/api/v1/status/buildinfo") == (200, '{"status": "success"}')
    assert driver.async_calls[0][1] == "/api/v1/status/buildinfo" and "credentials: 'same-origin'" in driver.async_calls[0][0]
    with pytest.raises(bl.Interrupted, match="fetch /down from about:blank: TypeError"):
        browser.fetch("/down")
    assert browser.cookies() == {"_oauth2_proxy", "KEYCLOAK_IDENTITY"}
    assert browser.shot("01.png") == os.path.join(str(tmp_path / "shots"), "01.png")
    with pytest.raises(bl.Failure, match="screenshot: could not write"):
        browser.shot("unwritable.png")
    assert browser.host("auth") == "auth.kompose.test"
    driver.current_url = AUTH
    assert not browser.on_login_form()  # no form on the page
    driver.elements[(By.ID, "kc-form-login")] = [Element(driver, "form")]
    assert browser.on_login_form()
    driver.current_url = "https://auth.kompose.test/realms/master/protocol/openid-connect/auth"
    assert not browser.on_login_form()  # another realm
    driver.current_url = "https://evil.test/realms/kompose/x"
    assert not browser.on_login_form()


# --- signing in ----------------------------------------------------------------------------------
def login_page(tmp_path, user, password):
    (tmp_path / "secrets").mkdir(exist_ok=True)
    (tmp_path / "secrets" / ("keycloak-" + user)).write_text(password + "\n")
    driver = Driver()
    driver.current_url = AUTH
    for name in ("username", "password", "kc-login"):
        driver.elements[(By.ID, name)] = [Element(driver, name)]
    return driver


def test_sign_in_types_the_secret_and_follows_to_the_app(tmp_path):
    driver = login_page(tmp_path, "lab-admin", "s3cret")

    def land(name):
        assert name == "kc-login"
        driver.current_url = "https://prometheus.kompose.test/query"
        driver.pending += document("https://prometheus.kompose.test/query", redirect_from=(AUTH, 302))
    driver.on_click = land
    browser = browser_with(driver, tmp_path)
    hops = browser.sign_in("step", "lab-admin")
    assert driver.elements[(By.ID, "username")][0].typed == ["lab-admin"]
    assert driver.elements[(By.ID, "password")][0].typed == ["s3cret"]
    assert [h["url"] for h in hops] == [AUTH, "https://prometheus.kompose.test/query"]


def test_sign_in_refused_or_stuck(tmp_path):
    driver = login_page(tmp_path, "lab-user", "pw")
    driver.on_click = lambda name: driver.elements.update(
        {(By.CSS_SELECTOR, "#input-error, .kc-feedback-text, .alert-error"): [Element(driver, "e", "Invalid username or password.")]})
    driver.body = "Invalid username or password."
    with pytest.raises(bl.Failure, match="step: Keycloak refused lab-user's sign-in: Invalid username or password."):
        browser_with(driver, tmp_path).sign_in("step", "lab-user")
    driver = login_page(tmp_path, "lab-user", "pw")
    driver.on_click = lambda name: None  # nothing happens
    with pytest.raises(bl.Failure, match="step: still at %s 0s after submitting lab-user's credentials" % AUTH.replace("?", r"\?")):
        browser_with(driver, tmp_path, "--timeout", "0").sign_in("step", "lab-user")


def test_abandon_signs_out_until_the_session_cookie_is_gone(tmp_path, no_sleep):
    driver = Driver({"https://sso.kompose.test/oauth2/sign_out": ("https://auth.kompose.test/", "", [])}, cookies={"_oauth2_proxy"})
    original = driver.get

    def get(url):
        original(url)
        driver.cookie_names.discard("_oauth2_proxy")
    driver.get = get
    browser_with(driver, tmp_path).abandon()
    assert driver.gets == ["https://sso.kompose.test/oauth2/sign_out"] and len(no_sleep) == 1
    driver = Driver({"https://sso.kompose.test/oauth2/sign_out": WebDriverException("gone")}, cookies={"_oauth2_proxy"})
    browser_with(driver, tmp_path).abandon()  # best effort: never raises
    assert len(driver.gets) == bl.ATTEMPTS


# --- the browser it starts -----------------------------------------------------------------------
def test_browser_trusts_only_the_lab_ca_in_its_own_nss_db(monkeypatch, tmp_path):
    ran, started = [], {}

    class Chrome:
        def __init__(self, options, service):
            started.update(options=options, service=service)
            self.capabilities = {"browserVersion": "131.0.6778"}

        def set_page_load_timeout(self, seconds):
            started["timeout"] = seconds

    monkeypatch.setattr(bl, "subprocess", types.SimpleNamespace(run=lambda argv, **kwargs: ran.append((argv, kwargs))))
    monkeypatch.setattr(bl.webdriver, "Chrome", Chrome)
    monkeypatch.setattr(bl, "Service", lambda executable_path, env: {"path": executable_path, "env": env})
    args = args_for(tmp_path, "--timeout", "12")
    home = tmp_path / "home"
    home.mkdir()
    browser = bl.Browser(args, str(home))
    nssdb = "sql:" + str(home / ".pki" / "nssdb")
    assert [argv for argv, kwargs in ran] == [
        ["certutil", "-N", "-d", nssdb, "--empty-password"],
        ["certutil", "-A", "-d", nssdb, "-n", "kompose-lab-root", "-t", "C,,", "-i", args.ca_file]]
    assert all(kwargs == {"check": True, "capture_output": True} for argv, kwargs in ran)
    options = started["options"]
    assert options.binary_location == "/usr/bin/chromium"
    assert "--host-resolver-rules=MAP *.kompose.test 127.0.0.1, MAP kompose.test 127.0.0.1" in options.arguments
    assert "--headless=new" in options.arguments and "--user-data-dir=%s/profile" % home in options.arguments
    assert not [a for a in options.arguments if "ignore-certificate" in a or "insecure" in a]
    assert ("--no-sandbox" in options.arguments) == (os.geteuid() == 0)
    assert options.to_capabilities()["goog:loggingPrefs"] == {"performance": "ALL"}
    # chromedriver (and Chromium) run with the throw-away HOME, where Chromium reads .pki/nssdb
    assert started["service"]["path"] == "/usr/bin/chromedriver" and started["service"]["env"]["HOME"] == str(home)
    assert started["timeout"] == 12 and browser.version == "131.0.6778"


# --- main ----------------------------------------------------------------------------------------
@pytest.fixture
def setup_ok(monkeypatch, tmp_path):
    """Executables, certutil, the secrets and the CA main() checks before it starts a browser."""
    for name in ("chromium", "chromedriver"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        os.chmod(tmp_path / name, 0o755)
    (tmp_path / "secrets").mkdir()
    for user in bl.USERS:
        (tmp_path / "secrets" / ("keycloak-" + user)).write_text("pw\n")
    make_ca(tmp_path / "ca.pem")
    monkeypatch.setattr(bl, "shutil", types.SimpleNamespace(which=lambda name: "/usr/bin/" + name))
    return [DOMAIN, str(tmp_path / "ca.pem"), str(tmp_path / "secrets"), str(tmp_path / "shots"),
            "--chromium", str(tmp_path / "chromium"), "--chromedriver", str(tmp_path / "chromedriver")]


def test_main_setup_failures(monkeypatch, tmp_path, capsys, setup_ok):
    argv = list(setup_ok)
    assert bl.main(argv[:4] + ["--chromium", str(tmp_path / "nope")] + argv[6:]) == 2
    assert "FAIL setup: needs Debian's chromium" in capsys.readouterr().err
    monkeypatch.setattr(bl, "shutil", types.SimpleNamespace(which=lambda name: None))
    assert bl.main(argv) == 2
    assert "(missing: certutil)" in capsys.readouterr().err
    monkeypatch.setattr(bl, "shutil", types.SimpleNamespace(which=lambda name: "/usr/bin/" + name))
    os.remove(tmp_path / "secrets" / "keycloak-lab-user")
    assert bl.main(argv) == 2
    assert "FAIL setup: no secret keycloak-lab-user in" in capsys.readouterr().err
    (tmp_path / "secrets" / "keycloak-lab-user").write_text("pw\n")
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "failed.png").write_text("old")
    assert bl.main(argv) == 2
    assert capsys.readouterr().out.startswith("FAIL trust: trust: no certificate in ")
    assert not (tmp_path / "shots" / "failed.png").exists()  # a stale failure screenshot is gone


class FakeBrowser:
    """Stands in for Browser in main(): records its life; walk() is scripted per attempt."""

    made = []

    def __init__(self, args, home):
        assert os.path.isdir(home)
        self.args, self.home, self.version = args, home, "131.0"
        self.lines, self.abandoned = [], False
        self.driver = Driver()
        self.driver.current_url, self.driver.title = "https://auth.kompose.test/x", "Sign in"
        FakeBrowser.made.append(self)

    def abandon(self):
        self.abandoned = True

    def shot(self, name):
        return os.path.join(self.args.screenshot_dir, name)


def run_main(monkeypatch, argv, outcomes):
    """main() with FakeBrowser; outcomes: per attempt, an exception for walk() to raise or None (the walk passes)."""
    FakeBrowser.made = []
    outcomes = list(outcomes)

    def walk(browser, args):
        del args
        browser.lines.append("PASS anonymous: ok")
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        browser.lines.append("PASS lab-admin prometheus: ok")
    monkeypatch.setattr(bl, "Browser", FakeBrowser)
    monkeypatch.setattr(bl, "walk", walk)
    return bl.main(argv)


def test_main_passes_after_a_network_interruption(monkeypatch, capsys, setup_ok):
    assert run_main(monkeypatch, setup_ok, [bl.Interrupted("anonymous: net::ERR_NETWORK_CHANGED on x"), None]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("PASS trust: CA ") and "(SHA-256 " in out[0]
    assert out[1] == "RETRY attempt 1/3 interrupted by the network, not by the edge: anonymous: net::ERR_NETWORK_CHANGED on x"
    # only the PASS lines of the attempt that got through
    assert out[2:4] == ["PASS anonymous: ok", "PASS lab-admin prometheus: ok"]
    assert out[4].startswith("OK 2 steps in ") and "(Chromium 131.0, attempt 2)" in out[4]
    first, second = FakeBrowser.made
    assert first.abandoned and not second.abandoned
    assert first.driver.quit_called and second.driver.quit_called and first.home != second.home
    assert not os.path.exists(first.home)  # each attempt's HOME is thrown away


def test_main_gives_up_after_three_interruptions(monkeypatch, capsys, setup_ok):
    assert run_main(monkeypatch, setup_ok, [bl.Interrupted("cut %d" % i) for i in range(3)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out[1:4]] == ["RETRY attempt %d/3 interrupted by the network, not by the edge" % i
                                                         for i in (1, 2, 3)]
    assert out[4] == "FAIL 3 attempts in a row interrupted (last: cut 2)"
    assert len(FakeBrowser.made) == 3 and all(b.driver.quit_called for b in FakeBrowser.made)


@pytest.mark.parametrize("error", [bl.Failure("lab-user prometheus 403: expected 403"), WebDriverException("chromedriver died"),
                                   KeyError("data")])
def test_main_fails_at_once_on_a_failed_check(monkeypatch, capsys, setup_ok, error):
    assert run_main(monkeypatch, setup_ok, [error, None]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1] == "PASS anonymous: ok" and "\nFAIL %s\n" % error in out
    assert out.splitlines()[-1] == "  at https://auth.kompose.test/x ('Sign in'); screenshot %s" % os.path.join(setup_ok[3], "failed.png")
    (browser,) = FakeBrowser.made  # no second attempt
    assert browser.abandoned and browser.driver.quit_called


def test_main_fails_when_the_browser_does_not_start(monkeypatch, capsys, setup_ok):
    def broken(args, home):
        raise subprocess.CalledProcessError(255, ["certutil"])
    monkeypatch.setattr(bl, "Browser", broken)
    assert bl.main(setup_ok) == 1
    assert capsys.readouterr().out.splitlines()[1].startswith("FAIL Command '['certutil']' returned non-zero exit status 255")


def test_main_reads_sys_argv(monkeypatch, capsys, setup_ok):
    monkeypatch.setattr(sys, "argv", ["browser_login.py"] + setup_ok)
    assert run_main(monkeypatch, None, [None]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("OK 2 steps")
