"""A minimal action context for the collection's action plugins: a real DataLoader and Templar (the
templates are rendered for real), a task whose search path is a temporary directory, and
_execute_module replaced by a recorder that answers with a canned module result."""

from __future__ import annotations

import types

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar


class Recorder:
    """Stands in for ActionBase._execute_module: records each call, answers `result` (or result(module_args))."""

    def __init__(self, result):
        self.result, self.calls = result, []

    def __call__(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        assert not kwargs
        self.calls.append({"module_name": module_name, "module_args": module_args, "task_vars": task_vars})
        return dict(self.result(module_args) if callable(self.result) else self.result)


@pytest.fixture
def make_action(tmp_path):
    """make_action(ActionModule, args, result) -> (the action, the recorder); templates go to tmp_path/templates."""
    (tmp_path / "templates").mkdir()

    def make(cls, args, result=None, check_mode=False):
        loader = DataLoader()
        loader.set_basedir(str(tmp_path))
        task = types.SimpleNamespace(args=args, async_val=0, check_mode=check_mode, action="pivoine.kompose.test",
                                     get_search_path=lambda: [str(tmp_path)])
        connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir="/tmp/ansible-tmp"))
        action = cls(task, connection, None, loader, Templar(loader=loader), None)
        recorder = Recorder({"changed": True, "files": []} if result is None else result)
        action._execute_module = recorder
        return action, recorder
    return make
