from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pivoine.kompose.plugins.filter.day2 import FilterModule

day2 = FilterModule().filters()
KEY = "k" * 64


def test_the_restore_filters_are_wired_and_their_errors_name_the_plugin():
    with pytest.raises(AnsibleFilterError, match=r'^pivoine\.kompose\.restore_choose: kompose_restore_from="latest": '
                                                 r"no backup set can be authenticated"):
        day2["restore_choose"]([], "latest", KEY)
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.restore_choose: the secret backup-manifest-key"):
        day2["restore_choose"]([], "latest", "")
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.restore_database_script: database \"a'b\": not"):
        day2["restore_database_script"]({"database": "a'b"}, {}, "postgres")
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.restore_plan: the set's item .* volume \"/\""):
        day2["restore_plan"]({"items": [{"service": "alpha", "kind": "volume", "volume": "/"}], "files": []},
                             {"alpha": {"stack": "apps", "container": "apps-alpha"}}, [], {})
    with pytest.raises(AnsibleFilterError, match=r"^pivoine\.kompose\.backup_manifest: the secret backup-manifest-key"):
        day2["backup_manifest"]([], "/b/s", "s", "h", "f", [], {}, [], [], {}, None)
