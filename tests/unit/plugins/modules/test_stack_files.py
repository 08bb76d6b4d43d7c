from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.pivoine.kompose.plugins.module_utils._stack_files import MASKED, StackFiles


class FakeModule:
    def __init__(self, params, check_mode=False):
        self.params = dict(dict(root_mode="0755", directories=[], files=[]), **params)
        self.check_mode = check_mode

    @staticmethod
    def atomic_move(src, dest, unsafe_writes=False, keep_dest_attrs=True):
        raise AssertionError("atomic_move may follow links; the module must not use it")


def run(root, files=(), directories=(), check=False, root_mode="0755"):
    files = [dict(dict(mode="0644", owner=None, group=None, secret=False, secret_content=None, force=True, content=None), **f)
             for f in files]
    directories = [dict(dict(mode="0755", owner=None, group=None), **d) for d in directories]
    params = dict(root=str(root), root_mode=root_mode, files=files, directories=directories)
    return StackFiles(FakeModule(params, check)).run()


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


# --- links and special files planted by a container in a directory it can write -------------------

def snapshot(path):
    """Everything a write or chown/chmod through a link would change."""
    st = os.lstat(path)
    return path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ino


@pytest.fixture
def shadow(tmp_path):
    """A host file outside the stack root, such as /etc/shadow."""
    outside = tmp_path / "etc"
    outside.mkdir()
    target = outside / "shadow"
    target.write_text("root:$6$secret:19000::::::\n")
    os.chmod(target, 0o640)
    return target


OWNER = "4242" if os.getuid() == 0 else None  # chown to another user needs root


def test_link_in_place_of_a_file_is_replaced(tmp_path, shadow):
    root = tmp_path / "core"
    spec = [{"path": "letsencrypt/acme.json", "secret_content": "{}\n", "mode": "0600", "owner": OWNER}]
    run(root, spec, directories=[{"path": "letsencrypt", "mode": "0700"}])
    before = snapshot(shadow)
    os.unlink(root / "letsencrypt/acme.json")
    os.symlink(shadow, root / "letsencrypt/acme.json")

    out = run(root, spec, directories=[{"path": "letsencrypt", "mode": "0700"}])

    assert out["changed"] and out["files"][0] == {"path": str(root / "letsencrypt/acme.json"), "changed": True,
                                                  "state": "replaced"}
    assert out["diff"] == [{"before_header": str(root / "letsencrypt/acme.json"),
                            "after_header": str(root / "letsencrypt/acme.json"),
                            "before": "(symbolic link to %s, replaced by a regular file)\n" % shadow,
                            "after": MASKED}]
    assert snapshot(shadow) == before
    managed = root / "letsencrypt/acme.json"
    assert not managed.is_symlink() and managed.read_text() == "{}\n" and mode(managed) == 0o600
    if OWNER:
        assert os.lstat(managed).st_uid == int(OWNER)
    assert os.listdir(root / "letsencrypt") == ["acme.json"]  # no temporary file left behind
    assert not run(root, spec, directories=[{"path": "letsencrypt", "mode": "0700"}])["changed"]


def test_dangling_link_in_place_of_a_missing_file_is_replaced(tmp_path):
    os.symlink(tmp_path / "nowhere", tmp_path / "a")
    out = run(tmp_path, [{"path": "a", "content": "1\n"}])
    assert out["files"][0]["state"] == "replaced" and (tmp_path / "a").read_text() == "1\n"
    assert not (tmp_path / "nowhere").exists()


def test_link_in_place_of_a_force_false_file_fails(tmp_path, shadow):
    root = tmp_path / "core"
    spec = [{"path": "redis/acl/users.acl", "secret_content": "user default off\n", "force": False, "mode": "0600",
             "owner": OWNER}]
    run(root, spec)
    os.unlink(root / "redis/acl/users.acl")
    os.symlink(shadow, root / "redis/acl/users.acl")
    before = snapshot(shadow)
    with pytest.raises(ValueError) as err:
        run(root, spec)
    assert str(err.value) == ("%s is a symbolic link (expected a regular file); remove it and re-run"
                              % (root / "redis/acl/users.acl"))
    assert snapshot(shadow) == before
    assert os.readlink(root / "redis/acl/users.acl") == str(shadow)
    with pytest.raises(ValueError):  # check mode reports the same error
        run(root, spec, check=True)


def test_link_in_place_of_a_managed_directory_fails(tmp_path):
    root = tmp_path / "core"
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir(mode=0o755)
    root.mkdir()
    os.symlink(elsewhere, root / "acl")
    with pytest.raises(ValueError) as err:
        run(root, [{"path": "acl/users.acl", "content": "x"}], directories=[{"path": "acl", "mode": "0700"}])
    assert str(err.value) == "%s is a symbolic link (expected a directory); remove it and re-run" % (root / "acl")
    assert mode(elsewhere) == 0o755 and os.listdir(elsewhere) == []


def test_link_in_place_of_an_intermediate_directory_fails(tmp_path):
    root = tmp_path / "core"
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    (root / "letsencrypt").mkdir(parents=True)
    os.symlink(elsewhere, root / "letsencrypt/live")
    with pytest.raises(ValueError, match="letsencrypt/live is a symbolic link \\(expected a directory\\)"):
        run(root, [{"path": "letsencrypt/live/cert.pem", "content": "x"}])
    assert os.listdir(elsewhere) == []


def test_link_in_place_of_the_root_fails(tmp_path):
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir(mode=0o755)
    os.symlink(elsewhere, tmp_path / "core")
    with pytest.raises(ValueError, match="core is a symbolic link \\(expected a directory\\)"):
        run(tmp_path / "core", [{"path": "a", "content": "x"}])
    assert os.listdir(elsewhere) == [] and mode(elsewhere) == 0o755


def test_check_mode_with_a_planted_link_writes_nothing(tmp_path, shadow):
    root = tmp_path / "core"
    spec = [{"path": "acme.json", "content": "{}\n", "mode": "0600", "owner": OWNER}]
    root.mkdir()
    os.symlink(shadow, root / "acme.json")
    before = snapshot(shadow)
    out = run(root, spec, check=True)
    assert out["changed"] and out["files"][0]["state"] == "replaced"
    assert snapshot(shadow) == before and os.readlink(root / "acme.json") == str(shadow)
    assert os.listdir(root) == ["acme.json"]


def test_fifo_in_place_of_a_file(tmp_path):
    os.mkfifo(tmp_path / "a")  # opening it for reading would block: the module must not
    out = run(tmp_path, [{"path": "a", "content": "1\n"}])
    assert out["files"][0]["state"] == "replaced" and out["diff"][0]["before"] == "(FIFO, replaced by a regular file)\n"
    assert (tmp_path / "a").read_text() == "1\n"
    os.unlink(tmp_path / "a")
    os.mkfifo(tmp_path / "a")
    with pytest.raises(ValueError, match="a is a FIFO \\(expected a regular file\\); remove it and re-run"):
        run(tmp_path, [{"path": "a", "content": "1\n", "force": False}])


def test_root_mode_is_enforced_on_every_run(tmp_path):
    root = tmp_path / "core"
    run(root, root_mode="0750")
    os.chmod(root, 0o755)
    out = run(root, root_mode="0750")
    assert out["changed"] and mode(root) == 0o750


def test_attributes_are_set_on_the_file_not_a_link_target(tmp_path, shadow):
    """force=false keeps the content but enforces the mode: through a descriptor of the file itself."""
    spec = [{"path": "users.acl", "content": "x", "force": False, "mode": "0600"}]
    run(tmp_path, spec)
    os.chmod(tmp_path / "users.acl", 0o644)
    before = snapshot(shadow)
    assert run(tmp_path, spec)["files"][0]["state"] == "attributes"
    assert mode(tmp_path / "users.acl") == 0o600 and snapshot(shadow) == before
