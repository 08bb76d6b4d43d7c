from __future__ import annotations

import base64
import hashlib
import hmac
import re

import argon2
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.filter.argon2_hash import FilterModule
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _argon2 as a

argon2_hash = FilterModule().filters()["argon2_hash"]
KEY = "k" * 16 + "-site-one"
OTHER_KEY = "k" * 16 + "-site-two"
# a cheap cost for the tests that do not check the defaults
CHEAP = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}
PHC_RE = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]{43})\$([A-Za-z0-9+/]{43})$")


def b64_nopad(data):
    return base64.b64encode(data).decode("ascii").rstrip("=")


def test_defaults_are_vaultwardens_hash_preset_and_verify():
    phc = argon2_hash("s3cret admin token", "vaultwarden-admin", salt_key=KEY)
    match = PHC_RE.match(phc)
    assert match, phc
    assert match.group(1, 2, 3) == ("65540", "3", "4")
    params = argon2.extract_parameters(phc)
    assert (params.type, params.version, params.salt_len, params.hash_len) == (argon2.Type.ID, 19, 32, 32)
    hasher = argon2.PasswordHasher()
    assert hasher.verify(phc, "s3cret admin token")
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        hasher.verify(phc, "s3cret admin tokeN")


@pytest.mark.parametrize("password,context", [("pw", ""), ("pw", "vaultwarden-admin"), ("päss wörd", "alice"), ("x" * 200, "")])
def test_same_key_same_string(password, context):
    phc = a.argon2_hash(password, KEY, context, **CHEAP)
    assert phc == a.argon2_hash(password, KEY, context, **CHEAP)
    assert phc == argon2_hash(password, context, salt_key=KEY, **CHEAP)
    assert argon2.PasswordHasher().verify(phc, password)


def test_salt_is_hmac_sha256_by_hand():
    expected = hmac.new(KEY.encode(), b"pivoine.kompose/argon2\0ctx\0pw", hashlib.sha256).digest()
    assert a.derived_salt(KEY, "pw", "ctx") == expected
    assert a.argon2_hash("pw", KEY, "ctx", **CHEAP).split("$")[4] == b64_nopad(expected)


def test_another_key_password_or_context_changes_the_string():
    cases = [(KEY, "a", ""), (OTHER_KEY, "a", ""), (KEY, "b", ""), (KEY, "a", "x")]
    strings = {case: a.argon2_hash(case[1], case[0], case[2], **CHEAP) for case in cases}
    assert len(set(strings.values())) == 4
    assert len({phc.split("$")[4] for phc in strings.values()}) == 4
    # each still verifies its own password (the key only picks the salt)
    for (dummy, password, dummy2), phc in strings.items():
        assert argon2.PasswordHasher().verify(phc, password)


def test_cost_is_in_the_string():
    phc = a.argon2_hash("pw", KEY, time_cost=2, memory_cost=16384, parallelism=2)
    assert PHC_RE.match(phc).group(1, 2, 3) == ("16384", "2", "2")
    assert argon2.PasswordHasher().verify(phc, "pw")


@pytest.mark.parametrize("kwargs,message", [
    ({"salt_key": None}, r"salt_key is required"),
    ({"salt_key": "short"}, r"salt_key is too short"),
    ({"salt_key": KEY, "time_cost": 0}, r"time_cost must be a whole number from 1 to 10, got 0"),
    ({"salt_key": KEY, "memory_cost": True}, r"memory_cost must be a whole number"),
    ({"salt_key": KEY, "parallelism": 17}, r"parallelism must be a whole number from 1 to 16, got 17"),
])
def test_filter_errors_name_the_option_not_the_secret(kwargs, message):
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.argon2_hash: " + message) as info:
        argon2_hash("do-not-print-me", **kwargs)
    assert "do-not-print-me" not in str(info.value)


@pytest.mark.parametrize("password", ["", None, 5])
def test_password_must_be_a_non_empty_string(password):
    with pytest.raises(AnsibleFilterError, match=r"password must be a non-empty string"):
        argon2_hash(password, salt_key=KEY)


def test_context_must_be_a_string():
    with pytest.raises(AnsibleFilterError, match=r"context must be a string"):
        argon2_hash("pw", 5, salt_key=KEY)


def test_missing_library_is_named(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_argon2(name, *args, **kwargs):
        if name.startswith("argon2"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_argon2)
    with pytest.raises(AnsibleFilterError, match=r"'argon2-cffi' is not installed"):
        argon2_hash("pw", salt_key=KEY)
