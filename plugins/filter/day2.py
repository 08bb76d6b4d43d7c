# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin entry points for the day-2 playbooks' decisions; the logic lives in plugin_utils."""

from __future__ import annotations

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _backup, _restore, _rotate, _status, _teardown
from ansible_collections.pivoine.kompose.plugins.plugin_utils._catalog import CatalogError
from ansible_collections.pivoine.kompose.plugins.plugin_utils._filters import wrap


class FilterModule:
    def filters(self):
        return {
            "backup_manifest": wrap("backup_manifest", _backup.manifest, [_backup.BackupError]),
            "backup_verify": wrap("backup_verify", _backup.verify, [_backup.BackupError]),
            "restore_plan": wrap("restore_plan", _restore.plan, [CatalogError]),
            "restore_choose": wrap("restore_choose", _restore.choose, [_backup.BackupError, CatalogError]),
            "restore_database_script": wrap("restore_database_script", _restore.database_script, [CatalogError]),
            "rotation_failures": wrap("rotation_failures", _rotate.failures, [_rotate.RotateError]),
            "rotation_plan": wrap("rotation_plan", _rotate.plan, [_rotate.RotateError]),
            "status_table": wrap("status_table", _status.table, [_status.StatusError]),
            "teardown_plan": wrap("teardown_plan", _teardown.plan, [_teardown.TeardownError]),
            "teardown_summary": wrap("teardown_summary", _teardown.summary, [_teardown.TeardownError]),
            "vaultwarden_admin_override": wrap("vaultwarden_admin_override", _rotate.vaultwarden_override, [_rotate.RotateError]),
        }
