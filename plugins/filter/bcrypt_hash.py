# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.plugin_utils._bcrypt import bcrypt_hash as _bcrypt_hash


def bcrypt_hash(password, context="", rounds=12):
    try:
        return _bcrypt_hash(password, context=context, rounds=rounds)
    except ImportError:
        raise AnsibleFilterError("pivoine.kompose.bcrypt_hash: the Python library 'bcrypt' is not installed on the controller") from None
    except ValueError as exc:
        raise AnsibleFilterError("pivoine.kompose.bcrypt_hash: %s" % exc) from None


def htpasswd(password, username, rounds=12):
    """An htpasswd line, user:bcrypt-hash (Traefik basicAuth, nginx, Apache)."""
    if not isinstance(username, str) or not username or ":" in username:
        raise AnsibleFilterError("pivoine.kompose.htpasswd: username %r must be a non-empty string without ':'" % (username,))
    return "%s:%s" % (username, bcrypt_hash(password, context=username, rounds=rounds))


class FilterModule:
    def filters(self):
        return {"bcrypt_hash": bcrypt_hash, "htpasswd": htpasswd}
