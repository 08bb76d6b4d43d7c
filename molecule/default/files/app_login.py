"""Sign in to an app's own OpenID Connect login through Keycloak, in a real headless browser.

Usage: app_login.py DOMAIN CA_FILE SECRETS_DIR SCREENSHOT_DIR --app-url URL --link-text TEXT
       [--account-path PATH] [--logout-selector CSS]

For an app that signs its users in itself with a Keycloak client of its own (not behind the SSO
chain), e.g. the lab's custom stack Miniflux. The browser is browser_login.py's (Debian's Chromium
through Selenium, the lab CA's root as the only anchor added, every chain validated by Chromium).
The walk, one line per step on stdout ("PASS <step>: ...", then "OK ..."; on the first failed check
"FAIL <step>: ...", a screenshot failed.png, and exit status 1):
  1. the app's login page (--app-url) offers the link --link-text; following it lands on Keycloak's
     login form of the realm;
  2. lab-user with a wrong password is refused there (Keycloak's error, still on its form);
  3. lab-user with the password of the secret store is sent back to the app and signed in: the page
     at --account-path shows the user name lab-user;
  4. the app's sign-out button (--logout-selector, on that page) shows its login page again, and Keycloak's session is ended
     through its logout endpoint (the confirmation it asks for is given), so a second run starts
     from the same state.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from urllib.parse import urlsplit

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

USER = "lab-user"


def _browser_login():
    """browser_login.py beside this file: its Browser, Failure and helpers."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "browser_login.py")
    spec = importlib.util.spec_from_file_location("kompose_browser_login", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bl = _browser_login()
Failure, expect, final = bl.Failure, bl.expect, bl.final


def parse_args(argv):
    parser = bl.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--app-url", required=True, help="the app's login page")
    parser.add_argument("--link-text", required=True, help="the text of the app's link to Keycloak")
    parser.add_argument("--account-path", default="/", help="a page of the signed-in user that shows the user name")
    parser.add_argument("--logout-selector", default='form[action$="/logout"] [type=submit]',
                        help="the app's sign-out button (a CSS selector)")
    return parser.parse_args(argv)


def walk(browser, args):
    drv = browser.driver
    app = urlsplit(args.app_url)
    origin = "%s://%s" % (app.scheme, app.netloc)

    step = "app login page"
    browser.visit(step, args.app_url)
    links = [a for a in drv.find_elements(By.TAG_NAME, "a") if args.link_text in a.text]
    expect(links, step, "no link %r on %s (%r)" % (args.link_text, drv.current_url, browser.text()[:200]))
    browser.hops()
    links[0].click()
    browser.settle()
    hops = browser.checked(step)
    expect(browser.on_login_form(), step, "the link led to %s, not Keycloak's login form" % drv.current_url)
    browser.record(step, "%s offers %r -> Keycloak's login form at %s (%d hops) [%s]"
                   % (args.app_url, args.link_text, browser.host("auth"), len(hops), browser.shot("app-01-login.png")))

    step = "wrong password"
    result = browser.submit(step, USER, "not-the-password-%d" % os.getpid(), passing=())
    expect(result == "refused", step, "Keycloak did not refuse a wrong password (%s at %s)" % (result, drv.current_url))
    expect(browser.on_login_form(), step, "not on Keycloak's form after a refusal: %s" % drv.current_url)
    browser.record(step, "refused by Keycloak, still on its form [%s]" % browser.shot("app-02-refused.png"))

    step = "sign in"
    with open(os.path.join(args.secrets_dir, "keycloak-" + USER), encoding="utf-8") as handle:
        password = handle.read().strip()
    result = browser.submit(step, USER, password, passing=())
    browser.settle()
    expect(result == "left", step, "Keycloak's form answered %s (%r)" % (result, browser.text()[:200]))
    hops = browser.checked(step)
    landed = urlsplit(drv.current_url)
    expect(landed.netloc == app.netloc, step, "landed on %s, not on the app" % drv.current_url)
    expect(not landed.path.startswith("/login") and landed.path != app.path, step,
           "the app shows its login page again: %s (%r)" % (drv.current_url, browser.text()[:200]))
    browser.visit(step, origin + args.account_path)
    values = [field.get_attribute("value") for field in drv.find_elements(By.TAG_NAME, "input")]
    expect(USER in values or USER in browser.text(), step, "%s does not show %s" % (args.account_path, USER))
    browser.record(step, "back at %s signed in as %s (%s shows it; %d hops) [%s]"
                   % (landed.path, USER, args.account_path, len(hops), browser.shot("app-03-signed-in.png")))

    step = "sign out"
    buttons = drv.find_elements(By.CSS_SELECTOR, args.logout_selector)
    expect(buttons, step, "no sign-out button %r on %s" % (args.logout_selector, drv.current_url))
    browser.hops()
    buttons[0].click()
    browser.settle()
    browser.checked(step)
    expect(any(args.link_text in a.text for a in drv.find_elements(By.TAG_NAME, "a")), step,
           "the app's sign-out did not show its login page: %s" % drv.current_url)
    end_keycloak_session(browser, args, step)
    browser.record(step, "the app's sign-out button -> its login page; Keycloak's session ended at its logout endpoint")


def end_keycloak_session(browser, args, step):
    """Keycloak's logout endpoint without an id_token_hint asks for a confirmation: give it."""
    browser.visit(step, "https://%s/realms/%s/protocol/openid-connect/logout" % (browser.host("auth"), args.realm),
                  repeatable=False)
    buttons = browser.driver.find_elements(By.ID, "kc-logout")
    expect(buttons, step, "Keycloak's logout endpoint asked nothing (%r)" % browser.text()[:200])
    browser.hops()
    buttons[0].click()
    try:
        # the confirmation posts the form; the session ends when Keycloak answers it
        WebDriverWait(browser.driver, args.timeout).until(lambda driver: "KEYCLOAK_IDENTITY" not in browser.cookies())
    except TimeoutException as exc:
        raise Failure("%s: Keycloak's session cookie is still set %ss after the confirmation" % (step, args.timeout)) from exc
    browser.settle()
    browser.checked(step)


def main(argv=None):
    return bl.start(parse_args(sys.argv[1:] if argv is None else argv), [USER], walk, "the app")


if __name__ == "__main__":
    sys.exit(main())
