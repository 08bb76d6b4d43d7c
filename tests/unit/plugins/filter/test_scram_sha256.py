# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.filter.scram_sha256 import scram_sha256
from ansible_collections.pivoine.kompose.plugins.module_utils._scram import password_matches


def test_the_verifier_matches_its_password_only():
    verifier = scram_sha256("s3cret-Passw0rd")
    assert verifier.startswith("SCRAM-SHA-256$4096:")
    assert password_matches(verifier, "s3cret-Passw0rd", "postgres") is True
    assert password_matches(verifier, "s3cret-Passw0rd!", "postgres") is False


def test_each_call_has_a_new_salt():
    assert scram_sha256("same") != scram_sha256("same")


def test_iterations_are_kept():
    verifier = scram_sha256("pw", iterations=8192)
    assert verifier.startswith("SCRAM-SHA-256$8192:")
    assert password_matches(verifier, "pw", "postgres") is True


@pytest.mark.parametrize("bad", ["", None, 5])
def test_bad_input_is_refused(bad):
    with pytest.raises(AnsibleFilterError, match="non-empty string"):
        scram_sha256(bad)


@pytest.mark.parametrize("bad", [1000, True, "4096", 10_000_001])
def test_bad_iterations_are_refused(bad):
    with pytest.raises(AnsibleFilterError, match="iterations"):
        scram_sha256("pw", iterations=bad)
