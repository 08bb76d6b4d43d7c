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


# --- owner_roles and entries without a name, against a fake catalogue (check mode: reads only) ---------------

class FakeConn(object):
    """Answers the module's catalogue reads; any other statement would be a write, which check mode never sends."""
    adapters = mod.psycopg.adapters
    pgconn = connection = None

    def __init__(self, roles=None, memberships=None, databases=None):
        # roles: name -> (super, createrole, createdb, login, password, replication, bypassrls)
        self.roles = roles or {}
        self.memberships = memberships or {}
        self.databases = databases or {}
        self.sent = []

    def execute(self, query, params=()):
        self.sent.append(query)
        rows = []
        if query.startswith('SELECT %s, rolpassword' % mod.ROLE_COLUMNS):
            role = self.roles.get(params[0])
            rows = [role[:5]] if role else []
        elif query == mod.MEMBERSHIP_QUERY:
            rows = [(self.memberships.get(params[0], []),)]
        elif query == mod.GROUP_ROLE_QUERY:
            rows = [(name,) + (r[0], r[1], r[2], r[5], r[6]) for name, r in self.roles.items() if name in params[0]]
        elif query == mod.DB_QUERY:
            rows = [self.databases[params[0]]] if params[0] in self.databases else []
        elif query == mod.IN_DB_QUERY:
            rows = [(['plpgsql'], 'pg_database_owner')]
        else:
            raise AssertionError('unexpected statement in check mode: %s' % query)
        return FakeCursor(rows)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeCursor(object):
    def __init__(self, rows):
        self.rows = rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return self.rows


class CatalogueServer(object):
    user = 'postgres'
    check_mode = True
    superuser = True
    version = 160000
    module = None

    def __init__(self, conn):
        self.conn = conn
        self.created_roles = set()

    @staticmethod
    def verifier(password, role):
        return mod.sql.Literal(mod.MASK)


PLAIN = (False, False, False, True, None, False, False)  # a least-privileged login role without password
GROUP = (False, False, False, False, None, False, False)  # a predefined role such as pg_monitor
SUPER = (True, False, False, True, None, False, False)


def role_entry(**kwargs):
    return params(**dict(dict(name=None, owner='mon', password='mon-pw', owner_roles=['pg_monitor']), **kwargs))


def test_role_only_entry_creates_the_role_and_its_membership():
    conn = FakeConn(roles={'pg_monitor': GROUP})
    result = mod.Database(CatalogueServer(conn), role_entry()).apply()
    assert result['changed'] and result['name'] is None and result['owner'] == 'mon' and 'database' not in result
    assert result['queries'] == [
        'CREATE ROLE "mon" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD \'********\'',
        'GRANT "pg_monitor" TO "mon"']
    assert result['role'] == dict(name='mon', exists=True, owner_roles=['pg_monitor'], password='changed')
    assert result['diff'] == dict(
        before=dict(exists=False, owner_roles=[], password='unchanged'),
        after=dict(exists=True, owner_roles=['pg_monitor'], password='changed'),
        before_header='role mon', after_header='role mon')


def test_role_only_entry_in_sync_leaves_other_memberships_alone():
    conn = FakeConn(roles={'pg_monitor': GROUP, 'mon': PLAIN, 'pg_read_all_data': GROUP},
                    memberships={'mon': ['pg_monitor', 'pg_read_all_data']})
    result = mod.Database(CatalogueServer(conn), role_entry(password=None)).apply()
    assert not result['changed'] and result['queries'] == []
    assert result['role']['owner_roles'] == ['pg_monitor', 'pg_read_all_data']


def test_role_only_entry_absent_drops_the_role():
    conn = FakeConn(roles={'mon': PLAIN})
    result = mod.Database(CatalogueServer(conn), role_entry(state='absent')).apply()
    assert result['queries'] == ['DROP ROLE "mon"']
    assert result['diff']['before']['exists'] and not result['diff']['after']['exists']


def test_owner_roles_on_a_database_entry():
    db_row = ('app', 'UTF8', 'C.UTF-8', 'C.UTF-8', -1, False, False, True)
    conn = FakeConn(roles={'app': PLAIN, 'pg_monitor': GROUP, 'pg_read_all_stats': GROUP},
                    memberships={'app': ['pg_read_all_stats']}, databases={'app': db_row})
    server = CatalogueServer(conn)
    original = mod.connect
    mod.connect = lambda module, dbname=None: conn
    try:
        result = mod.Database(server, params(name='app', owner_roles=['pg_monitor', 'pg_read_all_stats'])).apply()
    finally:
        mod.connect = original
    assert result['queries'] == ['GRANT "pg_monitor" TO "app"']
    assert result['diff']['before']['owner_roles'] == ['pg_read_all_stats']
    assert result['diff']['after']['owner_roles'] == ['pg_monitor', 'pg_read_all_stats']
    assert result['database']['owner_roles'] == ['pg_monitor', 'pg_read_all_stats']


@pytest.mark.parametrize('roles, owner_roles, message', [
    ({}, ['pg_monitor'], "owner_roles: role 'pg_monitor' does not exist (create it first, or remove it from owner_roles)"),
    ({'postgres': SUPER}, ['postgres'],
     "owner_roles: role 'postgres' has SUPERUSER; as its member, 'mon' could use it through SET ROLE, and owner roles "
     "are kept least privileged, so the module will not grant it"),
    ({'admins': (False, True, True, False, None, False, False)}, ['admins'],
     "owner_roles: role 'admins' has CREATEROLE, CREATEDB; as its member, 'mon' could use them through SET ROLE"),
])
def test_owner_roles_refused_before_any_statement(roles, owner_roles, message):
    conn = FakeConn(roles=roles)
    db = mod.Database(CatalogueServer(conn), role_entry(owner_roles=owner_roles))
    with pytest.raises(mod.PlanError) as exc:
        db.apply()
    assert message in str(exc.value)
    assert db.queries == []


@pytest.mark.parametrize('kwargs, message', [
    (dict(name=None, owner=None), 'an entry of databases without name needs owner (the login role to ensure)'),
    (dict(name=None, owner='postgres', state='absent'), "owner='postgres' is the role the module is logged in as"),
    (dict(name='ok', owner_roles=['']), 'owner_roles must not be empty'),
    (dict(name='ok', owner_roles=['r' * 64]), "owner_roles='" + 'r' * 64 + "' is 64 bytes long"),
    (dict(name='ok', owner='app', owner_roles=['app']),
     "owner_roles: 'app' is the owner itself; a role cannot be a member of itself"),
    (dict(name=None, owner='mon', owner_roles=['pg_monitor']), None),
])
def test_validate_owner_roles_and_role_only_entries(kwargs, message):
    db = mod.Database(FakeServer(), params(**kwargs))
    if message is None:
        db.validate()
    else:
        with pytest.raises(mod.PlanError) as exc:
            db.validate()
        assert message in str(exc.value)


def module_params(**kwargs):
    p = dict((k, None) for k in mod.PER_DB_OPTIONS)
    p.update(update_password='always', state='present', drop_owner=False, extensions=[], owner_roles=[],
             databases=None)
    p.update(kwargs)
    return p


def test_merge_items_inherits_top_level_options():
    items = mod.merge_items(module_params(owner_roles=['pg_monitor'], update_password='on_create', databases=[
        dict((k, None) for k in mod.PER_DB_OPTIONS),
        dict(dict((k, None) for k in mod.PER_DB_OPTIONS), owner='mon', owner_roles=[]),
    ]))
    assert [(i['owner_roles'], i['update_password']) for i in items] == [
        (['pg_monitor'], 'on_create'), ([], 'on_create')]


def test_merge_items_refuses_database_options_without_name():
    item = dict(dict((k, None) for k in mod.PER_DB_OPTIONS), owner='mon', extensions=['pg_trgm'], conn_limit=3)
    with pytest.raises(mod.PlanError) as exc:
        mod.merge_items(module_params(databases=[dict(item, name='ok'), item]))
    assert str(exc.value) == ("databases[1]: extensions, conn_limit only apply to a database, and this entry has no "
                              "name (it ensures only the login role 'mon'); remove them or add name")
