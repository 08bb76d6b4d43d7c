# Copyright: (c) 2026, pivoine.kompose developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The images the collection builds on the target host from its own files.

Two of its services have no upstream image: the event engine (``events/``) and the portal
(``kmps/``). Each directory holds a ``Dockerfile``, the pinned ``requirements.txt`` and one Python
package. A stack copies those files to ``<stack>/build/`` on the host and names its image by the
package's version and a digest of every copied path and content, so a changed file builds a new
image and an unchanged one builds nothing (Compose builds an image whose tag is missing).
"""

from __future__ import annotations

import hashlib
import os
import re

# the collection's root: plugins/plugin_utils/ -> ../..
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name -> (directory under the root, its package); each directory also holds BUILD_FILES
BUILDS = {
    "events": ("events", "kompose_events"),
    "kmps": ("kmps", "kmps_portal"),
}
BUILD_FILES = ("Dockerfile", "requirements.txt")
VERSION = re.compile(r'^__version__ = "([^"]+)"$', re.M)


class BuildError(ValueError):
    """A build that cannot be read; the message names the build and the file."""


def build_context(name, root=ROOT):
    """``{version, digest, files, directories}`` of the build ``name`` (a key of BUILDS): the files
    (``[{path, content}]``, paths under ``build/``, sorted: BUILD_FILES and every file of the package
    but compiled ones), the directories holding them (``[{path}]``) and a sha256 of all paths and
    contents, which names the image."""
    if name not in BUILDS:
        raise BuildError("no build named %r (known: %s)" % (name, ", ".join(sorted(BUILDS))))
    directory, package = BUILDS[name]
    base = os.path.join(root, directory)
    paths = list(BUILD_FILES)
    for top, dirs, names in os.walk(os.path.join(base, package)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        paths += [os.path.relpath(os.path.join(top, file_name), base) for file_name in names if not file_name.endswith((".pyc", ".pyo"))]
    files, version = [], None
    digest = hashlib.sha256()
    for path in sorted(paths):
        try:
            with open(os.path.join(base, path), encoding="utf-8") as handle:
                content = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise BuildError("the %s build's file %s cannot be read: %s" % (name, path, getattr(exc, "strerror", None) or exc)) from None
        files.append({"path": "build/" + path, "content": content})
        digest.update(("%s\0%s\0" % (path, content)).encode("utf-8"))
        if path == os.path.join(package, "__init__.py"):
            version = VERSION.search(content)
    if version is None:
        raise BuildError("no __version__ in %s" % os.path.join(base, package, "__init__.py"))
    directories = sorted({os.path.dirname(item["path"]) for item in files})
    return {"version": version.group(1), "digest": digest.hexdigest(), "files": files,
            "directories": [{"path": path} for path in directories]}
