# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""GTID positions: what to wait for, what is missing, which connection to watch."""

from __future__ import annotations

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils.gtid import (
    ConnectionChoiceError,
    choose_connection,
    connection_problem,
    covers,
    describe_missing,
    missing_gtids,
    parse_domain_ids,
    wait_position,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.replication import format_gtid_list


@pytest.mark.parametrize('text, expected', [
    ('', set()),
    (None, set()),
    ('1', {1}),
    ('1,2,30', {1, 2, 30}),
    ('1, 2 ,3', {1, 2, 3}),
    ('4 5', {4, 5}),
])
def test_parse_domain_ids(text, expected):
    assert parse_domain_ids(text) == expected


def test_parse_domain_ids_refuses_garbage():
    with pytest.raises(ValueError, match="invalid domain id 'x'"):
        parse_domain_ids('1,x')


def wait(source, replica_id, replica_binlog='', **kwargs):
    position, skipped = wait_position(source, replica_id, replica_binlog, **kwargs)
    return format_gtid_list(position), [(item.domain, item.gtid) for item in skipped], skipped


class TestWaitPosition(object):
    def test_echo_of_the_replicas_own_domain_is_not_waited_for(self):
        pos, skipped, raw = wait('1-11-100,2-12-50', 12, '1-11-99,2-12-50')
        assert pos == '1-11-100'
        assert skipped == [(2, '2-12-50')]
        assert raw[0].reason == 'written by the replica itself (server_id 12); its binary log holds 2-12-50'

    def test_replica_ahead_in_its_own_domain_still_skips(self):
        pos, skipped, dummy = wait('1-11-100,2-12-50', 12, '2-12-75')
        assert (pos, skipped) == ('1-11-100', [(2, '2-12-50')])

    def test_own_server_id_but_not_in_own_binlog_is_waited_for(self):
        # e.g. RESET MASTER on the replica: it cannot prove it has the events.
        pos, skipped, dummy = wait('1-11-100,2-12-50', 12, '2-12-10')
        assert (pos, skipped) == ('1-11-100,2-12-50', [])
        pos, skipped, dummy = wait('1-11-100,2-12-50', 12, '')
        assert (pos, skipped) == ('1-11-100,2-12-50', [])

    def test_domains_of_other_servers_are_waited_for(self):
        # domain 3 written by server 13 (a third node behind the source)
        pos, skipped, dummy = wait('1-11-100,2-12-50,3-13-7', 12, '1-11-100,2-12-50,3-13-7')
        assert (pos, skipped) == ('1-11-100,3-13-7', [(2, '2-12-50')])

    def test_same_domain_last_written_by_another_server_is_waited_for(self):
        pos, skipped, dummy = wait('0-11-100', 12, '0-12-120')
        assert (pos, skipped) == ('0-11-100', [])

    def test_ignored_and_not_done_domains(self):
        pos, skipped, raw = wait('1-11-100,2-12-50,3-13-7', 11, '', ignore_domains='3')
        assert (pos, skipped) == ('1-11-100,2-12-50', [(3, '3-13-7')])
        assert 'IGNORE_DOMAIN_IDS' in raw[0].reason
        pos, skipped, raw = wait('1-11-100,2-12-50,3-13-7', 11, '', do_domains='1,2')
        assert (pos, skipped) == ('1-11-100,2-12-50', [(3, '3-13-7')])
        assert raw[0].reason == 'the connection only receives domains 1,2 (DO_DOMAIN_IDS)'

    def test_empty_source_position(self):
        assert wait('', 12)[:2] == ('', [])

    def test_unknown_replica_server_id_skips_nothing(self):
        assert wait('2-12-50', None, '2-12-50')[:2] == ('2-12-50', [])

    def test_accepts_parsed_positions(self):
        position, skipped = wait_position({1: (11, 5)}, 12, {}, do_domains=set(), ignore_domains=set())
        assert position == {1: (11, 5)} and skipped == []


class TestMissing(object):
    def test_nothing_missing(self):
        assert missing_gtids('1-11-100', '1-11-100,2-12-3') == []
        assert missing_gtids('1-11-100', '1-11-101') == []
        assert covers('1-11-101,2-12-3', '1-11-100')
        assert covers('', '')

    def test_behind_and_absent(self):
        missing = missing_gtids('1-11-100,3-13-7', '1-11-90,2-12-3')
        assert missing == [
            dict(domain=1, wanted='1-11-100', reached='1-11-90', behind=10),
            dict(domain=3, wanted='3-13-7', reached='', behind=7),
        ]
        assert not covers('1-11-90', '1-11-100,3-13-7')
        assert describe_missing(missing) == ('domain 1 at 1-11-90, needs 1-11-100 (10 behind); '
                                             'domain 3 not applied at all, needs 3-13-7')

    def test_describe_nothing(self):
        assert describe_missing([]) == 'nothing'


def status(name, host='10.0.0.2', port=3306, server_id=12, io='Yes', sql='Yes', **extra):
    row = dict(connection_name=name, source_host=host, source_port=port, source_server_id=server_id,
               io_running_state=io, sql_running_state=sql, last_io_errno=0, last_io_error='',
               last_sql_errno=0, last_sql_error='')
    row.update(extra)
    return row


class TestChooseConnection(object):
    statuses = {
        'peer': status('peer', server_id=12),
        'Other': status('Other', host='10.0.0.3', server_id=13),
    }

    def test_by_name_case_insensitive(self):
        assert choose_connection(self.statuses, 'other')[0] == 'Other'

    def test_unknown_name_lists_connections(self):
        with pytest.raises(ConnectionChoiceError) as caught:
            choose_connection(self.statuses, 'nope')
        assert str(caught.value) == ("there is no replication connection 'nope'; connections: "
                                     "'Other' (10.0.0.3:3306), 'peer' (10.0.0.2:3306)")

    def test_by_source_server_id(self):
        assert choose_connection(self.statuses, source_server_id=13)[0] == 'Other'

    def test_by_host_and_port_when_not_connected_yet(self):
        statuses = {'a': status('a', server_id=0), 'b': status('b', host='10.0.0.3', port=3307, server_id=0)}
        assert choose_connection(statuses, source_server_id=13, source_host='10.0.0.3', source_port=3307)[0] == 'b'

    def test_the_only_one(self):
        assert choose_connection({'': status('')})[0] == ''

    def test_ambiguous_and_none(self):
        with pytest.raises(ConnectionChoiceError, match='cannot tell which replication connection'):
            choose_connection(self.statuses, source_server_id=99)
        with pytest.raises(ConnectionChoiceError, match='there is no replication connection at all'):
            choose_connection({})


class TestConnectionProblem(object):
    def test_running(self):
        assert connection_problem(status('peer')) is None

    def test_io_connecting_is_given_time(self):
        assert connection_problem(status('peer', io='Connecting', last_io_errno=2003,
                                         last_io_error="Can't connect")) is None

    def test_missing(self):
        assert connection_problem(None) == 'the replication connection does not exist'

    def test_stopped(self):
        assert connection_problem(status('peer', io='No', sql='No')) == \
            'the SQL thread is not applying: IO thread No; SQL thread No'
        assert connection_problem(status('peer', io='No')) == 'the IO thread is stopped: IO thread No; SQL thread Yes'

    def test_sql_error(self):
        assert connection_problem(status('peer', sql='No', last_sql_errno=1062, last_sql_error='Duplicate entry')) == \
            'the SQL thread is not applying: IO thread Yes; SQL thread No; Last_SQL_Errno 1062: Duplicate entry'

    def test_refused_account(self):
        problem = connection_problem(status('peer', io='Connecting', last_io_errno=1045, last_io_error='Access denied'))
        assert problem == ('the source refuses the replication account: IO thread Connecting; SQL thread Yes; '
                           'Last_IO_Errno 1045: Access denied')
