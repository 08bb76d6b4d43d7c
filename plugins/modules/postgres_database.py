#!/usr/bin/python
# Copyright (c) 2025, pivoine.kompose contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_database
short_description: Ensure a PostgreSQL database and its owner login role, least privilege
version_added: 0.1.0
description:
  - Ensures one database (or, with O(databases), several in one call) and its owner login role.
  - The owner role is created when missing, logs in, and is neither superuser nor allowed to create roles or databases.
  - C(PUBLIC) loses C(CONNECT) and C(TEMPORARY) on the database; the owner can connect and owns the C(public) schema
    (on PostgreSQL 15 and later the default owner C(pg_database_owner) is accepted as such).
  - Passwords are compared with the stored SCRAM-SHA-256 (or md5) verifier, recomputed from its salt and iteration
    count, so an unchanged password is never rewritten. New passwords are hashed on the target host by libpq and
    sent as a verifier, never in clear text.
  - Encoding, collation and template only apply at creation; an existing database whose encoding or collation
    differs from the requested one is an error, never a silent drop and re-create.
  - O(owner_roles) makes the owner a member of predefined or group roles such as C(pg_monitor); memberships not
    listed are left alone.
  - An entry of O(databases) without O(databases[].name) ensures only the login role O(databases[].owner) (least
    privileged, as an owner) with its password and O(databases[].owner_roles), for example a monitoring login.
extends_documentation_fragment:
  - pivoine.kompose.postgres
  - pivoine.kompose.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode only reads from the server.
  diff_mode:
    support: full
    details:
      - Shows O(name)'s existence, owner, extensions, connection limit, C(PUBLIC) access, the owner's role
        memberships (O(owner_roles)) and whether the password changes (never the password itself).
      - For an entry of O(databases) without name, the role's existence, memberships and password change.
  idempotent:
    support: full
options:
  name:
    description:
      - Name of the database. Any characters are allowed (names are quoted); at most 63 bytes.
      - Mutually exclusive with O(databases); one of them is required.
    type: str
  owner:
    description: Login role owning the database; created when missing. Defaults to O(name).
    type: str
  password:
    description:
      - Password of O(owner). Not changed when omitted.
    type: str
  update_password:
    description:
      - V(always) sets O(password) whenever it differs from the stored one.
      - V(on_create) sets it only when the role is created.
    type: str
    choices: [always, on_create]
    default: always
  state:
    description:
      - V(present) ensures the database, its owner and its settings.
      - V(absent) drops the database (and O(owner) too when O(drop_owner=true)).
    type: str
    choices: [present, absent]
    default: present
  drop_owner:
    description: With O(state=absent), drop the owner role as well.
    type: bool
    default: false
  extensions:
    description:
      - Extensions created in the database when missing (C(CREATE EXTENSION)). Extensions not listed are left alone.
    type: list
    elements: str
    default: []
  conn_limit:
    description: Connection limit of the database (V(-1) for none). Left as it is when omitted.
    type: int
  encoding:
    description: Encoding at creation, for example V(UTF8). Compared with an existing database.
    type: str
  lc_collate:
    description: Collation at creation, for example V(C.UTF-8). Compared with an existing database.
    type: str
  lc_ctype:
    description: Character classification at creation. Compared with an existing database.
    type: str
  template:
    description:
      - Template database at creation. Defaults to V(template0) when O(encoding), O(lc_collate) or O(lc_ctype)
        is set, else the server's default (V(template1)).
    type: str
  owner_roles:
    description:
      - Roles O(owner) is made a member of (C(GRANT role TO owner)) when it is not yet, for example V(pg_monitor)
        for a monitoring login.
      - Memberships not listed are left alone (never revoked), so removing a role from the list does not revoke it.
      - Each role must exist, and must not have C(SUPERUSER), C(CREATEROLE), C(CREATEDB), C(REPLICATION) or
        C(BYPASSRLS), which the owner could use through C(SET ROLE); the module refuses such roles.
      - Ignored with O(state=absent).
    type: list
    elements: str
    default: []
  readers:
    description:
      - Login roles given read-only access to the database - C(CONNECT) on it, C(USAGE) on its schema
        C(public), C(SELECT) on every table there, and C(SELECT) on the tables O(owner) creates later
        (C(ALTER DEFAULT PRIVILEGES FOR ROLE owner)), so a metrics exporter can read an application's
        tables before the application has created them.
      - Each role must exist (ensure it earlier in the same O(databases) list, as an entry without name).
        Privileges of roles not listed are left alone (never revoked).
      - Ignored with O(state=absent).
    type: list
    elements: str
    default: []
  databases:
    description:
      - Several databases in one module call (one connection, one result), instead of O(name).
      - Each entry takes the per-database options above; an option an entry leaves out takes the value of the
        top-level option of the same name (so top-level O(update_password) or O(state) act as defaults).
      - An entry without O(databases[].name) manages no database, only the login role O(databases[].owner)
        (created when missing; C(LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE) as for owners), its
        O(databases[].password) and its O(databases[].owner_roles); O(databases[].state=absent) drops that role.
        Such an entry must not set the database options (O(databases[].extensions), O(databases[].conn_limit),
        O(databases[].encoding), O(databases[].lc_collate), O(databases[].lc_ctype), O(databases[].template),
        O(databases[].drop_owner)).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - Name of the database.
          - When omitted, the entry ensures only the login role O(databases[].owner), which is then required.
        type: str
      owner:
        description:
          - See O(owner). Required when O(databases[].name) is omitted.
        type: str
      password:
        description: See O(password).
        type: str
      update_password:
        description: See O(update_password).
        type: str
        choices: [always, on_create]
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
      drop_owner:
        description: See O(drop_owner).
        type: bool
      extensions:
        description: See O(extensions).
        type: list
        elements: str
      conn_limit:
        description: See O(conn_limit).
        type: int
      encoding:
        description: See O(encoding).
        type: str
      lc_collate:
        description: See O(lc_collate).
        type: str
      lc_ctype:
        description: See O(lc_ctype).
        type: str
      template:
        description: See O(template).
        type: str
      owner_roles:
        description: See O(owner_roles).
        type: list
        elements: str
      readers:
        description: See O(readers).
        type: list
        elements: str
notes:
  - Works with PostgreSQL 13 to 17.
  - O(state=absent) fails while clients are connected to the database, and when the owner still owns objects
    elsewhere; the module never forces either.
  - The module refuses to manage the role it is logged in as (O(login_user)).
  - O(owner_roles) needs a O(login_user) allowed to grant the roles (a superuser, or on PostgreSQL 16 and later a
    role with C(ADMIN OPTION) on them).
seealso:
  - module: pivoine.kompose.redis_acl
author:
  - pivoine.kompose developers (@pivoine)
"""

EXAMPLES = r"""
- name: Ensure the linkwarden database, owned by a login role with a password
  pivoine.kompose.postgres_database:
    name: linkwarden
    password: "{{ linkwarden_db_password }}"
    extensions: [pg_trgm]
    login_host: 127.0.0.1
    login_password: "{{ postgres_superuser_password }}"

- name: Create with an explicit owner, encoding and collation, and cap connections
  pivoine.kompose.postgres_database:
    name: umami
    owner: umami_app
    password: "{{ umami_db_password }}"
    encoding: UTF8
    lc_collate: C.UTF-8
    lc_ctype: C.UTF-8
    conn_limit: 20
    login_unix_socket: /var/run/postgresql

- name: Ensure every service database in one call
  pivoine.kompose.postgres_database:
    databases:
      - name: keycloak
        password: "{{ keycloak_db_password }}"
      - name: vaultwarden
        password: "{{ vaultwarden_db_password }}"
    update_password: on_create
    login_host: 127.0.0.1
    login_password: "{{ postgres_superuser_password }}"

- name: A service database whose owner may read the statistics views, and a monitoring login
  pivoine.kompose.postgres_database:
    databases:
      - name: umami
        password: "{{ umami_db_password }}"
        owner_roles: [pg_read_all_stats]
      - owner: postgres_exporter
        password: "{{ postgres_exporter_password }}"
        owner_roles: [pg_monitor]
    login_host: 127.0.0.1
    login_password: "{{ postgres_superuser_password }}"

- name: Drop a database and its owner
  pivoine.kompose.postgres_database:
    name: letterpress
    state: absent
    drop_owner: true
    login_host: 127.0.0.1
    login_password: "{{ postgres_superuser_password }}"
"""

RETURN = r"""
queries:
  description: Statements executed (or, in check mode, that would be), passwords masked.
  returned: always
  type: list
  elements: str
  sample:
    - CREATE ROLE "linkwarden" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '********'
    - CREATE DATABASE "linkwarden" OWNER "linkwarden"
    - REVOKE CONNECT, TEMPORARY ON DATABASE "linkwarden" FROM PUBLIC
database:
  description: State of the database after the run (predicted in check mode). Only without O(databases).
  returned: when O(name) is used
  type: dict
  contains:
    name:
      description: Name of the database.
      type: str
      sample: linkwarden
    exists:
      description: Whether the database exists.
      type: bool
      sample: true
    owner:
      description: Owner of the database.
      type: str
      sample: linkwarden
    encoding:
      description: Encoding.
      type: str
      sample: UTF8
    lc_collate:
      description: Collation.
      type: str
      sample: C.UTF-8
    lc_ctype:
      description: Character classification.
      type: str
      sample: C.UTF-8
    conn_limit:
      description: Connection limit (-1 for none).
      type: int
      sample: -1
    extensions:
      description: Installed extensions (null when not read, with O(state=absent)).
      type: list
      elements: str
      sample: [pg_trgm, plpgsql]
    public_connect:
      description: Whether PUBLIC may connect.
      type: bool
      sample: false
    owner_roles:
      description:
        - Roles the owner is directly a member of, all of them (not only those of O(owner_roles)), sorted;
          null when not read (O(state=absent)).
      type: list
      elements: str
      sample: [pg_monitor]
    readers:
      description:
        - The roles of O(readers) that have every read-only privilege on the database after the run (before it, in
          the diff), sorted; empty with O(state=absent).
      type: list
      elements: str
      sample: [link_metrics]
    password:
      description: V(changed) or V(unchanged); never the password.
      type: str
      sample: unchanged
databases:
  description: One entry per item of O(databases), in order.
  returned: when O(databases) is used
  type: list
  elements: dict
  contains:
    name:
      description: Name of the database; null for an entry without name (a login role only).
      type: str
    owner:
      description: The owner login role.
      type: str
    changed:
      description: Whether this database (or its owner) changed.
      type: bool
    queries:
      description: Statements for this database, passwords masked.
      type: list
      elements: str
    database:
      description: Same as RV(database), for this entry. Only for an entry with a name.
      type: dict
    role:
      description: For an entry without name, the login role after the run (predicted in check mode).
      type: dict
      contains:
        name:
          description: Name of the role (O(databases[].owner)).
          type: str
        exists:
          description: Whether the role exists.
          type: bool
        owner_roles:
          description: Roles it is directly a member of, sorted; null with O(databases[].state=absent).
          type: list
          elements: str
        password:
          description: V(changed) or V(unchanged); never the password.
          type: str
  sample:
    - name: keycloak
      owner: keycloak
      changed: false
      queries: []
      database: {name: keycloak, exists: true, owner: keycloak}
    - name: null
      owner: postgres_exporter
      changed: true
      queries:
        - CREATE ROLE "postgres_exporter" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '********'
        - GRANT "pg_monitor" TO "postgres_exporter"
      role: {name: postgres_exporter, exists: true, owner_roles: [pg_monitor], password: changed}
diff:
  description:
    - Before and after state (C(exists), C(owner), C(extensions), C(conn_limit), C(public_connect), C(owner_roles),
      C(readers), C(password)), a list of such pairs with O(databases). For an entry without name, C(exists), C(owner_roles)
      and C(password) of the role. Returned in diff mode.
  returned: when diff mode is enabled
  type: raw
  sample:
    before: {exists: false, owner: null, extensions: [], conn_limit: null, public_connect: false, owner_roles: [],
             readers: [], password: unchanged}
    after: {exists: true, owner: linkwarden, extensions: [plpgsql], conn_limit: -1, public_connect: false,
            owner_roles: [], readers: [link_metrics], password: changed}
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pivoine.kompose.plugins.module_utils._mask import MASK
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
from ansible_collections.pivoine.kompose.plugins.module_utils._scram import password_matches

PER_DB_OPTIONS = ('name', 'owner', 'password', 'update_password', 'state', 'drop_owner', 'extensions',
                  'conn_limit', 'encoding', 'lc_collate', 'lc_ctype', 'template', 'owner_roles', 'readers')
# Options of a database; an entry of databases without name (only a login role) must not set them.
DB_ONLY_OPTIONS = ('drop_owner', 'extensions', 'conn_limit', 'encoding', 'lc_collate', 'lc_ctype', 'template',
                   'readers')
# Role attributes a member could use through SET ROLE: owners are made members of none of them.
ELEVATED_ATTRIBUTES = (('rolsuper', 'SUPERUSER'), ('rolcreaterole', 'CREATEROLE'), ('rolcreatedb', 'CREATEDB'),
                       ('rolreplication', 'REPLICATION'), ('rolbypassrls', 'BYPASSRLS'))

ROLE_COLUMNS = 'rolsuper, rolcreaterole, rolcreatedb, rolcanlogin'
DB_QUERY = (
    "SELECT pg_catalog.pg_get_userbyid(datdba), pg_catalog.pg_encoding_to_char(encoding), datcollate, datctype,"
    " datconnlimit, has_database_privilege('public', oid, 'CONNECT'),"
    " has_database_privilege('public', oid, 'TEMPORARY'), has_database_privilege(datdba, oid, 'CONNECT')"
    " FROM pg_catalog.pg_database WHERE datname = %s"
)
MEMBERSHIP_QUERY = (
    "SELECT ARRAY(SELECT DISTINCT g.rolname::text FROM pg_catalog.pg_auth_members m"
    " JOIN pg_catalog.pg_roles g ON g.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member"
    " WHERE u.rolname = %s ORDER BY 1)"
)
GROUP_ROLE_QUERY = (
    "SELECT rolname, " + ', '.join(column for column, dummy in ELEVATED_ATTRIBUTES) +
    " FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)"
)
# Inside the database, per reader (a role that does not exist yet has what PUBLIC has): USAGE on schema public,
# SELECT on every table there, SELECT on the owner's future tables.
READERS_QUERY = (
    "SELECT u.name, CASE WHEN r.oid IS NULL THEN has_schema_privilege('public', 'public', 'USAGE')"
    "                    ELSE has_schema_privilege(r.oid, 'public', 'USAGE') END,"
    " NOT EXISTS (SELECT 1 FROM pg_catalog.pg_tables t WHERE t.schemaname = 'public' AND (r.oid IS NULL"
    "             OR NOT has_table_privilege(r.oid, format('%%I.%%I', t.schemaname, t.tablename), 'SELECT'))),"
    " r.oid IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_default_acl d"
    "         JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a"
    "         WHERE n.nspname = 'public' AND d.defaclobjtype = 'r' AND a.grantee = r.oid AND a.privilege_type = 'SELECT'"
    "         AND d.defaclrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %(owner)s))"
    " FROM unnest(%(readers)s::text[]) AS u(name) LEFT JOIN pg_catalog.pg_roles r ON r.rolname = u.name ORDER BY 1"
)
IN_DB_QUERY = (
    "SELECT ARRAY(SELECT extname::text FROM pg_catalog.pg_extension ORDER BY 1),"
    " (SELECT pg_catalog.pg_get_userbyid(nspowner) FROM pg_catalog.pg_namespace WHERE nspname = 'public')"
)


class PlanError(Exception):
    pass


def same_setting(a, b):
    """Encodings and locales compare loosely: UTF-8 == utf8 == UTF8."""
    return re.sub(r'[-_]', '', a).lower() == re.sub(r'[-_]', '', b).lower()


class Database(object):
    """Desired vs actual state of one database and its owner."""

    def __init__(self, server, params):
        self.server = server
        self.p = params
        self.name = params['name']
        self.owner = params['owner'] or params['name']
        # an entry without name ensures only the login role owner (and its owner_roles)
        self.what = 'database %r' % self.name if self.name is not None else 'role %r' % self.owner
        self.owner_roles = list(dict.fromkeys(params.get('owner_roles') or []))
        self.readers = list(dict.fromkeys(params.get('readers') or []))
        self.changed = False
        self.queries = []
        self.password_changed = False

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def ident(name):
        return identifier(name)

    def statement(self, template, *args, **kwargs):
        """Compose a statement; `secret` (a Literal) is masked in the recorded text."""
        secret = kwargs.pop('secret', None)
        query = sql.SQL(template)
        if secret is None:
            real = query.format(*args, **kwargs)
            return real, real.as_string(self.server.conn)
        shown = query.format(*args, secret=sql.Literal(MASK), **kwargs).as_string(self.server.conn)
        return query.format(*args, secret=secret, **kwargs), shown

    def run(self, conn, stmt):
        real, shown = stmt
        self.queries.append(shown)
        self.changed = True
        if self.server.check_mode:
            return
        try:
            conn.execute(real)
        except psycopg.Error as exc:
            raise PlanError('Failed on %s: %s: %s' % (self.what, shown, one_line(exc)))

    # -- reading ------------------------------------------------------------------------------
    def read_role(self):
        conn = self.server.conn
        if self.server.superuser:
            query = 'SELECT %s, rolpassword FROM pg_catalog.pg_authid WHERE rolname = %%s' % ROLE_COLUMNS
        else:
            query = 'SELECT %s, NULL FROM pg_catalog.pg_roles WHERE rolname = %%s' % ROLE_COLUMNS
        row = conn.execute(query, (self.owner,)).fetchone()
        if row is None:
            return None
        return dict(zip(('super', 'createrole', 'createdb', 'login', 'password'), row))

    def read_memberships(self):
        """The roles owner is directly a member of (none when the role does not exist)."""
        return list(self.server.conn.execute(MEMBERSHIP_QUERY, (self.owner,)).fetchone()[0])

    def check_owner_roles(self):
        """owner_roles must exist and must not carry attributes the owner could use through SET ROLE."""
        if not self.owner_roles:
            return
        rows = self.server.conn.execute(GROUP_ROLE_QUERY, (self.owner_roles,)).fetchall()
        found = dict((row[0], row[1:]) for row in rows)
        errors = []
        for role in self.owner_roles:
            if role not in found:
                errors.append('owner_roles: role %r does not exist (create it first, or remove it from owner_roles)'
                              % role)
                continue
            elevated = [name for (dummy, name), value in zip(ELEVATED_ATTRIBUTES, found[role]) if value]
            if elevated:
                errors.append('owner_roles: role %r has %s; as its member, %r could use %s through SET ROLE, and owner '
                              'roles are kept least privileged, so the module will not grant it'
                              % (role, ', '.join(elevated), self.owner, 'them' if len(elevated) > 1 else 'it'))
        if errors:
            raise PlanError('; '.join(errors))

    def ensure_owner_roles(self, memberships):
        """GRANT each owner_roles entry owner is not a member of yet; other memberships are left alone."""
        missing = [role for role in self.owner_roles if role not in memberships]
        for role in missing:
            self.run(self.server.conn, self.statement('GRANT {} TO {}', self.ident(role), self.ident(self.owner)))
        return sorted(set(memberships) | set(missing))

    def read_db(self):
        row = self.server.conn.execute(DB_QUERY, (self.name,)).fetchone()
        if row is None:
            return None
        keys = ('owner', 'encoding', 'lc_collate', 'lc_ctype', 'conn_limit', 'public_connect', 'public_temp',
                'owner_connect')
        return dict(zip(keys, row))

    # -- planning + applying ------------------------------------------------------------------
    def state(self, db, extensions, owner_roles, exists=True, readers=None):
        return dict(
            name=self.name, exists=exists and db is not None,
            owner=db and db['owner'], encoding=db and db['encoding'], lc_collate=db and db['lc_collate'],
            lc_ctype=db and db['lc_ctype'], conn_limit=db and db['conn_limit'],
            extensions=extensions, public_connect=bool(db and db['public_connect']), owner_roles=owner_roles,
            readers=readers or [],
        )

    def check_settings(self, db):
        for option in ('encoding', 'lc_collate', 'lc_ctype'):
            want = self.p[option]
            if want and not same_setting(want, db[option]):
                raise PlanError(
                    'Database %r exists with %s=%s, but %s=%s was requested; %s is only set at creation and '
                    'the module never drops a database to change it (dump, drop and re-create it yourself)'
                    % (self.name, option, db[option], option, want, option))

    def ensure_role(self, role):
        p = self.p
        password = p['password']
        if role is None:
            tail = ' PASSWORD {secret}' if password is not None else ''
            self.run(self.server.conn, self.statement(
                'CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE' + tail,
                self.ident(self.owner), secret=self.server.verifier(password, self.owner) if password else None))
            self.server.created_roles.add(self.owner)
            self.password_changed = password is not None
            return
        if role['super'] or role['createrole'] or role['createdb'] or not role['login']:
            self.run(self.server.conn, self.statement('ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE',
                                                      self.ident(self.owner)))
        if password is not None and p['update_password'] == 'always':
            if password_matches(role['password'], password, self.owner) is not True:
                self.run(self.server.conn, self.statement(
                    'ALTER ROLE {} PASSWORD {secret}', self.ident(self.owner),
                    secret=self.server.verifier(password, self.owner)))
                self.password_changed = True

    def ensure_present(self):
        p = self.p
        conn = self.server.conn
        role, db = self.read_role(), self.read_db()
        if db is not None:
            self.check_settings(db)
        self.check_owner_roles()
        self.check_readers()
        memberships = self.read_memberships() if role is not None else []
        in_db = self.read_in_db() if db is not None else None
        before = self.state(db, in_db[0] if in_db else [], memberships, readers=in_db[2] if in_db else [])
        self.ensure_role(role)
        owner_roles = self.ensure_owner_roles(memberships)
        if db is None:
            parts = ['CREATE DATABASE {name} OWNER {owner}']
            args = dict(name=self.ident(self.name), owner=self.ident(self.owner))
            template = p['template'] or ('template0' if p['encoding'] or p['lc_collate'] or p['lc_ctype'] else None)
            for option, clause, value in (('template', 'TEMPLATE', template and self.ident(template)),
                                          ('encoding', 'ENCODING', p['encoding'] and sql.Literal(p['encoding'])),
                                          ('lc_collate', 'LC_COLLATE', p['lc_collate'] and sql.Literal(p['lc_collate'])),
                                          ('lc_ctype', 'LC_CTYPE', p['lc_ctype'] and sql.Literal(p['lc_ctype'])),
                                          ('conn_limit', 'CONNECTION LIMIT', p['conn_limit'] is not None
                                           and sql.Literal(p['conn_limit']))):
                if value:
                    parts.append('%s {%s}' % (clause, option))
                    args[option] = value
            self.run(conn, self.statement(' '.join(parts), **args))
            self.run(conn, self.statement('REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC', self.ident(self.name)))
        else:
            if db['owner'] != self.owner:
                self.run(conn, self.statement('ALTER DATABASE {} OWNER TO {}', self.ident(self.name), self.ident(self.owner)))
            if p['conn_limit'] is not None and p['conn_limit'] != db['conn_limit']:
                self.run(conn, self.statement('ALTER DATABASE {} CONNECTION LIMIT {}', self.ident(self.name),
                                              sql.Literal(p['conn_limit'])))
            if db['public_connect'] or db['public_temp']:
                self.run(conn, self.statement('REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC', self.ident(self.name)))
            if not db['owner_connect']:
                self.run(conn, self.statement('GRANT CONNECT ON DATABASE {} TO {}', self.ident(self.name),
                                              self.ident(self.owner)))
        self.ensure_reader_connect(new=db is None)
        extensions = self.ensure_in_db(in_db)
        readers = sorted(set(before['readers']) | set(self.readers))
        if not self.changed:
            return before, dict(before)
        if self.server.check_mode:
            return before, self.state(before_db_or_new(db, p, self.owner), extensions, owner_roles, readers=readers)
        return before, self.state(self.read_db(), extensions, self.read_memberships(), readers=readers)

    def ensure_role_present(self):
        """An entry without name: only the login role owner, least privileged, and its owner_roles."""
        role = self.read_role()
        self.check_owner_roles()
        memberships = self.read_memberships() if role is not None else []
        before = dict(name=self.owner, exists=role is not None, owner_roles=memberships)
        self.ensure_role(role)
        owner_roles = self.ensure_owner_roles(memberships)
        if self.changed and not self.server.check_mode:
            owner_roles = self.read_memberships()
        return before, dict(name=self.owner, exists=True, owner_roles=owner_roles)

    def ensure_role_absent(self):
        role = self.read_role()
        if role is not None:
            self.run(self.server.conn, self.statement('DROP ROLE {}', self.ident(self.owner)))
        return (dict(name=self.owner, exists=role is not None, owner_roles=None),
                dict(name=self.owner, exists=False, owner_roles=None))

    def read_in_db(self):
        """(extensions, owner of schema public, readers that have every read privilege, readers' rows)."""
        with connect(self.server.module, dbname=self.name) as conn:
            extensions, schema_owner = conn.execute(IN_DB_QUERY).fetchone()
            rows = conn.execute(READERS_QUERY, dict(readers=self.readers, owner=self.owner)).fetchall() \
                if self.readers else []
        complete = [row[0] for row in rows if all(row[1:])]
        return list(extensions), schema_owner, complete, dict((row[0], row[1:]) for row in rows)

    def check_readers(self):
        """Every reader must exist (in check mode it may be one this call creates first)."""
        if not self.readers:
            return
        found = set(r[0] for r in self.server.conn.execute(
            'SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)', (self.readers,)).fetchall())
        missing = [r for r in self.readers if r not in found and r not in self.server.created_roles]
        if missing:
            raise PlanError('readers: role %s of database %r does not exist (ensure it first, as an entry of databases '
                            'without name before this one)' % (', '.join(repr(r) for r in missing), self.name))

    def ensure_in_db(self, in_db):
        """Extensions, public-schema ownership and readers' privileges, inside the database itself (in_db: None
        if just created)."""
        wanted = self.p['extensions'] or []
        if in_db is None and self.server.check_mode:
            installed, schema_owner = ['plpgsql'], (None if self.server.version >= 150000 else 'postgres')
            # a new database: PUBLIC may use schema public, there are no tables yet
            reader_rows = dict((reader, (True, True, False)) for reader in self.readers)
        else:
            installed, schema_owner, dummy, reader_rows = in_db or self.read_in_db()
        missing = [e for e in wanted if e not in installed]
        need_schema = schema_owner not in (None, self.owner, 'pg_database_owner')
        # (usage, select on existing tables, select by default) per reader; all False for a new database
        grants = [(reader, reader_rows[reader]) for reader in self.readers]
        grants = [(reader, have) for reader, have in grants if not all(have)]
        if not (missing or need_schema or grants):
            return installed
        conn = None if self.server.check_mode else connect(self.server.module, dbname=self.name)
        try:
            for extension in missing:
                self.run(conn, self.statement('CREATE EXTENSION IF NOT EXISTS {}', self.ident(extension)))
            if need_schema:
                self.run(conn, self.statement('ALTER SCHEMA public OWNER TO {}', self.ident(self.owner)))
            for reader, (usage, tables, default) in grants:
                if not usage:
                    self.run(conn, self.statement('GRANT USAGE ON SCHEMA public TO {}', self.ident(reader)))
                if not tables:
                    self.run(conn, self.statement('GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}', self.ident(reader)))
                if not default:
                    self.run(conn, self.statement('ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT ON '
                                                  'TABLES TO {}', self.ident(self.owner), self.ident(reader)))
        finally:
            if conn is not None:
                conn.close()
        return sorted(set(installed) | set(missing))

    def ensure_reader_connect(self, new):
        """CONNECT on the database for every reader that lacks it (from the maintenance connection)."""
        for reader in self.readers:
            row = None if new else self.server.conn.execute(
                "SELECT has_database_privilege(r.oid, %s, 'CONNECT') FROM pg_catalog.pg_roles r WHERE r.rolname = %s",
                (self.name, reader)).fetchone()
            if not (row and row[0]):
                self.run(self.server.conn, self.statement('GRANT CONNECT ON DATABASE {} TO {}', self.ident(self.name),
                                                          self.ident(reader)))

    def ensure_absent(self):
        conn = self.server.conn
        db = self.read_db()
        role = self.read_role() if self.p['drop_owner'] else None
        before = self.state(db, None, None)
        if db is not None:
            self.run(conn, self.statement('DROP DATABASE {}', self.ident(self.name)))
        if role is not None:
            self.run(conn, self.statement('DROP ROLE {}', self.ident(self.owner)))
        return before, self.state(None, None, None, exists=False)

    def validate(self):
        p = self.p
        if self.owner is None:
            raise PlanError('an entry of databases without name needs owner (the login role to ensure)')
        errors = [self.name is not None and check_identifier('name', self.name),
                  p['owner'] and check_identifier('owner', self.owner),
                  p['template'] and check_identifier('template', p['template'])]
        errors += [check_identifier('extensions', e) for e in p['extensions'] or []]
        errors += [check_identifier('owner_roles', r) for r in self.owner_roles]
        errors += [check_identifier('readers', r) for r in self.readers]
        if self.owner in self.readers:
            errors.append('readers: %r is the owner of database %r; an owner needs no read grant' % (self.owner, self.name))
        if self.owner in self.owner_roles:
            errors.append('owner_roles: %r is the owner itself; a role cannot be a member of itself' % self.owner)
        if p['conn_limit'] is not None and p['conn_limit'] < -1:
            errors.append('conn_limit=%d is invalid; use -1 (no limit) or a positive number' % p['conn_limit'])
        if self.owner == self.server.user and (p['state'] == 'present' or p['drop_owner'] or self.name is None):
            errors.append('owner=%r is the role the module is logged in as (login_user); the module will not alter '
                          'or drop its own login role, choose another owner' % self.owner)
        errors = [e for e in errors if e]
        if errors:
            raise PlanError('; '.join(errors))

    def apply(self):
        self.validate()
        present = self.p['state'] == 'present'
        if self.name is None:
            before, after = self.ensure_role_present() if present else self.ensure_role_absent()
            diff_keys, header, kind = ('exists', 'owner_roles'), 'role %s' % self.owner, 'role'
        else:
            before, after = self.ensure_present() if present else self.ensure_absent()
            diff_keys = ('exists', 'owner', 'extensions', 'conn_limit', 'public_connect', 'owner_roles', 'readers')
            header, kind = 'database %s' % self.name, 'database'
        after['password'] = 'changed' if self.password_changed else 'unchanged'
        diff = dict(before=dict((k, before[k]) for k in diff_keys), after=dict((k, after[k]) for k in diff_keys),
                    before_header=header, after_header=header)
        diff['before']['password'] = 'unchanged'
        diff['after']['password'] = after['password']
        result = dict(name=self.name, owner=self.owner, changed=self.changed, queries=self.queries, diff=diff)
        result[kind] = after
        return result


def merge_items(params):
    """The entries of the call: each databases item over the top-level options (or the top-level options alone)."""
    items = []
    for index, item in enumerate(params['databases'] or [{}]):
        if params['databases'] is not None and item.get('name') is None:
            misplaced = [k for k in DB_ONLY_OPTIONS if item.get(k) is not None]
            if misplaced:
                raise PlanError('databases[%d]: %s only apply to a database, and this entry has no name (it ensures '
                                'only the login role %r); remove %s or add name'
                                % (index, ', '.join(misplaced), item.get('owner'), 'it' if len(misplaced) == 1
                                   else 'them'))
        items.append(dict((k, params[k] if item.get(k) is None else item[k]) for k in PER_DB_OPTIONS))
    return items


def before_db_or_new(db, p, owner):
    """Predicted catalogue row after the run (check mode)."""
    db = dict(db or dict(encoding=p['encoding'], lc_collate=p['lc_collate'], lc_ctype=p['lc_ctype'], conn_limit=-1))
    db.update(owner=owner, public_connect=False)
    if p['conn_limit'] is not None:
        db['conn_limit'] = p['conn_limit']
    return db


class Server(object):
    """The maintenance connection shared by every database of the call."""

    def __init__(self, module):
        self.module = module
        self.check_mode = module.check_mode
        # roles this call creates (in check mode they do not exist yet, but later entries may name them)
        self.created_roles = set()
        self.conn = connect(module)
        self.user, self.superuser, self.version = self.conn.execute(
            "SELECT current_user, (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user),"
            " current_setting('server_version_num')::int").fetchone()
        if not self.superuser:
            module.warn('login_user=%s is not a superuser: stored passwords cannot be read, so password is set on '
                        'every run when update_password=always' % self.user)

    def verifier(self, password, role):
        """Hash a password the way the server is configured to (libpq; the clear text is never sent)."""
        if self.check_mode:
            return sql.Literal(MASK)
        return sql.Literal(self.conn.pgconn.encrypt_password(password.encode('utf-8'), role.encode('utf-8')).decode())


def main():
    db_options = dict(
        name=dict(type='str'),
        owner=dict(type='str'),
        password=dict(type='str', no_log=True),
        update_password=dict(type='str', choices=['always', 'on_create'], default='always', no_log=False),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        drop_owner=dict(type='bool', default=False),
        extensions=dict(type='list', elements='str', default=[]),
        conn_limit=dict(type='int'),
        encoding=dict(type='str'),
        lc_collate=dict(type='str'),
        lc_ctype=dict(type='str'),
        template=dict(type='str'),
        owner_roles=dict(type='list', elements='str', default=[]),
        readers=dict(type='list', elements='str', default=[]),
    )
    # in an item, None means "take the top-level value"; an item without name ensures only its owner role
    item_options = dict((k, dict(v, default=None)) for k, v in db_options.items())
    argument_spec = dict(db_options, databases=dict(type='list', elements='dict', options=item_options,
                                                    required_one_of=[('name', 'owner')]),
                         **postgres_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[('name', 'databases')], required_one_of=[('name', 'databases')])
    ensure_psycopg(module)
    try:
        items = merge_items(module.params)
    except PlanError as exc:
        module.fail_json(msg=str(exc))
    server = Server(module)
    results = []
    try:
        for item in items:
            results.append(Database(server, item).apply())
    except (PlanError, psycopg.Error) as exc:
        module.fail_json(msg=one_line(exc), queries=[q for r in results for q in r['queries']])
    finally:
        server.conn.close()
    result = dict(changed=any(r['changed'] for r in results), queries=[q for r in results for q in r['queries']])
    if module.params['databases'] is None:
        result['database'] = results[0]['database']
        diff = results[0]['diff']
    else:
        result['databases'] = [dict((k, v) for k, v in r.items() if k != 'diff') for r in results]
        diff = [r['diff'] for r in results]
    if module._diff:
        result['diff'] = diff
    module.exit_json(**result)


if __name__ == '__main__':
    main()
