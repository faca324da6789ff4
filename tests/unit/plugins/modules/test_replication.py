# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module's read -> plan -> apply flow against a scripted fake server."""

from __future__ import annotations

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    MariaDBQueryError,
    render_statement,
)
from ansible_collections.smooth.mariadb.plugins.modules import replication as mod
from ansible_collections.smooth.mariadb.plugins.modules import replication_info as info_mod

from .module_standin import FailJson, ModuleStandIn

from ..module_utils.test_replication import running_row


class FakeModule(ModuleStandIn):
    ARGUMENT_SPEC = staticmethod(mod.argument_spec)


class FakeSession(object):
    """Answers reads from a script; records (and can fail) changing statements."""

    def __init__(self, status_script, version='10.11.19-MariaDB-0+deb12u1-log', fail_on=None):
        self.status_script = list(status_script)
        self.version = version
        self.fail_on = fail_on
        self.queries = []
        self.reads = 0

    def fetch_all(self, sql, params=None):
        assert sql == 'SHOW ALL SLAVES STATUS'
        self.reads += 1
        rows = self.status_script.pop(0) if len(self.status_script) > 1 else self.status_script[0]
        return [dict(row) for row in rows]

    def fetch_one(self, sql, params=None):
        if 'VERSION()' in sql:
            return {'version': self.version}
        if 'gtid_slave_pos' in sql:
            return {'pos': ''}
        raise AssertionError('unexpected read %s' % sql)

    def execute(self, sql, params=None):
        text = render_statement(sql, params)
        if self.fail_on and text.startswith(self.fail_on):
            raise MariaDBQueryError(text, '(1234) simulated failure', 1234)
        self.queries.append(text)


NEW = dict(connection_name='a', state='started', source_host='127.0.0.1', source_port=33061,
           source_user='repl', source_password='s3cr3t', start_timeout=2)


def options(**overrides):
    merged = dict(NEW)
    merged.update(overrides)
    return merged


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(mod.time, 'sleep', lambda seconds: None)


def test_check_mode_runs_no_statement_and_reports_them():
    session = FakeSession([[]])
    module = FakeModule(check_mode=True, diff=True, **NEW)
    result = mod.run_module(module, session)
    assert session.queries == []
    assert result['changed'] is True
    assert result['queries'] == [
        "CHANGE MASTER 'a' TO MASTER_HOST = '127.0.0.1', MASTER_PORT = 33061, MASTER_USER = 'repl', "
        "MASTER_PASSWORD = '********', MASTER_USE_GTID = slave_pos",
        "START SLAVE 'a'"]
    assert result['status'] == {}
    assert result['diff']['before'] == {}
    assert result['diff']['after']['source_host'] == '127.0.0.1'
    assert 's3cr3t' not in repr(result)


def test_apply_then_wait_until_running():
    connecting = running_row(Slave_IO_Running='Connecting', Master_Port=33061)
    running = running_row(Master_Port=33061)
    session = FakeSession([[], [connecting], [connecting], [running]])
    result = mod.run_module(FakeModule(**NEW), session)
    assert result['changed'] is True
    assert session.queries[-1] == "START SLAVE 'a'"
    assert result['queries'] == session.queries
    assert result['status']['running'] is True
    assert 'diff' not in result


def test_identical_configuration_changes_nothing():
    session = FakeSession([[running_row(Master_Port=33061)]])
    result = mod.run_module(FakeModule(diff=True, **NEW), session)
    assert result['changed'] is False
    assert result['queries'] == []
    assert result['diff']['before'] == result['diff']['after']


def test_start_failure_reports_server_error():
    refused = running_row(Slave_IO_Running='Connecting', Master_Port=33061, Last_IO_Errno=1045,
                          Last_IO_Error="Access denied for user 'repl'@'127.0.0.1' (using password: YES)")
    session = FakeSession([[], [refused]])
    with pytest.raises(FailJson) as caught:
        mod.run_module(FakeModule(**options(source_password='wrong')), session)
    result = caught.value.args[0]
    assert "Access denied for user 'repl'@'127.0.0.1'" in result['msg']
    assert 'Last_IO_Errno 1045' in result['msg']
    assert result['changed'] is True


def test_wait_is_bounded_by_start_timeout(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(mod.time, 'monotonic', lambda: clock[0])

    def sleep(seconds):
        assert 0 < seconds <= mod.POLL_INTERVAL
        clock[0] += seconds
    monkeypatch.setattr(mod.time, 'sleep', sleep)
    connecting = running_row(Slave_IO_Running='Connecting', Master_Port=33061, Last_IO_Errno=2003,
                             Last_IO_Error="Can't connect to server")
    session = FakeSession([[connecting]])
    ok, status, detail = mod.wait_until_running(session, 'a', 3)
    assert ok is False
    assert detail.startswith('still not running after 3 s')
    assert "Can't connect" in detail
    assert session.reads <= int(3 / mod.POLL_INTERVAL) + 2
    assert clock[0] == pytest.approx(1003.0)


def test_failed_change_restarts_the_stopped_connection():
    session = FakeSession([[running_row(Master_Port=33061)]], fail_on='CHANGE MASTER')
    with pytest.raises(FailJson) as caught:
        mod.run_module(FakeModule(**options(state='present', connect_retry=5)), session)
    result = caught.value.args[0]
    assert session.queries == ["STOP SLAVE 'a'", "START SLAVE 'a'"]
    assert '(1234) simulated failure' in result['msg']
    assert 'restarted with its previous configuration' in result['msg']


def test_plan_error_is_reported_without_running_anything():
    session = FakeSession([[running_row(Connection_name='b')]])
    with pytest.raises(FailJson) as caught:
        mod.run_module(FakeModule(**options(gtid_slave_pos='1-11-5')), session)
    assert 'all of them are stopped' in caught.value.args[0]['msg']
    assert session.queries == []


def test_old_server_is_refused():
    with pytest.raises(FailJson) as caught:
        mod.run_module(FakeModule(**NEW), FakeSession([[]], version='10.5.9-MariaDB'))
    assert 'needs MariaDB 10.6 or later' in caught.value.args[0]['msg']


def test_bad_option_combination_fails_early():
    with pytest.raises(FailJson) as caught:
        module = FakeModule(**options(source_log_file='mysql-bin.000001', source_log_pos=4, use_gtid='current_pos'))
        mod.run_module(module, FakeSession([[]]))
    assert 'cannot be combined with use_gtid=current_pos' in caught.value.args[0]['msg']


def test_argument_spec_marks_secrets():
    spec = mod.argument_spec()
    assert spec['source_password']['no_log'] is True
    assert spec['login_password']['no_log'] is True
    assert spec['update_password']['no_log'] is False


class InfoSession(FakeSession):
    def fetch_one(self, sql, params=None):
        if sql.startswith('SELECT VERSION()'):
            return {'version': self.version}
        return {'version': self.version, 'server_id': 12, 'gtid_domain_id': 2, 'log_bin': 1,
                'log_slave_updates': 1, 'read_only': 0, 'gtid_strict_mode': 0, 'gtid_ignore_duplicates': 0,
                'binlog_format': 'ROW', 'gtid_slave_pos': '1-11-2'}


def test_replication_info_shape():
    session = InfoSession([[running_row(Connection_name='b', Seconds_Behind_Master=3), running_row()]])
    result = info_mod.run_module(FakeModule(), session)
    assert result['changed'] is False
    assert result['connection_names'] == ['a', 'b']
    assert result['lag'] == {'a': 0, 'b': 3}
    assert result['connections']['b']['running'] is True
    assert result['variables']['server_id'] == 12 and result['variables']['log_bin'] is True
    assert session.queries == []


# ---------------------------------------------------------------------------
# end_dump_threads_for: the dump threads of former replicas
# ---------------------------------------------------------------------------

class DumpSession(FakeSession):
    """Also answers the dump threads of the PROCESSLIST; KILL of a thread in ``gone`` fails with errno."""

    def __init__(self, status_script, threads, gone=(), errno=mod.ER_NO_SUCH_THREAD, **kwargs):
        super(DumpSession, self).__init__(status_script, **kwargs)
        self.threads = threads
        self.gone = set(gone)
        self.errno = errno

    def fetch_all(self, sql, params=None):
        if 'information_schema.PROCESSLIST' in sql:
            return [dict(thread) for thread in self.threads]
        return super(DumpSession, self).fetch_all(sql, params)

    def execute(self, sql, params=None):
        if sql.startswith('KILL') and params[0] in self.gone:
            raise MariaDBQueryError(render_statement(sql, params), '(%d) Unknown thread id: %d' % (self.errno, params[0]),
                                    self.errno)
        super(DumpSession, self).execute(sql, params)


THREADS = [dict(id=41, user='repl', host='10.0.0.12:41234', command='Binlog Dump'),
           dict(id=42, user='repl', host='10.0.0.13:5000', command='Binlog Dump'),
           dict(id=43, user='repl', host='[FD00::12]:5001', command='Binlog Dump'),
           dict(id=44, user='repl', host='10.0.0.120:5002', command='Binlog Dump')]
ABSENT = dict(connection_name='a', state='absent', end_dump_threads_for=['10.0.0.12', 'fd00::12'])


def absent(hosts):
    """ABSENT with other hosts."""
    merged = dict(ABSENT)
    merged['end_dump_threads_for'] = hosts
    return merged


@pytest.mark.parametrize('host, expected', [
    ('10.0.0.12:41234', '10.0.0.12'),
    ('DB2.example:3306', 'db2.example'),
    ('::1:41234', '::1'),
    ('[::1]:41234', '::1'),
    ('localhost', 'localhost'),
    ('', ''),
])
def test_client_host(host, expected):
    assert mod.client_host(host) == expected


def test_dump_threads_serving_compares_the_host_part_only():
    assert [t['id'] for t in mod.dump_threads_serving(THREADS, ['10.0.0.12', '[FD00::12]'])] == [41, 43]
    assert mod.dump_threads_serving(THREADS, []) == []


def test_absent_removes_the_connection_then_ends_the_dump_threads_of_the_former_replica():
    session = DumpSession([[running_row()], []], THREADS)
    result = mod.run_module(FakeModule(diff=True, **ABSENT), session)
    assert session.queries == ["STOP SLAVE 'a'", "RESET SLAVE 'a' ALL", 'KILL CONNECTION 41', 'KILL CONNECTION 43']
    assert result['changed'] is True and result['queries'] == session.queries
    assert [(t['id'], t['gone']) for t in result['dump_threads']] == [(41, False), (43, False)]
    assert result['diff']['before']['dump_threads'] == [41, 43] and result['diff']['after'] == {'dump_threads': []}


def test_a_thread_already_gone_counts_as_ended_by_its_error_number():
    session = DumpSession([[]], THREADS, gone=[41])
    result = mod.run_module(FakeModule(**ABSENT), session)
    assert session.queries == ['KILL CONNECTION 43']
    assert [(t['id'], t['gone']) for t in result['dump_threads']] == [(41, True), (43, False)]
    assert result['changed'] is True

    # Only thread 41, and it ended by itself: nothing changed.
    session = DumpSession([[]], THREADS, gone=[41])
    result = mod.run_module(FakeModule(**absent(['10.0.0.12'])), session)
    assert session.queries == [] and result['changed'] is False


def test_another_kill_error_fails_with_the_statement():
    session = DumpSession([[]], THREADS, gone=[41], errno=1095)
    with pytest.raises(FailJson) as caught:
        mod.run_module(FakeModule(**ABSENT), session)
    result = caught.value.args[0]
    assert result['msg'] == ("Replication connection 'a': ending the binlog dump threads that serve 10.0.0.12, fd00::12: "
                             'KILL CONNECTION 41 failed: (1095) Unknown thread id: 41')
    assert session.queries == []


def test_check_mode_lists_the_kills_and_runs_nothing():
    session = DumpSession([[running_row()]], THREADS)
    result = mod.run_module(FakeModule(check_mode=True, **ABSENT), session)
    assert session.queries == []
    assert result['queries'] == ["STOP SLAVE 'a'", "RESET SLAVE 'a' ALL", 'KILL CONNECTION 41', 'KILL CONNECTION 43']
    assert result['changed'] is True and [t['gone'] for t in result['dump_threads']] == [False, False]

    nothing = mod.run_module(FakeModule(check_mode=True, **absent(['10.9.9.9'])),
                             DumpSession([[]], THREADS))
    assert nothing['changed'] is False and nothing['queries'] == [] and nothing['dump_threads'] == []


def test_end_dump_threads_for_only_with_state_absent():
    session = DumpSession([[]], THREADS)
    with pytest.raises(FailJson) as caught:
        mod.run_module(FakeModule(**options(state='stopped', end_dump_threads_for=['10.0.0.12'])), session)
    assert caught.value.args[0]['msg'].startswith('end_dump_threads_for needs state=absent')
    with pytest.raises(FailJson) as caught:
        mod.run_module(FakeModule(**absent(['10.0.0.12', ' '])), session)
    assert caught.value.args[0]['msg'] == "end_dump_threads_for: every entry must name a host, got '10.0.0.12', ' '"
    assert session.queries == []
