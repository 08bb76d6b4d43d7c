from __future__ import annotations

import base64
import hashlib
import hmac
import re

import bcrypt
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.filter.bcrypt_hash import FilterModule
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _bcrypt as b

FILTERS = FilterModule().filters()
KEY = "k" * 16 + "-site-one"
OTHER_KEY = "k" * 16 + "-site-two"
_TO_BCRYPT = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                           "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def bcrypt_salt(hashed):
    """The 22 salt characters of a $2b$NN$ hash."""
    return hashed[7:29]


def old_password_derived_salt(password, context):
    """The salt before the fix (first 21 characters; the 22nd is truncated by bcrypt)."""
    seed = hashlib.sha256(b"pivoine.kompose/bcrypt\0" + context.encode() + b"\0" + password.encode()).digest()[:16]
    return base64.b64encode(seed).decode().translate(_TO_BCRYPT)[:21]


@pytest.mark.parametrize("password,context", [("pw", ""), ("pw", "admin"), ("päss wörd", "alice"), ("x" * 72, "")])
def test_hash_verifies_and_is_stable(password, context):
    hashed = b.bcrypt_hash(password, KEY, context, rounds=4)
    assert re.match(r"^\$2b\$04\$[./A-Za-z0-9]{53}$", hashed)
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    assert not bcrypt.checkpw((password[:-1] + "?").encode(), hashed.encode())
    assert hashed == b.bcrypt_hash(password, KEY, context, rounds=4)
    assert hashed == b.bcrypt_hash(password, salt_key=KEY, context=context, rounds=4)


def test_salt_is_hmac_sha256_by_hand():
    seed = hmac.new(KEY.encode(), b"pivoine.kompose/bcrypt\0admin\0pw", hashlib.sha256).digest()[:16]
    expected = base64.b64encode(seed).decode().translate(_TO_BCRYPT)[:21]
    assert b.derived_salt(KEY, "pw", "admin", 4)[:28] == "$2b$04$" + expected
    assert bcrypt_salt(b.bcrypt_hash("pw", KEY, "admin", rounds=4))[:21] == expected


def test_salt_differs_by_key_password_and_context():
    salts = {b.derived_salt(k, p, c) for k, p, c in [(KEY, "a", ""), (OTHER_KEY, "a", ""), (KEY, "b", ""), (KEY, "a", "x"), (KEY, "a", "y")]}
    assert len(salts) == 5
    assert all(re.match(r"^\$2b\$12\$[./A-Za-z0-9]{21}[.Oeu]$", salt) for salt in salts)
    assert bcrypt_salt(b.bcrypt_hash("pw", KEY, rounds=4)) != bcrypt_salt(b.bcrypt_hash("pw", OTHER_KEY, rounds=4))


@pytest.mark.parametrize("password,context", [("pw", ""), ("pw", "admin"), ("päss wörd", "alice")])
def test_salt_is_not_the_old_password_derived_one(password, context):
    assert bcrypt_salt(b.bcrypt_hash(password, KEY, context, rounds=4))[:21] != old_password_derived_salt(password, context)


@pytest.mark.parametrize("kwargs,message", [
    (dict(password="", salt_key=KEY), "password must be a non-empty string"),
    (dict(password=None, salt_key=KEY), "password must be a non-empty string"),
    (dict(password="é" * 37, salt_key=KEY), "password is longer than bcrypt's 72-byte limit"),
    (dict(password="pw", salt_key=KEY, rounds=3), "rounds must be a whole number from 4 to 31, got 3"),
    (dict(password="pw", salt_key=KEY, context=None), "context must be a string, got None"),
    (dict(password="pw", salt_key=None), "salt_key is required (the per-site secret kompose-hash-key)"),
    (dict(password="pw", salt_key="short-key-15chr"), "salt_key is too short: it needs at least 16 characters"),
    (dict(password="pw", salt_key=""), "salt_key is too short: it needs at least 16 characters"),
    (dict(password="pw", salt_key=b"k" * 32), "salt_key must be a string, got bytes"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match="^%s$" % re.escape(message)):
        b.bcrypt_hash(**kwargs)


def test_salt_key_is_required_positionally():
    with pytest.raises(TypeError):
        b.bcrypt_hash("pw")  # pylint: disable=no-value-for-parameter


def test_filters():
    line = FILTERS["htpasswd"]("pw", "admin", rounds=4, salt_key=KEY)
    user, hashed = line.split(":", 1)
    assert user == "admin" and bcrypt.checkpw(b"pw", hashed.encode())
    assert line == "admin:" + b.bcrypt_hash("pw", KEY, "admin", rounds=4)
    assert FILTERS["bcrypt_hash"]("pw", "admin", rounds=4, salt_key=KEY) == hashed
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.htpasswd: username 'a:b'"):
        FILTERS["htpasswd"]("pw", "a:b", salt_key=KEY)
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.bcrypt_hash: rounds must be"):
        FILTERS["bcrypt_hash"]("pw", rounds=99, salt_key=KEY)


@pytest.mark.parametrize("name,args", [("bcrypt_hash", ("top-secret-pw",)), ("htpasswd", ("top-secret-pw", "admin"))])
def test_filter_key_errors_name_plugin_and_option_only(name, args):
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS[name](*args)
    assert str(info.value) == "pivoine.kompose.%s: salt_key is required (the per-site secret kompose-hash-key)" % name
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS[name](*args, salt_key="hunter2-key")
    assert str(info.value) == "pivoine.kompose.%s: salt_key is too short: it needs at least 16 characters" % name
    assert "hunter2" not in str(info.value) and "top-secret" not in str(info.value)
