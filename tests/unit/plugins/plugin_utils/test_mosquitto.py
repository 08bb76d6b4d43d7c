from __future__ import annotations

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _mosquitto as m

# Lines written by Debian's mosquitto_passwd 2.0 (the lab image), the reference implementation.
MOSQUITTO_PASSWD_LINES = [
    ("alice", "s3cret pass", "$7$101$h2RssJWDD7cHrq0/$opmk1S9U4NSuK6hRfMA0zfVJYRGxM4Dhjk+/6HM9lMdZOfPTld80nvwbE9PPIvnzF3/c70/k4E51Tz9IWNsqRg=="),
    ("bob", "x", "$7$101$lN9lKI8qZ7xXIRIX$jKVxSmiLoAFyd/JZXr/iUGX2GnSKF07rqz7uCn6850/HhPD4vF9Bp0eZ9xVPGCcigabhIFLzglOHRxWzlmzH8g=="),
]


@pytest.mark.parametrize("user,password,line", MOSQUITTO_PASSWD_LINES)
def test_same_hash_as_mosquitto_passwd_for_its_salt(user, password, line):
    salt = line.split("$")[3]
    assert m.password_hash(password, user, salt=salt) == line
    assert m.verify(password, line)
    assert not m.verify(password + "!", line)


def test_derived_salt_is_stable_and_unique():
    first = m.password_hash("pw", "alice")
    assert first == m.password_hash("pw", "alice")
    assert first != m.password_hash("pw", "bob")
    assert first != m.password_hash("pw2", "alice")
    assert m.verify("pw", first)
    prefix, kind, iterations, salt, digest = first.split("$")
    assert (prefix, kind, iterations) == ("", "7", "101")
    assert len(__import__("base64").b64decode(salt)) == 12
    assert len(__import__("base64").b64decode(digest)) == 64


@pytest.mark.parametrize("kwargs,message", [
    (dict(password="", username="a"), "password must be a non-empty string"),
    (dict(password=None, username="a"), "password must be a non-empty string"),
    (dict(password="p", username="a:b"), "without ':' or white space"),
    (dict(password="p", username="a b"), "without ':' or white space"),
    (dict(password="p", username=""), "without ':' or white space"),
    (dict(password="p", username="a", salt="AAAA"), "salt must be 12 bytes, got 3"),
    (dict(password="p", username="a", iterations=0), "iterations must be a positive whole number"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        m.password_hash(**kwargs)


@pytest.mark.parametrize("line", ["", "plain", "$6$101$abc$def", "$7$101$abc"])
def test_verify_rejects_other_formats(line):
    assert not m.verify("pw", line)
