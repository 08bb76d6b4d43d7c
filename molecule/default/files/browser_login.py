"""Sign in to the lab's edge with a real headless browser (Chromium driven through Selenium).

Usage: browser_login.py DOMAIN CA_FILE SECRETS_DIR SCREENSHOT_DIR [--sso-secure-url URL] [--expect-header NAME=VALUE]

Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver) and certutil
(libnss3-tools) are used; nothing is downloaded. Every host under DOMAIN resolves to 127.0.0.1
inside the browser (--host-resolver-rules), where Traefik publishes the edge. CA_FILE (the root
the lab's ACME CA issues under) is added as a trust anchor to a throw-away NSS database of the
browser's own (its HOME is a temporary directory), so Chromium validates every chain itself: no
--ignore-certificate-errors, and each page Chromium shows must be one it calls "secure".

The walk, one line per step on stdout ("PASS <step>: ...", then "OK ..."; on the first failed
check "FAIL <step>: ...", a screenshot failed.png, and exit status 1):
  1. https://prometheus.DOMAIN/ without a session lands on Keycloak's login form;
  2. lab-admin signs in there and lands on Prometheus's UI (status 200, its title, and its own
     API answering from the page);
  3. https://alerts.DOMAIN/ shows Alertmanager's UI without a second sign-in;
  4. sign-out through OAuth2 Proxy with RP-initiated logout: /oauth2/sign_out?rd=<Keycloak's
     end_session_endpoint with id_token_hint={id_token} (OAuth2 Proxy fills it in),
     post_logout_redirect_uri and client_id>: both sessions end, no confirmation page;
  5. the next visit to Prometheus is sent to Keycloak's login form again (no silent sign-in);
  6. lab-user (no admin) signs in there: the internal-only Prometheus and Alertmanager answer 403;
  7. (with --sso-secure-url) lab-user gets 200 from that sso-secure app, which echoes the
     X-Auth-Request-* headers OAuth2 Proxy sent it (default expectations: the preferred user name
     and the e-mail; X-Auth-Request-User carries Keycloak's subject id, not the user name);
  8. the plain sign-out link /oauth2/sign_out (no rd) ends Keycloak's session too (OAuth2 Proxy's
     backend logout, auth_sign_out_ends_keycloak_session): the next visit asks for the password.
A screenshot (PNG) of each landing page goes to SCREENSHOT_DIR; the paths are printed. Every
session the walk opens is signed out again (after a failure too), so a second run starts from the
same state. A navigation cut by a network change on this host (net::ERR_NETWORK_CHANGED: Docker
adding or removing a bridge) is no verdict: it is asked again, or the walk starts again with a
fresh browser ("RETRY ...", at most 3 attempts).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from urllib.parse import parse_qs, quote, urlsplit

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

USERS = ("lab-admin", "lab-user")
# Chromium drops its connections when this host's interfaces change (Docker adds and removes
# bridges and veths for other containers); such a cut is retried: a navigation that nothing
# answered yet at once, anything else by starting the walk again with a fresh browser.
TRANSIENT = {"net::ERR_NETWORK_CHANGED"}
ATTEMPTS = 3


class Failure(Exception):
    """A failed check: the step and what was seen."""


class Interrupted(Failure):
    """A navigation cut by a network error that is no verdict on the edge (see TRANSIENT)."""


def base_parser(description):
    """The arguments every browser walk takes (app_login.py adds its own)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("domain")
    parser.add_argument("ca_file")
    parser.add_argument("secrets_dir")
    parser.add_argument("screenshot_dir")
    parser.add_argument("--realm", default="kompose")
    parser.add_argument("--timeout", type=int, default=30, help="seconds to wait for a page (default 30)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    return parser


def parse_args(argv):
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--sso-secure-url", default="",
                        help="an app behind the sso-secure chain that echoes its request headers (lab-user must get 200)")
    parser.add_argument("--expect-header", action="append", default=[], metavar="NAME=VALUE",
                        help="a header the --sso-secure-url page must show (repeatable; default: "
                             "X-Auth-Request-Preferred-Username=lab-user, X-Auth-Request-Email=lab-user@DOMAIN)")
    return parser.parse_args(argv)


def pem_fingerprint(path):
    """SHA-256 of the first certificate of a PEM file (as `openssl x509 -fingerprint -sha256` shows it)."""
    with open(path, encoding="ascii") as handle:
        text = handle.read()
    match = re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", text, re.S)
    if not match:
        raise Failure("trust: no certificate in %s" % path)
    digest = hashlib.sha256(base64.b64decode("".join(match.group(1).split()))).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


class Browser:
    """One headless Chromium with a profile and an NSS database of its own."""

    def __init__(self, args, home):
        self.args = args
        self.home = home
        self.domain = args.domain
        self.lines = []
        nssdb = os.path.join(home, ".pki", "nssdb")
        os.makedirs(nssdb, mode=0o700)
        # Chromium on Linux reads its trust anchors from $HOME/.pki/nssdb besides the built-in roots
        subprocess.run(["certutil", "-N", "-d", "sql:" + nssdb, "--empty-password"], check=True, capture_output=True)
        subprocess.run(["certutil", "-A", "-d", "sql:" + nssdb, "-n", "kompose-lab-root", "-t", "C,,", "-i", args.ca_file],
                       check=True, capture_output=True)
        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        flags = ["--headless=new", "--window-size=1280,900", "--disable-dev-shm-usage", "--no-first-run",
                 "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--password-store=basic", "--user-data-dir=" + os.path.join(home, "profile"),
                 "--host-resolver-rules=MAP *.{0} 127.0.0.1, MAP {0} 127.0.0.1".format(self.domain)]
        if os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium refuses to run its sandbox as root
        for flag in flags:
            options.add_argument(flag)
        options.add_experimental_option("prefs", {"credentials_enable_service": False,
                                                  "profile.password_manager_enabled": False,
                                                  "profile.password_manager_leak_detection": False})
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        service = Service(executable_path=args.chromedriver, env=dict(os.environ, HOME=home))
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.set_page_load_timeout(args.timeout)
        self.version = self.driver.capabilities.get("browserVersion", "?")

    # --- what Chromium saw ---------------------------------------------------------------------

    def hops(self):
        """The documents of the top frame since the last call: [{status, url, secure, issuer, error}]."""
        try:
            top = self.driver.execute_cdp_cmd("Page.getFrameTree", {})["frameTree"]["frame"]["id"]
        except WebDriverException:
            top = None
        out, urls = [], {}
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message.get("method"), message.get("params", {})
            if params.get("type") != "Document" or (top and params.get("frameId") not in (top, None)):
                continue
            if method == "Network.requestWillBeSent":
                urls[params["requestId"]] = params["request"]["url"]
            if method == "Network.loadingFailed" and not params.get("canceled"):
                # no page at all: a network error (net::ERR_...) or a certificate Chromium refused
                out.append({"status": None, "url": urls.get(params["requestId"], "?"), "secure": None, "issuer": "",
                            "error": params.get("errorText", "?")})
                continue
            if method == "Network.requestWillBeSent" and params.get("redirectResponse"):
                response = params["redirectResponse"]
            elif method == "Network.responseReceived":
                response = params["response"]
            else:
                continue
            details = response.get("securityDetails") or {}
            out.append({"status": response["status"], "url": response["url"], "secure": response.get("securityState"),
                        "issuer": details.get("issuer", ""), "error": None})
        return out

    def settle(self):
        WebDriverWait(self.driver, self.args.timeout).until(
            lambda driver: driver.execute_script("return document.readyState") == "complete")

    def visit(self, step, url, repeatable=True):
        """GET url in the tab: the hops of the navigation (see checked). A repeatable GET that a
        network change cut before any answer is asked again (a sign-out is not repeatable: the
        server may have acted on a request whose answer never arrived)."""
        for attempt in range(1, ATTEMPTS + 1):
            self.hops()  # forget earlier entries
            try:
                self.driver.get(url)
            except TimeoutException as exc:
                raise Failure("%s: %s did not load within %ss" % (step, url, self.args.timeout)) from exc
            self.settle()
            hops = self.hops()
            if repeatable and attempt < ATTEMPTS and hops and hops[0]["error"] in TRANSIENT:
                self.lines.append("  (%s: %s on %s, asked again)" % (step, hops[0]["error"], url))
                time.sleep(1)
                continue
            return self.checked(step, hops)
        raise AssertionError("unreachable")

    def checked(self, step, hops=None):
        """The navigation's hops; fails on a browser error page or a chain Chromium did not trust."""
        hops = self.hops() if hops is None else hops
        for hop in hops:
            if hop["error"] in TRANSIENT:
                raise Interrupted("%s: %s on %s" % (step, hop["error"], hop["url"]))
            if hop["error"]:
                raise Failure("%s: Chromium could not load %s: %s" % (step, hop["url"], hop["error"]))
            if hop["url"].startswith("https://") and hop["secure"] != "secure":
                raise Failure("%s: Chromium rates %s as %r (issuer %r)" % (step, hop["url"], hop["secure"], hop["issuer"]))
        if self.driver.current_url.startswith("chrome-error://") or self.driver.find_elements(By.ID, "main-frame-error"):
            raise Failure("%s: Chromium shows an error page: %s" % (step, self.text()[:300]))
        return hops

    def text(self):
        try:
            return self.driver.find_element(By.TAG_NAME, "body").text
        except WebDriverException:
            return ""

    def fetch(self, path):
        """GET path from the current page's origin (with its cookies): (status, body)."""
        script = ("const done = arguments[arguments.length - 1];"
                  "fetch(arguments[0], {credentials: 'same-origin', redirect: 'manual'})"
                  ".then(r => r.text().then(t => done([r.type === 'opaqueredirect' ? 302 : r.status, t])))"
                  ".catch(e => done([0, String(e)]));")
        status, body = self.driver.execute_async_script(script, path)
        if status == 0:  # no answer at all (the network, as for a navigation)
            raise Interrupted("fetch %s from %s: %s" % (path, self.driver.current_url, body))
        return status, body

    def cookies(self):
        return {cookie["name"] for cookie in self.driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]}

    def shot(self, name):
        path = os.path.join(os.path.abspath(self.args.screenshot_dir), name)
        if not self.driver.save_screenshot(path):
            raise Failure("screenshot: could not write %s" % path)
        return path

    # --- the lab's pages ------------------------------------------------------------------------

    def host(self, name):
        return "%s.%s" % (name, self.domain)

    def on_login_form(self):
        """True when Chromium shows Keycloak's login form of the realm."""
        url = urlsplit(self.driver.current_url)
        return (url.hostname == self.host("auth") and url.path.startswith("/realms/%s/" % self.args.realm)
                and bool(self.driver.find_elements(By.ID, "kc-form-login")))

    def sign_in(self, step, user):
        """Fill Keycloak's form (the tab shows it) as user: the hops to the page it leads to."""
        with open(os.path.join(self.args.secrets_dir, "keycloak-" + user), encoding="utf-8") as handle:
            password = handle.read().strip()
        if self.submit(step, user, password) == "refused":
            raise Failure("%s: Keycloak refused %s's sign-in: %s" % (step, user, self.text()[:200]))
        self.settle()
        return self.checked(step)

    def submit(self, step, user, password, passing=("/oauth2/callback",)):
        """Fill Keycloak's form (the tab shows it) and send it: "refused" when Keycloak shows an error
        (still on its form), "left" once the tab is past Keycloak and past the paths ``passing`` (the
        callback that forwards it on), "error" on a browser error page."""
        auth = self.host("auth")

        def outcome(driver):
            if driver.find_elements(By.ID, "main-frame-error"):
                return "error"
            url = urlsplit(driver.current_url)
            if url.hostname == auth:
                # still (or again) on Keycloak: an error message means the sign-in was refused
                errors = driver.find_elements(By.CSS_SELECTOR, "#input-error, .kc-feedback-text, .alert-error")
                return "refused" if any(e.is_displayed() and e.text.strip() for e in errors) else False
            return False if url.path.startswith(passing) else "left"

        self.hops()
        self.driver.find_element(By.ID, "username").clear()
        self.driver.find_element(By.ID, "username").send_keys(user)
        self.driver.find_element(By.ID, "password").send_keys(password)
        self.driver.find_element(By.ID, "kc-login").click()
        try:
            return WebDriverWait(self.driver, self.args.timeout, ignored_exceptions=(StaleElementReferenceException,)).until(outcome)
        except TimeoutException as exc:
            raise Failure("%s: still at %s %ss after submitting %s's credentials"
                          % (step, self.driver.current_url, self.args.timeout, user)) from exc

    def record(self, step, detail):
        self.lines.append("PASS %s: %s" % (step, detail))

    def abandon(self):
        """Best effort after an interrupted walk: end the sessions it may have opened."""
        for _attempt in range(ATTEMPTS):
            try:
                if "_oauth2_proxy" not in self.cookies():
                    return
                self.driver.get("https://%s/oauth2/sign_out" % self.host("sso"))
            except WebDriverException:
                pass
            time.sleep(1)


def expect(condition, step, message):
    if not condition:
        raise Failure("%s: %s" % (step, message))


def final(hops, step):
    expect(hops, step, "Chromium logged no document for this navigation")
    return hops[-1]


def shows_header(shown, name, value):
    """Whether the text of a page that echoes its request headers (JSON, or `Name: value` lines) shows
    header NAME with exactly VALUE (case-insensitive; not a longer value that starts with it)."""
    pattern = r'(?im)["\']?%s["\']?\s*[:=]\s*["\']?%s(?![\w@.-])' % (re.escape(name), re.escape(value))
    return re.search(pattern, shown)


def walk(browser, args):
    """The steps of the module docstring."""
    drv = browser.driver
    prometheus = "https://%s/" % browser.host("prometheus")
    alerts = "https://%s/" % browser.host("alerts")
    sso = "https://%s" % browser.host("sso")

    step = "anonymous"
    hops = browser.visit(step, prometheus)
    expect(browser.on_login_form(), step, "expected Keycloak's login form, got %s (%r)" % (drv.current_url, drv.title))
    expect(hops[0]["status"] == 302 and hops[0]["url"] == prometheus, step, "no 302 from Prometheus first: %r" % hops[:2])
    client_id = parse_qs(urlsplit(drv.current_url).query).get("client_id", [""])[0]
    status, body = browser.fetch("/realms/%s/.well-known/openid-configuration" % args.realm)
    expect(status == 200, step, "Keycloak's discovery document answered %s" % status)
    end_session = json.loads(body).get("end_session_endpoint", "")
    expect(end_session.startswith("https://%s/" % browser.host("auth")), step, "end_session_endpoint %r" % end_session)
    browser.record(step, "%s -> 302 -> Keycloak's login form at %s (client %s; chain trusted by Chromium %s, issuer %r) [%s]"
                   % (prometheus, browser.host("auth"), client_id, browser.version, final(hops, step)["issuer"],
                      browser.shot("01-keycloak-login.png")))

    step = "lab-admin prometheus"
    hops = browser.sign_in(step, "lab-admin")
    page = final(hops, step)
    expect(urlsplit(drv.current_url).hostname == browser.host("prometheus"), step, "landed on %s" % drv.current_url)
    expect(page["status"] == 200, step, "Prometheus answered %s" % page["status"])
    expect("Prometheus" in drv.title, step, "title %r is not Prometheus's" % drv.title)
    status, body = browser.fetch("/api/v1/status/buildinfo")
    expect(status == 200 and json.loads(body).get("status") == "success", step,
           "Prometheus's API from the page answered %s %s" % (status, body[:200]))
    version = json.loads(body)["data"].get("version", "?")
    expect("_oauth2_proxy" in browser.cookies(), step, "no _oauth2_proxy cookie after the sign-in")
    title = drv.title
    shot = browser.shot("02-prometheus-lab-admin.png")
    browser.visit(step, sso + "/oauth2/userinfo")
    userinfo = json.loads(browser.text() or "{}")
    expect(userinfo.get("preferredUsername") == "lab-admin", step, "OAuth2 Proxy's userinfo: %r" % userinfo)
    browser.record(step, "signed in through Keycloak's form -> %s %s, title %r, Prometheus %s answers its API from the page; "
                   "session of %s (groups %s) [%s]" % (page["status"], page["url"], title, version,
                                                       userinfo.get("preferredUsername"), userinfo.get("groups", []), shot))

    step = "lab-admin alertmanager"
    hops = browser.visit(step, alerts)
    page = final(hops, step)
    expect(not any(urlsplit(hop["url"]).hostname == browser.host("auth") for hop in hops), step,
           "sent to Keycloak again: %r" % [hop["url"] for hop in hops])
    expect(urlsplit(drv.current_url).hostname == browser.host("alerts") and page["status"] == 200, step,
           "got %s %s" % (page["status"], drv.current_url))
    expect("Alertmanager" in drv.title, step, "title %r is not Alertmanager's" % drv.title)
    status, body = browser.fetch("/api/v2/status")
    expect(status == 200 and "versionInfo" in json.loads(body), step, "Alertmanager's API from the page answered %s %s"
           % (status, body[:200]))
    browser.record(step, "%s -> %s, title %r, Alertmanager %s answers its API from the page, no second sign-in [%s]"
                   % (alerts, page["status"], drv.title, json.loads(body)["versionInfo"].get("version", "?"),
                      browser.shot("03-alertmanager-lab-admin.png")))

    step = "sign-out (RP-initiated)"
    post_logout = sso + "/oauth2/sign_in"
    # {id_token} stays literal: OAuth2 Proxy puts the session's ID token there before it redirects
    logout = "%s?id_token_hint={id_token}&post_logout_redirect_uri=%s&client_id=%s" % (
        end_session, quote(post_logout, safe=""), quote(client_id, safe=""))
    sign_out = "%s/oauth2/sign_out?rd=%s" % (sso, quote(logout, safe=""))
    hops = browser.visit(step, sign_out, repeatable=False)
    urls = [hop["url"] for hop in hops]
    at_logout = [hop for hop in hops if hop["url"].startswith(end_session + "?")]
    expect(at_logout and at_logout[0]["status"] == 302 and "id_token_hint=ey" in at_logout[0]["url"], step,
           "Keycloak's end-session endpoint was not reached with the ID token and answered with a redirect: %r" % hops)
    expect(any(url.startswith(post_logout) for url in urls), step, "not sent on to %s: %r" % (post_logout, urls))
    expect(browser.on_login_form(), step, "expected Keycloak's login form after the sign-out, got %s" % drv.current_url)
    left = browser.cookies() & {"_oauth2_proxy", "KEYCLOAK_IDENTITY"}
    expect(not left, step, "cookies left after the sign-out: %s" % sorted(left))
    browser.record(step, "%s -> Keycloak's end_session_endpoint (302, id_token_hint, no confirmation) -> %s -> login form; "
                   "_oauth2_proxy and KEYCLOAK_IDENTITY cookies gone [%s]"
                   % (sso + "/oauth2/sign_out?rd=...", post_logout, browser.shot("04-signed-out.png")))

    step = "session over"
    hops = browser.visit(step, prometheus)
    expect(browser.on_login_form(), step, "Prometheus without asking for the password again: %s (%r)"
           % (drv.current_url, drv.title))
    browser.record(step, "%s -> %s: Keycloak asks for the password again" % (prometheus, " -> ".join(
        "%s %s" % (hop["status"], urlsplit(hop["url"]).hostname) for hop in hops)))

    step = "lab-user prometheus 403"
    hops = browser.sign_in(step, "lab-user")
    page = final(hops, step)
    expect(page["status"] == 403 and page["url"] == prometheus, step, "expected 403 from %s, got %s %s"
           % (prometheus, page["status"], page["url"]))
    expect(browser.text().strip() == "Forbidden", step, "the 403 page shows %r" % browser.text()[:200])
    shot = browser.shot("05-prometheus-lab-user-403.png")
    hops = browser.visit(step, alerts)
    alerts_page = final(hops, step)
    expect(alerts_page["status"] == 403 and not browser.on_login_form(), step, "Alertmanager answered %s %s to lab-user"
           % (alerts_page["status"], drv.current_url))
    browser.record(step, "lab-user signed in; %s -> 403 %r, %s -> 403 (no sign-in loop) [%s]"
                   % (prometheus, browser.text().strip(), alerts, shot))

    if args.sso_secure_url:
        step = "lab-user sso-secure"
        hops = browser.visit(step, args.sso_secure_url)
        page = final(hops, step)
        expect(page["status"] == 200 and not browser.on_login_form(), step, "%s answered %s %s"
               % (args.sso_secure_url, page["status"], drv.current_url))
        shown = browser.text() or drv.page_source
        wanted = args.expect_header or ["X-Auth-Request-Preferred-Username=lab-user",
                                        "X-Auth-Request-Email=lab-user@%s" % args.domain]
        for item in wanted:
            name, _sep, value = item.partition("=")
            expect(shows_header(shown, name, value), step, "the page does not show %s=%s:\n%s" % (name, value, shown[:1500]))
        browser.record(step, "%s -> 200, the app saw %s [%s]" % (args.sso_secure_url, ", ".join(wanted),
                                                                 browser.shot("06-sso-secure-lab-user.png")))

    step = "sign-out (plain link)"
    hops = browser.visit(step, sso + "/oauth2/sign_out")
    expect(hops and hops[0]["status"] == 302, step, "sign_out answered %r" % hops[:1])
    expect(browser.on_login_form(), step, "after %s/oauth2/sign_out Keycloak signed the user straight back in: %s (%r)"
           % (sso, drv.current_url, drv.title))
    expect("_oauth2_proxy" not in browser.cookies(), step, "the _oauth2_proxy cookie is still there")
    shot = browser.shot("07-signed-out-plain.png")
    browser.visit(step, prometheus)
    expect(browser.on_login_form(), step, "Prometheus without asking for the password again: %s" % drv.current_url)
    browser.record(step, "%s/oauth2/sign_out -> login form (OAuth2 Proxy ended Keycloak's session server side; "
                   "KEYCLOAK_IDENTITY cookie %s), then %s -> login form [%s]"
                   % (sso, "still in the browser but dead" if "KEYCLOAK_IDENTITY" in browser.cookies() else "gone",
                      prometheus, shot))


def setup_problem(args, users):
    """Why this machine cannot run the walk (the browser, its driver, certutil, the users' secrets), or ''."""
    missing = [path for path in (args.chromium, args.chromedriver) if not os.access(path, os.X_OK)]
    if not shutil.which("certutil"):
        missing.append("certutil")
    if missing:
        return "needs Debian's chromium, chromium-driver and libnss3-tools (missing: %s)" % ", ".join(missing)
    for user in users:
        if not os.path.isfile(os.path.join(args.secrets_dir, "keycloak-" + user)):
            return "no secret keycloak-%s in %s" % (user, args.secrets_dir)
    return ""


def run(args, walk_fn, what):
    """Walk with a fresh browser; a walk the network interrupted (no verdict on ``what``) starts again, at
    most ATTEMPTS times. Prints the steps and the verdict; the exit status."""
    started = time.monotonic()
    for attempt in range(1, ATTEMPTS + 1):
        browser = None
        with tempfile.TemporaryDirectory(prefix="kompose-browser-") as home:
            try:
                browser = Browser(args, home)
                walk_fn(browser, args)
            except Interrupted as exc:
                # no verdict: start again with a fresh browser (the PASS lines so far are dropped)
                print("RETRY attempt %d/%d interrupted by the network, not by %s: %s" % (attempt, ATTEMPTS, what, exc),
                      flush=True)
                if browser is not None:
                    browser.abandon()
                if attempt < ATTEMPTS:
                    continue
                print("FAIL %d attempts in a row interrupted (last: %s)" % (ATTEMPTS, exc))
                return 1
            except (Failure, WebDriverException, subprocess.CalledProcessError, OSError, ValueError, KeyError) as exc:
                if browser is not None:
                    print("\n".join(browser.lines))
                print("FAIL %s" % exc, flush=True)
                if browser is not None:
                    try:
                        print("  at %s (%r); screenshot %s" % (browser.driver.current_url, browser.driver.title,
                                                               browser.shot("failed.png")), flush=True)
                    except WebDriverException:
                        pass
                    browser.abandon()
                return 1
            finally:
                if browser is not None:
                    browser.driver.quit()
        print("\n".join(browser.lines))
        print("OK %d steps in %.1fs (Chromium %s, attempt %d); screenshots in %s"
              % (len([line for line in browser.lines if line.startswith("PASS")]), time.monotonic() - started,
                 browser.version, attempt, os.path.abspath(args.screenshot_dir)))
        return 0
    raise AssertionError("unreachable")


def start(args, users, walk_fn, what):
    """Check the machine, make the screenshot directory and walk: the main of the other walks
    (app_login.py, kmps_browser.py). The exit status."""
    problem = setup_problem(args, users)
    if problem:
        print("FAIL setup: %s" % problem, file=sys.stderr)
        return 2
    os.makedirs(args.screenshot_dir, exist_ok=True)
    return run(args, walk_fn, what)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    problem = setup_problem(args, USERS)
    if problem:
        print("FAIL setup: %s" % problem, file=sys.stderr)
        return 2
    os.makedirs(args.screenshot_dir, exist_ok=True)
    stale = os.path.join(args.screenshot_dir, "failed.png")
    if os.path.exists(stale):
        os.remove(stale)
    try:
        print("PASS trust: CA %s (SHA-256 %s...) is the only anchor added, in the browser's own NSS database"
              % (args.ca_file, pem_fingerprint(args.ca_file)[:23]), flush=True)
    except (Failure, OSError, ValueError) as exc:
        print("FAIL trust: %s" % exc)
        return 2
    return run(args, walk, "the edge")


if __name__ == "__main__":
    sys.exit(main())
