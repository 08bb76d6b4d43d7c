# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.plugin_utils._mosquitto import password_hash


def mosquitto_passwd(password, username, salt=None, iterations=101, *, salt_key=None):
    """A Mosquitto ``$7$`` hash whose salt is keyed by ``salt_key`` (the secret kompose-hash-key)."""
    try:
        return password_hash(password, username, salt_key=salt_key, salt=salt, iterations=iterations)
    except (ValueError, TypeError) as exc:
        # the messages name the option and the cause, never a secret's value
        raise AnsibleFilterError("pivoine.kompose.mosquitto_passwd: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"mosquitto_passwd": mosquitto_passwd}
