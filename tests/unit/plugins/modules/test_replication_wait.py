# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The barrier's read -> wait flow against scripted fake servers and a fake clock."""

from __future__ import annotations

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils.gtid import POSITION_QUERY
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import MariaDBQueryError
from ansible_collections.smooth.mariadb.plugins.modules import replication_wait as mod

VERSION = '10.11.19-MariaDB-0+deb12u1-log'


class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def slave_row(name='peer', host='10.0.0.1', port=3306, source_id=11, io='Yes', sql='Yes', sql_errno=0, sql_error='',
              lag=0, ignore=''):
    return {'Connection_name': name, 'Master_Host': host, 'Master_Port': port, 'Master_Server_Id': source_id,
            'Slave_IO_Running': io, 'Slave_SQL_Running': sql, 'Last_IO_Errno': 0, 'Last_IO_Error': '',
            'Last_SQL_Errno': sql_errno, 'Last_SQL_Error': sql_error, 'Seconds_Behind_Master': lag,
            'Replicate_Ignore_Domain_Ids': ignore, 'Replicate_Do_Domain_Ids': ''}


class FakeSession(object):
    """A server: its positions, its connections (a script of SHOW results) and MASTER_GTID_WAIT answers."""

    def __init__(self, clock, server_id, binlog_pos, slave_pos, slaves, waits=(), reach=None):
        self.clock = clock
        self.server_id = server_id
        self.binlog_pos = binlog_pos
        self.slave_pos = slave_pos
        self.slaves = list(slaves)  # list of lists of rows; the last one stays
        self.waits = list(waits)    # MASTER_GTID_WAIT results in order; 0 when exhausted
        self.reach = reach          # slave_pos once a wait returns 0
        self.wait_calls = []

    def fetch_all(self, sql, params=None):
        if sql == POSITION_QUERY:
            return [dict(server_id=self.server_id, gtid_binlog_pos=self.binlog_pos, gtid_slave_pos=self.slave_pos,
                         version=VERSION)]
        if sql == 'SHOW ALL SLAVES STATUS':
            rows = self.slaves.pop(0) if len(self.slaves) > 1 else self.slaves[0]
            return [dict(row) for row in rows]
        if sql.startswith('SELECT MASTER_GTID_WAIT('):
            self.wait_calls.append(params)
            answer = self.waits.pop(0) if self.waits else 0
            if answer == 0:
                if self.reach is not None:
                    self.slave_pos = self.reach
            else:
                self.clock.now += params[1]
            return [dict(waited=answer)]
        raise AssertionError('unexpected statement %s' % sql)


def params(**extra):
    values = dict(source=dict(login_host='10.0.0.1', login_port=None), connection_name=None, pair=False,
                  source_connection_name=None, timeout=30.0)
    values.update(extra)
    return values


def run(replica_session, source_session, clock, **extra):
    opened = []

    def open_source(host, port):
        opened.append((host, port))
        return mod.Server(source_session, '%s:%s' % (host, port))

    result = mod.run_module(params(**extra), mod.Server(replica_session, '10.0.0.2:3306'), open_source, clock=clock)
    return result, opened


def test_pair_waits_both_ways_without_the_echoed_domains():
    clock = Clock()
    a = FakeSession(clock, 11, '1-11-100,2-12-50', '1-11-90,2-12-50', [[slave_row(source_id=12, host='10.0.0.2')]],
                    waits=[0], reach='1-11-90,2-12-50')
    b = FakeSession(clock, 12, '1-11-95,2-12-50', '1-11-95,2-12-49', [[slave_row()]], waits=[-1, 0],
                    reach='1-11-100,2-12-50')
    result, opened = run(b, a, clock, pair=True)
    assert opened == [('10.0.0.1', 3306)]
    forward, backward = result['directions']
    assert forward['wait_position'] == '1-11-100'
    assert forward['skipped_domains'] == [dict(domain=2, gtid='2-12-50', reason='written by the replica itself '
                                               '(server_id 12); its binary log holds 2-12-50')]
    assert b.wait_calls == [('1-11-100', 1.0), ('1-11-100', 1.0)]
    assert (forward['reached'], forward['seconds'], forward['reached_position']) == (True, 1.0, '1-11-100,2-12-50')
    assert backward['replica'] == '10.0.0.1:3306' and backward['source'] == '10.0.0.2:3306'
    assert backward['wait_position'] == '2-12-50' and backward['source_position'] == '1-11-95,2-12-50'
    assert [item['domain'] for item in backward['skipped_domains']] == [1]
    assert result['changed'] is False and result['waited_seconds'] == 1.0


def test_timeout_reports_what_is_missing():
    clock = Clock()
    a = FakeSession(clock, 11, '1-11-100', '', [[]])
    b = FakeSession(clock, 12, '', '1-11-90', [[slave_row(lag=7)]], waits=[-1] * 10)
    with pytest.raises(mod.WaitFailed) as caught:
        run(b, a, clock, timeout=2.5)
    assert caught.value.message == (
        "Timed out after 2.5 s: 10.0.0.2:3306 has not applied 1-11-100 from 10.0.0.1:3306 through connection 'peer'. "
        "Still missing: domain 1 at 1-11-90, needs 1-11-100 (10 behind). Seconds_Behind_Master: 7; "
        "IO thread Yes; SQL thread Yes.")
    assert [call[1] for call in b.wait_calls] == [1.0, 1.0, 0.5]
    entry = caught.value.entry['directions'][0]
    assert entry['missing'] == [dict(domain=1, wanted='1-11-100', reached='1-11-90', behind=10)]
    assert entry['seconds_behind_master'] == 7 and entry['reached'] is False
    assert caught.value.entry['waited_seconds'] == 2.5


def test_connection_breaking_during_the_wait_ends_it_at_once():
    clock = Clock()
    a = FakeSession(clock, 11, '1-11-100', '', [[]])
    broken = slave_row(sql='No', sql_errno=1062, sql_error="Duplicate entry '7'")
    # reads: the module's listing, the direction's first look, then after the first slice
    b = FakeSession(clock, 12, '', '1-11-90', [[slave_row()], [slave_row()], [broken]],
                    waits=[-1] * 100)
    with pytest.raises(mod.WaitFailed) as caught:
        run(b, a, clock, timeout=600)
    assert len(b.wait_calls) == 1
    assert caught.value.message == (
        "10.0.0.2:3306 cannot catch up with 10.0.0.1:3306 through connection 'peer': the SQL thread is not applying: "
        "IO thread Yes; SQL thread No; Last_SQL_Errno 1062: Duplicate entry '7'. Still missing: domain 1 at 1-11-90, "
        "needs 1-11-100 (10 behind).")


def test_stopped_connection_fails_before_waiting():
    clock = Clock()
    a = FakeSession(clock, 11, '1-11-100', '', [[]])
    b = FakeSession(clock, 12, '', '1-11-90', [[slave_row(io='No', sql='No')]])
    with pytest.raises(mod.WaitFailed) as caught:
        run(b, a, clock)
    assert caught.value.message == ("10.0.0.2:3306 cannot catch up with 10.0.0.1:3306 through connection 'peer': "
                                    "the SQL thread is not applying: IO thread No; SQL thread No.")
    assert b.wait_calls == [] and caught.value.entry == {}


def test_pair_checks_the_reverse_connection_before_waiting():
    clock = Clock()
    a = FakeSession(clock, 11, '1-11-100', '', [[]])
    b = FakeSession(clock, 12, '', '1-11-90', [[slave_row()]])
    with pytest.raises(mod.WaitFailed) as caught:
        run(b, a, clock, pair=True)
    assert caught.value.message == 'Source 10.0.0.1:3306: there is no replication connection at all'
    assert b.wait_calls == []


def test_source_found_from_the_connection():
    clock = Clock()
    a = FakeSession(clock, 11, '1-11-100', '', [[]])
    b = FakeSession(clock, 12, '', '1-11-100', [[slave_row(host='db0a', port=3307)]])
    result, opened = run(b, a, clock, source=None)
    assert opened == [('db0a', 3307)]
    assert result['directions'][0]['source'] == 'db0a:3307' and result['directions'][0]['reached'] is True


def test_timeout_zero_checks_once():
    clock = Clock()
    a = FakeSession(clock, 11, '1-11-100', '', [[]])
    b = FakeSession(clock, 12, '', '1-11-90', [[slave_row()]], waits=[-1])
    with pytest.raises(mod.WaitFailed):
        run(b, a, clock, timeout=0.0)
    assert b.wait_calls == [('1-11-100', 0.0)]


def test_nothing_to_wait_for():
    clock = Clock()
    a = FakeSession(clock, 11, '2-12-5', '', [[]])
    b = FakeSession(clock, 12, '2-12-5', '', [[slave_row()]])
    result, dummy = run(b, a, clock)
    assert result['directions'][0]['wait_position'] == '' and result['directions'][0]['reached'] is True
    assert b.wait_calls == [('', 1.0)]


def test_server_errors_name_the_server():
    class Failing(object):
        def fetch_all(self, sql, params=None):
            raise MariaDBQueryError(sql, '(1227) Access denied; you need the SLAVE MONITOR privilege')

    with pytest.raises(mod.WaitFailed) as caught:
        mod.Server(Failing(), 'db1:3306').statuses()
    assert caught.value.message == ('db1:3306: SHOW ALL SLAVES STATUS failed: (1227) Access denied; you need the '
                                    'SLAVE MONITOR privilege')
