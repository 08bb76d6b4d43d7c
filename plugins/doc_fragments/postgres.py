# Copyright (c) 2025, pivoine.kompose contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # Connection options of the collection's PostgreSQL modules (module_utils/_postgres.py).
    DOCUMENTATION = r"""
options:
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
      - Role the module logs in as.
      - It must be a superuser to compare passwords without rewriting them (reading C(pg_authid) needs it);
        with a less privileged role, passwords are rewritten on every run when O(update_password=always).
    type: str
    default: postgres
  login_password:
    description: Password of O(login_user).
    type: str
  login_db:
    description: Maintenance database the module connects to for server-wide statements.
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
    description: libpq C(sslmode) of the connection.
    type: str
    default: prefer
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  ca_cert:
    description: CA certificate file to verify the server with (libpq C(sslrootcert)).
    type: path
requirements:
  - psycopg >= 3.1 (psycopg 3) on the target host
notes:
  - The module connects from the target host; delegate the task to a host that reaches the server.
"""
