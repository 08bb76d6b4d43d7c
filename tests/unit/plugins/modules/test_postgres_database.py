# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure parts of the postgres_database module: setting comparison and input validation."""

import pytest

from ansible_collections.pivoine.kompose.plugins.modules import postgres_database as mod


@pytest.mark.parametrize('a, b, same', [
    ('UTF8', 'UTF8', True), ('utf-8', 'UTF8', True), ('C.UTF-8', 'C.utf8', True), ('en_US.UTF-8', 'en_US.utf8', True),
    ('LATIN1', 'UTF8', False), ('C', 'POSIX', False), ('SQL_ASCII', 'SQLASCII', True),
])
def test_same_setting(a, b, same):
    assert mod.same_setting(a, b) is same


class FakeServer(object):
    user = 'postgres'
    check_mode = True


def params(**kwargs):
    p = dict((k, None) for k in mod.PER_DB_OPTIONS)
    p.update(update_password='always', state='present', drop_owner=False, extensions=[])
    p.update(kwargs)
    return p


@pytest.mark.parametrize('kwargs, message', [
    (dict(name='x' * 64), "name='" + 'x' * 64 + "' is 64 bytes long; PostgreSQL identifiers hold at most 63 bytes"),
    (dict(name='ok', owner=''), None),  # an empty owner falls back to the name
    (dict(name='ok', extensions=['']), 'extensions must not be empty'),
    (dict(name='ok', conn_limit=-2), 'conn_limit=-2 is invalid; use -1 (no limit) or a positive number'),
    (dict(name='ok', owner='postgres'), "owner='postgres' is the role the module is logged in as (login_user)"),
    (dict(name='postgres', state='absent'), None),
    (dict(name='postgres', state='absent', drop_owner=True), "owner='postgres' is the role the module"),
    (dict(name='a"; DROP DATABASE x; --'), None),
])
def test_validate(kwargs, message):
    db = mod.Database(FakeServer(), params(**kwargs))
    if message is None:
        db.validate()
    else:
        with pytest.raises(mod.PlanError) as exc:
            db.validate()
        assert message in str(exc.value)


@pytest.mark.parametrize('db, kwargs, expected', [
    (None, dict(encoding='UTF8'), dict(encoding='UTF8', lc_collate=None, lc_ctype=None, conn_limit=-1)),
    (None, dict(conn_limit=3), dict(encoding=None, lc_collate=None, lc_ctype=None, conn_limit=3)),
    (dict(encoding='UTF8', lc_collate='C', lc_ctype='C', conn_limit=5, owner='old', public_connect=True),
     dict(), dict(encoding='UTF8', lc_collate='C', lc_ctype='C', conn_limit=5)),
])
def test_predicted_row(db, kwargs, expected):
    row = mod.before_db_or_new(db, params(name='n', **kwargs), 'n')
    expected.update(owner='n', public_connect=False)
    assert row == expected
