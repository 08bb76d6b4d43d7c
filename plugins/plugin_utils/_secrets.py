# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate-once secret store on the controller: one 0600 file per secret in a 0700 directory.

One file per secret means any secret can be rotated alone: delete (or replace) its file and
re-run. Nothing here ever logs a value.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import string
import tempfile

KINDS = {
    # kind: (default length, what length counts)
    "password": 32,  # characters from [A-Za-z0-9]
    "hex": 32,  # random bytes, written as 2x lowercase hex characters
    "base64": 32,  # random bytes, written as URL-safe base64 (e.g. cookie secrets)
}
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")
ALPHABET = string.ascii_letters + string.digits
# what no secret may hold: the env files carry each value single-quoted, on one line (nor may one end in a
# backslash, which would escape the closing quote)
UNQUOTABLE = "'\r\n"


# A secret some service issues (e.g. a Gotify application token): read when stored, never generated.
ISSUED = "issued"


class SecretError(ValueError):
    pass


def generate(kind, length=None):
    if kind not in KINDS:
        raise SecretError("kind %r is not one of %s" % (kind, ", ".join(sorted(KINDS))))
    length = KINDS[kind] if length is None else length
    if not isinstance(length, int) or isinstance(length, bool) or not 16 <= length <= 1024:
        raise SecretError("length %r is not a whole number from 16 to 1024" % (length,))
    if kind == "password":
        return "".join(secrets.choice(ALPHABET) for dummy in range(length))
    if kind == "hex":
        return secrets.token_hex(length)
    return base64.urlsafe_b64encode(secrets.token_bytes(length)).decode("ascii")


def normalise_spec(spec):
    """Accept 'name' or {'name': ..., 'kind': ..., 'length': ...}; return (name, kind, length)."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise SecretError("a secret is a name or a mapping with a name, got %r" % (spec,))
    unknown = set(spec) - {"name", "kind", "length"}
    if unknown:
        raise SecretError("secret %r has unknown key(s): %s" % (spec["name"], ", ".join(sorted(unknown))))
    name = spec["name"]
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise SecretError("secret name %r must match %s (it becomes a file name)" % (name, NAME_RE.pattern))
    kind = spec.get("kind", "password")
    if kind not in KINDS and kind != ISSUED:
        raise SecretError("secret %r: kind %r is not one of %s" % (name, kind, ", ".join(sorted(KINDS))))
    return name, kind, spec.get("length")


def _ensure_dir(directory):
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if os.stat(directory).st_mode & 0o077:
        os.chmod(directory, 0o700)


def read_or_create(directory, spec, persist=True):
    """Return the secret's value, generating and (when persist) storing it on first use.

    An ``issued`` secret is only read: None when it is not stored (yet).
    """
    name, kind, length = normalise_spec(spec)
    path = os.path.join(directory, name)
    if os.path.exists(path):
        with open(path, "r", encoding="utf-8") as handle:
            value = handle.read().rstrip("\n")
        if not value:
            raise SecretError("secret file %s is empty: delete it to generate a new secret" % path)
        if any(char in value for char in UNQUOTABLE) or value.endswith("\\"):
            raise SecretError("secret file %s holds more than one line, a single quote or a final backslash: a secret "
                              "is written single-quoted into env files, so it must be one line without ' and not end "
                              "in \\ (the value is not shown)" % path)
        return value
    if kind == ISSUED:
        return None
    value = generate(kind, length)
    if not persist:
        return value
    _ensure_dir(directory)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % name, dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value + "\n")
        try:
            os.link(tmp, path)  # never clobbers a secret another run wrote meanwhile
        except FileExistsError:
            return read_or_create(directory, spec, persist)
    finally:
        os.unlink(tmp)
    return value
