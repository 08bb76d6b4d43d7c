from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _mosquitto as m

KEY = "k" * 16 + "-site-one"
OTHER_KEY = "k" * 16 + "-site-two"

# Lines written by Debian's mosquitto_passwd 2.0 (the lab image), the reference implementation.
MOSQUITTO_PASSWD_LINES = [
    ("alice", "s3cret pass", "$7$101$h2RssJWDD7cHrq0/$opmk1S9U4NSuK6hRfMA0zfVJYRGxM4Dhjk+/6HM9lMdZOfPTld80nvwbE9PPIvnzF3/c70/k4E51Tz9IWNsqRg=="),
    ("bob", "x", "$7$101$lN9lKI8qZ7xXIRIX$jKVxSmiLoAFyd/JZXr/iUGX2GnSKF07rqz7uCn6850/HhPD4vF9Bp0eZ9xVPGCcigabhIFLzglOHRxWzlmzH8g=="),
]


def salt_of(line):
    return base64.b64decode(line.split("$")[3])


def old_password_derived_salt(username, password):
    """The salt before the fix: recomputable by anyone who guesses the password."""
    return hashlib.sha256(b"pivoine.kompose/mosquitto\0" + username.encode() + b"\0" + password.encode()).digest()[:12]


@pytest.mark.parametrize("user,password,line", MOSQUITTO_PASSWD_LINES)
def test_same_hash_as_mosquitto_passwd_for_its_salt(user, password, line):
    salt = line.split("$")[3]
    assert m.password_hash(password, user, salt=salt) == line
    assert m.password_hash(password, user, salt=base64.b64decode(salt)) == line
    assert m.verify(password, line)
    assert not m.verify(password + "!", line)


def test_known_vector_computed_by_hand():
    # mosquitto 2's $7$: PBKDF2-HMAC-SHA512(password, salt, iterations, 64 bytes), both base64
    salt = bytes(range(12))
    digest = hashlib.pbkdf2_hmac("sha512", b"correct horse", salt, 101, 64)
    expected = "$7$101$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()
    assert expected.startswith("$7$101$AAECAwQFBgcICQoL$")
    assert m.password_hash("correct horse", "carol", salt=salt) == expected
    assert m.password_hash("correct horse", "carol", salt="AAECAwQFBgcICQoL") == expected
    assert m.password_hash("correct horse", "carol", salt=salt, iterations=7) != expected


def test_keyed_salt_is_hmac_sha256_by_hand():
    keyed = m.password_hash("pw", "alice", salt_key=KEY)
    salt = hmac.new(KEY.encode(), b"pivoine.kompose/mosquitto\0alice\0pw", hashlib.sha256).digest()[:12]
    assert salt_of(keyed) == salt == m.derived_salt(KEY, "alice", "pw")
    assert keyed == m.password_hash("pw", "alice", salt=salt)


def test_keyed_hash_verifies_and_is_stable():
    first = m.password_hash("pw", "alice", salt_key=KEY)
    assert first == m.password_hash("pw", "alice", salt_key=KEY)
    assert m.verify("pw", first)
    assert not m.verify("pw2", first)
    prefix, kind, iterations, salt, digest = first.split("$")
    assert (prefix, kind, iterations) == ("", "7", "101")
    assert len(base64.b64decode(salt)) == 12
    assert len(base64.b64decode(digest)) == 64


def test_salt_differs_by_key_user_and_password():
    salts = {salt_of(m.password_hash(p, u, salt_key=k))
             for k, u, p in [(KEY, "alice", "pw"), (OTHER_KEY, "alice", "pw"), (KEY, "bob", "pw"), (KEY, "alice", "pw2")]}
    assert len(salts) == 4


@pytest.mark.parametrize("user,password", [("alice", "pw"), ("bob", "x"), ("alice", "s3cret pass")])
def test_salt_is_not_the_old_password_derived_one(user, password):
    assert salt_of(m.password_hash(password, user, salt_key=KEY)) != old_password_derived_salt(user, password)


@pytest.mark.parametrize("kwargs,message", [
    (dict(password="", username="a", salt_key=KEY), "password must be a non-empty string"),
    (dict(password=None, username="a", salt_key=KEY), "password must be a non-empty string"),
    (dict(password="p", username="a:b", salt_key=KEY), "username 'a:b' must be a non-empty string without ':' or white space"),
    (dict(password="p", username="a b", salt_key=KEY), "username 'a b' must be a non-empty string without ':' or white space"),
    (dict(password="p", username="", salt_key=KEY), "username '' must be a non-empty string without ':' or white space"),
    (dict(password="p", username="a"), "salt_key is required (the per-site secret kompose-hash-key)"),
    (dict(password="p", username="a", salt_key=None), "salt_key is required (the per-site secret kompose-hash-key)"),
    (dict(password="p", username="a", salt_key="short-key-15chr"), "salt_key is too short: it needs at least 16 characters"),
    (dict(password="p", username="a", salt_key=""), "salt_key is too short: it needs at least 16 characters"),
    (dict(password="p", username="a", salt_key=b"k" * 32), "salt_key must be a string, got bytes"),
    (dict(password="p", username="a", salt_key=KEY, salt="AAECAwQFBgcICQoL"), "salt_key and salt are mutually exclusive"),
    (dict(password="p", username="a", salt="AAAA"), "salt must be 12 bytes, got 3"),
    (dict(password="p", username="a", salt="not base64!"), "salt must be base64"),
    (dict(password="p", username="a", salt=12), "salt must be base64 text or bytes, got int"),
    (dict(password="p", username="a", salt_key=KEY, iterations=0), "iterations must be a positive whole number, got 0"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match="^%s$" % re.escape(message)):
        m.password_hash(**kwargs)


def test_key_errors_never_show_the_key():
    for key in ("short-secret!", b"bytes-secret-value-long"):
        with pytest.raises(ValueError) as info:
            m.password_hash("p", "a", salt_key=key)
        assert "secret" not in str(info.value).replace("per-site secret", "")


@pytest.mark.parametrize("line", ["", "plain", "$6$101$abc$def", "$7$101$abc", "$7$x$AAAA$def", "$7$101$A$def"])
def test_verify_rejects_other_formats(line):
    assert not m.verify("pw", line)
