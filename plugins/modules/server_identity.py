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
  - smooth.mariadb.mariadb
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details:
      - This action does not modify state.
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

from ansible_collections.smooth.mariadb.plugins.module_utils.identity import (
    IdentityError,
    data_evidence,
    datadir_databases,
    identity_from_options,
    parse_print_defaults,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    MariaDBQueryError,
    SqlSession,
    mariadb_common_argument_spec,
    mariadb_connect,
    to_int,
    to_text,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.seed import METADATA_SCHEMA, METADATA_TABLE, excluded_schema

DEFAULT_DATADIR = '/var/lib/mysql'


def read_running(session):
    """Identity, databases and GTID positions of a running server."""
    row = session.fetch_one(
        'SELECT @@GLOBAL.server_id AS server_id, @@GLOBAL.gtid_domain_id AS gtid_domain_id, '
        '@@GLOBAL.auto_increment_increment AS auto_increment_increment, '
        '@@GLOBAL.auto_increment_offset AS auto_increment_offset, @@GLOBAL.gtid_binlog_state AS gtid_binlog_state, '
        '@@GLOBAL.gtid_slave_pos AS gtid_slave_pos, @@datadir AS datadir, VERSION() AS version')
    schemas = session.fetch_all('SELECT schema_name AS name FROM information_schema.schemata ORDER BY schema_name')
    seeded = session.fetch_one(
        'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = %s AND table_name = %s',
        [METADATA_SCHEMA, METADATA_TABLE])
    identity = dict((key, to_int(row[key])) for key in
                    ('server_id', 'gtid_domain_id', 'auto_increment_increment', 'auto_increment_offset'))
    user_databases = [name for name in (to_text(item['name']) for item in schemas) if not excluded_schema(name)]
    binlog_state, slave_pos = to_text(row['gtid_binlog_state'] or ''), to_text(row['gtid_slave_pos'] or '')
    evidence = data_evidence(user_databases, binlog_state, slave_pos)
    return dict(running=True, installed=True, source='server', identity=identity, datadir=to_text(row['datadir']),
                user_databases=user_databases, seeded=bool(to_int(seeded['n'])), gtid_binlog_state=binlog_state,
                gtid_slave_pos=slave_pos, holds_data=bool(evidence), evidence=evidence,
                server_version=to_text(row['version']))


def list_datadir(path):
    """{directory: [files]} of the directories directly in a datadir."""
    entries = {}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            entries[name] = sorted(os.listdir(full))
    return entries


def read_stopped(module):
    """Identity from the option files, data from the datadir, of a server that does not run."""
    binary = module.get_bin_path('my_print_defaults')
    options = {}
    if binary:
        rc, out, err = module.run_command([binary, '--mysqld'])
        if rc != 0:
            module.fail_json(msg='my_print_defaults --mysqld failed (rc %d): %s' % (rc, (err or out).strip()))
        options = parse_print_defaults(out.splitlines())
    datadir = module.params['datadir'] or options.get('datadir') or DEFAULT_DATADIR
    installed = bool(binary) or os.path.isdir(datadir)
    user_databases, seeded = [], False
    if os.path.isdir(datadir):
        try:
            user_databases, seeded = datadir_databases(list_datadir(datadir))
        except OSError as exc:
            module.fail_json(msg='Cannot read the data directory %s: %s' % (datadir, exc))
    identity = None
    if installed:
        try:
            identity = identity_from_options(options)
        except IdentityError as exc:
            module.fail_json(msg=str(exc))
    evidence = data_evidence(user_databases)
    return dict(running=False, installed=installed, source='option files' if installed else 'none',
                identity=identity, datadir=datadir, user_databases=user_databases, seeded=seeded,
                gtid_binlog_state='', gtid_slave_pos='', holds_data=bool(evidence), evidence=evidence,
                server_version='')


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
