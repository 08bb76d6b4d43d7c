# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import ipaddress


def cidr(value, version=None):
    """True for a network in CIDR form with no host bits set (10.0.0.0/8, fd00::/8)."""
    if not isinstance(value, str) or "/" not in value:
        return False
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return version is None or network.version == version


class TestModule:
    def tests(self):
        return {"cidr": cidr}
