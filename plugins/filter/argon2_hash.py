# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.plugin_utils._argon2 import DEFAULTS
from ansible_collections.pivoine.kompose.plugins.plugin_utils._argon2 import argon2_hash as _argon2_hash


def argon2_hash(password, context="", *, salt_key=None, time_cost=DEFAULTS["time_cost"],
                memory_cost=DEFAULTS["memory_cost"], parallelism=DEFAULTS["parallelism"]):
    """An Argon2id PHC string whose salt is keyed by ``salt_key`` (the secret kompose-hash-key)."""
    try:
        return _argon2_hash(password, salt_key, context=context, time_cost=time_cost,
                            memory_cost=memory_cost, parallelism=parallelism)
    except ImportError:
        raise AnsibleFilterError("pivoine.kompose.argon2_hash: the Python library 'argon2-cffi' is not installed on the controller") from None
    except ValueError as exc:
        # the messages name the option and the cause, never a secret's value
        raise AnsibleFilterError("pivoine.kompose.argon2_hash: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"argon2_hash": argon2_hash}
