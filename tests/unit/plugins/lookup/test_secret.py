from __future__ import annotations

import os
import stat

import pytest
from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader


@pytest.fixture
def secret():
    return lookup_loader.get("pivoine.kompose.secret")


def test_returns_one_mapping_and_reuses_values(secret, tmp_path):
    first = secret.run([["a", {"name": "b", "kind": "hex", "length": 16}]], variables={}, dir=str(tmp_path))
    assert len(first) == 1 and sorted(first[0]) == ["a", "b"]
    assert len(first[0]["b"]) == 32
    assert secret.run(["a", "b"], variables={}, dir=str(tmp_path)) == first
    assert stat.S_IMODE(os.stat(tmp_path / "a").st_mode) == 0o600


def test_check_mode_persists_nothing(secret, tmp_path):
    secret.run(["a"], variables={}, dir=str(tmp_path / "x"), persist=False)
    assert not (tmp_path / "x").exists()


def test_bad_name_is_a_lookup_error(secret, tmp_path):
    with pytest.raises(AnsibleLookupError, match=r"^pivoine\.kompose\.secret: secret name '\.\./x' must match"):
        secret.run(["../x"], variables={}, dir=str(tmp_path))
