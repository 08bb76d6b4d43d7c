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
    per task. Without it, this is C(ansible.builtin.linear) with the preload below.
  - Before the first task, it imports the collection's own action, filter, lookup and test plugins
    (and the C(ansible.builtin) action plugins every run uses) into the controller. Each task runs
    in a worker forked from the controller, and a worker that imports them itself pays for it on
    every task (about 0.1 s per task that uses a filter of the collection, measured).
  - With Mitogen, it also lists the installed collections once, before the first task, for Mitogen's module planner,
    which would otherwise list them again (about 0.1 s) for every collection module a worker runs.
  - The collection's C(ansible.cfg) selects it (C(strategy = pivoine.kompose.linear)); C(make setup)
    installs Mitogen. To run without Mitogen, set C(ANSIBLE_STRATEGY=linear).
notes:
  - Mitogen 0.3.x supports ansible-core up to 2.19; see its documentation for the connection types
    it takes over (local and ssh among them).
"""

import importlib
import pkgutil

from ansible.collections.list import list_collection_dirs
from ansible.plugins.loader import filter_loader, test_loader
from ansible.plugins.strategy.linear import StrategyModule as LinearStrategy
from ansible.utils.display import Display

try:
    import ansible_mitogen.planner
    import ansible_mitogen.strategy
    HAS_MITOGEN = True
except ImportError:
    HAS_MITOGEN = False

display = Display()

# What the workers would otherwise each import again: this collection's controller-side plugins, the
# builtin action plugins of every run, and the metadata of the collections the site's tasks use.
PRELOAD_PACKAGES = tuple("ansible_collections.pivoine.kompose.plugins.%s" % kind for kind in ("action", "filter", "lookup", "test"))
PRELOAD_MODULES = tuple("ansible.plugins.action.%s" % name for name in (
    "assert", "command", "copy", "debug", "include_vars", "normal", "set_fact", "template", "validate_argument_spec"))
PRELOAD_COLLECTIONS = ("pivoine.kompose", "community.docker", "community.general", "community.crypto")


def _try(what, load):
    """Run ``load``; a failure is left to the task that needs ``what`` to report."""
    try:
        return load()
    except Exception as exc:  # pylint: disable=broad-exception-caught
        display.vvv("pivoine.kompose.linear: not preloading %s: %s" % (what, exc))
        return None


def preload():
    """Load the plugins and metadata above once in the controller, before it forks its workers."""
    for collection in PRELOAD_COLLECTIONS:
        _try(collection, lambda c=collection: importlib.import_module("ansible_collections." + c))
    if HAS_MITOGEN:
        # Mitogen's planner lists every installed collection (a directory walk that imports each
        # one's package and parses its metadata, about 0.1 s with the `ansible` package's hundred
        # collections) for each collection module a worker runs: a fifth of a no-op site's CPU,
        # measured. The list cannot change during a run: listed here once, the workers reuse it.
        dirs = _try("the installed collections", lambda: [path.decode("utf-8") for path in list_collection_dirs()])
        if dirs is not None and callable(getattr(ansible_mitogen.planner, "_load_collections", None)):
            ansible_mitogen.planner._load_collections = lambda invocation: invocation._extra_sys_paths.update(dirs)
    # the Jinja plugin loaders index ansible.builtin's filters and tests on their first use
    _try("ansible.builtin's filters", lambda: filter_loader.get("ansible.builtin.to_json"))
    _try("ansible.builtin's tests", lambda: test_loader.get("ansible.builtin.match"))
    names = list(PRELOAD_MODULES)
    for package in PRELOAD_PACKAGES:
        module = _try(package, lambda p=package: importlib.import_module(p))
        if module is not None:
            names.extend("%s.%s" % (package, info.name) for info in pkgutil.iter_modules(module.__path__))
    for name in names:
        _try(name, lambda n=name: importlib.import_module(n))


if HAS_MITOGEN:
    class StrategyModule(ansible_mitogen.strategy.StrategyMixin, LinearStrategy):
        """Linear, with Mitogen's workers and connections."""

        def __init__(self, *args, **kwargs):
            preload()
            super().__init__(*args, **kwargs)
else:
    class StrategyModule(LinearStrategy):
        """Linear with the preload: Mitogen for Ansible is not installed."""

        def __init__(self, *args, **kwargs):
            display.vv("pivoine.kompose.linear: Mitogen for Ansible is not installed, running ansible.builtin.linear")
            preload()
            super().__init__(*args, **kwargs)
