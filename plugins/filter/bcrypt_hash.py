# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.plugin_utils._bcrypt import bcrypt_hash as _bcrypt_hash


def _hash(plugin, password, salt_key, context, rounds):
    try:
        return _bcrypt_hash(password, salt_key, context=context, rounds=rounds)
    except ImportError:
        raise AnsibleFilterError("pivoine.kompose.%s: the Python library 'bcrypt' is not installed on the controller" % plugin) from None
    except ValueError as exc:
        # the messages name the option and the cause, never a secret's value
        raise AnsibleFilterError("pivoine.kompose.%s: %s" % (plugin, exc)) from None


def bcrypt_hash(password, context="", rounds=12, *, salt_key=None):
    """A bcrypt hash whose salt is keyed by ``salt_key`` (the secret kompose-hash-key)."""
    return _hash("bcrypt_hash", password, salt_key, context, rounds)


def htpasswd(password, username, rounds=12, *, salt_key=None):
    """An htpasswd line, user:bcrypt-hash (Traefik basicAuth, nginx, Apache)."""
    if not isinstance(username, str) or not username or ":" in username:
        raise AnsibleFilterError("pivoine.kompose.htpasswd: username %r must be a non-empty string without ':'" % (username,))
    return "%s:%s" % (username, _hash("htpasswd", password, salt_key, username, rounds))


class FilterModule:
    def filters(self):
        return {"bcrypt_hash": bcrypt_hash, "htpasswd": htpasswd}
