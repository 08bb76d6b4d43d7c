# SPDX-License-Identifier: GPL-3.0-or-later
"""postgres_column_grants without a server: planning, statements, validation, and main() against a fake catalogue."""

import copy

import pytest

from ansible_collections.pivoine.kompose.plugins.modules import postgres_column_grants as mod


# --- plan_table: the role's privileges on one table -> statements ---------------------------------------------------

@pytest.mark.parametrize('table, columns, wanted, expected', [
    # nothing yet: one GRANT of the wanted columns, sorted
    ([], {'id': [], 'name': [], 'textContent': []}, ['name', 'id'], [('GRANT', ('SELECT',), ('id', 'name'))]),
    # exact already
    ([], {'id': ['SELECT'], 'name': ['SELECT'], 'textContent': []}, ['id', 'name'], []),
    # an extra column is revoked, a missing one granted
    ([], {'id': ['SELECT'], 'name': [], 'textContent': ['SELECT']}, ['id', 'name'],
     [('REVOKE', ('SELECT',), ('textContent',)), ('GRANT', ('SELECT',), ('name',))]),
    # privileges other than SELECT on columns, wanted or not, are revoked, one statement per privilege
    ([], {'id': ['SELECT', 'UPDATE'], 'name': ['UPDATE', 'REFERENCES'], 'url': ['INSERT']}, ['id'],
     [('REVOKE', ('INSERT',), ('url',)), ('REVOKE', ('UPDATE',), ('id', 'name')), ('REVOKE', ('REFERENCES',), ('name',))]),
    # table-level SELECT: revoked, which revokes every column's SELECT too, so the wanted ones are granted again
    (['SELECT'], {'id': ['SELECT'], 'name': ['SELECT'], 'textContent': []}, ['id', 'name'],
     [('REVOKE', ('SELECT',), None), ('GRANT', ('SELECT',), ('id', 'name'))]),
    # table-level privileges other than SELECT: revoked, the column SELECTs stay
    (['UPDATE', 'INSERT', 'MAINTAIN'], {'id': ['SELECT', 'INSERT'], 'name': []}, ['id'],
     [('REVOKE', ('INSERT', 'UPDATE', 'MAINTAIN'), None)]),
    # an empty list: everything goes
    (['TRUNCATE'], {'id': ['SELECT'], 'name': ['SELECT']}, [],
     [('REVOKE', ('TRUNCATE',), None), ('REVOKE', ('SELECT',), ('id', 'name'))]),
])
def test_plan_table(table, columns, wanted, expected):
    assert mod.plan_table(table, columns, wanted) == expected


def test_plan_table_refuses_an_unknown_privilege():
    with pytest.raises(mod.PlanError) as exc:
        mod.plan_table(['SELECT', 'TELEPORT'], {}, [])
    assert str(exc.value) == 'unknown privilege type TELEPORT in the catalogue'


# --- plan_entry: a whole entry, missing tables and columns -----------------------------------------------------

ENTRY = dict(index=0, path='grants[0]', database='linkwarden', role='link_events', schema='public',
             tables={'Link': ['id', 'name', 'preview'], 'Tag': ['id'], 'User': []})


def table_info(columns, privileges=(), reads=None):
    return dict(privileges=list(privileges), grantors=[], columns=columns,
                reads=reads or dict((c, 'SELECT' in p) for c, p in columns.items()))


def current(connect=False, usage=False, schema_exists=True, tables=None):
    return dict(connect=connect, usage=usage, schema_exists=schema_exists, tables=tables or {})


def test_plan_entry_new_role_with_a_missing_table_and_column():
    now = current(tables={'Link': table_info({'id': [], 'name': [], 'textContent': []})})
    actions, after, waiting = mod.plan_entry(ENTRY, now)
    assert actions == [(None, 'GRANT', ('CONNECT',), None), (None, 'GRANT', ('USAGE',), None),
                       ('Link', 'GRANT', ('SELECT',), ('id', 'name'))]
    # Tag is missing and waited for; User is missing too but nothing is wanted there
    assert waiting == [
        dict(database='linkwarden', schema='public', role='link_events', table='Link', column='preview'),
        dict(database='linkwarden', schema='public', role='link_events', table='Tag')]
    assert mod.state_of(ENTRY, after) == dict(
        database='linkwarden', schema='public', role='link_events', connect=True, usage=True,
        tables={'Link': ['id', 'name']}, table_privileges={}, column_privileges={})


def test_plan_entry_in_sync():
    now = current(True, True, tables={'Link': table_info({'id': ['SELECT'], 'name': ['SELECT'], 'textContent': []}),
                                      'Tag': table_info({'id': ['SELECT']}), 'User': table_info({'email': []})})
    actions, after, waiting = mod.plan_entry(dict(ENTRY, tables={'Link': ['id', 'name'], 'Tag': ['id'], 'User': []}), now)
    assert actions == [] and waiting == []
    assert mod.state_of(ENTRY, after) == mod.state_of(ENTRY, now)


def test_plan_entry_missing_schema_waits_for_every_table():
    actions, after, waiting = mod.plan_entry(ENTRY, current(connect=True, schema_exists=False))
    assert actions == []
    assert [w['table'] for w in waiting] == ['Link', 'Tag']
    assert after['usage'] is False and after['tables'] == {}
    assert 'schema' in mod.waiting_warning('grants[0]', 'public', False, waiting)


def test_state_of_shows_extra_privileges():
    now = current(True, True, tables={'Link': table_info({'id': ['SELECT', 'UPDATE'], 'textContent': ['SELECT']},
                                                         privileges=['SELECT', 'INSERT'])})
    assert mod.state_of(ENTRY, now) == dict(
        database='linkwarden', schema='public', role='link_events', connect=True, usage=True,
        tables={'Link': ['id', 'textContent']}, table_privileges={'Link': ['SELECT', 'INSERT']},
        column_privileges={'Link': {'id': ['UPDATE']}})


def test_indirect_readers():
    info = table_info({'id': ['SELECT'], 'textContent': [], 'url': ['SELECT']},
                      reads={'id': True, 'textContent': True, 'url': True})
    # textContent is readable without an own grant (PUBLIC or a membership); url through an own grant (revoked)
    assert mod.indirect_readers(dict(ENTRY, tables={'Link': ['id']}), current(tables={'Link': info})) == ['Link.textContent']
    info['privileges'] = ['SELECT']  # an own table-level SELECT explains it: revoked by the plan
    assert mod.indirect_readers(dict(ENTRY, tables={'Link': ['id']}), current(tables={'Link': info})) == []


# --- statements --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('action, expected', [
    ((None, 'GRANT', ('CONNECT',), None), 'GRANT CONNECT ON DATABASE "link""warden" TO "link_events"'),
    ((None, 'GRANT', ('USAGE',), None), 'GRANT USAGE ON SCHEMA "public" TO "link_events"'),
    (('_LinkToTag', 'REVOKE', ('INSERT', 'UPDATE'), None),
     'REVOKE INSERT, UPDATE ON TABLE "public"."_LinkToTag" FROM "link_events"'),
    (('Link', 'GRANT', ('SELECT',), ('collectionId', 'id')),
     'GRANT SELECT ("collectionId", "id") ON TABLE "public"."Link" TO "link_events"'),
    (('a"; DROP TABLE x; --', 'REVOKE', ('SELECT',), ('b"c',)),
     'REVOKE SELECT ("b""c") ON TABLE "public"."a""; DROP TABLE x; --" FROM "link_events"'),
])
def test_render(action, expected):
    entry = dict(ENTRY, database='link"warden')
    assert mod.render(entry, action).as_string(None) == expected


@pytest.mark.parametrize('action, kind', [
    ((None, 'GRANT', ('CONNECT',), None), 'GRANT CONNECT'),
    (('Link', 'REVOKE', ('SELECT',), None), "REVOKE on table 'Link'"),
    (('Link', 'GRANT', ('SELECT',), ('id',)), "GRANT SELECT on columns of table 'Link'"),
])
def test_kind_of(action, kind):
    assert mod.kind_of(action) == kind


# --- validation --------------------------------------------------------------------------------------------------

def item(**kwargs):
    return dict(dict(database='linkwarden', role='link_events', schema='public', tables={'Link': ['id']}), **kwargs)


def test_validate_normalises():
    entries = mod.validate([item(tables={'Link': ['id', 'name', 'id'], 'Tag': []})])
    assert entries == [dict(index=0, path='grants[0]', database='linkwarden', role='link_events', schema='public',
                            tables={'Link': ['id', 'name'], 'Tag': []})]


@pytest.mark.parametrize('items, message', [
    ([item(role='')], 'grants[0].role must not be empty'),
    ([item(), item(database='d' * 64)], "grants[1].database='" + 'd' * 64 + "' is 64 bytes long"),
    ([item(schema='a\x00b')], "grants[0].schema='a\\x00b' contains a NUL character"),
    ([item(tables={})], 'grants[0].tables must name at least one table'),
    ([item(tables={'t' * 64: ['id']})], "grants[0].tables='" + 't' * 64 + "' is 64 bytes long"),
    ([item(tables={'Link': 'id, name'})], "grants[0].tables['Link'] must be a list of column names, got str 'id, name'"),
    ([item(tables={'Link': None})], "grants[0].tables['Link'] must be a list of column names, got NoneType None"),
    ([item(tables={'Link': ['id', 5]})], "grants[0].tables['Link'][1] must be a column name (a string), got int 5"),
    ([item(tables={'Link': ['c' * 64]})], "grants[0].tables['Link']='" + 'c' * 64 + "' is 64 bytes long"),
    ([item(tables={'Link': ['']})], "grants[0].tables['Link'] must not be empty"),
    ([item(tables={7: ['id']})], 'grants[0].tables: table name 7 must be a string'),
    ([item(), item(tables={'Tag': ['id'], 'Link': ['name']})],
     "grants[1].tables['Link']: table 'Link' of database 'linkwarden' is already in grants[0] for role 'link_events'"),
])
def test_validate_errors(items, message):
    with pytest.raises(mod.PlanError) as exc:
        mod.validate(items)
    assert message in str(exc.value)


def test_validate_reports_every_error_at_once():
    with pytest.raises(mod.PlanError) as exc:
        mod.validate([item(role=''), item(tables={'Link': [1]})])
    assert str(exc.value) == ("grants[0].role must not be empty; grants[1].tables['Link'][0] must be a column name "
                              "(a string), got int 1")


def test_validate_same_table_for_another_role_or_schema_is_fine():
    mod.validate([item(), item(role='other'), item(schema='app')])


# --- main() against a fake catalogue ---------------------------------------------------------------------------

LINKWARDEN = dict(
    connect=set(), usage=set(), schema='public',
    tables={
        'Link': dict(kind='r', owner='linkwarden', acl={}, columns=[
            ('id', {}), ('name', {}), ('url', {}), ('textContent', {}), ('collectionId', {})]),
        '_LinkToTag': dict(kind='r', owner='linkwarden', acl={'link_events': ['SELECT']}, columns=[
            ('A', {'link_events': ['SELECT']}), ('B', {})]),
        'Link_id_seq': dict(kind='S', owner='linkwarden', acl={}, columns=[]),
    })


class Catalogue(object):
    """A cluster's catalogues as the module reads them; a statement (a Composed, not a str) is recorded or refused."""

    def __init__(self, roles=None, databases=None, refuse=None):
        self.roles = roles if roles is not None else {'link_events': (False, False), 'postgres': (True, True)}
        self.databases = databases if databases is not None else {'linkwarden': copy.deepcopy(LINKWARDEN)}
        self.refuse = refuse
        self.statements = []
        self.closed = 0

    def connect(self, module, dbname=None):
        return FakeConn(self, dbname)


class FakeConn(object):
    adapters = mod.psycopg.adapters
    pgconn = connection = None

    def __init__(self, catalogue, dbname):
        self.catalogue = catalogue
        self.dbname = dbname

    def close(self):
        self.catalogue.closed += 1

    def execute(self, query, params=()):
        cat = self.catalogue
        if not isinstance(query, str):
            text = query.as_string(None)
            cat.statements.append((self.dbname, text))
            if cat.refuse:
                raise mod.psycopg.errors.InsufficientPrivilege(cat.refuse)
            return FakeCursor([])
        db = cat.databases.get(self.dbname)
        if query == mod.ROLE_QUERY:
            role = cat.roles.get(params[0])
            return FakeCursor([role] if role else [])
        if query == mod.DATABASE_QUERY:
            found = cat.databases.get(params['database'])
            return FakeCursor([(params['role'] in found['connect'],)] if found else [])
        if query == mod.SCHEMA_QUERY:
            return FakeCursor([(params['role'] in db['usage'],)] if params['schema'] == db['schema'] else [])
        if query == mod.TABLES_QUERY:
            return FakeCursor([
                (name, t['kind'], t['owner'] == params['role'], t['acl'].get(params['role'], []), [])
                for name, t in db['tables'].items() if name in params['tables'] and params['schema'] == db['schema']])
        if query == mod.COLUMNS_QUERY:
            return FakeCursor([
                (name, column, acl.get(params['role'], []), 'SELECT' in acl.get(params['role'], []))
                for name, t in db['tables'].items() if name in params['tables'] and t['kind'] in params['kinds']
                for column, acl in t['columns']])
        raise AssertionError('unexpected query: %s' % query)


class FakeCursor(object):
    def __init__(self, rows):
        self.rows = rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return self.rows


def run(monkeypatch, module_result, catalogue, grants, check_mode=False, diff=False):
    """main()'s result, with the warnings it gave in result['warned'] (kept out of Ansible's process-wide list)."""
    warned = []
    monkeypatch.setattr(mod, 'connect', catalogue.connect)
    monkeypatch.setattr(mod.AnsibleModule, 'warn', lambda self, warning: warned.append(warning))
    args = dict(grants=grants, login_password='s3cret-superuser', _ansible_check_mode=check_mode, _ansible_diff=diff)
    return dict(module_result(mod.main, args), warned=warned)


GRANT = [dict(database='linkwarden', role='link_events', tables={
    'Link': ['id', 'name', 'url', 'collectionId', 'archivedAt'], '_LinkToTag': ['A', 'B'], 'Tag': ['id', 'name']})]


def test_main_check_mode_only_reads_and_reports(monkeypatch, module_result):
    catalogue = Catalogue()
    result = run(monkeypatch, module_result, catalogue, GRANT, check_mode=True, diff=True)
    assert catalogue.statements == []
    assert result['changed'] is True
    assert result['queries'] == [
        'GRANT CONNECT ON DATABASE "linkwarden" TO "link_events"',
        'GRANT USAGE ON SCHEMA "public" TO "link_events"',
        'GRANT SELECT ("collectionId", "id", "name", "url") ON TABLE "public"."Link" TO "link_events"',
        'REVOKE SELECT ON TABLE "public"."_LinkToTag" FROM "link_events"',
        'GRANT SELECT ("A", "B") ON TABLE "public"."_LinkToTag" TO "link_events"']
    assert result['waiting'] == [
        dict(database='linkwarden', schema='public', role='link_events', table='Link', column='archivedAt'),
        dict(database='linkwarden', schema='public', role='link_events', table='Tag')]
    assert result['warned'] == [
        "grants[0] (role 'link_events', database 'linkwarden'): column 'archivedAt' of table 'Link', table 'Tag' in "
        "schema 'public' do not exist yet, so it is not granted (no failure, no change); the grant follows on the next "
        "run once the application's migrations created it"]
    diff = result['diff'][0]
    assert diff['before'] == dict(database='linkwarden', schema='public', role='link_events', connect=False,
                                  usage=False, tables={'Link': [], '_LinkToTag': ['A']},
                                  table_privileges={'_LinkToTag': ['SELECT']}, column_privileges={})
    assert diff['after'] == dict(database='linkwarden', schema='public', role='link_events', connect=True, usage=True,
                                 tables={'Link': ['collectionId', 'id', 'name', 'url'], '_LinkToTag': ['A', 'B']},
                                 table_privileges={}, column_privileges={})
    assert diff['before_header'] == 'grants[0] link_events on linkwarden'
    assert result['grants'][0] == dict(diff['after'], changed=True, queries=result['queries'])
    assert 's3cret-superuser' not in str(result)
    assert catalogue.closed == 2  # the maintenance connection and linkwarden's


def test_main_check_mode_second_entry_sees_the_first_ones_grants(monkeypatch, module_result):
    grants = [dict(database='linkwarden', role='link_events', tables={'Link': ['id']}),
              dict(database='linkwarden', role='link_events', tables={'_LinkToTag': ['A']})]
    result = run(monkeypatch, module_result, Catalogue(), grants, check_mode=True)
    assert [q.split(' ON ')[0] for q in result['grants'][1]['queries']] == ['REVOKE SELECT', 'GRANT SELECT ("A")']


def test_main_in_sync_is_not_changed(monkeypatch, module_result):
    db = copy.deepcopy(LINKWARDEN)
    db['connect'].add('link_events')
    db['usage'].add('link_events')
    db['tables']['_LinkToTag'] = dict(kind='r', owner='linkwarden', acl={}, columns=[
        ('A', {'link_events': ['SELECT']}), ('B', {'link_events': ['SELECT']})])
    catalogue = Catalogue(databases={'linkwarden': db})
    grants = [dict(database='linkwarden', role='link_events', tables={'_LinkToTag': ['A', 'B']})]
    result = run(monkeypatch, module_result, catalogue, grants)
    assert result['changed'] is False and result['queries'] == [] and result['waiting'] == []
    assert catalogue.statements == [] and result['warned'] == []
    assert 'diff' not in result


def test_main_warns_about_columns_readable_through_public(monkeypatch, module_result):
    db = copy.deepcopy(LINKWARDEN)
    # textContent readable through PUBLIC (no own grant): has_column_privilege's answer is set by hand
    catalogue = Catalogue(databases={'linkwarden': db})
    original = FakeConn.execute

    def execute(conn, query, params=()):
        cursor = original(conn, query, params)
        if query == mod.COLUMNS_QUERY:
            cursor.rows = [row[:3] + (row[3] or row[1] == 'textContent',) for row in cursor.rows]
        return cursor
    monkeypatch.setattr(FakeConn, 'execute', execute)
    result = run(monkeypatch, module_result, catalogue,
                 [dict(database='linkwarden', role='link_events', tables={'Link': ['id']})], check_mode=True)
    assert result['warned'] == [
        "grants[0] (role 'link_events', database 'linkwarden'): the role can still read Link.textContent, not through "
        "its own grants but through PUBLIC or a role it is a member of; the module manages only its own grants"]


@pytest.mark.parametrize('roles, databases, grants, message', [
    (None, None, [dict(GRANT[0], role='nobody')],
     "grants[0].role: 'nobody' does not exist (create it first with postgres_database)"),
    (None, {}, GRANT, "grants[0].database: 'linkwarden' does not exist (create it first with postgres_database)"),
    ({'link_events': (True, False)}, None, GRANT,
     "grants[0].role: 'link_events' is a superuser; column grants cannot restrict it, use a role without SUPERUSER"),
    ({'postgres': (True, True)}, None, [dict(GRANT[0], role='postgres')],
     "grants[0].role: 'postgres' is the role the module is logged in as (login_user)"),
    ({'linkwarden': (False, False)}, None, [dict(GRANT[0], role='linkwarden')],
     "grants[0].role: 'linkwarden' owns table 'Link' in database 'linkwarden'; an owner always holds every privilege, "
     "so column grants cannot restrict it (use another login role)"),
    (None, None, [dict(database='linkwarden', role='link_events', tables={'Link_id_seq': ['last_value']})],
     "grants[0].tables['Link_id_seq']: 'Link_id_seq' in schema 'public' of database 'linkwarden' is a sequence, not a "
     "table"),
])
def test_main_failures_before_any_statement(monkeypatch, module_result, roles, databases, grants, message):
    catalogue = Catalogue(roles=roles, databases=databases)
    result = run(monkeypatch, module_result, catalogue, grants)
    assert result['failed'] and message in result['msg']
    assert catalogue.statements == [] and result['queries'] == []


def test_main_a_missing_role_fails_before_the_first_entry_is_applied(monkeypatch, module_result):
    catalogue = Catalogue()
    result = run(monkeypatch, module_result, catalogue, [GRANT[0], dict(GRANT[0], role='link_events_2')])
    assert result['msg'] == "grants[1].role: 'link_events_2' does not exist (create it first with postgres_database)"
    assert catalogue.statements == []


def test_main_bad_identifiers_fail_before_connecting(monkeypatch, module_result):
    def no_connection(module, dbname=None):
        raise AssertionError('connected')
    monkeypatch.setattr(mod, 'connect', no_connection)
    result = module_result(mod.main, dict(grants=[dict(database='linkwarden', role='link_events',
                                                       tables={'Link': ['x' * 64]})]))
    assert result['failed']
    assert result['msg'] == "grants[0].tables['Link']='" + 'x' * 64 + "' is 64 bytes long; PostgreSQL identifiers hold at most 63 bytes"


def test_main_server_error_names_the_entry_and_the_statement_kind(monkeypatch, module_result):
    catalogue = Catalogue(refuse='permission denied for database linkwarden')
    result = run(monkeypatch, module_result, catalogue, GRANT)
    assert result['failed']
    assert result['msg'] == ("Failed on grants[0] (role 'link_events', database 'linkwarden'), GRANT CONNECT: GRANT CONNECT "
                             "ON DATABASE \"linkwarden\" TO \"link_events\": permission denied for database linkwarden")
    assert result['queries'] == ['GRANT CONNECT ON DATABASE "linkwarden" TO "link_events"']
    assert 's3cret-superuser' not in str(result)


def test_main_fails_when_a_revoke_did_not_take(monkeypatch, module_result):
    # the fake records statements but its catalogue never changes: as with a grant another role made
    catalogue = Catalogue()
    result = run(monkeypatch, module_result, catalogue,
                 [dict(database='linkwarden', role='link_events', tables={'_LinkToTag': []})])
    assert result['failed']
    assert result['msg'].startswith("grants[0] (role 'link_events', database 'linkwarden'): after the statements the "
                                    "catalogues show connect=False (expected True)")
    assert "table_privileges={'_LinkToTag': ['SELECT']} (expected {})" in result['msg']
    assert 'are only revoked by that role' in result['msg']
