# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible's linear strategy, through Mitogen for Ansible when it is installed."""

from __future__ import annotations

DOCUMENTATION = r"""
name: linear
short_description: Ansible's linear strategy, through Mitogen for Ansible when it is installed
version_added: 0.2.0
author:
  - pivoine.kompose developers (@pivoine)
description:
  - Runs tasks exactly like C(ansible.builtin.linear) (in lockstep per host batch).
  - When the Python package C(mitogen) (Mitogen for Ansible) is importable by the controller, its
    strategy mix-in runs every module in a long-lived interpreter per host instead of a new process
    per task; a run of the site with nothing to do takes about half the time. Without it, this is
    C(ansible.builtin.linear) itself.
  - The collection's C(ansible.cfg) selects it (C(strategy = pivoine.kompose.linear)); C(make setup)
    installs Mitogen. To run without Mitogen, set C(ANSIBLE_STRATEGY=linear).
notes:
  - Mitogen 0.3.x supports ansible-core up to 2.19; see its documentation for the connection types
    it takes over (local and ssh among them).
"""

from ansible.plugins.strategy.linear import StrategyModule as LinearStrategy
from ansible.utils.display import Display

try:
    import ansible_mitogen.strategy
    HAS_MITOGEN = True
except ImportError:
    HAS_MITOGEN = False

display = Display()

if HAS_MITOGEN:
    class StrategyModule(ansible_mitogen.strategy.StrategyMixin, LinearStrategy):
        """Linear, with Mitogen's workers and connections."""
else:
    class StrategyModule(LinearStrategy):
        """Linear: Mitogen for Ansible is not installed."""

        def __init__(self, *args, **kwargs):
            display.vv("pivoine.kompose.linear: Mitogen for Ansible is not installed, running ansible.builtin.linear")
            super().__init__(*args, **kwargs)
