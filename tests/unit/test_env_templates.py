"""Env files: every value single-quoted (Compose reads it literally: no $ interpolation, no inline comment,
spaces kept), and no value that could end the quotes (a single quote, a line break, a final backslash)."""
from __future__ import annotations

import pathlib
import re

import pytest

from ansible_collections.pivoine.kompose.plugins.plugin_utils import _catalog as c
from ansible_collections.pivoine.kompose.plugins.plugin_utils import _secrets as s

ROOT = pathlib.Path(__file__).resolve().parents[2]
ENV_TEMPLATES = sorted(ROOT.glob("roles/*/templates/**/*.env.j2"))
# NAME='value' where the value holds Jinja expressions and literal text but no single quote of its own
ASSIGNMENT = re.compile(r"(?:[A-Z][A-Z0-9_]*|\{\{ key \}\})='(?:\{\{(?:(?!\}\}).)*\}\}|[^'{]|\{(?!\{))*'")


def test_there_are_env_templates():
    assert len(ENV_TEMPLATES) >= 9


@pytest.mark.parametrize("template", ENV_TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_env_value_is_single_quoted(template):
    for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#") or re.fullmatch(r"\{%.*%\}", line.strip()):
            continue
        assert ASSIGNMENT.fullmatch(line), "%s:%d: not NAME='value': %s" % (template.name, number, line)


@pytest.mark.parametrize("value", ["ends in a backslash\\", "it's", "two\nlines", "crlf\r"])
def test_given_secrets_that_could_end_the_quotes_are_refused(value):
    with pytest.raises(c.CatalogError) as exc:
        c.check_given_secrets({"umami-app": value})
    assert str(exc.value).startswith("kompose_secrets['umami-app']: a given secret must be a non-empty string of one "
                                     "line without a single quote, not ending in a backslash")
    assert value not in str(exc.value)


def test_given_secrets_with_dollars_spaces_and_hashes_are_fine():
    c.check_given_secrets({"umami-app": 'pa$$ word #1 "x" \\ back'})


@pytest.mark.parametrize("content", ["it's\n", "two\nlines\n", "carriage\rreturn\n", "ends in\\\n"])
def test_a_stored_secret_that_could_end_the_quotes_is_refused(tmp_path, content):
    (tmp_path / "umami-app").write_text(content, encoding="utf-8")
    with pytest.raises(s.SecretError) as exc:
        s.read_or_create(str(tmp_path), "umami-app")
    assert str(exc.value).startswith("secret file %s holds more than one line, a single quote or a final backslash"
                                     % (tmp_path / "umami-app"))
    assert content.strip() not in str(exc.value)


def test_a_stored_secret_is_read_as_written(tmp_path):
    (tmp_path / "umami-app").write_text('pa$$ word #1 "x"\n', encoding="utf-8")
    assert s.read_or_create(str(tmp_path), "umami-app") == 'pa$$ word #1 "x"'
