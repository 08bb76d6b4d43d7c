"""Identity from OAuth2 Proxy's headers, admin detection, and the forms' CSRF tokens."""

from __future__ import annotations

import hmac

import pytest

from kmps_portal import csrf as csrf_module
from kmps_portal.csrf import Csrf, CsrfError
from kmps_portal.identity import NoIdentity, identify


def headers(**values: str) -> dict[str, str]:
    names = {
        "user": "x-auth-request-user",
        "email": "x-auth-request-email",
        "groups": "x-auth-request-groups",
        "username": "x-auth-request-preferred-username",
    }
    return {names[key]: value for key, value in values.items()}


def test_identity_from_the_four_headers() -> None:
    who = identify(headers(user="u-1", email="a@example.org", groups="/admins,/family", username="alice"), "admins")
    assert (who.user, who.email, who.username, who.name) == ("u-1", "a@example.org", "alice", "alice")
    assert who.groups == ("admins", "family")
    assert who.admin


@pytest.mark.parametrize(
    ("groups", "admin_group", "admin"),
    [
        ("/admins", "admins", True),  # full group path
        ("admins", "admins", True),  # bare name
        ("admins", "/admins", True),  # the config may name the path
        (" family , /admins ", "admins", True),
        ("family", "admins", False),
        ("/staff/admins", "admins", False),  # a sub-group of the same name is another group
        ("/staff/ops", "staff/ops", True),
        ("administrators", "admins", False),
        ("", "admins", False),
    ],
)
def test_admin_is_membership_of_the_admin_group_with_or_without_the_slash(groups: str, admin_group: str, admin: bool) -> None:
    assert identify(headers(user="u", groups=groups), admin_group).admin is admin


def test_no_identity_header_is_refused() -> None:
    with pytest.raises(NoIdentity, match="no X-Auth-Request-User or X-Auth-Request-Email header"):
        identify(headers(groups="/admins", username="mallory"), "admins")
    with pytest.raises(NoIdentity):
        identify({}, "admins")


def test_email_alone_identifies_and_names() -> None:
    who = identify(headers(email="b@example.org"), "admins")
    assert who.user == "b@example.org" and who.name == "b@example.org" and not who.admin and who.groups == ()


def test_control_characters_and_huge_headers_are_refused() -> None:
    with pytest.raises(NoIdentity, match="control characters"):
        identify(headers(user="u\r\nX-Evil: 1"), "admins")
    with pytest.raises(NoIdentity, match="longer than"):
        identify(headers(user="u", groups="g," * 5000), "admins")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


SECRET = b"0123456789abcdef0123456789abcdef"


def test_a_token_is_valid_for_its_user_within_its_age() -> None:
    clock = Clock(1_000_000.0)
    tokens = Csrf(SECRET, 3600, clock)
    token = tokens.issue("u-1")
    assert token.startswith("1000000.")
    tokens.check("u-1", token)
    clock.now += 3600
    tokens.check("u-1", token)
    clock.now += 1
    with pytest.raises(CsrfError, match="the form is 60 minutes old, older than the 60 minutes allowed"):
        tokens.check("u-1", token)


@pytest.mark.parametrize(
    ("token", "words"),
    [
        (None, "carries no security token"),
        ("", "carries no security token"),
        ("abc", "malformed"),
        ("12.", "malformed"),
        ("x.y", "malformed"),
        ("1000000." + "0" * 64, "not valid for you"),
    ],
)
def test_missing_malformed_or_forged_tokens_are_refused(token: str | None, words: str) -> None:
    with pytest.raises(CsrfError, match=words):
        Csrf(SECRET, 3600, Clock(1_000_000.0)).check("u-1", token)


def test_a_token_is_bound_to_the_user_and_the_secret() -> None:
    clock = Clock(1_000_000.0)
    token = Csrf(SECRET, 3600, clock).issue("u-1")
    with pytest.raises(CsrfError, match="not valid for you"):
        Csrf(SECRET, 3600, clock).check("u-2", token)
    with pytest.raises(CsrfError, match="not valid for you"):
        Csrf(b"another-secret-another-secret-xx", 3600, clock).check("u-1", token)
    issued, mac = token.split(".")
    with pytest.raises(CsrfError, match="not valid for you"):  # an older time with the same MAC
        Csrf(SECRET, 3600, clock).check("u-1", f"{int(issued) - 1}.{mac}")


def test_a_token_from_the_future_is_refused() -> None:
    clock = Clock(1_000_000.0)
    token = Csrf(SECRET, 3600, clock).issue("u-1")
    clock.now -= 120
    with pytest.raises(CsrfError, match="dated in the future"):
        Csrf(SECRET, 3600, clock).check("u-1", token)


def test_the_mac_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    original = hmac.compare_digest

    def compare(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return original(a, b)

    monkeypatch.setattr(csrf_module.hmac, "compare_digest", compare)
    tokens = Csrf(SECRET, 3600, Clock(1_000_000.0))
    tokens.check("u-1", tokens.issue("u-1"))
    assert len(seen) == 1


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        Csrf(b"short", 60)
