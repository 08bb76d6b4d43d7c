# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by the thin filter entry files: turn expected errors into AnsibleFilterError."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def wrap(name, func, errors):
    """Filter ``name`` calling ``func``; ``errors`` (the expected ones) name the plugin, anything else is a bug."""
    caught = (*errors,)

    def filter_(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except caught as exc:
            raise AnsibleFilterError("pivoine.kompose.%s: %s" % (name, exc)) from None
    filter_.__name__ = name
    return filter_
