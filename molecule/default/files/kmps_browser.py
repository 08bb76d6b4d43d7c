"""The portal (KMPS) in a real headless browser, as the lab's admin and the lab's user.

Usage: kmps_browser.py DOMAIN CA_FILE SECRETS_DIR SCREENSHOT_DIR --invite USERNAME --restart CONTAINER
       --stacks STACK[,STACK...]

The browser is browser_login.py's (Debian's Chromium through Selenium, the lab CA's root as the only
anchor added, every chain validated by Chromium). The walk, one line per step on stdout ("PASS
<step>: ...", then "OK ..."; on the first failed check "FAIL <step>: ...", a screenshot failed.png,
and exit status 1):
  1. https://kmps.DOMAIN/ without a session lands on Keycloak's login form; lab-admin signs in and
     lands on the overview, which shows every stack of --stacks and the health of its services,
     and no part "unknown" (screenshot kmps-overview.png);
  2. the users page lists lab-admin and lab-user (screenshot kmps-users.png);
  3. the invitation form invites --invite-<attempt> (e-mail <name>@DOMAIN): the user's page says
     Keycloak sent the invitation e-mail;
  4. on that page, the user is added to the group `admins`, then removed from it;
  5. --restart's confirmation page, then its button: the overview says it was restarted;
  6. the audit log shows the four actions, each `ok`;
  7. lab-admin signs out; lab-user signs in at the portal and lands on their own page (their
     account console link), the overview sends them there, the users page and a restart answer
     403; lab-user signs out.
Prints a last line `INVITED <user id> <username>` for the checks that follow (the mail).
"""

from __future__ import annotations

import os
import re
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

# browser_login.py beside this file: its Browser, Failure and helpers
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser_login as BL  # noqa: E402  pylint: disable=wrong-import-position


USERS = ("lab-admin", "lab-user")
ATTEMPT = [0]  # the walks so far (run() starts a walk again after a network cut)


def parse_args(argv):
    parser = BL.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--invite", required=True, help="the username to invite (new each run)")
    parser.add_argument("--restart", required=True, help="the container to restart")
    parser.add_argument("--stacks", required=True, help="the stacks the overview must show, comma-separated")
    return parser.parse_args(argv)


def notice(browser):
    """The text of the page's notices (done, problems)."""
    return " ".join(element.text for element in browser.driver.find_elements(By.CSS_SELECTOR, ".notice"))


def submit(browser, step, selector):
    """Click the button ``selector`` of the page and wait for the page it leads to."""
    browser.hops()
    browser.driver.find_element(By.CSS_SELECTOR, selector).click()
    browser.settle()
    return browser.checked(step)


def walk(browser, args):
    drv = browser.driver
    portal = "https://%s" % browser.host("kmps")
    invited = {}

    step = "admin-overview"
    browser.visit(step, portal + "/")
    BL.expect(browser.on_login_form(), step, "expected Keycloak's login form, got %s" % drv.current_url)
    browser.sign_in(step, "lab-admin")
    BL.expect(drv.current_url == portal + "/", step, "landed on %s" % drv.current_url)
    text = browser.text()
    missing = [stack for stack in args.stacks.split(",") if not re.search(r"(?m)^%s\b" % re.escape(stack), text)]
    BL.expect(not missing, step, "the overview shows no stack %s" % missing)
    BL.expect("Some of this page is unknown" not in text, step, "part of the overview is unknown: %s" % notice(browser))
    healthy = len(re.findall(r"\bhealthy\b", text))
    BL.expect(healthy >= 10, step, "only %d healthy services shown" % healthy)
    browser.record(step, "lab-admin signed in through Keycloak; the overview shows the stacks %s, %d healthy services [%s]"
                   % (args.stacks, healthy, browser.shot("kmps-overview.png")))

    step = "admin-users"
    browser.visit(step, portal + "/users")
    text = browser.text()
    BL.expect("lab-admin" in text and "lab-user" in text, step, "the users page lacks the lab's users: %s" % text[:300])
    browser.record(step, "the realm's users, from Keycloak through the portal's service account [%s]"
                   % browser.shot("kmps-users.png"))

    step = "admin-invite"
    browser.visit(step, portal + "/users/invite")
    # a walk the network interrupted starts again: a new user each attempt (the first may exist)
    ATTEMPT[0] += 1
    invitee = "%s-%d" % (args.invite, ATTEMPT[0])
    email = "%s@%s" % (invitee, args.domain)
    drv.find_element(By.ID, "username").send_keys(invitee)
    drv.find_element(By.ID, "email").send_keys(email)
    submit(browser, step, "form.stack button[type=submit]")
    match = re.search(r"/users/([0-9a-f-]{36})(?:\?|$)", drv.current_url)
    BL.expect(match, step, "not on the new user's page: %s (%s)" % (drv.current_url, browser.text()[:300]))
    invited["id"] = match.group(1)
    BL.expect("invitation e-mail" in notice(browser), step, "no word of the invitation: %s" % notice(browser))
    browser.record(step, "invited %s <%s>: %s" % (invitee, email, notice(browser)))

    step = "admin-add-group"
    Select(drv.find_element(By.ID, "group")).select_by_visible_text("/admins")
    submit(browser, step, "button[value=add-group]")
    BL.expect("added to the group" in notice(browser), step, "not added: %s" % notice(browser))
    BL.expect(drv.find_elements(By.CSS_SELECTOR, "button[value=remove-group]"), step, "no group to remove shown")
    browser.record(step, "added to /admins")

    step = "admin-remove-group"
    submit(browser, step, "button[value=remove-group]")
    BL.expect("removed from the group" in notice(browser), step, "not removed: %s" % notice(browser))
    BL.expect("In no group." in browser.text(), step, "still in a group: %s" % browser.text()[:300])
    browser.record(step, "removed from /admins")

    step = "admin-restart"
    browser.visit(step, portal + "/services/%s/restart" % args.restart)
    BL.expect(("Restart %s?" % args.restart) in browser.text(), step, "no confirmation page: %s" % browser.text()[:200])
    try:
        submit(browser, step, "form.inline button.danger")
        BL.expect(drv.current_url.startswith(portal + "/?restarted="), step, "landed on %s" % drv.current_url)
        browser.record(step, "%s restarted after the confirmation: %s" % (args.restart, notice(browser)[:120]))
    except BL.Interrupted as exc:
        # the restart itself changes this host's interfaces (Docker makes the container's network
        # anew), which may cut the answer: the audit log below says whether it was done
        browser.record(step, "%s: the answer was cut (%s); the audit log decides" % (args.restart, exc))

    step = "admin-audit"
    browser.visit(step, portal + "/audit")
    rows = [row.text for row in drv.find_elements(By.CSS_SELECTOR, "table tr")]
    wanted = [("user-invite", invitee), ("user-add-group", invitee), ("user-remove-group", invitee),
              ("service-restart", args.restart)]
    absent = [pair for pair in wanted if not any(pair[0] in row and pair[1] in row and " ok" in row for row in rows)]
    BL.expect(not absent, step, "the audit log lacks %s: %s" % (absent, rows[:6]))
    browser.record(step, "the four actions, each ok, by lab-admin [%s]" % browser.shot("kmps-audit.png"))

    step = "admin-sign-out"
    browser.visit(step, "https://%s/oauth2/sign_out" % browser.host("sso"), repeatable=False)
    browser.visit(step, portal + "/")
    BL.expect(browser.on_login_form(), step, "the portal did not ask to sign in again: %s" % drv.current_url)
    browser.record(step, "signed out; the portal asks for a sign-in again")

    step = "user-own-page"
    browser.sign_in(step, "lab-user")
    BL.expect(drv.current_url == portal + "/me", step, "lab-user landed on %s" % drv.current_url)
    BL.expect(drv.find_elements(By.CSS_SELECTOR, "a[href$='/realms/%s/account']" % args.realm), step, "no account console link")
    browser.record(step, "lab-user lands on their own page [%s]" % browser.shot("kmps-me-lab-user.png"))

    step = "user-refused"
    browser.visit(step, portal + "/")
    BL.expect(drv.current_url == portal + "/me", step, "the overview did not send lab-user to /me: %s" % drv.current_url)
    status, dummy = browser.fetch("/users")
    BL.expect(status == 403, step, "the users page answered %s to lab-user" % status)
    status, dummy = browser.fetch("/services/%s/restart" % args.restart)
    BL.expect(status == 403, step, "the restart page answered %s to lab-user" % status)
    browser.record(step, "the overview sends lab-user to /me; the users and restart pages answer 403")
    browser.visit(step, "https://%s/oauth2/sign_out" % browser.host("sso"), repeatable=False)
    browser.lines.append("INVITED %s %s" % (invited["id"], invitee))


def main(argv=None):
    return BL.start(parse_args(sys.argv[1:] if argv is None else argv), USERS, walk, "the portal")


if __name__ == "__main__":
    sys.exit(main())
