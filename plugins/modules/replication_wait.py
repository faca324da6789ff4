#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: replication_wait
short_description: Wait until a MariaDB replica has applied everything its source had (GTID barrier)
version_added: 0.1.0
description:
  - A catch-up barrier. Reads the source's C(@@gtid_binlog_pos) at the moment of the
    call, then waits on the replica with C(MASTER_GTID_WAIT()) until its
    C(@@gtid_slave_pos) holds that position, at most O(timeout) seconds.
  - With O(pair=true) it also waits in the other direction of a dual-master pair,
    for the source to apply everything the replica had. Both positions are read at
    the start, so both directions are caught up to the same moment.
  - Fails at once, without waiting, when the replication connection is stopped,
    when its SQL thread stopped on an error, or when the source refuses the
    replication account, naming C(Last_IO_Error)/C(Last_SQL_Error).
  - Fails after O(timeout) seconds with the lag, the C(Seconds_Behind_Master) of the
    connection and the GTIDs still missing per domain.
  - "Which domains are waited for: C(MASTER_GTID_WAIT()) compares with
    C(@@gtid_slave_pos), the position of what the replica applied through replication.
    In a dual-master pair with C(log_slave_updates) the source's binary log also holds
    the replica's own domain (its own events, echoed back). The replica never applies
    those through replication, so waiting on them is waiting on an echo, and hangs
    when the echo does not come. A domain of the source's position is therefore
    left out when its last GTID carries the replica's C(server_id) and the replica's
    own C(@@gtid_binlog_pos) already holds that sequence number or a later one (the
    replica wrote it), and when the replica's connection does not receive that domain
    (C(IGNORE_DOMAIN_IDS), C(DO_DOMAIN_IDS)). Every other domain is waited for.
    RV(directions[].skipped_domains) lists what was left out and why. This relies on
    each server writing its own C(gtid_domain_id), which the collection deploys."
  - The wait runs in slices of one second; between slices the connection's threads
    are checked, so a replica that stops replicating during the wait fails at once
    instead of at the end of O(timeout).
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes
  - smooth.mariadb.mariadb
attributes:
  check_mode:
    support: full
    details:
      - The module only reads and waits; it changes nothing, so check mode waits exactly
        as a normal run does (a barrier that did not wait would tell nothing).
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Always reports C(changed=false).
options:
  source:
    description:
      - The source whose position the replica must reach, in the shape every module of the collection
        gives another server.
      - The option file (O(config_file)), timeout and TLS options apply to the source too.
    type: dict
    suboptions:
      login_host:
        description:
          - Host name or address of the source.
          - When omitted, the source is the one the replica's connection (see O(connection_name))
            replicates from, as C(SHOW SLAVE STATUS) reports it (C(Master_Host), C(Master_Port)); that
            address must be reachable from the host running the module.
        type: str
      login_port:
        description:
          - TCP port of the source. Defaults to V(3306) with O(source.login_host), else to the
            connection's C(Master_Port).
        type: int
      login_user:
        description:
          - Account to read the source's position with (and, with O(pair=true), to wait on the
            source). Defaults to O(login_user).
        type: str
      login_password:
        description:
          - Password of O(source.login_user). When O(source.login_user) is not set, defaults to
            O(login_password).
        type: str
      login_unix_socket:
        description: Unix socket of the source, when it runs on the host running the module.
        type: str
  connection_name:
    description:
      - The replica's replication connection that receives from the source.
      - When omitted, the connection whose C(Master_Server_Id) is the source's
        C(server_id), else the one pointing at O(source.login_host)/O(source.login_port), else the
        only connection of the replica.
    type: str
  pair:
    description:
      - Also wait for the source to apply everything the replica had at the start
        (the other direction of a dual-master pair).
    type: bool
    default: false
  source_connection_name:
    description:
      - With O(pair=true), the source's connection that receives from the replica.
        Found like O(connection_name) when omitted.
    type: str
  timeout:
    description:
      - Seconds to wait in all (both directions together), from 0 to 86400. V(0)
        checks once without waiting.
    type: float
    default: 300
notes:
  - Needs MariaDB 10.6 or later, GTID replication and the C(SLAVE MONITOR) (or
    C(REPLICATION CLIENT)/C(SUPER)) privilege to read replication status, on the replica
    and, with O(pair=true), on the source.
  - C(MASTER_GTID_WAIT()) only waits on domains; a replica whose C(gtid_slave_pos) is
    ahead of the source in a domain passes it at once.
seealso:
  - module: smooth.mariadb.replication
  - module: smooth.mariadb.replication_info
  - name: MASTER_GTID_WAIT
    description: MariaDB reference of the function this module waits with.
    link: https://mariadb.com/kb/en/master_gtid_wait/
'''

EXAMPLES = r'''
- name: Wait until both nodes of the pair applied everything the other one had
  smooth.mariadb.replication_wait:
    pair: true
    timeout: 120
    login_host: 10.0.0.11
    login_user: smooth_admin
    login_password: "{{ vault_admin_password }}"
    source:
      login_host: 10.0.0.12

- name: Wait until this node applied what its partner (connection 'peer') had
  smooth.mariadb.replication_wait:
    connection_name: peer
    login_unix_socket: /run/mysqld/mysqld.sock
    source:
      login_user: smooth_admin
      login_password: "{{ vault_admin_password }}"
  register: barrier

- name: Show how long it waited
  ansible.builtin.debug:
    msg: "caught up with {{ barrier.directions[0].wait_position }} in {{ barrier.waited_seconds }} s"
'''

RETURN = r'''
changed:
  description: Always false; the module only reads and waits.
  returned: always
  type: bool
waited_seconds:
  description: Seconds from the first read of the positions to the end of the wait, all directions together.
  returned: always
  type: float
  sample: 0.42
directions:
  description:
    - One entry per direction waited for (two with O(pair=true)), in order.
    - On failure, the directions done so far and the one that failed.
  returned: always
  type: list
  elements: dict
  contains:
    replica:
      description: The server that had to catch up (host:port or socket).
      type: str
      sample: 127.0.0.1:3307
    source:
      description: The server whose position it had to reach.
      type: str
      sample: 10.0.0.12:3306
    connection_name:
      description: The replica's connection receiving from the source.
      type: str
      sample: peer
    source_position:
      description: The source's C(@@gtid_binlog_pos) at the start.
      type: str
      sample: 1-11-4711,2-12-815
    wait_position:
      description: The part of it waited for (see skipped_domains).
      type: str
      sample: 1-11-4711
    skipped_domains:
      description: Domains of source_position not waited for, with the reason.
      type: list
      elements: dict
      sample:
        - domain: 2
          gtid: 2-12-815
          reason: "written by the replica itself (server_id 12); its binary log holds 2-12-815"
    reached_position:
      description: The replica's C(@@gtid_slave_pos) when the wait ended.
      type: str
      sample: 1-11-4711,2-12-815
    seconds:
      description: Seconds this direction waited.
      type: float
      sample: 0.41
    reached:
      description: Whether the replica reached wait_position.
      type: bool
    missing:
      description: Domains still behind when the wait failed (C(domain), C(wanted), C(reached), C(behind)).
      type: list
      elements: dict
      returned: on failure
    seconds_behind_master:
      description: C(Seconds_Behind_Master) of the connection when the wait failed.
      type: int
      returned: on failure
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.smooth.mariadb.plugins.module_utils.gtid import (
    ConnectionChoiceError,
    Server,
    WaitFailed,
    choose_connection,
    connect_params,
    pick,
    refuse_broken,
    wait_direction,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    SqlSession,
    check_server_version,
    describe_target,
    mariadb_common_argument_spec,
    mariadb_connect,
    server_login_options,
    server_params,
)

MAX_TIMEOUT = 86400.0


def argument_spec():
    spec = mariadb_common_argument_spec()
    # Without a port, the connection's (with login_host, 3306).
    spec.update(
        source=dict(type='dict', options=dict(server_login_options(), login_port=dict(type='int'))),
        connection_name=dict(type='str'),
        pair=dict(type='bool', default=False),
        source_connection_name=dict(type='str'),
        timeout=dict(type='float', default=300),
    )
    return spec


def run_module(params, replica, open_source, clock=time.monotonic):
    """Read both ends, then wait; returns the result dict or raises WaitFailed."""
    started = clock()
    deadline = started + params['timeout']

    replica.read_position()
    problem = check_server_version(replica.version)
    if problem:
        raise WaitFailed('%s: %s' % (replica.label, problem), {})
    statuses = replica.statuses()

    given = params.get('source') or {}
    if given.get('login_host') is None:
        try:
            name, status = choose_connection(statuses, params['connection_name'])
        except ConnectionChoiceError as exc:
            raise WaitFailed('Replica %s: %s' % (replica.label, exc), {})
        source = open_source(status.get('source_host'), given.get('login_port') or status.get('source_port'))
        source.read_position()
    else:
        source = open_source(given['login_host'], given.get('login_port') or 3306)
        source.read_position()
        name, status = pick(replica, statuses, params['connection_name'], source,
                            host=given['login_host'], port=given.get('login_port') or 3306)
    refuse_broken(replica, source, name, status)

    reverse_name = None
    if params['pair']:
        reverse_name, reverse_status = pick(source, source.statuses(), params['source_connection_name'], replica,
                                            what='source')
        refuse_broken(source, replica, reverse_name, reverse_status)

    # The moment of the call: the source's position, then the replica's (read
    # after it, so it covers the replica's own events echoed in the source's),
    # then the source's own binary log for the reverse direction.
    source_pos = source.binlog_pos()
    replica_pos = replica.binlog_pos()
    source_own = source.binlog_pos() if params['pair'] else ''

    directions = []
    try:
        directions.append(wait_direction(replica, source.label, name, source_pos, replica_pos, deadline, clock=clock))
        if params['pair']:
            directions.append(wait_direction(source, replica.label, reverse_name, replica_pos, source_own, deadline,
                                             clock=clock))
    except WaitFailed as exc:
        exc.entry = dict(directions=directions + [exc.entry], waited_seconds=round(clock() - started, 3))
        raise
    return dict(changed=False, directions=directions, waited_seconds=round(clock() - started, 3))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if not 0 <= params['timeout'] <= MAX_TIMEOUT:
        module.fail_json(msg='timeout must be between 0 and %d seconds, got %s' % (MAX_TIMEOUT, params['timeout']))

    connection = mariadb_connect(module)
    replica = Server(SqlSession(connection, read_only=True), describe_target(params))
    opened = []

    def open_source(host, port):
        login = server_params(dict(params['source'] or {}, login_host=host, login_port=port), params)
        source_connection, label = connect_params(module, login)
        opened.append(source_connection)
        return Server(SqlSession(source_connection, read_only=True), label)

    try:
        result = run_module(params, replica, open_source)
    except WaitFailed as exc:
        extra = exc.entry if 'directions' in exc.entry else dict(directions=[], waited_seconds=0.0)
        module.fail_json(msg=exc.message, changed=False, **extra)
    finally:
        for item in [connection] + opened:
            item.close()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
