# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import Secret, render_statement
from ansible_collections.smooth.mariadb.plugins.module_utils import replication as r

# One row of SHOW ALL SLAVES STATUS as PyMySQL returns it from MariaDB 10.11.19
# (Debian 12), IO thread refused by the source.
ROW_10_11 = {
    'Connection_name': 'a', 'Slave_SQL_State': 'Slave has read all relay log; waiting for more updates',
    'Slave_IO_State': 'Connecting to master', 'Master_Host': '127.0.0.1', 'Master_User': 'repl',
    'Master_Port': 33061, 'Connect_Retry': 1, 'Master_Log_File': 'mysql-bin.000001', 'Read_Master_Log_Pos': 4,
    'Relay_Log_File': 'pid-relay-bin-a.000001', 'Relay_Log_Pos': 4, 'Relay_Master_Log_File': 'mysql-bin.000001',
    'Slave_IO_Running': 'Connecting', 'Slave_SQL_Running': 'Yes', 'Replicate_Do_DB': '',
    'Replicate_Ignore_DB': '', 'Replicate_Do_Table': '', 'Replicate_Ignore_Table': '',
    'Replicate_Wild_Do_Table': '', 'Replicate_Wild_Ignore_Table': '', 'Last_Errno': 0, 'Last_Error': '',
    'Skip_Counter': 0, 'Exec_Master_Log_Pos': 4, 'Relay_Log_Space': 256, 'Until_Condition': 'None',
    'Until_Log_File': '', 'Until_Log_Pos': 0, 'Master_SSL_Allowed': 'No', 'Master_SSL_CA_File': '',
    'Master_SSL_CA_Path': '', 'Master_SSL_Cert': '', 'Master_SSL_Cipher': '', 'Master_SSL_Key': '',
    'Seconds_Behind_Master': None, 'Master_SSL_Verify_Server_Cert': 'No', 'Last_IO_Errno': 1045,
    'Last_IO_Error': "error connecting to master 'repl@127.0.0.1:33061' - retry-time: 1  maximum-retries: 100000  "
                     "message: Access denied for user 'repl'@'127.0.0.1' (using password: YES)",
    'Last_SQL_Errno': 0, 'Last_SQL_Error': '', 'Replicate_Ignore_Server_Ids': '', 'Master_Server_Id': 11,
    'Master_SSL_Crl': '', 'Master_SSL_Crlpath': '', 'Using_Gtid': 'Slave_Pos', 'Gtid_IO_Pos': '1-11-2',
    'Replicate_Do_Domain_Ids': '', 'Replicate_Ignore_Domain_Ids': '', 'Parallel_Mode': 'optimistic',
    'SQL_Delay': 0, 'SQL_Remaining_Delay': None,
    'Slave_SQL_Running_State': 'Slave has read all relay log; waiting for more updates',
    'Slave_DDL_Groups': 2, 'Slave_Non_Transactional_Groups': 0, 'Slave_Transactional_Groups': 0,
    'Replicate_Rewrite_DB': '', 'Retried_transactions': 0, 'Max_relay_log_size': 1073741824,
    'Executed_log_entries': 13, 'Slave_received_heartbeats': 0, 'Slave_heartbeat_period': 30.0,
    'Gtid_Slave_Pos': '1-11-2',
}


def running_row(**overrides):
    row = dict(ROW_10_11)
    row.update({'Slave_IO_Running': 'Yes', 'Slave_IO_State': 'Waiting for master to send event',
                'Last_IO_Errno': 0, 'Last_IO_Error': '', 'Seconds_Behind_Master': 0, 'Connect_Retry': 60})
    row.update(overrides)
    return row


def status(**overrides):
    return r.normalise_slave_status(running_row(**overrides))


# --------------------------------------------------------------------------- normalisation

def test_normalise_real_10_11_row():
    s = r.normalise_slave_status(ROW_10_11)
    expected = {
        'connection_name': 'a', 'source_host': '127.0.0.1', 'source_port': 33061, 'source_user': 'repl',
        'io_running_state': 'Connecting', 'io_running': False, 'io_connecting': True,
        'sql_running_state': 'Yes', 'sql_running': True, 'running': False,
        'io_state': 'Connecting to master', 'sql_state': 'Slave has read all relay log; waiting for more updates',
        'last_io_errno': 1045, 'last_sql_errno': 0, 'last_sql_error': '', 'last_errno': 0,
        'seconds_behind_master': None, 'using_gtid': 'slave_pos', 'gtid_io_pos': '1-11-2',
        'gtid_slave_pos': '1-11-2', 'exec_source_log_pos': 4, 'read_source_log_pos': 4,
        'source_log_file': 'mysql-bin.000001', 'relay_source_log_file': 'mysql-bin.000001',
        'relay_log_space': 256, 'connect_retry': 1, 'heartbeat_period': 30.0, 'source_server_id': 11,
        'source_ssl': False, 'source_ssl_allowed': 'No', 'source_ssl_ca': '', 'source_ssl_capath': '',
        'source_ssl_verify_server_cert': False, 'sql_remaining_delay': None, 'parallel_mode': 'optimistic',
        'received_heartbeats': 0, 'ddl_groups': 2, 'replicate_rewrite_db': '', 'replicate_do_db': '',
    }
    for key, value in expected.items():
        assert s[key] == value, key
    assert 'Access denied' in s['last_io_error']
    # Every column lands somewhere and no raw CamelCase key survives.
    assert all(key == key.lower() for key in s)
    assert [key for key in s if 'master' in key] == ['seconds_behind_master']


@pytest.mark.parametrize('column, value, key, expected', [
    ('Using_Gtid', 'Current_Pos', 'using_gtid', 'current_pos'),
    ('Using_Gtid', 'No', 'using_gtid', 'no'),
    ('Master_SSL_Allowed', 'Yes', 'source_ssl', True),
    ('Master_SSL_Allowed', 'Ignored', 'source_ssl', True),
    ('Seconds_Behind_Master', '12', 'seconds_behind_master', 12),
    ('Seconds_Behind_Master', None, 'seconds_behind_master', None),
    ('Slave_heartbeat_period', '2.500', 'heartbeat_period', 2.5),
    ('Master_Port', '3306', 'source_port', 3306),
    ('Some_New_Master_Column', 'x', 'some_new_source_column', 'x'),
])
def test_normalise_conversions(column, value, key, expected):
    row = running_row()
    row[column] = value
    assert r.normalise_slave_status(row)[key] == expected


def test_normalise_tolerates_source_replica_spelling():
    row = {'Connection_name': 'x', 'Replica_IO_Running': 'Yes', 'Replica_SQL_Running': 'No',
           'Source_Host': 'h', 'Source_Port': '3306', 'Exec_Source_Log_Pos': '120'}
    s = r.normalise_slave_status(row)
    assert (s['io_running'], s['sql_running'], s['running']) == (True, False, False)
    assert (s['source_host'], s['source_port'], s['exec_source_log_pos']) == ('h', 3306, 120)


def test_index_and_find_connection_case_insensitively():
    statuses = r.index_slave_status([running_row(Connection_name='Foo'), running_row(Connection_name='')])
    assert sorted(statuses) == ['', 'Foo']
    assert r.find_connection(statuses, 'foo')[0] == 'Foo'
    assert r.find_connection(statuses, 'FOO')[1]['connection_name'] == 'Foo'
    assert r.find_connection(statuses, '')[0] == ''
    assert r.find_connection(statuses, 'bar') == (None, None)


def test_active_connections():
    statuses = r.index_slave_status([
        running_row(Connection_name='a'),
        running_row(Connection_name='b', Slave_IO_Running='No', Slave_SQL_Running='No'),
        running_row(Connection_name='c', Slave_IO_Running='Connecting', Slave_SQL_Running='No'),
        running_row(Connection_name='d', Slave_IO_Running='No', Slave_SQL_Running='Yes'),
    ])
    assert r.active_connections(statuses) == ['a', 'c', 'd']
    assert r.active_connections(statuses, exclude='A') == ['c', 'd']


# --------------------------------------------------------------------------- server variables

def test_server_variables_query_and_normalisation():
    sql = r.server_variables_query()
    assert sql.startswith('SELECT @@GLOBAL.version AS version, @@GLOBAL.hostname AS hostname')
    assert '@@GLOBAL.gtid_slave_pos AS gtid_slave_pos' in sql
    row = {'version': '10.11.19-MariaDB-log', 'hostname': 'db1', 'server_id': 11, 'gtid_domain_id': 1,
           'gtid_binlog_pos': '1-11-5', 'gtid_binlog_state': '1-11-5', 'gtid_current_pos': '1-11-5,2-12-3',
           'gtid_slave_pos': '2-12-3', 'gtid_strict_mode': 0, 'gtid_ignore_duplicates': 0, 'read_only': 1,
           'log_bin': 1, 'binlog_format': 'ROW', 'log_slave_updates': 1, 'slave_skip_errors': 'OFF',
           'auto_increment_increment': 2, 'auto_increment_offset': 1}
    v = r.normalise_server_variables(row)
    assert v['server_id'] == 11 and v['gtid_domain_id'] == 1
    assert v['read_only'] is True and v['log_bin'] is True and v['log_slave_updates'] is True
    assert v['gtid_strict_mode'] is False
    assert v['binlog_format'] == 'ROW' and v['slave_skip_errors'] == 'OFF'
    assert v['auto_increment_increment'] == 2


def test_server_variables_read_only_non_boolean_kept_as_text():
    assert r.normalise_server_variables({'read_only': 'NO_LOCK'})['read_only'] == 'NO_LOCK'


def test_server_variables_query_refuses_odd_names():
    with pytest.raises(ValueError):
        r.server_variables_query((('version; DROP', 'text'),))


# --------------------------------------------------------------------------- GTID lists

@pytest.mark.parametrize('text, expected', [
    ('', {}),
    ('0-1-5', {0: (1, 5)}),
    ('2-12-7, 1-11-42', {1: (11, 42), 2: (12, 7)}),
])
def test_parse_gtid_list(text, expected):
    assert r.parse_gtid_list(text) == expected


@pytest.mark.parametrize('bad', ['1-2', 'a-b-c', '1-1-1,1-2-3', '1-1-1;2-2-2'])
def test_parse_gtid_list_refuses(bad):
    with pytest.raises(ValueError):
        r.parse_gtid_list(bad)


def test_normalise_gtid_list_sorts_by_domain():
    assert r.normalise_gtid_list(' 2-12-7,1-11-42 ') == '1-11-42,2-12-7'


# --------------------------------------------------------------------------- desired settings

def params(**kwargs):
    base = dict((name, None) for name in r.SETTING_NAMES)
    base.update(source_log_file=None, source_log_pos=None, gtid_slave_pos=None)
    base.update(kwargs)
    return base


def test_desired_defaults_follow_source_host():
    assert r.desired_settings(params(source_host='h', source_user='repl')) == {
        'source_host': 'h', 'source_port': 3306, 'source_user': 'repl', 'use_gtid': 'slave_pos'}


def test_desired_without_host_enforces_only_given_options():
    assert r.desired_settings(params(connect_retry=10)) == {'connect_retry': 10}
    assert r.desired_settings(params()) == {}


def test_desired_coordinates_mean_no_gtid():
    desired = r.desired_settings(params(source_host='h', source_log_file='mysql-bin.000002', source_log_pos=1234))
    assert desired['use_gtid'] == 'no'


def test_desired_heartbeat_rounded_to_milliseconds():
    assert r.desired_settings(params(heartbeat_period=2.0004))['heartbeat_period'] == Decimal('2.000')
    assert r.desired_settings(params(heartbeat_period=0))['heartbeat_period'] == Decimal('0.000')


@pytest.mark.parametrize('kwargs, message', [
    (dict(source_log_file='f'), 'must be given together'),
    (dict(source_log_pos=4), 'must be given together'),
    (dict(source_log_file='f', source_log_pos=3), '4 or more'),
    (dict(source_log_file='', source_log_pos=4), 'must not be empty'),
    (dict(source_log_file='f', source_log_pos=4, use_gtid='slave_pos'), 'cannot be combined with use_gtid=slave_pos'),
    (dict(gtid_slave_pos='1-1-1', use_gtid='no'), 'gtid_slave_pos only makes sense'),
    (dict(gtid_slave_pos='bogus'), 'invalid GTID'),
    (dict(source_host=''), 'source_host must not be empty'),
    (dict(source_port=0), 'source_port must be between'),
    (dict(connect_retry=0), 'connect_retry must be at least'),
    (dict(heartbeat_period=-1), 'heartbeat_period must be between'),
    (dict(heartbeat_period=5000000), 'heartbeat_period must be between'),
    (dict(use_gtid='yes'), 'use_gtid must be one of'),
])
def test_desired_refuses(kwargs, message):
    with pytest.raises(r.PlanError) as caught:
        r.desired_settings(params(**kwargs))
    assert message in str(caught.value)


# --------------------------------------------------------------------------- statements

def test_change_master_statement_binds_every_value():
    sql, bound = r.change_master_statement(
        'a', {'source_host': "evil', MASTER_PORT=1 -- ", 'source_port': 3307, 'source_user': 'repl',
              'use_gtid': 'current_pos', 'heartbeat_period': Decimal('1.5'), 'source_ssl': True},
        password='pw')
    assert sql == ('CHANGE MASTER %s TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, '
                   'MASTER_PASSWORD = %s, MASTER_USE_GTID = current_pos, MASTER_HEARTBEAT_PERIOD = %s, '
                   'MASTER_SSL = %s')
    assert bound[0] == 'a' and bound[1] == "evil', MASTER_PORT=1 -- "
    assert bound[4] == Secret('pw')
    assert bound[5] == Decimal('1.500') and bound[6] == 1


def test_change_master_statement_coordinates_and_lone_password():
    sql, bound = r.change_master_statement('', {}, password='pw', log_file='mysql-bin.000003', log_pos=120)
    assert render_statement(sql, bound) == ("CHANGE MASTER '' TO MASTER_PASSWORD = '********', "
                                            "MASTER_LOG_FILE = 'mysql-bin.000003', MASTER_LOG_POS = 120")


def test_change_master_statement_needs_an_option():
    with pytest.raises(ValueError):
        r.change_master_statement('a', {})


def test_start_statement_threads():
    assert r.start_statement('a') == ('START SLAVE %s', ('a',))
    assert r.start_statement('a', 'IO_THREAD') == ('START SLAVE %s IO_THREAD', ('a',))
    with pytest.raises(ValueError):
        r.start_statement('a', 'BOTH; DROP')


# --------------------------------------------------------------------------- planner

def rendered(plan):
    return [render_statement(sql, bound) for sql, bound in plan.statements]


def plan(state='started', current=None, name='a', password=None, **kwargs):
    options = dict((key, kwargs.pop(key)) for key in list(kwargs)
                   if key in r.SETTING_NAMES or key in ('source_log_file', 'source_log_pos', 'gtid_slave_pos'))
    desired = r.desired_settings(params(**options))
    return r.plan_replication(
        name, state, current, desired, password=password,
        log_file=options.get('source_log_file'), log_pos=options.get('source_log_pos'),
        gtid_slave_pos=options.get('gtid_slave_pos'), **kwargs)


SAME = dict(source_host='127.0.0.1', source_port=33061, source_user='repl')
STOPPED = dict(Slave_IO_Running='No', Slave_SQL_Running='No', Seconds_Behind_Master=None)


@pytest.mark.parametrize('state, current, kwargs, expected', [
    # Fresh connection, started: configure then start.
    ('started', None, dict(SAME, password='pw'),
     ["CHANGE MASTER 'a' TO MASTER_HOST = '127.0.0.1', MASTER_PORT = 33061, MASTER_USER = 'repl', "
      "MASTER_PASSWORD = '********', MASTER_USE_GTID = slave_pos", "START SLAVE 'a'"]),
    # Fresh connection, present: configure only.
    ('present', None, dict(SAME, password='pw'),
     ["CHANGE MASTER 'a' TO MASTER_HOST = '127.0.0.1', MASTER_PORT = 33061, MASTER_USER = 'repl', "
      "MASTER_PASSWORD = '********', MASTER_USE_GTID = slave_pos"]),
    # Fresh connection, stopped, with coordinates.
    ('stopped', None, dict(SAME, source_log_file='mysql-bin.000002', source_log_pos=345),
     ["CHANGE MASTER 'a' TO MASTER_HOST = '127.0.0.1', MASTER_PORT = 33061, MASTER_USER = 'repl', "
      "MASTER_USE_GTID = no, MASTER_LOG_FILE = 'mysql-bin.000002', MASTER_LOG_POS = 345"]),
    # Identical configuration, running: nothing.
    ('started', status(), dict(SAME, password='pw'), []),
    ('present', status(), dict(SAME, password='pw'), []),
    # Identical configuration, stopped connection.
    ('started', status(**STOPPED), dict(SAME), ["START SLAVE 'a'"]),
    ('present', status(**STOPPED), dict(SAME), []),
    ('stopped', status(**STOPPED), dict(SAME), []),
    ('stopped', status(), {}, ["STOP SLAVE 'a'"]),
    # Only the SQL thread stopped (an error): START starts it again.
    ('started', status(Slave_SQL_Running='No'), dict(SAME), ["START SLAVE 'a'"]),
    # Running but still connecting: START would do nothing; the module waits and reports.
    ('started', status(Slave_IO_Running='Connecting'), dict(SAME), []),
    # Changed host on a running connection: stop, change (with password), start.
    ('started', status(), dict(SAME, source_host='127.0.0.2', password='pw'),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_HOST = '127.0.0.2', MASTER_PASSWORD = '********'",
      "START SLAVE 'a'"]),
    # present restores the running threads after a change.
    ('present', status(), dict(SAME, connect_retry=10),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_CONNECT_RETRY = 10", "START SLAVE 'a'"]),
    ('present', status(Slave_SQL_Running='No'), dict(SAME, connect_retry=10),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_CONNECT_RETRY = 10", "START SLAVE 'a' IO_THREAD"]),
    ('present', status(Slave_IO_Running='No'), dict(SAME, connect_retry=10),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_CONNECT_RETRY = 10", "START SLAVE 'a' SQL_THREAD"]),
    # stopped with a change: stop once, change, stay stopped.
    ('stopped', status(), dict(SAME, connect_retry=10),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_CONNECT_RETRY = 10"]),
    # GTID -> binlog coordinates.
    ('started', status(), dict(SAME, source_log_file='mysql-bin.000009', source_log_pos=4),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_USE_GTID = no, MASTER_LOG_FILE = 'mysql-bin.000009', "
      "MASTER_LOG_POS = 4", "START SLAVE 'a'"]),
    # Already on coordinates from the same source: a starting point, not applied again.
    ('started', status(Using_Gtid='No', Read_Master_Log_Pos=9999),
     dict(SAME, source_log_file='mysql-bin.000001', source_log_pos=4), []),
    # Coordinates -> GTID.
    ('started', status(Using_Gtid='No'), dict(SAME, use_gtid='slave_pos'),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_USE_GTID = slave_pos", "START SLAVE 'a'"]),
    ('started', status(), dict(SAME, use_gtid='current_pos'),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_USE_GTID = current_pos", "START SLAVE 'a'"]),
    # Password alone never triggers a change with on_create ...
    ('started', status(), dict(password='new'), []),
    # ... but always does with update_password=always.
    ('started', status(), dict(password='new', update_password='always'),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_PASSWORD = '********'", "START SLAVE 'a'"]),
    # A source refusing the stored password gets the new one.
    ('started', status(Slave_IO_Running='Connecting', Last_IO_Errno=1045), dict(SAME, password='fixed'),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_PASSWORD = '********'", "START SLAVE 'a'"]),
    # Changed user carries the password along.
    ('started', status(), dict(SAME, source_user='repl2', password='pw2'),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_USER = 'repl2', MASTER_PASSWORD = '********'",
      "START SLAVE 'a'"]),
    # Heartbeat and TLS settings.
    ('started', status(), dict(SAME, heartbeat_period=30.0), []),
    ('started', status(), dict(SAME, heartbeat_period=5),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_HEARTBEAT_PERIOD = 5.000", "START SLAVE 'a'"]),
    ('started', status(), dict(SAME, source_ssl=False, source_ssl_verify_server_cert=False), []),
    ('started', status(), dict(SAME, source_ssl=True, source_ssl_ca='/etc/mysql/ca.pem'),
     ["STOP SLAVE 'a'", "CHANGE MASTER 'a' TO MASTER_SSL = 1, MASTER_SSL_CA = '/etc/mysql/ca.pem'",
      "START SLAVE 'a'"]),
    # absent.
    ('absent', None, {}, []),
    ('absent', status(), {}, ["STOP SLAVE 'a'", "RESET SLAVE 'a' ALL"]),
    ('absent', status(**STOPPED), {}, ["RESET SLAVE 'a' ALL"]),
    ('absent', status(Slave_IO_Running='Connecting', Slave_SQL_Running='No'), {},
     ["STOP SLAVE 'a'", "RESET SLAVE 'a' ALL"]),
    # stopped on a connection that does not exist: nothing to do.
    ('stopped', None, {}, []),
])
def test_plan(state, current, kwargs, expected):
    result = plan(state=state, current=current, **kwargs)
    assert rendered(result) == expected
    assert all('pw' not in repr(bound) for dummy, bound in result.statements)


def test_plan_default_connection_name_is_bound_as_empty_literal():
    result = plan('absent', status(Connection_name=''), name='')
    assert result.statements == [('STOP SLAVE %s', ('',)), ('RESET SLAVE %s ALL', ('',))]


def test_plan_password_is_a_secret_object():
    result = plan('started', None, password='s3cr3t', **SAME)
    sql, bound = result.statements[0]
    assert Secret('s3cr3t') in bound
    assert 's3cr3t' not in sql and 's3cr3t' not in repr(result)


def test_plan_new_connection_needs_host():
    with pytest.raises(r.PlanError) as caught:
        plan('started', None, source_user='repl')
    assert "'a' does not exist; source_host is needed" in str(caught.value)


def test_plan_reports_wait_and_after():
    result = plan('started', None, **SAME)
    assert result.wait_for_running is True
    assert result.after['io_running_state'] == 'Yes' and result.after['source_port'] == 33061
    assert result.changed_settings == ['source_host', 'source_port', 'source_user', 'use_gtid']
    assert 'source_password' not in result.after
    result = plan('present', status(), connect_retry=10)
    assert result.wait_for_running is True
    assert result.after['connect_retry'] == 10 and result.after['heartbeat_period'] == 30.0
    assert plan('present', status(Slave_IO_Running='Connecting'), connect_retry=10).wait_for_running is False
    assert plan('stopped', status()).wait_for_running is False
    assert plan('absent', status()).after is None


def test_plan_after_is_json_friendly():
    result = plan('present', status(), heartbeat_period=2.5)
    assert result.after['heartbeat_period'] == 2.5
    assert isinstance(result.after['heartbeat_period'], float)


def test_plan_warns_when_repointing_binlog_connection_without_coordinates():
    result = plan('present', status(Using_Gtid='No', **STOPPED), source_host='10.9.9.9', use_gtid='no')
    assert any('first binary log' in warning for warning in result.warnings)


def test_plan_identical_configuration_is_stable_under_repeat():
    current = status()
    first = plan('started', current, **SAME)
    assert first.statements == [] and first.changed_settings == []


# gtid_slave_pos ----------------------------------------------------------------

def test_plan_sets_gtid_slave_pos_before_creating():
    result = plan('started', None, gtid_slave_pos='2-12-7,1-11-42', server_gtid_slave_pos='', **SAME)
    assert rendered(result)[:2] == [
        "BEGIN NOT ATOMIC DECLARE strict_mode INT DEFAULT @@GLOBAL.gtid_strict_mode; "
        "DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN SET GLOBAL gtid_strict_mode = strict_mode; RESIGNAL; END; "
        "SET GLOBAL gtid_strict_mode = 0; SET GLOBAL gtid_slave_pos = '2-12-7,1-11-42'; "
        "SET GLOBAL gtid_strict_mode = strict_mode; END",
        "CHANGE MASTER 'a' TO MASTER_HOST = '127.0.0.1', MASTER_PORT = 33061, MASTER_USER = 'repl', "
        "MASTER_USE_GTID = slave_pos"]


def test_plan_skips_gtid_slave_pos_when_already_equal():
    result = plan('present', None, gtid_slave_pos='2-12-7,1-11-42', server_gtid_slave_pos='1-11-42,2-12-7', **SAME)
    assert not any('gtid_slave_pos' in statement for statement in rendered(result))


def test_plan_refuses_gtid_slave_pos_while_other_connections_run():
    with pytest.raises(r.PlanError) as caught:
        plan('started', None, gtid_slave_pos='1-11-42', server_gtid_slave_pos='', other_active=['b', ''],
             **SAME)
    message = str(caught.value)
    assert 'all of them are stopped' in message and "'b'" in message


def test_plan_ignores_gtid_slave_pos_for_existing_connection():
    result = plan('started', status(), gtid_slave_pos='1-11-1', server_gtid_slave_pos='1-11-500',
                  other_active=['b'], **SAME)
    assert result.statements == []


@pytest.mark.parametrize('state, update_password', [('gone', 'on_create'), ('present', 'sometimes')])
def test_plan_refuses_bad_choices(state, update_password):
    with pytest.raises(r.PlanError):
        r.plan_replication('a', state, None, {}, update_password=update_password)


# --------------------------------------------------------------------------- start verification

@pytest.mark.parametrize('overrides, verdict, text', [
    ({}, 'running', 'IO thread Yes; SQL thread Yes'),
    (dict(Slave_IO_Running='Connecting', Last_IO_Errno=0, Last_IO_Error=''), 'waiting', 'IO thread Connecting'),
    (dict(Slave_IO_Running='Connecting', Last_IO_Errno=2003, Last_IO_Error="Can't connect"), 'waiting',
     "Last_IO_Errno 2003: Can't connect"),
    (dict(Slave_IO_Running='Connecting', Last_IO_Errno=1045, Last_IO_Error='Access denied'), 'failed',
     'refused the replication account'),
    (dict(Slave_SQL_Running='No', Last_SQL_Errno=1062, Last_SQL_Error='Duplicate entry'), 'failed',
     'Last_SQL_Errno 1062: Duplicate entry'),
    (dict(Slave_IO_Running='No', Last_IO_Errno=1236, Last_IO_Error='Got fatal error 1236'), 'failed',
     'the IO thread stopped'),
])
def test_assess_start(overrides, verdict, text):
    got, message = r.assess_start(status(**overrides))
    assert got == verdict
    assert text in message


def test_assess_start_missing_connection():
    assert r.assess_start(None) == ('failed', 'the connection disappeared')


def test_connection_view_has_no_secret_and_thread_states():
    view = r.connection_view(status())
    assert set(view) == set(r.SETTING_NAMES) | {'io_running_state', 'sql_running_state'}
    assert view['use_gtid'] == 'slave_pos' and view['heartbeat_period'] == 30.0
    assert r.connection_view(None) is None
    # Pure: the input status is not modified.
    current = status()
    snapshot = copy.deepcopy(current)
    r.connection_view(current)
    plan('present', current, connect_retry=5)
    assert current == snapshot
