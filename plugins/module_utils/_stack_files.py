# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: write a stack's files in one module execution (modules stack_files and stack).

Never follows a symbolic link below the root: see the stack_files module's documentation.
Nothing here is a public API of the collection.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import stat

from ansible.module_utils.common.text.converters import to_bytes, to_native

MASKED = "(content hidden: this file holds secrets)\n"

# Every managed path is opened without following a symbolic link: directories such as redis/acl/
# are writable by containers, which could plant a link to a host file in place of a managed one.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in after the lstat must not block the open
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _resolve_id(value, lookup, what):
    if value is None:
        return -1
    value = str(value)
    if value.isdigit():
        return int(value)
    try:
        return getattr(lookup(value), "pw_uid" if what == "owner" else "gr_gid")
    except KeyError:
        raise ValueError("%s %r does not exist on the target host" % (what, value))


def _mode(value, path):
    text = str(value)
    try:
        return int(text, 8)
    except ValueError:
        raise ValueError("mode %r of %s is not an octal mode such as '0644'" % (text, path))


def _lstat(name, dir_fd=None):
    """lstat (relative to dir_fd when given); None when nothing is there."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _kind(st):
    for test, kind in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "directory"), (stat.S_ISLNK, "symbolic link"),
                       (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device")):
        if test(st.st_mode):
            return kind
    return "special file"


def _not_a(path, st, expected):
    return ValueError("%s is a %s (expected a %s); remove it and re-run" % (path, _kind(st), expected))


class StackFiles:
    def __init__(self, module):
        self.module = module
        self.root = os.path.abspath(module.params["root"])
        self.check = module.check_mode
        self.changed = False
        self.diff = []
        self.root_fd = None

    def _abs(self, path):
        return path if os.path.isabs(path) else os.path.join(self.root, path)

    def _attrs(self, spec, path, default_mode):
        return (
            _mode(spec.get("mode") or default_mode, path),
            _resolve_id(spec.get("owner"), pwd.getpwnam, "owner"),
            _resolve_id(spec.get("group"), grp.getgrnam, "group"),
        )

    def _dir_created(self, path):
        self.diff.append({"before_header": path, "after_header": path, "before": "", "after": "(directory)\n"})

    # -- opening without following links ------------------------------------------------------
    def _open(self, name, dir_fd, path, flags, expected, st):
        """Open what lstat found (st) without following a link; fail if it was swapped meanwhile."""
        try:
            fd = os.open(name, flags, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                raise
            now = _lstat(name, dir_fd)
            if now is None:
                raise ValueError("%s disappeared while being checked; re-run" % path)
            raise _not_a(path, now, expected)
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or _kind(now) != expected:
            os.close(fd)
            raise ValueError("%s was replaced while being checked (expected a %s); re-run" % (path, expected))
        return fd

    def _open_dir(self, name, dir_fd, path):
        st = _lstat(name, dir_fd)
        if st is None:
            return None
        if not stat.S_ISDIR(st.st_mode):
            raise _not_a(path, st, "directory")
        return self._open(name, dir_fd, path, DIR_FLAGS, "directory", st)

    def _parent(self, path):
        """(fd of path's parent directory, path's name), or (None, name) while the parent is missing (check mode).

        Below O(root) every component is entered with O_NOFOLLOW from the root's descriptor, so no
        link anywhere under the root is followed. A path outside the root is resolved from its parent,
        which (like the root's own parents) is the administrator's, not a container's.
        Missing directories are created with mode 0755, except in check mode.
        """
        path = os.path.normpath(path)
        rel = os.path.relpath(path, self.root)
        if rel == ".":
            raise ValueError("%s is the root directory, expected a file or a directory below it" % path)
        if rel == ".." or rel.startswith(".." + os.sep):
            parent = os.path.dirname(path)
            if not os.path.isdir(parent):
                if self.check:
                    return None, os.path.basename(path)
                os.makedirs(parent, 0o755)
            return os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), os.path.basename(path)
        parts = rel.split(os.sep)
        if self.root_fd is None:
            return None, parts[-1]
        fd, current = os.dup(self.root_fd), self.root
        for part in parts[:-1]:
            current = os.path.join(current, part)
            try:
                child = self._open_dir(part, fd, current)
                if child is None:
                    if self.check:
                        return None, parts[-1]
                    os.mkdir(part, 0o755, dir_fd=fd)
                    child = self._open_dir(part, fd, current)
                    os.fchmod(child, 0o755)
                    self._dir_created(current)
            finally:
                os.close(fd)
            fd = child
        return fd, parts[-1]

    def _apply_attrs(self, fd, mode, uid, gid):
        """Set mode/owner through an open descriptor where they differ; return True when something differed."""
        st = os.fstat(fd)
        differs = (st.st_mode & 0o7777) != mode or (uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid)
        if differs and not self.check:
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
        return differs

    # -- directories ------------------------------------------------------------------------
    def ensure_root(self, mode):
        st = _lstat(self.root)
        if st is None:
            if not self.check:
                parent = os.path.dirname(self.root)
                if not os.path.isdir(parent):
                    os.makedirs(parent, 0o755)
                os.mkdir(self.root, mode)
                self.root_fd = self._open_dir(self.root, None, self.root)
                os.fchmod(self.root_fd, mode)
            self._dir_created(self.root)
            return True
        if not stat.S_ISDIR(st.st_mode):
            raise _not_a(self.root, st, "directory")
        self.root_fd = self._open(self.root, None, self.root, DIR_FLAGS, "directory", st)
        return self._apply_attrs(self.root_fd, mode, -1, -1)

    def ensure_dir(self, path, mode, uid=-1, gid=-1):
        if os.path.normpath(path) == self.root:
            return self.root_fd is not None and self._apply_attrs(self.root_fd, mode, uid, gid)
        parent_fd, name = self._parent(path)
        if parent_fd is None:
            self._dir_created(path)
            return True
        try:
            fd = self._open_dir(name, parent_fd, path)
            if fd is None:
                if not self.check:
                    os.mkdir(name, mode & 0o777, dir_fd=parent_fd)
                    fd = self._open_dir(name, parent_fd, path)
                    os.fchown(fd, uid, gid)
                    os.fchmod(fd, mode)
                    os.close(fd)
                self._dir_created(path)
                return True
            try:
                return self._apply_attrs(fd, mode, uid, gid)
            finally:
                os.close(fd)
        finally:
            os.close(parent_fd)

    # -- files ------------------------------------------------------------------------------
    def _write(self, dir_fd, name, data, mode, uid, gid):
        """Write a new regular file next to name and rename it over whatever name is (never writing through it)."""
        for dummy in range(100):
            tmp = ".%s.%s" % (name[:200], os.urandom(6).hex())
            try:
                fd = os.open(tmp, TEMP_FLAGS, 0o600, dir_fd=dir_fd)
                break
            except FileExistsError:
                continue
        else:
            raise ValueError("cannot create a temporary file next to %s" % name)
        try:
            try:
                os.fchown(fd, uid, gid)
                os.fchmod(fd, mode)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except OSError:
                pass
            raise

    def ensure_file(self, spec):
        path = self._abs(spec["path"])
        mode, uid, gid = self._attrs(spec, path, "0644")
        secret = spec.get("secret") or spec.get("secret_content") is not None
        content = spec["secret_content"] if spec.get("secret_content") is not None else spec.get("content")
        if content is None:
            raise ValueError("files[].content or files[].secret_content is required for %s" % path)
        data = to_bytes(content, errors="surrogate_or_strict")
        dir_fd, name = self._parent(path)
        try:
            return self._ensure_file(dir_fd, name, path, data, content, secret, spec.get("force", True), mode, uid, gid)
        finally:
            if dir_fd is not None:
                os.close(dir_fd)

    def _ensure_file(self, dir_fd, name, path, data, content, secret, force, mode, uid, gid):
        result = {"path": path, "changed": False, "state": "unchanged"}
        st = None if dir_fd is None else _lstat(name, dir_fd)
        before = ""
        if st is None:
            result.update(changed=True, state="created")
        elif stat.S_ISDIR(st.st_mode):
            raise ValueError("%s is a directory, expected a file" % path)
        elif not stat.S_ISREG(st.st_mode):
            # a link or special file planted where the module keeps a regular file
            if not force:
                raise _not_a(path, st, "regular file")
            what = _kind(st)
            if stat.S_ISLNK(st.st_mode):
                what += " to %s" % to_native(os.readlink(name, dir_fd=dir_fd), errors="surrogate_then_replace")
            before = "(%s, replaced by a regular file)\n" % what
            result.update(changed=True, state="replaced")
        else:
            fd = self._open(name, dir_fd, path, FILE_FLAGS, "regular file", st)
            try:
                if not force:
                    if self._apply_attrs(fd, mode, uid, gid):
                        result.update(changed=True, state="attributes")
                    return result
                with os.fdopen(os.dup(fd), "rb") as handle:
                    old = handle.read()
                if old == data:
                    if self._apply_attrs(fd, mode, uid, gid):
                        result.update(changed=True, state="attributes")
                    return result
            finally:
                os.close(fd)
            before = MASKED if secret else to_native(old, errors="surrogate_then_replace")
            result.update(changed=True, state="updated")
        self.diff.append({
            "before_header": path,
            "after_header": path,
            "before": before,
            "after": MASKED if secret else content,
        })
        if not self.check:
            self._write(dir_fd, name, data, mode, uid, gid)
        return result

    def run(self):
        params = self.module.params
        try:
            self.changed |= self.ensure_root(_mode(params["root_mode"], self.root))
            for spec in params["directories"]:
                path = self._abs(spec["path"])
                self.changed |= self.ensure_dir(path, *self._attrs(spec, path, "0755"))
            files = [self.ensure_file(spec) for spec in params["files"]]
        finally:
            if self.root_fd is not None:
                os.close(self.root_fd)
                self.root_fd = None
        changed_files = [entry["path"] for entry in files if entry["changed"]]
        self.changed |= bool(changed_files)
        return dict(changed=self.changed, files=files, changed_files=changed_files, diff=self.diff)


def argument_spec():
    """The options of the files part (modules stack_files and stack)."""
    entry = dict(
        path=dict(type="path", required=True),
        mode=dict(type="raw", default="0644"),
        owner=dict(type="str"),
        group=dict(type="str"),
    )
    return dict(
        root=dict(type="path", required=True),
        root_mode=dict(type="raw", default="0755"),
        directories=dict(type="list", elements="dict", default=[], options=dict(entry, mode=dict(type="raw", default="0755"))),
        files=dict(type="list", elements="dict", default=[], options=dict(
            entry,
            content=dict(type="str"),
            secret=dict(type="bool", default=False),
            secret_content=dict(type="str", no_log=True),
            force=dict(type="bool", default=True),
        )),
    )
