from __future__ import annotations

import re

import bcrypt
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.filter.bcrypt_hash import FilterModule
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _bcrypt as b

FILTERS = FilterModule().filters()


@pytest.mark.parametrize("password,context", [("pw", ""), ("pw", "admin"), ("päss wörd", "alice"), ("x" * 72, "")])
def test_hash_verifies_and_is_stable(password, context):
    hashed = b.bcrypt_hash(password, context, rounds=4)
    assert re.match(r"^\$2b\$04\$[./A-Za-z0-9]{53}$", hashed)
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    assert not bcrypt.checkpw((password[:-1] + "?").encode(), hashed.encode())
    assert hashed == b.bcrypt_hash(password, context, rounds=4)


def test_salt_differs_by_password_and_context():
    salts = {b.derived_salt(p, c) for p, c in [("a", ""), ("b", ""), ("a", "x"), ("a", "y")]}
    assert len(salts) == 4
    assert all(re.match(r"^\$2b\$12\$[./A-Za-z0-9]{21}[.Oeu]$", salt) for salt in salts)


@pytest.mark.parametrize("kwargs,message", [
    (dict(password=""), "password must be a non-empty string"),
    (dict(password=None), "password must be a non-empty string"),
    (dict(password="é" * 37), "longer than bcrypt's 72-byte limit"),
    (dict(password="pw", rounds=3), "rounds must be a whole number from 4 to 31, got 3"),
    (dict(password="pw", context=None), "context must be a string, got None"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        b.bcrypt_hash(**kwargs)


def test_filters():
    line = FILTERS["htpasswd"]("pw", "admin", rounds=4)
    user, hashed = line.split(":", 1)
    assert user == "admin" and bcrypt.checkpw(b"pw", hashed.encode())
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.htpasswd: username 'a:b'"):
        FILTERS["htpasswd"]("pw", "a:b")
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.bcrypt_hash: rounds must be"):
        FILTERS["bcrypt_hash"]("pw", rounds=99)
