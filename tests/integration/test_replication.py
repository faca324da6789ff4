# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smooth.mariadb.replication and replication_info against two real servers, through Ansible."""

from __future__ import annotations

import json
import uuid

from mariadb_lab import ADMIN_PASSWORD, REPL_PASSWORD, REPL_USER

MODULE = 'smooth.mariadb.replication'
INFO = 'smooth.mariadb.replication_info'


def token():
    return uuid.uuid4().hex


def insert_mark(server, origin):
    value = token()
    server.query('INSERT INTO smoke.marks (origin, token) VALUES (%s, %s)', (origin, value))
    return value


def has_mark(server, value):
    return bool(server.query('SELECT id FROM smoke.marks WHERE token = %s', (value,)))


def start_peer(ansible, replica, source, name='peer', **extra):
    args = dict(replica.login_args(), **source.source_args())
    args.update(connection_name=name, state='started', start_timeout=20)
    args.update(extra)
    return ansible(MODULE, args)


def assert_no_secret(result):
    blob = json.dumps(result.result) + result.output
    assert REPL_PASSWORD not in blob
    assert ADMIN_PASSWORD not in blob


def test_dual_master_configure_start_replicate_and_reapply(ansible, servers, waiter):
    a, b = servers.a, servers.b
    first_a = start_peer(ansible, a, b)
    first_b = start_peer(ansible, b, a)
    for result, source in ((first_a, b), (first_b, a)):
        assert result.get('failed') is not True, result.get('msg')
        assert result['changed'] is True
        assert result['queries'] == [
            "CHANGE MASTER 'peer' TO MASTER_HOST = '127.0.0.1', MASTER_PORT = %d, MASTER_USER = 'repl', "
            "MASTER_PASSWORD = '********', MASTER_USE_GTID = slave_pos" % source.port,
            "START SLAVE 'peer'",
        ]
        status = result['status']
        assert status['connection_name'] == 'peer'
        assert (status['io_running_state'], status['sql_running_state']) == ('Yes', 'Yes')
        assert status['running'] is True
        assert status['source_port'] == source.port and status['source_user'] == REPL_USER
        assert status['using_gtid'] == 'slave_pos'
        assert status['last_io_errno'] == 0 and status['last_sql_errno'] == 0
        assert_no_secret(result)

    # The server agrees with what the module reported.
    row = a.slaves()['peer']
    assert (row['Slave_IO_Running'], row['Slave_SQL_Running'], row['Master_Port']) == ('Yes', 'Yes', b.port)

    # A row written on each side shows up on the other.
    from_a = insert_mark(a, 'a')
    from_b = insert_mark(b, 'b')
    waiter(lambda: has_mark(b, from_a), what='row from A on B')
    waiter(lambda: has_mark(a, from_b), what='row from B on A')

    # Applying the same configuration again changes nothing.
    again = start_peer(ansible, a, b)
    assert again['changed'] is False
    assert again['queries'] == []
    assert again['status']['running'] is True

    # Connection names are case-insensitive on the server.
    upper = start_peer(ansible, a, b, name='PEER')
    assert upper['changed'] is False
    assert upper['connection_name'] == 'peer'


def test_check_mode_reports_changes_but_changes_nothing(ansible, servers):
    a, b = servers.a, servers.b
    args = dict(a.login_args(), **b.source_args())
    args.update(connection_name='peer', state='started')

    checked = ansible(MODULE, args, check=True, diff=True)
    assert checked['changed'] is True
    assert checked['queries'][0].startswith("CHANGE MASTER 'peer' TO MASTER_HOST = '127.0.0.1'")
    assert "MASTER_PASSWORD = '********'" in checked['queries'][0]
    assert checked['queries'][-1] == "START SLAVE 'peer'"
    assert checked['status'] == {}
    assert checked['diff']['before'] == {}
    assert checked['diff']['after']['source_port'] == b.port
    assert checked['diff']['after']['io_running_state'] == 'Yes'
    assert a.slaves() == {}, 'check mode created a connection'
    assert_no_secret(checked)

    # On an existing, running connection: a change is predicted, not made.
    assert start_peer(ansible, a, b)['changed'] is True
    checked = ansible(MODULE, dict(args, connect_retry=7), check=True, diff=True)
    assert checked['changed'] is True
    assert checked['queries'] == ["STOP SLAVE 'peer'", "CHANGE MASTER 'peer' TO MASTER_CONNECT_RETRY = 7",
                                  "START SLAVE 'peer'"]
    assert checked['diff']['before']['connect_retry'] == 60
    assert checked['diff']['after']['connect_retry'] == 7
    row = a.slaves()['peer']
    assert row['Connect_Retry'] == 60
    assert (row['Slave_IO_Running'], row['Slave_SQL_Running']) == ('Yes', 'Yes')


def test_diff_of_a_real_change_and_restart(ansible, servers):
    a, b = servers.a, servers.b
    assert start_peer(ansible, a, b)['changed'] is True
    args = dict(a.login_args(), connection_name='peer', state='present', connect_retry=9, heartbeat_period=2.5)
    changed = ansible(MODULE, args, diff=True)
    assert changed['changed'] is True
    assert changed['queries'] == [
        "STOP SLAVE 'peer'",
        "CHANGE MASTER 'peer' TO MASTER_CONNECT_RETRY = 9, MASTER_HEARTBEAT_PERIOD = 2.500",
        "START SLAVE 'peer'",
    ]
    before, after = changed['diff']['before'], changed['diff']['after']
    assert (before['connect_retry'], after['connect_retry']) == (60, 9)
    assert (before['heartbeat_period'], after['heartbeat_period']) == (30.0, 2.5)
    assert after['io_running_state'] == 'Yes' and after['sql_running_state'] == 'Yes'
    assert 'source_password' not in before and 'source_password' not in after
    row = a.slaves()['peer']
    assert (row['Connect_Retry'], float(row['Slave_heartbeat_period'])) == (9, 2.5)
    assert (row['Slave_IO_Running'], row['Slave_SQL_Running']) == ('Yes', 'Yes')
    # present left it running, and a second run is a no-op.
    assert ansible(MODULE, args)['changed'] is False


def test_stop_then_absent(ansible, servers):
    a, b = servers.a, servers.b
    assert start_peer(ansible, a, b)['changed'] is True
    stop = dict(a.login_args(), connection_name='peer', state='stopped')

    stopped = ansible(MODULE, stop)
    assert stopped['changed'] is True
    assert stopped['queries'] == ["STOP SLAVE 'peer'"]
    assert (stopped['status']['io_running_state'], stopped['status']['sql_running_state']) == ('No', 'No')
    row = a.slaves()['peer']
    assert (row['Slave_IO_Running'], row['Slave_SQL_Running']) == ('No', 'No')
    assert ansible(MODULE, stop)['changed'] is False

    # The configuration survives a stop: starting again needs no source options.
    restarted = ansible(MODULE, dict(stop, state='started'))
    assert restarted['queries'] == ["START SLAVE 'peer'"]
    assert restarted['status']['running'] is True

    gone = ansible(MODULE, dict(stop, state='absent'), diff=True)
    assert gone['changed'] is True
    assert gone['queries'] == ["STOP SLAVE 'peer'", "RESET SLAVE 'peer' ALL"]
    assert gone['status'] == {}
    assert gone['diff']['after'] == {} and gone['diff']['before']['source_port'] == b.port
    assert 'peer' not in a.slaves()
    again = ansible(MODULE, dict(stop, state='absent'))
    assert again['changed'] is False and again['queries'] == []


def test_default_connection_name(ansible, servers):
    a, b = servers.a, servers.b
    started = start_peer(ansible, a, b, name='')
    assert started['changed'] is True
    assert started['queries'][0].startswith("CHANGE MASTER '' TO ")
    assert started['connection_name'] == ''
    assert '' in a.slaves()
    assert a.query('SHOW SLAVE STATUS')[0]['Master_Port'] == b.port
    gone = ansible(MODULE, dict(a.login_args(), connection_name='', state='absent'))
    assert gone['queries'] == ["STOP SLAVE ''", "RESET SLAVE '' ALL"]
    assert a.slaves() == {}


def test_binlog_coordinates(ansible, servers, waiter):
    a, b = servers.a, servers.b
    before_coordinates = insert_mark(b, 'b-before')
    master = b.query('SHOW MASTER STATUS')[0]
    after_coordinates = insert_mark(b, 'b-after')

    args = dict(a.login_args(), **b.source_args())
    args.update(connection_name='coords', state='started', source_log_file=master['File'],
                source_log_pos=int(master['Position']), start_timeout=20)
    result = ansible(MODULE, args)
    assert result.get('failed') is not True, result.get('msg')
    assert result['changed'] is True
    assert result['queries'][0] == (
        "CHANGE MASTER 'coords' TO MASTER_HOST = '127.0.0.1', MASTER_PORT = %d, MASTER_USER = 'repl', "
        "MASTER_PASSWORD = '********', MASTER_USE_GTID = no, MASTER_LOG_FILE = '%s', MASTER_LOG_POS = %d"
        % (b.port, master['File'], int(master['Position'])))
    assert result['status']['using_gtid'] == 'no'
    assert result['status']['running'] is True

    waiter(lambda: has_mark(a, after_coordinates), what='row written after the coordinates')
    assert not has_mark(a, before_coordinates), 'a row from before the coordinates was replicated'

    # Coordinates are a starting point: the same task again changes nothing,
    # although the position has moved on.
    insert_mark(b, 'b-later')
    again = ansible(MODULE, args)
    assert again['changed'] is False
    assert again['queries'] == []


def test_wrong_replication_password_fails_with_server_error(ansible, servers):
    a, b = servers.a, servers.b
    wrong = 'Wr0ng-Repl-Pw-5c2a'
    args = dict(a.login_args(), **b.source_args(source_password=wrong))
    args.update(connection_name='peer', state='started', start_timeout=15)
    failed = ansible(MODULE, args, verbosity=3)
    assert failed['failed'] is True
    assert failed['changed'] is True
    msg = failed['msg']
    assert "Replication connection 'peer' did not start replicating" in msg
    assert 'Last_IO_Errno 1045' in msg
    assert "Access denied for user 'repl'@'127.0.0.1' (using password: YES)" in msg
    assert failed['status']['last_io_errno'] == 1045
    assert failed['status']['io_running_state'] == 'Connecting'
    assert wrong not in failed.output
    assert wrong not in json.dumps(failed.result)
    assert failed.returncode == 0  # ignore_errors in the harness; the task itself failed
    # The fix goes through on the next run: the source refuses the stored password.
    fixed = ansible(MODULE, dict(args, source_password=REPL_PASSWORD))
    assert fixed.get('failed') is not True, fixed.get('msg')
    assert fixed['queries'] == ["STOP SLAVE 'peer'", "CHANGE MASTER 'peer' TO MASTER_PASSWORD = '********'",
                                "START SLAVE 'peer'"]
    assert fixed['status']['running'] is True


def test_wrong_login_password_names_the_server(ansible, servers):
    a = servers.a
    wrong = 'N0t-The-Admin-Pw-77'
    failed = ansible(MODULE, dict(a.login_args(login_password=wrong), connection_name='peer', state='stopped'),
                     verbosity=3)
    assert failed['failed'] is True
    assert failed['msg'].startswith("Unable to connect to MariaDB at 127.0.0.1:%d as user 'admin': (1045) "
                                    "Access denied for user 'admin'@'127.0.0.1'" % a.port)
    assert wrong not in failed.output
    assert wrong not in json.dumps(failed.result)
    # Nothing listening: the driver's error, still naming the address.
    refused = ansible(INFO, dict(a.login_args(login_port=1)))
    assert refused['failed'] is True
    assert refused['msg'].startswith('Unable to connect to MariaDB at 127.0.0.1:1 ')
    assert '2003' in refused['msg']


def test_password_never_in_verbose_output(ansible, servers):
    a, b = servers.a, servers.b
    args = dict(a.login_args(), **b.source_args())
    args.update(connection_name='peer', state='started', update_password='always', start_timeout=20)
    result = ansible(MODULE, args, diff=True, verbosity=3)
    assert result.get('failed') is not True, result.get('msg')
    # The verbose output really holds the module's arguments, with the secrets masked.
    assert '"source_password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in result.output
    assert '"source_user": "repl"' in result.output
    assert "MASTER_PASSWORD = '********'" in result['queries'][0]
    assert_no_secret(result)
    # update_password=always sends it again on every run, and says so.
    again = ansible(MODULE, args, verbosity=3)
    assert again['changed'] is True
    assert again['queries'] == ["STOP SLAVE 'peer'", "CHANGE MASTER 'peer' TO MASTER_PASSWORD = '********'",
                                "START SLAVE 'peer'"]
    assert_no_secret(again)


def test_gtid_slave_pos_only_while_everything_is_stopped(ansible, servers):
    a, b = servers.a, servers.b
    assert start_peer(ansible, a, b)['changed'] is True
    original = a.query('SELECT @@GLOBAL.gtid_slave_pos AS pos')[0]['pos']
    wanted = ','.join(part for part in (original, '9-99-5') if part)
    # 127.0.0.2 is another name for the loopback: a distinct source for MariaDB.
    other = dict(a.login_args(), connection_name='other', state='present', source_host='127.0.0.2',
                 source_port=b.port, source_user=REPL_USER, source_password=REPL_PASSWORD, gtid_slave_pos=wanted)
    refused = ansible(MODULE, other)
    assert refused['failed'] is True
    assert 'can only be changed while all of them are stopped' in refused['msg']
    assert "running: 'peer'" in refused['msg']
    assert 'other' not in a.slaves()

    try:
        stopped = ansible(MODULE, dict(a.login_args(), connection_name='peer', state='stopped'))
        assert stopped['changed'] is True
        created = ansible(MODULE, other)
        assert created.get('failed') is not True, created.get('msg')
        assert "SET GLOBAL gtid_slave_pos = '%s';" % wanted in created['queries'][0]
        assert created['queries'][1].startswith("CHANGE MASTER 'other' TO MASTER_HOST = '127.0.0.2'")
        assert '9-99-5' in a.query('SELECT @@GLOBAL.gtid_slave_pos AS pos')[0]['pos']
        # Existing connection: gtid_slave_pos is not applied again.
        assert ansible(MODULE, other)['changed'] is False
    finally:
        a.reset_replication()
        a.query('SET GLOBAL gtid_slave_pos = %s', (original,))


def test_replication_info_shape(ansible, servers, waiter):
    a, b = servers.a, servers.b
    empty = ansible(INFO, a.login_args(), check=True)
    assert empty['changed'] is False
    assert empty['connections'] == {} and empty['connection_names'] == [] and empty['lag'] == {}

    assert start_peer(ansible, a, b)['changed'] is True
    mark = insert_mark(b, 'b-info')
    waiter(lambda: has_mark(a, mark), what='row from B on A')
    info = ansible(INFO, a.login_args(), check=True)
    assert info['changed'] is False
    assert info['server_version'].startswith(('10.', '11.')) and 'MariaDB' in info['server_version']
    assert info['connection_names'] == ['peer']
    peer = info['connections']['peer']
    assert peer['source_host'] == '127.0.0.1' and peer['source_port'] == b.port
    assert peer['io_running'] is True and peer['sql_running'] is True and peer['running'] is True
    assert isinstance(peer['seconds_behind_master'], int)
    assert info['lag'] == {'peer': peer['seconds_behind_master']}
    assert peer['using_gtid'] == 'slave_pos'
    assert peer['gtid_io_pos'].startswith('2-12-') or ',2-12-' in peer['gtid_io_pos']
    for key in ('last_io_error', 'last_sql_error', 'exec_source_log_pos', 'read_source_log_pos',
                'source_log_file', 'relay_log_space', 'connect_retry', 'heartbeat_period', 'source_ssl'):
        assert key in peer, key
    variables = info['variables']
    assert variables['server_id'] == 11 and variables['gtid_domain_id'] == 1
    assert variables['log_bin'] is True and variables['log_slave_updates'] is True
    assert variables['binlog_format'] == 'ROW'
    assert variables['read_only'] is False
    assert variables['slave_skip_errors'] == 'OFF'
    assert (variables['auto_increment_increment'], variables['auto_increment_offset']) == (2, 1)
    assert '2-12-' in variables['gtid_slave_pos'] and '2-12-' in variables['gtid_current_pos']
    server_vars = a.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')[0]['pos']
    assert variables['gtid_binlog_pos'] == server_vars
