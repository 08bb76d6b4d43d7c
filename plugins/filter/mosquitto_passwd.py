# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.plugin_utils._mosquitto import password_hash


def mosquitto_passwd(password, username, salt=None, iterations=101):
    try:
        return password_hash(password, username, salt=salt, iterations=iterations)
    except (ValueError, TypeError) as exc:
        raise AnsibleFilterError("pivoine.kompose.mosquitto_passwd: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"mosquitto_passwd": mosquitto_passwd}
