#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: replication_info
short_description: Report the replication state of a MariaDB server
version_added: 0.1.0
description:
  - Reads every replication connection of a MariaDB server (C(SHOW ALL SLAVES STATUS)),
    with normalised keys, plus the server's GTID, binlog and identity variables.
  - Read-only; runs only C(SHOW) and C(SELECT) statements.
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes.info_module
  - smooth.mariadb.mariadb
options: {}
notes:
  - Needs MariaDB 10.6 or later and an account with the C(SLAVE MONITOR) (or C(SUPER)) privilege.
seealso:
  - module: smooth.mariadb.replication
'''

EXAMPLES = r'''
- name: Read the replication state
  smooth.mariadb.replication_info:
    login_unix_socket: /run/mysqld/mysqld.sock
  register: repl

- name: Both directions run without lag
  ansible.builtin.assert:
    that:
      - repl.connections.partner.running
      - repl.lag.partner == 0
      - repl.variables.log_slave_updates
      - repl.variables.binlog_format == 'ROW'
    fail_msg: "{{ repl.connections.partner.last_io_error }} {{ repl.connections.partner.last_sql_error }}"

- name: Wait until the replica has applied everything the source had
  smooth.mariadb.replication_info:
    login_host: "{{ replica_ip }}"
    login_user: monitor
    login_password: "{{ vault_monitor_password }}"
  register: replica
  until: replica.connections.partner.running and replica.lag.partner == 0
  retries: 30
  delay: 2
'''

RETURN = r'''
server_version:
  description: Version string of the server.
  returned: always
  type: str
  sample: 10.11.19-MariaDB-0+deb12u1-log
connection_names:
  description: Names of all replication connections, sorted ('' is the default connection).
  returned: always
  type: list
  elements: str
  sample: [partner]
connections:
  description:
    - Status of every replication connection, keyed by connection name.
    - Keys are C(SHOW ALL SLAVES STATUS) columns in snake case with C(source) for C(master);
      columns not listed below are kept under their lower-cased name.
  returned: always
  type: dict
  contains:
    connection_name:
      description: Name of the connection.
      type: str
    source_host:
      description: Source server (C(Master_Host)).
      type: str
    source_port:
      description: Port of the source (C(Master_Port)).
      type: int
    source_user:
      description: Replication account (C(Master_User)).
      type: str
    io_running_state:
      description: C(Slave_IO_Running) as the server says it, V(Yes), V(No) or V(Connecting).
      type: str
    io_running:
      description: Whether the IO thread runs and is connected (C(Slave_IO_Running) is V(Yes)).
      type: bool
    io_connecting:
      description: Whether the IO thread is trying to connect (C(Slave_IO_Running) is V(Connecting)).
      type: bool
    sql_running_state:
      description: C(Slave_SQL_Running), V(Yes) or V(No).
      type: str
    sql_running:
      description: Whether the SQL thread runs.
      type: bool
    running:
      description: Whether both threads run.
      type: bool
    io_state:
      description: What the IO thread does (C(Slave_IO_State)).
      type: str
    sql_state:
      description: What the SQL thread does (C(Slave_SQL_Running_State)).
      type: str
    last_io_errno:
      description: Number of the last IO thread error, 0 for none.
      type: int
    last_io_error:
      description: Text of the last IO thread error.
      type: str
    last_sql_errno:
      description: Number of the last SQL thread error, 0 for none.
      type: int
    last_sql_error:
      description: Text of the last SQL thread error.
      type: str
    seconds_behind_master:
      description: Replication lag in seconds; null when a thread does not run.
      type: int
    using_gtid:
      description: GTID mode, V(slave_pos), V(current_pos) or V(no).
      type: str
    gtid_io_pos:
      description: GTID position the IO thread has read up to.
      type: str
    gtid_slave_pos:
      description: C(@@gtid_slave_pos) as shown with this connection.
      type: str
    source_log_file:
      description: Binary log of the source the IO thread reads (C(Master_Log_File)).
      type: str
    read_source_log_pos:
      description: Position read by the IO thread (C(Read_Master_Log_Pos)).
      type: int
    relay_source_log_file:
      description: Binary log of the source the SQL thread executes (C(Relay_Master_Log_File)).
      type: str
    exec_source_log_pos:
      description: Position executed by the SQL thread (C(Exec_Master_Log_Pos)).
      type: int
    relay_log_space:
      description: Bytes of relay logs.
      type: int
    connect_retry:
      description: Seconds between connection attempts.
      type: int
    heartbeat_period:
      description: Heartbeat period in seconds.
      type: float
    source_server_id:
      description: C(server_id) of the source.
      type: int
    source_ssl:
      description: Whether TLS is configured (C(MASTER_SSL)).
      type: bool
    source_ssl_allowed:
      description: C(Master_SSL_Allowed) as the server says it.
      type: str
    source_ssl_ca:
      description: C(MASTER_SSL_CA).
      type: str
    source_ssl_verify_server_cert:
      description: C(MASTER_SSL_VERIFY_SERVER_CERT).
      type: bool
  sample:
    partner:
      connection_name: partner
      source_host: 10.0.0.12
      source_port: 3306
      source_user: repl
      io_running_state: 'Yes'
      io_running: true
      sql_running_state: 'Yes'
      sql_running: true
      running: true
      seconds_behind_master: 0
      using_gtid: slave_pos
      gtid_io_pos: 1-11-42,2-12-7
lag:
  description: C(seconds_behind_master) of every connection, keyed by connection name; null when unknown.
  returned: always
  type: dict
  sample:
    partner: 0
variables:
  description: GTID, binlog and identity variables of the server.
  returned: always
  type: dict
  contains:
    version:
      description: C(@@version).
      type: str
    hostname:
      description: C(@@hostname).
      type: str
    server_id:
      description: C(@@server_id).
      type: int
    gtid_domain_id:
      description: C(@@gtid_domain_id).
      type: int
    gtid_binlog_pos:
      description: Last GTID written to the binary log, per domain.
      type: str
    gtid_binlog_state:
      description: C(@@gtid_binlog_state).
      type: str
    gtid_current_pos:
      description: Last GTID applied or written, per domain.
      type: str
    gtid_slave_pos:
      description: Last GTID applied by replication, per domain.
      type: str
    gtid_strict_mode:
      description: C(@@gtid_strict_mode).
      type: bool
    gtid_ignore_duplicates:
      description: C(@@gtid_ignore_duplicates).
      type: bool
    read_only:
      description: C(@@read_only), a bool (a string if the server reports a non-boolean value).
      type: raw
    log_bin:
      description: Whether binary logging is on.
      type: bool
    binlog_format:
      description: C(@@binlog_format).
      type: str
    log_slave_updates:
      description: C(@@log_slave_updates).
      type: bool
    slave_skip_errors:
      description: C(@@slave_skip_errors), V(OFF) when no error is skipped.
      type: str
    auto_increment_increment:
      description: C(@@auto_increment_increment).
      type: int
    auto_increment_offset:
      description: C(@@auto_increment_offset).
      type: int
  sample:
    server_id: 11
    gtid_domain_id: 1
    gtid_binlog_pos: 1-11-42
    gtid_current_pos: 1-11-42,2-12-7
    gtid_slave_pos: 2-12-7
    log_bin: true
    binlog_format: ROW
    log_slave_updates: true
    read_only: false
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    MariaDBQueryError,
    SqlSession,
    check_server_version,
    mariadb_common_argument_spec,
    mariadb_connect,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.replication import (
    read_all_slaves_status,
    read_server_variables,
)


def run_module(module, session):
    version = session.fetch_one('SELECT VERSION() AS version')['version']
    problem = check_server_version(version)
    if problem:
        module.fail_json(msg=problem)
    variables = read_server_variables(session)
    connections = read_all_slaves_status(session)
    return dict(
        changed=False,
        server_version=variables['version'],
        connection_names=sorted(connections),
        connections=connections,
        lag=dict((name, status.get('seconds_behind_master')) for name, status in connections.items()),
        variables=variables,
    )


def main():
    module = AnsibleModule(argument_spec=mariadb_common_argument_spec(), supports_check_mode=True)
    connection = mariadb_connect(module)
    session = SqlSession(connection, read_only=True)
    try:
        result = run_module(module, session)
    except MariaDBQueryError as exc:
        module.fail_json(msg='Reading the replication state failed: %s failed: %s' % (exc.statement, exc.message))
    finally:
        connection.close()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
