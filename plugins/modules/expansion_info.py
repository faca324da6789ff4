#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: expansion_info
short_description: Read in one call everything the phases of an expansion decide on
version_added: 0.2.0
description:
  - Reads on one node, in one connection, what C(playbooks/expand_2n.yml) and C(playbooks/rollback_2n.yml)
    decide on. That is the identity the server runs with and whether it holds data (as
    M(smooth.mariadb.server_identity) returns them), every replication connection (as
    M(smooth.mariadb.replication_info) returns them), the GTID position of the binary log, whether the
    node is marked seeded, the split points it recorded and the marks the cleanup leaves before it deletes
    anything, with the text of each, the server variables the expansion needs and the size of the data.
  - Decides nothing. The filter P(smooth.mariadb.expansion_state#filter) decides the state of every node
    and pair from the readings of all nodes.
  - When O(login_unix_socket) is set and the socket does not exist, the server counts as stopped; the
    identity is then read from the option files and the data directory, and no connection is returned.
  - Read-only; runs only C(SHOW) and C(SELECT) statements and reads files.
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes.info_module
  - smooth.mariadb.mariadb
options:
  state_dir:
    description:
      - Directory where the cleanup of an expansion leaves its marks (C(expansion-<version>.cleanup)) and the
        verify phase the marks of a verified expansion (C(expansion-<version>.done)).
      - A missing directory means no mark; a mark that cannot be read fails the module.
    type: path
    default: /var/lib/smooth-mariadb
  datadir:
    description:
      - Data directory to look into when the server does not run.
      - When not set, the C(datadir) of the option files, else V(/var/lib/mysql).
    type: path
notes:
  - Needs MariaDB 10.6 or later, and an account that may run C(SHOW ALL SLAVES STATUS) (C(SLAVE MONITOR)).
seealso:
  - module: smooth.mariadb.server_identity
  - module: smooth.mariadb.replication_info
'''

EXAMPLES = r'''
- name: Read the state of every node
  smooth.mariadb.expansion_info:
    login_unix_socket: /run/mysqld/mysqld.sock
  register: smooth_expansion_info

- name: Decide the state of every node and pair
  ansible.builtin.set_fact:
    smooth_state: >-
      {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'smooth_expansion_info')))
         | smooth.mariadb.expansion_state(smooth_plan, smooth_fleet) }}
  run_once: true
'''

RETURN = r'''
retryable:
  description:
    - On failure, whether the same read may pass when run again with nothing fixed - V(true) when the server
      did not answer (it does not run although its socket file is there, or it is restarting after a crash or a
      failover; errors 1053, 1927, 2002, 2003, 2006, 2013). The plan reads again for about a minute then.
  returned: failure
  type: bool
  version_added: 0.2.0
running:
  description: Whether the server runs (its socket exists).
  returned: always
  type: bool
installed:
  description: Whether MariaDB is installed (a running server, C(my_print_defaults) or a data directory).
  returned: always
  type: bool
source:
  description: Where the identity was read, V(server), V(option files) or V(none).
  returned: always
  type: str
identity:
  description: C(server_id), C(gtid_domain_id), C(auto_increment_increment) and C(auto_increment_offset); null without MariaDB.
  returned: always
  type: dict
datadir:
  description: The data directory.
  returned: always
  type: str
user_databases:
  description: Databases other than the system schemas and C(smooth_mariadb).
  returned: always
  type: list
  elements: str
seeded:
  description: Whether the seed record C(smooth_mariadb.seed) exists.
  returned: always
  type: bool
holds_data:
  description: Whether the server holds data (user databases, or GTIDs in its binary log or applied by replication).
  returned: always
  type: bool
evidence:
  description: What shows that it holds data, for messages.
  returned: always
  type: list
  elements: str
gtid_binlog_state:
  description: C(@@gtid_binlog_state); empty when the server does not run.
  returned: always
  type: str
gtid_binlog_pos:
  description: C(@@gtid_binlog_pos), the last GTID of every domain of the binary log; empty when the server does not run.
  returned: always
  type: str
gtid_slave_pos:
  description: C(@@gtid_slave_pos); empty when the server does not run.
  returned: always
  type: str
server_version:
  description: Version string of the server; empty when it does not run.
  returned: always
  type: str
connections:
  description:
    - Every replication connection, keyed by name, with the keys M(smooth.mariadb.replication_info) returns;
      empty when the server does not run.
  returned: always
  type: dict
  sample:
    db-2:
      connection_name: db-2
      source_host: 10.0.0.12
      running: true
variables:
  description:
    - GTID, binlog and identity variables of the server, with the keys M(smooth.mariadb.replication_info) returns
      (C(binlog_format), C(log_bin), C(log_slave_updates), C(slave_skip_errors), C(read_only) and more); empty when the
      server does not run.
  returned: always
  type: dict
data_bytes:
  description:
    - Bytes of data and indexes of the user schemas (C(information_schema.tables)), what a new node receives; null
      when the server does not run.
  returned: always
  type: int
disk:
  description: Free space where the data is, or will be once MariaDB is installed (the data directory or its nearest existing parent).
  returned: always
  type: dict
  contains:
    path:
      description: The directory measured.
      type: str
    free_bytes:
      description: Bytes available to MariaDB there.
      type: int
split_points:
  description: The rows of C(smooth_mariadb.split_point), where the binary log stood when the node split, per map version.
  returned: always
  type: list
  elements: dict
  contains:
    version:
      description: The shard map version of the expansion.
      type: int
    modulus:
      description: The modulus after that expansion.
      type: int
    gtid_binlog_pos:
      description: C(@@gtid_binlog_pos) at the split.
      type: str
    recorded_at:
      description: When, in UTC.
      type: str
cleanup_marks:
  description: The marks in O(state_dir), sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    mark:
      description: File name.
      type: str
    path:
      description: Full path.
      type: str
    modulus:
      description: The modulus the mark names; null when it names none (a decision counts that as begun).
      type: int
    text:
      description: What the mark says (its first 4096 bytes).
      type: str
  sample:
    - mark: expansion-2.cleanup
      path: /var/lib/smooth-mariadb/expansion-2.cleanup
      modulus: 4
      text: cleanup of map version 2 (modulus 4) began 2026-12-03T10:00:00Z
done_marks:
  description:
    - The marks of a verified expansion in O(state_dir) (C(expansion-<version>.done)), sorted by name; the same
      fields as RV(cleanup_marks).
  returned: always
  type: list
  elements: dict
  version_added: 0.2.0
  sample:
    - mark: expansion-2.done
      path: /var/lib/smooth-mariadb/expansion-2.done
      modulus: 4
      text: expansion to shard map version 2 (modulus 4) verified
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    MariaDBConnectError,
    MariaDBQueryError,
    SqlSession,
    check_server_version,
    connect_with_params,
    mariadb_common_argument_spec,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.replication import read_all_slaves_status, read_server_variables
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import UNANSWERED_ERRNOS
from ansible_collections.smooth.mariadb.plugins.module_utils.server_reading import (
    free_space,
    read_cleanup_marks,
    read_data_bytes,
    read_done_marks,
    read_running,
    read_split_points,
    read_stopped,
)


def argument_spec():
    spec = mariadb_common_argument_spec()
    spec.update(
        state_dir=dict(type='path', default='/var/lib/smooth-mariadb'),
        datadir=dict(type='path'),
    )
    return spec


def connect(module):
    """The connection, or the module's failure: with ``retryable`` true when the server did not answer (a socket
    file that a server which died left behind, a server restarting after a crash or a failover)."""
    try:
        return connect_with_params(module.params)
    except MariaDBConnectError as exc:
        if exc.errno in UNANSWERED_ERRNOS:
            module.fail_json(msg='%s. The server does not answer: it does not run (its socket file is left from a '
                                 'server that died) or it is restarting. The same read may pass once it is up '
                                 '(retryable): start it, or let systemd restart it. Nothing was changed.' % exc,
                             retryable=True, errno=exc.errno)
        module.fail_json(msg=str(exc), retryable=False, errno=exc.errno)


def read_server(module):
    """The readings that need the server: identity, connections, split points."""
    connection = connect(module)
    session = SqlSession(connection, read_only=True)
    try:
        result = read_running(session)
        problem = check_server_version(result['server_version'])
        if problem:
            module.fail_json(msg=problem)
        result['connections'] = read_all_slaves_status(session)
        result['variables'] = read_server_variables(session)
        result['data_bytes'] = read_data_bytes(session)
        result['split_points'] = read_split_points(session)
    except MariaDBQueryError as exc:
        module.fail_json(msg='Reading the state of the expansion failed: %s failed: %s' % (exc.statement, exc.message))
    finally:
        connection.close()
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    socket = module.params['login_unix_socket']
    if socket and not os.path.exists(socket):
        result = read_stopped(module)
        result.update(connections={}, variables={}, data_bytes=None, split_points=[])
    else:
        result = read_server(module)
    result['disk'] = free_space(result['datadir'])
    state_dir = module.params['state_dir']
    try:
        result['cleanup_marks'] = read_cleanup_marks(state_dir)
        result['done_marks'] = read_done_marks(state_dir)
    except (OSError, IOError) as exc:
        module.fail_json(msg='Cannot read the marks in %s: %s. A mark that cannot be read is not taken for '
                             'no mark: make the directory and its expansion-* files readable.' % (state_dir, exc))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
