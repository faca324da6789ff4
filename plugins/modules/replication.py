#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: replication
short_description: Configure, start, stop and remove a named MariaDB replication connection
version_added: 0.1.0
description:
  - Manages one replication connection of a MariaDB replica (multi-source
    replication, C(CHANGE MASTER 'name' TO ...)), identified by O(connection_name).
  - Reads the current state with C(SHOW ALL SLAVES STATUS), plans the statements
    needed, and runs them unless in check mode. When the configuration already
    matches, nothing is run and the task reports no change.
  - MariaDB refuses C(CHANGE MASTER) while the connection runs, so a running
    connection that needs a change is stopped, changed, and started again.
  - After starting a connection, the module waits (at most O(start_timeout)
    seconds) until both the IO and the SQL thread run, and fails with the
    server's C(Last_IO_Error) or C(Last_SQL_Error) when they do not.
  - The replication password cannot be read back from the server, so it is not
    compared; see O(update_password).
  - With O(state=absent) and O(end_dump_threads_for), the module also ends this
    server's binary log dump threads that serve those hosts, former replicas that
    no longer replicate from it.
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes
  - smooth.mariadb.mariadb
attributes:
  check_mode:
    support: full
    details:
      - Only C(SHOW) and C(SELECT) statements are run; RV(queries) lists the statements that would run,
        including the C(KILL CONNECTION) of every dump thread O(end_dump_threads_for) would end.
  diff_mode:
    support: full
    details:
      - The diff shows the connection's settings and thread states, never the password, and with
        O(end_dump_threads_for) the ids of the dump threads it ends (C(dump_threads)).
  idempotent:
    support: partial
    details:
      - With O(update_password=always) the password is sent, and so a change reported, on every run.
options:
  connection_name:
    description:
      - Name of the replication connection. The empty string is the default connection.
      - MariaDB compares connection names case-insensitively.
    type: str
    default: ''
  state:
    description:
      - V(present) configures the connection and leaves its threads as they were
        (a running connection that needs a change is stopped and started again).
      - V(started) configures the connection and makes sure it runs, waiting until
        both replication threads run.
      - V(stopped) stops the connection; options given are applied, so a connection
        can be configured without starting it. A connection that does not exist is
        left alone unless O(source_host) is given.
      - V(absent) stops the connection and removes it (C(RESET SLAVE 'name' ALL)).
        C(@@GLOBAL.gtid_slave_pos), shared by all connections, is left as it is.
    type: str
    choices: [present, started, stopped, absent]
    default: present
  source_host:
    description:
      - Host name or address of the source (primary) server.
      - Required to create a connection. When omitted, an existing connection keeps
        its source and only the options given are enforced.
    type: str
  source_port:
    description:
      - TCP port of the source server.
      - Defaults to V(3306) when O(source_host) is given; otherwise only enforced when given.
    type: int
  source_user:
    description:
      - Replication account on the source; it needs the C(REPLICATION SLAVE) privilege.
    type: str
  source_password:
    description:
      - Password of O(source_user).
      - Sent when the connection is created, when O(source_host), O(source_port)
        or O(source_user) change, when the source refuses the stored password
        (C(Last_IO_Errno) 1045, so a corrected password gets through), and on every
        run with O(update_password=always).
    type: str
  update_password:
    description:
      - V(on_create) sends O(source_password) only when the connection is created,
        pointed at another source or account, or failing to log in to the source.
      - V(always) sends it on every run; the connection is restarted if it runs and
        the task always reports a change, since the stored password cannot be compared.
    type: str
    choices: [on_create, always]
    default: on_create
  use_gtid:
    description:
      - How the replica tracks its position (C(MASTER_USE_GTID)).
      - Defaults to V(slave_pos) when O(source_host) is given without binlog
        coordinates, and to V(no) when O(source_log_file) is given.
    type: str
    choices: [slave_pos, current_pos, 'no']
  source_log_file:
    description:
      - Binary log file of the source to start replicating from (binlog coordinates).
      - Needs O(source_log_pos); sets O(use_gtid=no).
      - Coordinates are a starting point. They are applied when the connection is
        created, when it is pointed at another source, or when it switches from GTID
        to coordinates. An existing connection that already replicates from this
        source keeps its position; remove it first (O(state=absent)) to start over.
    type: str
  source_log_pos:
    description:
      - Position in O(source_log_file) to start from (4 or more).
    type: int
  gtid_slave_pos:
    description:
      - GTID position to set in C(@@GLOBAL.gtid_slave_pos) before the connection is
        created, for example the position recorded with a dump of the source.
      - Applied only when the connection does not exist yet and the value differs
        from the current one. The variable is shared by all connections of the
        server, so the module refuses to change it while any replication connection
        runs. On an existing connection the option is ignored.
      - The position may be behind the server's own binary log in a domain (a node
        joining a pair that echoes its own writes back, see
        P(smooth.mariadb.gtid_start_position#filter)), which MariaDB refuses under
        C(gtid_strict_mode); the module sets it in one compound statement that turns
        C(gtid_strict_mode) off for that one C(SET) and restores it, also on failure.
    type: str
  connect_retry:
    description:
      - Seconds between reconnection attempts of the IO thread (C(MASTER_CONNECT_RETRY)).
    type: int
  heartbeat_period:
    description:
      - Seconds between heartbeats from the source (C(MASTER_HEARTBEAT_PERIOD)),
        kept to the millisecond. V(0) disables heartbeats.
    type: float
  source_ssl:
    description:
      - Whether the connection to the source uses TLS (C(MASTER_SSL)).
    type: bool
  source_ssl_ca:
    description:
      - CA certificate file on the replica (C(MASTER_SSL_CA)).
    type: str
  source_ssl_capath:
    description:
      - Directory of CA certificates on the replica (C(MASTER_SSL_CAPATH)).
    type: str
  source_ssl_cert:
    description:
      - Client certificate file on the replica (C(MASTER_SSL_CERT)).
    type: str
  source_ssl_key:
    description:
      - Client private key file on the replica (C(MASTER_SSL_KEY)).
    type: str
  source_ssl_cipher:
    description:
      - Allowed TLS ciphers (C(MASTER_SSL_CIPHER)).
    type: str
  source_ssl_crl:
    description:
      - Certificate revocation list file on the replica (C(MASTER_SSL_CRL)).
    type: str
  source_ssl_crlpath:
    description:
      - Directory of certificate revocation lists on the replica (C(MASTER_SSL_CRLPATH)).
    type: str
  source_ssl_verify_server_cert:
    description:
      - Whether the source's certificate must match O(source_host) (C(MASTER_SSL_VERIFY_SERVER_CERT)).
    type: bool
  start_timeout:
    description:
      - Seconds to wait, after starting the connection, for both replication threads
        to run. The state is polled twice a second.
      - The wait ends early with a failure when a thread stops or the source refuses
        the replication account.
    type: int
    default: 30
  end_dump_threads_for:
    description:
      - Only with O(state=absent). After the connection is removed (or found absent), end with
        C(KILL CONNECTION) every binary log dump thread of this server that serves one of these
        hosts - the threads of former replicas that no longer replicate from it, whichever connection
        they used.
      - A replica that stopped replicating keeps its dump thread here, and stays registered in
        C(SHOW SLAVE HOSTS), until the thread's next event or heartbeat (up to C(slave_net_timeout) / 2
        seconds); M(smooth.mariadb.shard_purge) refuses meanwhile (RV(smooth.mariadb.shard_purge#module:reason)
        V(replica_registered)).
      - A thread's host is the host part of its C(HOST) in C(information_schema.PROCESSLIST) (before the
        port), compared as text, case-insensitively, with no name resolution - give the address the replica
        connects from (with C(skip_name_resolve), its IP address).
      - A thread that ends by itself before its C(KILL) (error 1094, C(ER_NO_SUCH_THREAD)) counts as ended.
      - Stop the replication on those hosts first - a replica that still replicates from this server
        reconnects at once, with a new dump thread.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
notes:
  - Needs MariaDB 10.6 or later. The login account needs the C(REPLICATION SLAVE ADMIN)
    privilege to change replication (C(SUPER) also works) and C(SLAVE MONITOR) to read it;
    with O(end_dump_threads_for), C(PROCESS) to see the dump threads and C(CONNECTION ADMIN)
    (or C(SUPER)) to end them.
  - Statements name the connection as a string literal (C(START SLAVE 'name')); all
    values are bound parameters.
seealso:
  - module: smooth.mariadb.replication_info
  - name: CHANGE MASTER TO
    description: MariaDB reference of the statement this module builds.
    link: https://mariadb.com/kb/en/change-master-to/
  - name: Multi-source replication
    description: Named replication connections in MariaDB.
    link: https://mariadb.com/kb/en/multi-source-replication/
'''

EXAMPLES = r'''
- name: Replicate from the partner node with GTID and make sure it runs
  smooth.mariadb.replication:
    connection_name: partner
    state: started
    source_host: 10.0.0.12
    source_user: repl
    source_password: "{{ vault_repl_password }}"
    login_unix_socket: /run/mysqld/mysqld.sock

- name: Configure a connection from the coordinates of a dump, without starting it
  smooth.mariadb.replication:
    connection_name: seed
    state: stopped
    source_host: 10.0.0.21
    source_port: 3306
    source_user: repl
    source_password: "{{ vault_repl_password }}"
    source_log_file: mysql-bin.000042
    source_log_pos: 1337
    login_unix_socket: /run/mysqld/mysqld.sock

- name: Start a new GTID connection from the position recorded with a dump
  smooth.mariadb.replication:
    connection_name: partner
    state: started
    source_host: 10.0.0.12
    source_user: repl
    source_password: "{{ vault_repl_password }}"
    gtid_slave_pos: "1-11-4711,2-12-815"
    start_timeout: 60
    login_unix_socket: /run/mysqld/mysqld.sock

- name: Stop replicating from the partner
  smooth.mariadb.replication:
    connection_name: partner
    state: stopped
    login_unix_socket: /run/mysqld/mysqld.sock

- name: Remove the connection for good (RESET SLAVE 'partner' ALL)
  smooth.mariadb.replication:
    connection_name: partner
    state: absent
    login_host: 10.0.0.11
    login_user: admin
    login_password: "{{ vault_admin_password }}"

# Once the partner has stopped replicating from this node too (the task above ran on both nodes),
# end the dump thread that still serves it here.
- name: End the binlog dump threads that still serve the former partner
  smooth.mariadb.replication:
    connection_name: partner
    state: absent
    end_dump_threads_for: [10.0.0.12]
    login_unix_socket: /run/mysqld/mysqld.sock
'''

RETURN = r'''
changed:
  description: Whether statements were run (or, in check mode, would be).
  returned: always
  type: bool
connection_name:
  description: The connection managed, spelled as on the server when it exists.
  returned: always
  type: str
  sample: partner
queries:
  description:
    - Statements that changed the server, in order; in check mode, those that would run.
    - Passwords are masked.
  returned: always
  type: list
  elements: str
  sample:
    - STOP SLAVE 'partner'
    - CHANGE MASTER 'partner' TO MASTER_HOST = '10.0.0.12', MASTER_PORT = 3306, MASTER_USER = 'repl',
      MASTER_PASSWORD = '********', MASTER_USE_GTID = slave_pos
    - START SLAVE 'partner'
status:
  description:
    - Normalised C(SHOW ALL SLAVES STATUS) of the connection after the task; in check
      mode, as it was. Empty when the connection does not exist.
    - See M(smooth.mariadb.replication_info) for every key.
  returned: always
  type: dict
  sample:
    connection_name: partner
    source_host: 10.0.0.12
    source_port: 3306
    source_user: repl
    io_running: true
    io_running_state: 'Yes'
    sql_running: true
    sql_running_state: 'Yes'
    running: true
    using_gtid: slave_pos
    gtid_io_pos: 1-11-42
    seconds_behind_master: 0
    last_io_errno: 0
    last_io_error: ''
    last_sql_errno: 0
    last_sql_error: ''
dump_threads:
  description:
    - With O(end_dump_threads_for), the binary log dump threads found serving those hosts, each with
      C(id), C(user), C(host) (as in C(information_schema.PROCESSLIST)), C(command) and C(gone) - V(true)
      when the thread had ended by itself before its C(KILL) (error 1094). In check mode, the threads that
      would be ended (C(gone) false).
  returned: always
  type: list
  elements: dict
  sample:
    - {id: 42, user: smooth_repl, host: "10.0.0.12:41234", command: Binlog Dump, gone: false}
  version_added: 0.2.0
diff:
  description: Settings and thread states of the connection before and after (never the password).
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: Before the task; empty when the connection did not exist.
      type: dict
    after:
      description: After the task (predicted in check mode); empty when the connection is removed.
      type: dict
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    MariaDBQueryError,
    SqlSession,
    check_server_version,
    mariadb_common_argument_spec,
    mariadb_connect,
    render_statement,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.replication import (
    PlanError,
    active_connections,
    assess_start,
    connection_view,
    desired_settings,
    find_connection,
    plan_replication,
    read_all_slaves_status,
    read_connection_status,
    start_statement,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import normalise_host, read_dump_threads

POLL_INTERVAL = 0.5
ER_NO_SUCH_THREAD = 1094


def argument_spec():
    spec = mariadb_common_argument_spec()
    spec.update(
        connection_name=dict(type='str', default=''),
        state=dict(type='str', default='present', choices=['present', 'started', 'stopped', 'absent']),
        source_host=dict(type='str'),
        source_port=dict(type='int'),
        source_user=dict(type='str'),
        source_password=dict(type='str', no_log=True),
        update_password=dict(type='str', default='on_create', choices=['on_create', 'always'], no_log=False),
        use_gtid=dict(type='str', choices=['slave_pos', 'current_pos', 'no']),
        source_log_file=dict(type='str'),
        source_log_pos=dict(type='int'),
        gtid_slave_pos=dict(type='str'),
        connect_retry=dict(type='int'),
        heartbeat_period=dict(type='float'),
        source_ssl=dict(type='bool'),
        source_ssl_ca=dict(type='str'),
        source_ssl_capath=dict(type='str'),
        source_ssl_cert=dict(type='str'),
        source_ssl_key=dict(type='str', no_log=False),
        source_ssl_cipher=dict(type='str'),
        source_ssl_crl=dict(type='str'),
        source_ssl_crlpath=dict(type='str'),
        source_ssl_verify_server_cert=dict(type='bool'),
        start_timeout=dict(type='int', default=30),
        end_dump_threads_for=dict(type='list', elements='str', default=[]),
    )
    return spec


def client_host(processlist_host):
    """The host part of a PROCESSLIST HOST, lower-cased (pure): '10.0.0.12:41234' -> '10.0.0.12',
    '::1:41234' and '[::1]:41234' -> '::1'; a client on the socket ('localhost') has no port."""
    text = normalise_host(processlist_host) or ''
    if ':' in text:
        text = text.rsplit(':', 1)[0]
    return normalise_host(text)


def dump_threads_serving(threads, hosts):
    """The dump threads (read_dump_threads) whose client is one of ``hosts`` (pure; see client_host)."""
    wanted = set(normalise_host(host) for host in hosts)
    return [thread for thread in threads if client_host(thread['host']) in wanted]


def end_dump_threads(session, threads):
    """KILL CONNECTION each thread; one that already ended (ER_NO_SUCH_THREAD) is ``gone``.

    Returns the threads, each with ``gone``; any other error raises MariaDBQueryError.
    """
    ended = []
    for thread in threads:
        try:
            session.execute('KILL CONNECTION %s', (thread['id'],))
            gone = False
        except MariaDBQueryError as exc:
            if exc.errno != ER_NO_SUCH_THREAD:
                raise
            gone = True
        ended.append(dict(thread, gone=gone))
    return ended


def wait_until_running(session, connection_name, timeout, interval=POLL_INTERVAL):
    """Poll the connection until both threads run; bounded in time and count.

    Returns ``(ok, status, detail)``.
    """
    deadline = time.monotonic() + timeout
    max_polls = int(timeout / interval) + 2
    status = None
    detail = ''
    for dummy in range(max_polls):
        status = read_connection_status(session, connection_name)
        verdict, detail = assess_start(status)
        if verdict == 'running':
            return True, status, detail
        if verdict == 'failed':
            return False, status, detail
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval, remaining))
    return False, status, 'still not running after %d s: %s' % (timeout, detail)


def status_or_empty(session, connection_name):
    """The connection's status for a failure result; {} if it cannot be read."""
    try:
        return read_connection_status(session, connection_name) or {}
    except MariaDBQueryError:
        return {}


def restore_after_failure(session, connection_name, was_io, was_sql):
    """Best effort: restart the threads a failed reconfiguration had stopped."""
    if not (was_io or was_sql):
        return ''
    if was_io and was_sql:
        threads = None
    else:
        threads = 'IO_THREAD' if was_io else 'SQL_THREAD'
    sql, params = start_statement(connection_name, threads)
    try:
        session.execute(sql, params)
    except MariaDBQueryError as exc:
        return ' The connection had been stopped for the change and could not be restarted: %s' % exc.message
    return ' The connection was restarted with its previous configuration.'


def run_module(module, session):
    params = module.params
    state = params['state']
    result = dict(changed=False, queries=[], status={}, connection_name=params['connection_name'], dump_threads=[])

    try:
        desired = desired_settings(params)
    except PlanError as exc:
        module.fail_json(msg=str(exc), **result)
    if params['start_timeout'] < 1:
        module.fail_json(msg='start_timeout must be at least 1 second, got %d' % params['start_timeout'], **result)
    if not all(normalise_host(host) for host in params['end_dump_threads_for']):
        module.fail_json(msg='end_dump_threads_for: every entry must name a host, got %s'
                             % ', '.join(repr(host) for host in params['end_dump_threads_for']), **result)
    if params['end_dump_threads_for'] and state != 'absent':
        module.fail_json(msg='end_dump_threads_for needs state=absent: the threads of replicas that no longer '
                             'replicate from this server are ended once its own connection is gone', **result)

    version = session.fetch_one('SELECT VERSION() AS version')['version']
    problem = check_server_version(version)
    if problem:
        module.fail_json(msg=problem, **result)

    statuses = read_all_slaves_status(session)
    server_name, current = find_connection(statuses, params['connection_name'])
    # Dump threads serving former replicas: ended after the connection's own statements.
    threads = []
    if params['end_dump_threads_for']:
        threads = dump_threads_serving(read_dump_threads(session), params['end_dump_threads_for'])
    name = server_name if server_name is not None else params['connection_name']
    result['connection_name'] = name

    server_gtid_slave_pos = None
    if params['gtid_slave_pos'] is not None:
        server_gtid_slave_pos = session.fetch_one('SELECT @@GLOBAL.gtid_slave_pos AS pos')['pos']

    try:
        plan = plan_replication(
            name, state, current, desired,
            password=params['source_password'],
            update_password=params['update_password'],
            log_file=params['source_log_file'],
            log_pos=params['source_log_pos'],
            gtid_slave_pos=params['gtid_slave_pos'],
            server_gtid_slave_pos=server_gtid_slave_pos,
            other_active=active_connections(statuses, exclude=name),
        )
    except PlanError as exc:
        module.fail_json(msg=str(exc), **dict(result, status=current or {}))

    for warning in plan.warnings:
        module.warn(warning)

    before_view = connection_view(current) or {}
    result['changed'] = bool(plan.statements)

    if module.check_mode:
        result['queries'] = [render_statement(sql, sql_params) for sql, sql_params in plan.statements]
        result['status'] = current or {}
        after_view = plan.after or {}
        result['dump_threads'] = [dict(thread, gone=False) for thread in threads]
        result['queries'] += [render_statement('KILL CONNECTION %s', (thread['id'],)) for thread in threads]
        result['changed'] = result['changed'] or bool(threads)
    else:
        was_io = current is not None and current['io_running_state'] != 'No'
        was_sql = current is not None and current['sql_running_state'] != 'No'
        stopped_for_change = False
        for sql, sql_params in plan.statements:
            try:
                session.execute(sql, sql_params)
            except MariaDBQueryError as exc:
                note = ''
                if stopped_for_change and state != 'stopped' and not sql.startswith('START'):
                    note = restore_after_failure(session, name, was_io, was_sql)
                module.fail_json(
                    msg='Replication connection %r: %s failed: %s.%s'
                        % (name, exc.statement, exc.message.rstrip('.'), note),
                    queries=session.queries, connection_name=name, changed=bool(session.queries),
                    status=status_or_empty(session, name))
            if sql.startswith('STOP SLAVE'):
                stopped_for_change = True

        if plan.wait_for_running:
            ok, status, detail = wait_until_running(session, name, params['start_timeout'])
            if not ok:
                module.fail_json(
                    msg='Replication connection %r did not start replicating: %s' % (name, detail),
                    queries=session.queries, connection_name=name, changed=bool(session.queries),
                    status=status or {})
        try:
            result['dump_threads'] = end_dump_threads(session, threads)
        except MariaDBQueryError as exc:
            module.fail_json(
                msg='Replication connection %r: ending the binlog dump threads that serve %s: %s failed: %s'
                    % (name, ', '.join(params['end_dump_threads_for']), exc.statement, exc.message),
                queries=session.queries, connection_name=name, changed=bool(session.queries),
                status=status_or_empty(session, name), dump_threads=threads)
        result['queries'] = list(session.queries)
        result['changed'] = result['changed'] or any(not thread['gone'] for thread in result['dump_threads'])
        status = read_connection_status(session, name)
        result['status'] = status or {}
        after_view = connection_view(status) or {}

    if module._diff:
        result['diff'] = dict(before=before_view, after=after_view)
        if params['end_dump_threads_for']:
            ended = [thread['id'] for thread in result['dump_threads'] if not thread['gone']]
            result['diff'] = dict(before=dict(before_view, dump_threads=ended), after=dict(after_view, dump_threads=[]))
    return result


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_together=[('source_log_file', 'source_log_pos')],
        mutually_exclusive=[('source_log_file', 'gtid_slave_pos')],
    )
    connection = mariadb_connect(module)
    session = SqlSession(connection, read_only=module.check_mode)
    try:
        result = run_module(module, session)
    except MariaDBQueryError as exc:
        module.fail_json(msg='Replication connection %r: %s failed: %s'
                         % (module.params['connection_name'], exc.statement, exc.message),
                         queries=session.queries, changed=bool(session.queries))
    finally:
        connection.close()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
