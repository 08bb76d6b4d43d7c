from __future__ import annotations

import os
import re

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _build as b


def make_build(root, version="9.1.0"):
    base = root / "events"
    package = base / "kompose_events"
    (package / "sub").mkdir(parents=True)
    (package / "__pycache__").mkdir()
    (package / "__init__.py").write_text('"""x"""\n__version__ = "%s"\n' % version)
    (package / "sub" / "a.py").write_text("A = 1\n")
    (package / "sub" / "page.html").write_text("<p>{{ x }}</p>\n")
    (package / "sub" / "a.pyc").write_bytes(b"\0compiled")
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0compiled")
    (base / "Dockerfile").write_text("FROM x\n")
    (base / "requirements.txt").write_text("")
    (base / "notes.txt").write_text("not copied: beside the package\n")
    return package


def test_a_build_is_its_files_and_the_digest_of_them(tmp_path):
    package = make_build(tmp_path)
    first = b.build_context("events", str(tmp_path))
    assert first["version"] == "9.1.0"
    assert [item["path"] for item in first["files"]] == [
        "build/Dockerfile", "build/kompose_events/__init__.py", "build/kompose_events/sub/a.py",
        "build/kompose_events/sub/page.html", "build/requirements.txt"]
    assert first["directories"] == [{"path": "build"}, {"path": "build/kompose_events"}, {"path": "build/kompose_events/sub"}]
    assert b.build_context("events", str(tmp_path))["digest"] == first["digest"]
    (package / "sub" / "page.html").write_text("<p>changed</p>\n")
    assert b.build_context("events", str(tmp_path))["digest"] != first["digest"]


def test_errors_name_the_build_and_the_file(tmp_path):
    with pytest.raises(b.BuildError, match=r"no build named 'nope' \(known: events, kmps\)"):
        b.build_context("nope", str(tmp_path))
    package = make_build(tmp_path)
    (package / "__init__.py").write_text('"""no version"""\n')
    with pytest.raises(b.BuildError, match=r"no __version__ in .*kompose_events/__init__.py"):
        b.build_context("events", str(tmp_path))
    (package / "__init__.py").write_text('__version__ = "1"\n')
    (tmp_path / "events" / "Dockerfile").unlink()
    with pytest.raises(b.BuildError, match="the events build's file Dockerfile cannot be read"):
        b.build_context("events", str(tmp_path))


@pytest.mark.parametrize("name", sorted(b.BUILDS))
def test_the_collection_builds_each_image_from_its_own_files(name):
    context = b.build_context(name)
    paths = [item["path"] for item in context["files"]]
    assert "build/Dockerfile" in paths and "build/requirements.txt" in paths
    package = b.BUILDS[name][1]
    assert "build/%s/__init__.py" % package in paths
    assert not any("__pycache__" in path or path.endswith(".pyc") for path in paths)


def pins(path):
    """{name: (version, sorted hashes)} of a requirements file."""
    found = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            match = re.match(r"^([a-z0-9][a-z0-9._-]*)==([^ ;]+)", line)
            if match:
                found[match.group(1)] = (match.group(2), sorted(re.findall(r"sha256:([0-9a-f]{64})", line)))
    return found


def test_the_lab_python_serves_exactly_the_pins_of_the_builds():
    """kompose-lab/python:3 has no index (lab/images/python): its wheelhouse is every build's pins,
    the same versions and hashes where two builds share a package."""
    wanted = {}
    for directory, dummy in b.BUILDS.values():
        for name, pin in pins(os.path.join(b.ROOT, directory, "requirements.txt")).items():
            assert wanted.setdefault(name, pin) == pin, "%s is pinned differently by two builds" % name
    assert wanted and pins(os.path.join(b.ROOT, "lab", "images", "python", "requirements.txt")) == wanted
