#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: server_identity
short_description: Read the identity a MariaDB server runs with, and whether it holds data
version_added: 0.1.0
description:
  - Reads the C(server_id), C(gtid_domain_id) and auto-increment settings of a MariaDB
    server, and whether it holds data (a user database, or a GTID in its binary log or
    replication position).
  - A running server is asked (read-only statements). When the server does not run (its
    Unix socket does not exist), the identity comes from its option files
    (C(my_print_defaults --mysqld)) and the data from the databases in its data directory,
    so a stopped server with data is not taken for an empty one.
  - The filter P(smooth.mariadb.identity_check#filter) compares what this module reads on
    every node with a plan and refuses a plan that would change the identity of a node
    holding data.
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes.info_module
  - smooth.mariadb.mariadb
options:
  datadir:
    description:
      - Data directory to look into when the server does not run.
      - When not set, the C(datadir) of the option files, else V(/var/lib/mysql).
    type: path
notes:
  - The server counts as not running only when O(login_unix_socket) is set and the socket does
    not exist. Any other connection failure fails the module, so a server that runs but cannot
    be read is never taken for an empty one.
  - For a stopped server the GTIDs of its binary log cannot be read; only its databases count
    as its data.
seealso:
  - module: smooth.mariadb.replication_info
'''

EXAMPLES = r'''
- name: Read the identity the server runs with
  smooth.mariadb.server_identity:
    login_unix_socket: /run/mysqld/mysqld.sock
  register: smooth_observed_identity

- name: Refuse a plan that would change the identity of a node holding data
  ansible.builtin.assert:
    that: __check.ok
    fail_msg: "{{ __check.message }}"
  vars:
    __check: >-
      {{ plan | smooth.mariadb.identity_check(
           dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'smooth_observed_identity')))) }}
  run_once: true
'''

RETURN = r'''
running:
  description: Whether the server runs (it was read over its connection).
  returned: always
  type: bool
installed:
  description: Whether MariaDB is installed (C(my_print_defaults) found, or the data directory exists).
  returned: always
  type: bool
source:
  description: Where the identity was read, V(server), V(option files), or V(none) when MariaDB is not installed.
  returned: always
  type: str
identity:
  description: The identity, or null when MariaDB is not installed.
  returned: always
  type: dict
  contains:
    server_id:
      description: C(server_id).
      type: int
    gtid_domain_id:
      description: C(gtid_domain_id).
      type: int
    auto_increment_increment:
      description: Global C(auto_increment_increment).
      type: int
    auto_increment_offset:
      description: Global C(auto_increment_offset).
      type: int
  sample: {server_id: 101, gtid_domain_id: 101, auto_increment_increment: 2, auto_increment_offset: 1}
datadir:
  description: The data directory.
  returned: always
  type: str
  sample: /var/lib/mysql/
user_databases:
  description: Databases other than the system ones and C(smooth_mariadb), sorted.
  returned: always
  type: list
  elements: str
seeded:
  description: Whether the seed of an expansion recorded itself here (table C(smooth_mariadb.seed)).
  returned: always
  type: bool
gtid_binlog_state:
  description: C(@@gtid_binlog_state); empty when the server does not run.
  returned: always
  type: str
gtid_binlog_pos:
  description: C(@@gtid_binlog_pos), the last GTID of every domain of the binary log; empty when the server does not run.
  returned: always
  type: str
  version_added: 0.2.0
gtid_slave_pos:
  description: C(@@gtid_slave_pos); empty when the server does not run.
  returned: always
  type: str
holds_data:
  description: Whether the server holds data (non-empty RV(evidence)).
  returned: always
  type: bool
evidence:
  description: Why the server counts as holding data, one reason an item.
  returned: always
  type: list
  elements: str
  sample: ['databases shop', 'binary log GTIDs 101-101-5712']
server_version:
  description: Version of the running server; empty when it does not run.
  returned: always
  type: str
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    MariaDBQueryError,
    SqlSession,
    mariadb_common_argument_spec,
    mariadb_connect,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.server_reading import read_running, read_stopped


def argument_spec():
    spec = mariadb_common_argument_spec()
    spec.update(datadir=dict(type='path'))
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    socket = module.params['login_unix_socket']
    if socket and not os.path.exists(socket):
        module.exit_json(changed=False, **read_stopped(module))
    connection = mariadb_connect(module)
    try:
        result = read_running(SqlSession(connection, read_only=True))
    except MariaDBQueryError as exc:
        module.fail_json(msg='Reading the identity of the server failed: %s failed: %s' % (exc.statement, exc.message))
    finally:
        connection.close()
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
