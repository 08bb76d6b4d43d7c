"""Shared fixtures of the module tests."""

import json

import pytest

from ansible.module_utils.testing import patch_module_args


@pytest.fixture
def module_result(capsys):
    """Run a module's main() with the given arguments and return the JSON result it exited with."""
    def run(main, args):
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                main()
        return json.loads(capsys.readouterr().out)
    return run
