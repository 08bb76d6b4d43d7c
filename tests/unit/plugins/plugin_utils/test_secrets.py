from __future__ import annotations

import os
import re
import stat

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _secrets as s


@pytest.mark.parametrize("kind,length,pattern", [
    ("password", None, r"^[A-Za-z0-9]{32}$"),
    ("password", 20, r"^[A-Za-z0-9]{20}$"),
    ("hex", None, r"^[0-9a-f]{64}$"),
    ("hex", 16, r"^[0-9a-f]{32}$"),
    ("base64", 32, r"^[A-Za-z0-9_-]{43}=$"),
])
def test_generate(kind, length, pattern):
    value = s.generate(kind, length)
    assert re.match(pattern, value)
    assert value != s.generate(kind, length)


@pytest.mark.parametrize("kind,length,message", [
    ("pin", None, "kind 'pin' is not one of base64, hex, password"),
    ("password", 8, "length 8 is not a whole number from 16 to 1024"),
    ("hex", True, "length True is not a whole number"),
    ("hex", "32", "length '32' is not a whole number"),
])
def test_generate_bad_input(kind, length, message):
    with pytest.raises(s.SecretError, match=re.escape(message)):
        s.generate(kind, length)


@pytest.mark.parametrize("spec,message", [
    ("../etc/passwd", "must match"),
    ("Upper", "must match"),
    ("", "must match"),
    ({"kind": "hex"}, "a secret is a name or a mapping with a name"),
    ({"name": "a", "size": 3}, "unknown key(s): size"),
    ({"name": "a", "kind": "uuid"}, "kind 'uuid' is not one of"),
    (42, "a secret is a name or a mapping with a name"),
])
def test_bad_specs(spec, message):
    with pytest.raises(s.SecretError, match=re.escape(message)):
        s.normalise_spec(spec)


def test_generated_once_then_reused_with_private_modes(tmp_path):
    directory = tmp_path / "secrets" / "host1"
    first = s.read_or_create(str(directory), "postgres-superuser")
    assert s.read_or_create(str(directory), "postgres-superuser") == first
    assert s.read_or_create(str(directory), {"name": "postgres-superuser", "kind": "hex"}) == first
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(directory / "postgres-superuser").st_mode) == 0o600
    assert (directory / "postgres-superuser").read_text() == first + "\n"
    assert sorted(os.listdir(directory)) == ["postgres-superuser"]  # no temporary files left


def test_rotating_one_secret_leaves_the_others(tmp_path):
    a = s.read_or_create(str(tmp_path), "a")
    b = s.read_or_create(str(tmp_path), "b")
    os.unlink(tmp_path / "a")
    assert s.read_or_create(str(tmp_path), "a") != a
    assert s.read_or_create(str(tmp_path), "b") == b


def test_no_persist_writes_nothing(tmp_path):
    directory = tmp_path / "never"
    assert re.match(r"^[A-Za-z0-9]{32}$", s.read_or_create(str(directory), "x", persist=False))
    assert not directory.exists()


def test_existing_directory_is_tightened(tmp_path):
    os.chmod(tmp_path, 0o755)
    s.read_or_create(str(tmp_path), "x")
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o700


def test_empty_file_is_an_error(tmp_path):
    (tmp_path / "x").write_text("")
    with pytest.raises(s.SecretError, match="is empty: delete it"):
        s.read_or_create(str(tmp_path), "x")
