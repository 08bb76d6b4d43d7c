from __future__ import annotations

import pytest

from ansible_collections.pivoine.kompose.plugins.test.cidr import TestModule as CidrTests

cidr = CidrTests().tests()["cidr"]


@pytest.mark.parametrize("value,version,expected", [
    ("172.18.0.0/16", None, True),
    ("10.0.0.0/8", 4, True),
    ("fd00::/8", None, True),
    ("fd00::/8", 4, False),
    ("10.0.0.1/8", None, False),  # host bits set
    ("10.0.0.0", None, False),  # no prefix
    ("10.0.0.0/33", None, False),
    ("lan", None, False),
    (None, None, False),
    (["10.0.0.0/8"], None, False),
])
def test_cidr(value, version, expected):
    assert cidr(value, version) is expected
