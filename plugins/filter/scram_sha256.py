# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.module_utils._scram import scram_verifier


def scram_sha256(password, iterations=4096):
    """PostgreSQL's SCRAM-SHA-256 verifier of a password, with a new random 16-byte salt."""
    if not isinstance(password, str) or not password:
        raise AnsibleFilterError("pivoine.kompose.scram_sha256: the input must be a non-empty string")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or not 4096 <= iterations <= 10_000_000:
        raise AnsibleFilterError("pivoine.kompose.scram_sha256: iterations %r is not a whole number from 4096 to 10000000"
                                 % (iterations,))
    return scram_verifier(password, os.urandom(16), iterations)


class FilterModule:
    def filters(self):
        return {"scram_sha256": scram_sha256}
