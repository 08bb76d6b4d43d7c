# Copyright (c) 2025, pivoine.kompose contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # Connection options of the collection's Redis modules (module_utils/_redis.py).
    DOCUMENTATION = r"""
options:
  login_host:
    description: Host name or IP address of the Redis server.
    type: str
    default: localhost
  login_port:
    description: TCP port of the Redis server.
    type: int
    default: 6379
  login_user:
    description: ACL user the module authenticates as; Redis' C(default) user when not set.
    type: str
  login_password:
    description: Password of O(login_user).
    type: str
  connect_timeout:
    description: Seconds to wait for the connection and for each reply.
    type: float
    default: 10
  tls:
    description: Connect with TLS.
    type: bool
    default: false
  validate_certs:
    description: Verify the server's TLS certificate (and host name) when O(tls=true).
    type: bool
    default: true
  ca_certs:
    description: CA certificate file to verify the server with when O(tls=true).
    type: path
  client_cert:
    description: Client certificate file for TLS client authentication.
    type: path
  client_key:
    description: Private key file of O(client_cert).
    type: path
requirements:
  - redis (redis-py) >= 4 on the target host
notes:
  - The module connects from the target host; delegate the task to a host that reaches the server.
"""
