from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.pivoine.kompose.plugins.modules.stack_files import MASKED, StackFiles


class FakeModule:
    def __init__(self, params, check_mode=False):
        self.params = dict(dict(root_mode="0755", directories=[], files=[]), **params)
        self.check_mode = check_mode

    @staticmethod
    def atomic_move(src, dest, unsafe_writes=False, keep_dest_attrs=True):
        os.rename(src, dest)


def run(root, files=(), directories=(), check=False):
    files = [dict(dict(mode="0644", owner=None, group=None, secret=False, secret_content=None, force=True, content=None), **f)
             for f in files]
    directories = [dict(dict(mode="0755", owner=None, group=None), **d) for d in directories]
    return StackFiles(FakeModule(dict(root=str(root), files=files, directories=directories), check)).run()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_create_then_unchanged(tmp_path):
    root = tmp_path / "core"
    spec = [{"path": "compose.yaml", "content": "a: 1\n"}, {"path": "redis/redis.conf", "content": "port 6379\n", "mode": "0600"}]
    first = run(root, spec, directories=[{"path": "acl", "mode": "0700"}])
    assert first["changed"] and [f["state"] for f in first["files"]] == ["created", "created"]
    assert (root / "redis/redis.conf").read_text() == "port 6379\n"
    assert mode(root / "redis/redis.conf") == 0o600 and mode(root / "acl") == 0o700
    second = run(root, spec, directories=[{"path": "acl", "mode": "0700"}])
    assert not second["changed"] and second["changed_files"] == [] and second["diff"] == []


def test_update_reports_diff_and_only_changed_files(tmp_path):
    run(tmp_path, [{"path": "a", "content": "1\n"}, {"path": "b", "content": "x\n"}])
    out = run(tmp_path, [{"path": "a", "content": "2\n"}, {"path": "b", "content": "x\n"}])
    assert out["changed_files"] == [str(tmp_path / "a")]
    assert out["diff"] == [{"before_header": str(tmp_path / "a"), "after_header": str(tmp_path / "a"), "before": "1\n", "after": "2\n"}]
    assert [f["state"] for f in out["files"]] == ["updated", "unchanged"]


def test_secret_content_is_masked_in_diff(tmp_path):
    out = run(tmp_path, [{"path": "pw", "secret_content": "hunter2", "mode": "0600"}])
    assert out["diff"][0]["after"] == MASKED and "hunter2" not in repr(out)
    assert (tmp_path / "pw").read_text() == "hunter2"
    out = run(tmp_path, [{"path": "pw", "secret_content": "hunter3", "mode": "0600"}])
    assert out["diff"][0]["before"] == MASKED and "hunter" not in repr(out)


def test_mode_drift_is_repaired(tmp_path):
    run(tmp_path, [{"path": "a", "content": "x", "mode": "0600"}])
    os.chmod(tmp_path / "a", 0o644)
    out = run(tmp_path, [{"path": "a", "content": "x", "mode": "0600"}])
    assert out["files"][0]["state"] == "attributes" and mode(tmp_path / "a") == 0o600


def test_force_false_creates_once_and_keeps_later_edits(tmp_path):
    spec = [{"path": "users.acl", "secret_content": "user default off\n", "force": False, "mode": "0600"}]
    assert run(tmp_path, spec)["files"][0]["state"] == "created"
    (tmp_path / "users.acl").write_text("user default off\nuser app on\n")
    out = run(tmp_path, spec)
    assert not out["changed"] and (tmp_path / "users.acl").read_text().endswith("user app on\n")


def test_check_mode_writes_nothing(tmp_path):
    root = tmp_path / "new"
    out = run(root, [{"path": "x/y", "content": "z"}], directories=[{"path": "d"}], check=True)
    assert out["changed"] and out["changed_files"] == [str(root / "x/y")]
    assert not root.exists()
    run(tmp_path, [{"path": "a", "content": "1", "mode": "0600"}])
    os.chmod(tmp_path / "a", 0o644)
    out = run(tmp_path, [{"path": "a", "content": "2", "mode": "0600"}], check=True)
    assert out["changed"] and (tmp_path / "a").read_text() == "1" and mode(tmp_path / "a") == 0o644


def test_numeric_owner(tmp_path):
    uid, gid = os.getuid(), os.getgid()
    run(tmp_path, [{"path": "a", "content": "1", "owner": str(uid), "group": str(gid)}])
    assert (os.stat(tmp_path / "a").st_uid, os.stat(tmp_path / "a").st_gid) == (uid, gid)


@pytest.mark.parametrize("spec,message", [
    ({"path": "a", "content": "1", "mode": "rw-r--r--"}, "mode 'rw-r--r--' of"),
    ({"path": "a", "content": "1", "owner": "no-such-user-here"}, "owner 'no-such-user-here' does not exist"),
    ({"path": "a"}, "files[].content or files[].secret_content is required"),
])
def test_bad_input(tmp_path, spec, message):
    with pytest.raises(ValueError) as err:
        run(tmp_path, [spec])
    assert message in str(err.value)


def test_directory_in_the_way(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="is a directory, expected a file"):
        run(tmp_path, [{"path": "a", "content": "1"}])
