# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules show in place of a secret (diffs, queries, results). Not a public API."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

MASK = '********'
