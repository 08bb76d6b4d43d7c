#!/usr/bin/python
# Copyright (c) 2025, pivoine.kompose contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_column_grants
short_description: Exact column-level SELECT grants of a read-only login role on an application's tables
version_added: 0.4.0
description:
  - For each entry of O(grants), makes the privileges of the login role O(grants[].role) exactly these -
    C(CONNECT) on the database O(grants[].database), C(USAGE) on the schema O(grants[].schema), C(SELECT) on exactly
    the listed columns of each listed table, and nothing else on those tables.
  - Extra privileges of the role on a listed table are revoked - table-level privileges (C(SELECT) on the whole
    table, C(INSERT), C(UPDATE), ...) and privileges on other columns (or other than C(SELECT) on the listed ones).
    Tables that are not listed are not touched, nor are privileges the role holds through C(PUBLIC) or through a
    role it is a member of (the module warns when these let it read a column that is not listed).
  - Only the role's own grants are read, from the catalogues (C(pg_class.relacl) and C(pg_attribute.attacl), with
    C(aclexplode)), and only what differs is granted or revoked.
  - The tables are usually created by the application's own migrations when it starts. A listed table or column
    that does not exist yet is no error and no change; it is returned in RV(waiting) with a warning, and its grant
    follows on a later run once it exists.
  - The role and the database must exist (create them first, for example with M(pivoine.kompose.postgres_database)).
extends_documentation_fragment:
  - pivoine.kompose.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode only reads from the server.
  diff_mode:
    support: full
    details:
      - Shows, per entry of O(grants), the role's C(CONNECT) and C(USAGE), its C(SELECT) columns per listed table,
        and its other privileges on the listed tables, before and after.
  idempotent:
    support: full
options:
  grants:
    description:
      - The grants to make exact, one entry per database and role (several entries may name the same database or
        the same role). Each entry connects to its database with the login options.
      - A table must not appear in two entries for the same database, schema and role.
    type: list
    elements: dict
    required: true
    suboptions:
      database:
        description:
          - Database holding the tables. It must exist; the module fails otherwise.
        type: str
        required: true
      role:
        description:
          - The login role that reads the columns. It must exist; the module fails otherwise.
          - It must not be a superuser, the role the module is logged in as (O(login_user)), nor the owner of a
            listed table, since column grants cannot restrict any of them.
        type: str
        required: true
      schema:
        description: Schema of the tables.
        type: str
        default: public
      tables:
        description:
          - The tables, each with the list of the columns O(grants[].role) may C(SELECT) - a mapping of table names
            to lists of column names (see the examples).
          - Names are used exactly as written, case included, and always quoted (C("Link"), C("collectionId")).
          - An empty list revokes every privilege of the role on that table.
        type: dict
        required: true
  login_host:
    description:
      - Host name or IP address of the PostgreSQL server.
      - When neither O(login_host) nor O(login_unix_socket) is set, libpq's default Unix socket is used.
    type: str
  login_port:
    description: TCP port of the server (also the suffix of the Unix socket file).
    type: int
    default: 5432
  login_user:
    description:
      - Role the module logs in as, for example a superuser. It needs C(CONNECT) on each database of O(grants)
        and the right to grant on the listed tables.
    type: str
    default: postgres
  login_password:
    description: Password of O(login_user).
    type: str
  login_db:
    description:
      - Maintenance database the module connects to for the checks of roles and databases and the C(CONNECT)
        grants; the other statements run in each entry's O(grants[].database).
    type: str
    default: postgres
  login_unix_socket:
    description: Directory holding the server's Unix socket; takes precedence over O(login_host).
    type: str
  connect_timeout:
    description: Seconds to wait for a connection before failing.
    type: int
    default: 10
  ssl_mode:
    description: libpq C(sslmode) of the connections.
    type: str
    default: prefer
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  ca_cert:
    description: CA certificate file to verify the server with (libpq C(sslrootcert)).
    type: path
requirements:
  - psycopg >= 3.1 (psycopg 3) on the target host
notes:
  - Works with PostgreSQL 13 to 17.
  - The module connects from the target host; delegate the task to a host that reaches the server.
  - Revoking a table-level privilege also revokes the same privilege on each column (PostgreSQL's rule), so the
    columns to keep are granted again after such a revoke.
  - Grants and revokes by a superuser act as the table's owner. A privilege another role granted (holding it
    C(WITH GRANT OPTION)) is only revoked by that role; the module then fails naming the grantor.
  - The login role needs C(CONNECT) on each database, and the right to grant on its tables (a superuser, or the
    owner of the tables).
seealso:
  - module: pivoine.kompose.postgres_database
author:
  - pivoine.kompose developers (@pivoine)
"""

EXAMPLES = r"""
- name: The event engine's login may read only the columns its Linkwarden events need
  pivoine.kompose.postgres_column_grants:
    grants:
      - database: linkwarden
        role: link_events
        tables:
          Link: [id, name, url, collectionId, createdAt]
          Collection: [id, name]
          _LinkToTag: [A, B]
    login_host: 127.0.0.1
    login_password: "{{ postgres_superuser_password }}"

- name: Several applications' databases in one call, in another schema too
  pivoine.kompose.postgres_column_grants:
    grants:
      - database: umami
        role: track_events
        tables:
          website_event: [event_id, website_id, created_at, url_path, event_type]
      - database: letterspace
        role: news_events
        schema: app
        tables:
          subscriber: [id, created_at]
    login_unix_socket: /var/run/postgresql

- name: Take every privilege on a table away from the role
  pivoine.kompose.postgres_column_grants:
    grants:
      - database: linkwarden
        role: link_events
        tables:
          User: []
    login_host: 127.0.0.1
    login_password: "{{ postgres_superuser_password }}"
"""

RETURN = r"""
queries:
  description: Statements executed (or, in check mode, that would be), in order.
  returned: always
  type: list
  elements: str
  sample:
    - GRANT CONNECT ON DATABASE "linkwarden" TO "link_events"
    - GRANT USAGE ON SCHEMA "public" TO "link_events"
    - REVOKE SELECT ON TABLE "public"."Link" FROM "link_events"
    - GRANT SELECT ("collectionId", "id", "name", "url") ON TABLE "public"."Link" TO "link_events"
grants:
  description: One entry per item of O(grants), in order, with the role's privileges after the run (predicted in
    check mode).
  returned: always
  type: list
  elements: dict
  contains:
    database:
      description: The database.
      type: str
      sample: linkwarden
    schema:
      description: The schema.
      type: str
      sample: public
    role:
      description: The login role.
      type: str
      sample: link_events
    connect:
      description: Whether the role holds C(CONNECT) on the database (its own grant).
      type: bool
      sample: true
    usage:
      description: Whether the role holds C(USAGE) on the schema (its own grant); false while the schema does not exist.
      type: bool
      sample: true
    tables:
      description: Per listed table that exists, the columns the role may C(SELECT) (its own column grants), sorted.
      type: dict
      sample: {Link: [collectionId, id, name, url]}
    table_privileges:
      description: Per listed table, the role's table-level privileges, when it has any (empty after a successful run).
      type: dict
      sample: {}
    column_privileges:
      description:
        - Per listed table and column, the role's column privileges other than C(SELECT), when it has any (empty
          after a successful run).
      type: dict
      sample: {}
    changed:
      description: Whether anything was granted or revoked for this entry.
      type: bool
      sample: true
    queries:
      description: The statements of this entry.
      type: list
      elements: str
      sample: ['GRANT SELECT ("id") ON TABLE "public"."Collection" TO "link_events"']
waiting:
  description:
    - Listed tables and columns that do not exist yet (the application's migrations have not created them); their
      grants follow on a later run. C(column) is only set for a missing column of an existing table.
  returned: always
  type: list
  elements: dict
  contains:
    database:
      description: The database.
      type: str
    schema:
      description: The schema.
      type: str
    role:
      description: The role the grant is for.
      type: str
    table:
      description: The table.
      type: str
    column:
      description: The missing column, for a table that exists.
      type: str
  sample:
    - {database: linkwarden, schema: public, role: link_events, table: Tag}
    - {database: linkwarden, schema: public, role: link_events, table: Link, column: archivedAt}
diff:
  description:
    - Before and after state of each entry of O(grants) (C(database), C(schema), C(role), C(connect), C(usage),
      C(tables), C(table_privileges), C(column_privileges)), a list of such pairs. Returned in diff mode.
  returned: when diff mode is enabled
  type: list
  elements: dict
  sample:
    - before: {database: linkwarden, schema: public, role: link_events, connect: false, usage: false,
               tables: {Link: []}, table_privileges: {Link: [SELECT]}, column_privileges: {}}
      after: {database: linkwarden, schema: public, role: link_events, connect: true, usage: true,
              tables: {Link: [id, name]}, table_privileges: {}, column_privileges: {}}
      before_header: grants[0] link_events on linkwarden
      after_header: grants[0] link_events on linkwarden
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pivoine.kompose.plugins.module_utils._postgres import (
    check_identifier,
    connect,
    ensure_psycopg,
    identifier,
    one_line,
    postgres_argument_spec,
    psycopg,
    sql,
)

# Privilege types aclexplode reports for a table (MAINTAIN since PostgreSQL 17), in the order statements name them.
TABLE_PRIVILEGES = ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN')
# Relations whose columns take grants: tables, partitioned tables, views, materialized views, foreign tables.
GRANTABLE_KINDS = ('r', 'p', 'v', 'm', 'f')
KIND_NAMES = {'S': 'a sequence', 'i': 'an index', 'I': 'a partitioned index', 'c': 'a composite type',
              't': 'a TOAST table'}

STATE_KEYS = ('database', 'schema', 'role', 'connect', 'usage', 'tables', 'table_privileges', 'column_privileges')

# The role's own grants only (its ACL entries as grantee), never PUBLIC's or a membership's.
ROLE_QUERY = (
    "SELECT rolsuper, rolname = current_user FROM pg_catalog.pg_roles WHERE rolname = %s"
)
DATABASE_QUERY = (
    "SELECT EXISTS (SELECT 1 FROM aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a"
    " WHERE a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %(role)s) AND a.privilege_type = 'CONNECT')"
    " FROM pg_catalog.pg_database d WHERE d.datname = %(database)s"
)
SCHEMA_QUERY = (
    "SELECT EXISTS (SELECT 1 FROM aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) a"
    " WHERE a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %(role)s) AND a.privilege_type = 'USAGE')"
    " FROM pg_catalog.pg_namespace n WHERE n.nspname = %(schema)s"
)
TABLES_QUERY = (
    "SELECT c.relname::text, c.relkind::text, c.relowner = r.oid,"
    " ARRAY(SELECT a.privilege_type::text FROM aclexplode(c.relacl) a WHERE a.grantee = r.oid),"
    " ARRAY(SELECT pg_catalog.pg_get_userbyid(a.grantor)::text FROM aclexplode(c.relacl) a WHERE a.grantee = r.oid"
    "       UNION SELECT pg_catalog.pg_get_userbyid(x.grantor)::text FROM pg_catalog.pg_attribute t, aclexplode(t.attacl) x"
    "       WHERE t.attrelid = c.oid AND x.grantee = r.oid ORDER BY 1)"
    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace,"
    " (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %(role)s) r"
    " WHERE n.nspname = %(schema)s AND c.relname = ANY(%(tables)s)"
)
# Per column: the role's own privileges on it, and whether it may read it at all (any route: own, PUBLIC, membership).
COLUMNS_QUERY = (
    "SELECT c.relname::text, t.attname::text,"
    " ARRAY(SELECT x.privilege_type::text FROM aclexplode(t.attacl) x WHERE x.grantee = r.oid),"
    " has_column_privilege(r.oid, c.oid, t.attnum, 'SELECT')"
    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_catalog.pg_attribute t ON t.attrelid = c.oid,"
    " (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %(role)s) r"
    " WHERE n.nspname = %(schema)s AND c.relname = ANY(%(tables)s) AND c.relkind = ANY(%(kinds)s)"
    " AND t.attnum > 0 AND NOT t.attisdropped ORDER BY c.relname, t.attnum"
)


class PlanError(Exception):
    pass


def ordered(privileges):
    """Privilege types in statement order; a type this module does not know is an error, never passed through."""
    unknown = sorted(set(privileges) - set(TABLE_PRIVILEGES))
    if unknown:
        raise PlanError('unknown privilege type %s in the catalogue' % ', '.join(unknown))
    return [p for p in TABLE_PRIVILEGES if p in privileges]


# -- pure planning ---------------------------------------------------------------------------------------------

def plan_table(table_privileges, column_privileges, wanted):
    """Actions making the role's privileges on one table exactly SELECT on the columns `wanted`.

    table_privileges: the role's table-level privilege types; column_privileges: {column: [privilege types]} of the
    role's own column grants; wanted: the listed columns that exist. Returns a list of (verb, privileges, columns)
    with columns None for a table-level statement, in the order to run them.
    """
    actions = []
    columns = dict((column, set(privileges)) for column, privileges in column_privileges.items())
    if table_privileges:
        revoked = ordered(table_privileges)
        actions.append(('REVOKE', tuple(revoked), None))
        # revoking a table privilege revokes the same privilege on every column too
        for privileges in columns.values():
            privileges.difference_update(revoked)
    extra = {}
    for column, privileges in columns.items():
        for privilege in privileges:
            if privilege != 'SELECT' or column not in wanted:
                extra.setdefault(privilege, []).append(column)
    for privilege in ordered(extra):
        actions.append(('REVOKE', (privilege,), tuple(sorted(extra[privilege]))))
    missing = sorted(set(column for column in wanted if 'SELECT' not in columns.get(column, ())))
    if missing:
        actions.append(('GRANT', ('SELECT',), tuple(missing)))
    return actions


def state_of(entry, current):
    """The diff/return view of what the catalogues say (current, see Entry.read) for an entry."""
    tables, table_privileges, column_privileges = {}, {}, {}
    for table, info in current['tables'].items():
        tables[table] = sorted(c for c, privileges in info['columns'].items() if 'SELECT' in privileges)
        if info['privileges']:
            table_privileges[table] = ordered(info['privileges'])
        others = dict((c, ordered(set(privileges) - set(['SELECT']))) for c, privileges in info['columns'].items()
                      if set(privileges) - set(['SELECT']))
        if others:
            column_privileges[table] = others
    return dict(database=entry['database'], schema=entry['schema'], role=entry['role'], connect=current['connect'],
                usage=current['usage'], tables=tables, table_privileges=table_privileges,
                column_privileges=column_privileges)


def plan_entry(entry, current):
    """(actions, predicted state after, waiting) for one entry of grants, given its current privileges.

    actions: (target, verb, privileges, columns), target None for the database or schema statements (privileges
    ('CONNECT',) or ('USAGE',)), else the table.
    """
    actions, waiting = [], []
    if not current['connect']:
        actions.append((None, 'GRANT', ('CONNECT',), None))
    if current['schema_exists'] and not current['usage']:
        actions.append((None, 'GRANT', ('USAGE',), None))
    after = dict(connect=True, usage=current['schema_exists'], tables={}, schema_exists=current['schema_exists'])
    where = dict(database=entry['database'], schema=entry['schema'], role=entry['role'])
    for table, columns in entry['tables'].items():
        info = current['tables'].get(table)
        if info is None:
            if columns:
                waiting.append(dict(where, table=table))
            continue
        for column in columns:
            if column not in info['columns']:
                waiting.append(dict(where, table=table, column=column))
        wanted = [column for column in columns if column in info['columns']]
        actions.extend((table,) + action for action in plan_table(info['privileges'], info['columns'], wanted))
        after['tables'][table] = dict(info, privileges=[], columns=dict(
            (column, ['SELECT'] if column in wanted else []) for column in info['columns']))
    return actions, after, waiting


def indirect_readers(entry, current):
    """Unlisted columns of listed tables the role may read other than through its own grants (PUBLIC, membership)."""
    found = []
    for table, info in current['tables'].items():
        own_table = 'SELECT' in info['privileges']
        for column, readable in info['reads'].items():
            if readable and column not in entry['tables'][table] and not own_table \
                    and 'SELECT' not in info['columns'].get(column, ()):
                found.append('%s.%s' % (table, column))
    return found


def waiting_warning(what, schema, schema_exists, waiting):
    """The warning for the listed tables and columns that do not exist yet."""
    if not schema_exists:
        missing = 'schema %r (tables %s)' % (schema, ', '.join(repr(w['table']) for w in waiting))
    else:
        missing = ', '.join('column %r of table %r' % (w['column'], w['table']) if 'column' in w
                            else 'table %r' % w['table'] for w in waiting)
        missing += ' in schema %r' % schema
    return ('%s: %s %s not exist yet, so it is not granted (no failure, no change); the grant follows on the next '
            'run once the application\'s migrations created it'
            % (what, missing, 'does' if schema_exists is False or len(waiting) == 1 else 'do'))


def render(entry, action):
    """A statement (psycopg.sql.Composed) for an action of plan_entry."""
    target, verb, privileges, columns = action
    role = identifier(entry['role'])
    direction = sql.SQL('TO' if verb == 'GRANT' else 'FROM')
    if target is None:
        kind, on = ('DATABASE', identifier(entry['database'])) if privileges == ('CONNECT',) \
            else ('SCHEMA', identifier(entry['schema']))
        return sql.SQL('{} {} ON {} {} {} {}').format(
            sql.SQL(verb), sql.SQL(privileges[0]), sql.SQL(kind), on, direction, role)
    what = sql.SQL(', ').join(sql.SQL(p) for p in ordered(privileges))
    if columns is not None:
        what = sql.SQL('{} ({})').format(what, sql.SQL(', ').join(identifier(c) for c in columns))
    return sql.SQL('{} {} ON TABLE {}.{} {} {}').format(
        sql.SQL(verb), what, identifier(entry['schema']), identifier(target), direction, role)


def kind_of(action):
    """The statement's kind, for error messages."""
    target, verb, privileges, columns = action
    if target is None:
        return '%s %s' % (verb, privileges[0])
    if columns is None:
        return '%s on table %r' % (verb, target)
    return '%s %s on columns of table %r' % (verb, ', '.join(privileges), target)


# -- validation --------------------------------------------------------------------------------------------------

def validate(grants):
    """Normalised entries (tables: {table: [unique columns]}); every error, naming the option path, at once."""
    errors, entries, seen = [], [], {}
    for index, item in enumerate(grants):
        path = 'grants[%d]' % index
        errors += [check_identifier('%s.%s' % (path, key), item[key]) for key in ('database', 'role', 'schema')]
        tables = item['tables']
        if not tables:
            errors.append('%s.tables must name at least one table' % path)
            tables = {}
        normal = {}
        for table, columns in tables.items():
            where = '%s.tables[%r]' % (path, table)
            if not isinstance(table, str):
                errors.append('%s.tables: table name %r must be a string' % (path, table))
                continue
            errors.append(check_identifier('%s.tables' % path, table))
            if not isinstance(columns, list):
                errors.append('%s must be a list of column names, got %s %r' % (where, type(columns).__name__, columns))
                continue
            for position, column in enumerate(columns):
                if not isinstance(column, str):
                    errors.append('%s[%d] must be a column name (a string), got %s %r'
                                  % (where, position, type(column).__name__, column))
                else:
                    errors.append(check_identifier(where, column))
            normal[table] = list(dict.fromkeys(c for c in columns if isinstance(c, str)))
            key = (item['database'], item['schema'], item['role'], table)
            if key in seen:
                errors.append('%s: table %r of database %r is already in grants[%d] for role %r; list each table once '
                              'per role' % (where, table, item['database'], seen[key], item['role']))
            seen.setdefault(key, index)
        entries.append(dict(index=index, path=path, database=item['database'], role=item['role'],
                            schema=item['schema'], tables=normal))
    errors = [e for e in errors if e]
    if errors:
        raise PlanError('; '.join(errors))
    return entries


# -- the server --------------------------------------------------------------------------------------------------

class Grants(object):
    """Reads, plans and applies the entries of grants, one connection per database."""

    def __init__(self, module):
        self.module = module
        self.check_mode = module.check_mode
        self.conn = connect(module)
        self.connections = {}
        # in check mode, what earlier entries would have granted (later entries read the unchanged catalogues)
        self.granted = set()
        self.queries = []

    def close(self):
        for conn in [self.conn] + list(self.connections.values()):
            conn.close()

    def database_conn(self, database):
        if database not in self.connections:
            self.connections[database] = connect(self.module, dbname=database)
        return self.connections[database]

    def check_exists(self, entry):
        """The role and the database must exist: a failure before any statement, naming the option."""
        try:
            row = self.conn.execute(ROLE_QUERY, (entry['role'],)).fetchone()
            database = self.conn.execute(DATABASE_QUERY, dict(role=entry['role'], database=entry['database'])).fetchone()
        except psycopg.Error as exc:
            raise PlanError('Failed on %s (role %r, database %r), reading the catalogues: %s'
                            % (entry['path'], entry['role'], entry['database'], one_line(exc)))
        if row is None:
            raise PlanError('%s.role: %r does not exist (create it first with postgres_database)'
                            % (entry['path'], entry['role']))
        superuser, is_login = row
        if is_login:
            raise PlanError('%s.role: %r is the role the module is logged in as (login_user); column grants cannot '
                            'restrict it, choose the read-only login role' % (entry['path'], entry['role']))
        if superuser:
            raise PlanError('%s.role: %r is a superuser; column grants cannot restrict it, use a role without '
                            'SUPERUSER' % (entry['path'], entry['role']))
        if database is None:
            raise PlanError('%s.database: %r does not exist (create it first with postgres_database)'
                            % (entry['path'], entry['database']))

    def read(self, entry):
        """The role's own privileges for the entry: CONNECT, USAGE, and on each listed table that exists."""
        connect_row = self.conn.execute(DATABASE_QUERY, dict(role=entry['role'], database=entry['database'])).fetchone()
        if connect_row is None:
            raise PlanError('%s.database: %r does not exist (create it first with postgres_database)'
                            % (entry['path'], entry['database']))
        conn = self.database_conn(entry['database'])
        names = list(entry['tables'])
        params = dict(role=entry['role'], schema=entry['schema'], tables=names, kinds=list(GRANTABLE_KINDS))
        schema_row = conn.execute(SCHEMA_QUERY, params).fetchone()
        current = dict(connect=connect_row[0], schema_exists=schema_row is not None,
                       usage=bool(schema_row and schema_row[0]), tables={})
        for name, kind, owned, privileges, grantors in conn.execute(TABLES_QUERY, params).fetchall():
            if kind not in GRANTABLE_KINDS:
                raise PlanError('%s.tables[%r]: %r in schema %r of database %r is %s, not a table'
                                % (entry['path'], name, name, entry['schema'], entry['database'],
                                   KIND_NAMES.get(kind, 'no table (relkind %s)' % kind)))
            if owned:
                raise PlanError('%s.role: %r owns table %r in database %r; an owner always holds every privilege, so '
                                'column grants cannot restrict it (use another login role)'
                                % (entry['path'], entry['role'], name, entry['database']))
            current['tables'][name] = dict(privileges=list(privileges), grantors=list(grantors), columns={}, reads={})
        for table, column, privileges, readable in conn.execute(COLUMNS_QUERY, params).fetchall():
            current['tables'][table]['columns'][column] = list(privileges)
            current['tables'][table]['reads'][column] = readable
        return current

    def apply_entry(self, entry):
        what = '%s (role %r, database %r)' % (entry['path'], entry['role'], entry['database'])
        try:
            current = self.read(entry)
        except psycopg.Error as exc:
            raise PlanError('Failed on %s, reading the catalogues: %s' % (what, one_line(exc)))
        if self.check_mode:
            current['connect'] = current['connect'] or ('connect', entry['database'], entry['role']) in self.granted
            current['usage'] = current['usage'] or \
                ('usage', entry['database'], entry['schema'], entry['role']) in self.granted
        actions, predicted, waiting = plan_entry(entry, current)
        queries = []
        conn = self.database_conn(entry['database'])
        for action in actions:
            statement = render(entry, action)
            shown = statement.as_string(conn)
            queries.append(shown)
            self.queries.append(shown)
            if action[0] is None:
                key = ('connect', entry['database'], entry['role']) if action[2] == ('CONNECT',) \
                    else ('usage', entry['database'], entry['schema'], entry['role'])
                self.granted.add(key)
            if self.check_mode:
                continue
            try:
                conn.execute(statement)
            except psycopg.Error as exc:
                raise PlanError('Failed on %s, %s: %s: %s' % (what, kind_of(action), shown, one_line(exc)))
        after = predicted
        if actions and not self.check_mode:
            try:
                after = self.read(entry)
            except psycopg.Error as exc:
                raise PlanError('Failed on %s, reading the catalogues: %s' % (what, one_line(exc)))
            self.verify(entry, what, predicted, after)
        before_state, after_state = state_of(entry, current), state_of(entry, after)
        if waiting:
            self.module.warn(waiting_warning(what, entry['schema'], current['schema_exists'], waiting))
        readable = indirect_readers(entry, after if not self.check_mode else current)
        if readable:
            self.module.warn('%s: the role can still read %s, not through its own grants but through PUBLIC or a role '
                             'it is a member of; the module manages only its own grants' % (what, ', '.join(readable)))
        header = '%s %s on %s' % (entry['path'], entry['role'], entry['database'])
        diff = dict(before=before_state, after=after_state, before_header=header, after_header=header)
        result = dict(after_state, changed=bool(actions), queries=queries)
        return result, diff, waiting

    @staticmethod
    def verify(entry, what, predicted, after):
        """The catalogues after the run must match the plan; a grant by another grantor survives a revoke."""
        wanted, found = state_of(entry, predicted), state_of(entry, after)
        if wanted == found:
            return
        grantors = sorted(set(g for info in after['tables'].values() for g in info['grantors']))
        differing = ', '.join('%s=%r (expected %r)' % (key, found[key], wanted[key]) for key in STATE_KEYS
                              if found[key] != wanted[key])
        raise PlanError('%s: after the statements the catalogues show %s; grants made by another role than the table '
                        'owner are only revoked by that role (grantors: %s)' % (what, differing, ', '.join(grantors)))


def main():
    grant_options = dict(
        database=dict(type='str', required=True),
        role=dict(type='str', required=True),
        schema=dict(type='str', default='public'),
        tables=dict(type='dict', required=True),
    )
    argument_spec = dict(grants=dict(type='list', elements='dict', required=True, options=grant_options),
                         **postgres_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        entries = validate(module.params['grants'])
    except PlanError as exc:
        module.fail_json(msg=str(exc))
    ensure_psycopg(module)
    server = Grants(module)
    results, diffs, waiting = [], [], []
    try:
        for entry in entries:
            server.check_exists(entry)
        for entry in entries:
            result, diff, entry_waiting = server.apply_entry(entry)
            results.append(result)
            diffs.append(diff)
            waiting.extend(entry_waiting)
    except (PlanError, psycopg.Error) as exc:
        module.fail_json(msg=one_line(exc), queries=server.queries)
    finally:
        server.close()
    result = dict(changed=any(r['changed'] for r in results), queries=server.queries, grants=results, waiting=waiting)
    if module._diff:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
