# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""shard_purge's flow against scripted fake servers and a fake clock."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import MariaDBQueryError, render_statement
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import TableSpec
from ansible_collections.smooth.mariadb.plugins.modules import shard_purge as mod

from .module_standin import FailJson, ModuleStandIn


class FakeModule(ModuleStandIn):
    ARGUMENT_SPEC = staticmethod(mod.argument_spec)
    DEFAULTS = dict(login_host='10.0.0.1', login_port=3306, tables=['shop.orders'], key_column='customer_id',
                    modulus=2, owned_residues=[0])


class FakeClock(object):
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class FakeSession(object):
    """Answers reads through handlers (fragment -> rows or callable); records writes."""

    def __init__(self, handlers, fail=None, read_only=False):
        self.handlers = handlers
        self.fail = fail or {}
        self.read_only = read_only
        self.queries = []
        self.executed = []
        self.reads = []

    def fetch_all(self, sql, params=None):
        self.reads.append(render_statement(sql, params))
        for fragment, answer in self.handlers:
            if fragment in sql:
                rows = answer(sql, params) if callable(answer) else answer
                return [dict(row) for row in rows]
        raise AssertionError('unexpected read: %s' % sql)

    def fetch_one(self, sql, params=None):
        rows = self.fetch_all(sql, params)
        return rows[0] if rows else None

    def execute(self, sql, params=None):
        assert not self.read_only
        statement = render_statement(sql, params)
        self.executed.append(statement)
        errors = self.fail.get(sql.split(' ')[0], [])
        if errors:
            errno = errors.pop(0)
            raise MariaDBQueryError(statement, '(%d) simulated' % errno, errno=errno)
        self.queries.append(statement)


ORDERS_INFO = [
    ('information_schema.TABLES', [{'name': 'orders', 'type': 'BASE TABLE', 'engine': 'InnoDB'}]),
    ('information_schema.COLUMNS', [
        {'name': 'id', 'data_type': 'bigint', 'column_type': 'bigint(20)', 'nullable': 'NO'},
        {'name': 'customer_id', 'data_type': 'int', 'column_type': 'int(10) unsigned', 'nullable': 'NO'}]),
    ('information_schema.STATISTICS', [{'name': 'id'}]),
    ('information_schema.REFERENTIAL_CONSTRAINTS', []),
    ('information_schema.TRIGGERS', []),
]

NODE_BASICS = [
    ('VERSION()', [{'version': '10.11.19-MariaDB-0+deb12u1-log'}]),
    ('@@GLOBAL.server_id AS server_id, @@GLOBAL.log_bin', [{'server_id': 11, 'log_bin': 1, 'binlog_format': 'ROW'}]),
    ('SHOW ALL SLAVES STATUS', []),
    ('SHOW SLAVE HOSTS', []),
    ('information_schema.PROCESSLIST', []),
    ('CURRENT_USER()', [{'user': 'smooth_admin@localhost'}]),
    ('USER_PRIVILEGES', [{'grantee': "'smooth_admin'@'localhost'", 'privilege': 'PROCESS'}]),
    ("LIKE 'wsrep_on'", [{'Variable_name': 'wsrep_on', 'Value': 'OFF'}]),
    ('EXPLAIN DELETE', []),
]


def node_session(extra=(), **kwargs):
    return FakeSession(list(extra) + ORDERS_INFO + NODE_BASICS, **kwargs)


def test_argument_spec_secrets():
    spec = mod.argument_spec()
    assert spec['login_password']['no_log'] is True
    assert spec['partner']['options']['login_password']['no_log'] is True


def test_refusal_lists_every_problem_and_runs_nothing():
    module = FakeModule(tables=['shop.orders', 'shop.ghost', 'nodot'], owned_residues=[0, 2], chunk_size=0)
    ghost = [('information_schema.TABLES', lambda sql, params: (
        [] if params[1] == 'ghost' else ORDERS_INFO[0][1]))]
    replica = [('SHOW SLAVE HOSTS', [{'Server_id': 31, 'Host': '10.0.0.3', 'Port': 3306, 'Master_id': 11}])]
    session = node_session(ghost + replica)
    with pytest.raises(FailJson) as failure:
        mod.Purge(module, session, clock=FakeClock()).run()
    msg = failure.value.args[0]['msg']
    assert msg.startswith('Refusing to purge on 10.0.0.1:3306, nothing was deleted. 5 problem(s): ')
    assert "(1) tables[2]: table name 'nodot' must be written as database.table." in msg
    assert '(2) owned_residues 2 out of range: residues of modulus 2 are 0 to 1.' in msg
    assert '(3) chunk_size must be a whole number of rows from 1 to 100000, got 0 (one chunk is one transaction' in msg
    assert '(4) table shop.ghost does not exist.' in msg
    assert '(5) replica server_id 31 (reported as 10.0.0.3:3306) replicates from 10.0.0.1:3306' in msg
    assert session.executed == []
    assert failure.value.args[0]['changed'] is False
    # The replica may pass by itself, the rest not: the refusal names the first lasting problem.
    assert (failure.value.args[0]['reason'], failure.value.args[0]['retryable']) == ('bad_options', False)
    assert [problem['reason'] for problem in failure.value.args[0]['problems']] == [
        'bad_options', 'bad_options', 'bad_options', 'tables_refused', 'replica_registered']
    assert failure.value.args[0]['problems'][3]['msg'] == 'table shop.ghost does not exist'


def test_a_replica_still_registered_is_the_only_refusal_that_may_pass_by_itself():
    """A replica that stopped a moment ago stays registered until its dump thread notices: reason
    replica_registered, retryable (the playbook retries on it)."""
    replica = [('SHOW SLAVE HOSTS', [{'Server_id': 31, 'Host': '10.0.0.3', 'Port': 3306, 'Master_id': 11}]),
               ('information_schema.PROCESSLIST', [{'id': 7, 'user': 'repl', 'host': '10.0.0.3:40000',
                                                    'command': 'Binlog Dump'}])]
    session = node_session(replica)
    with pytest.raises(FailJson) as failure:
        mod.Purge(FakeModule(), session, clock=FakeClock()).run()
    result = failure.value.args[0]
    assert (result['reason'], result['retryable']) == ('replica_registered', True)
    assert [problem['reason'] for problem in result['problems']] == ['replica_registered']
    assert session.executed == [] and result['deleted'] == 0


@pytest.mark.parametrize('kinds, outcome', [
    (['replica_registered'], ('replica_registered', True)),
    (['replica_registered', 'replica_registered'], ('replica_registered', True)),
    (['replica_registered', 'interlock'], ('interlock', False)),
    (['tables_refused', 'replica_registered', 'interlock'], ('tables_refused', False)),
    (['cannot_connect'], ('cannot_connect', False)),
    (['peers_refused', 'bad_options'], ('peers_refused', False)),
])
def test_refusal_outcome_names_the_first_problem_that_does_not_pass_by_itself(kinds, outcome):
    assert mod.refusal_outcome([(kind, 'text') for kind in kinds]) == outcome


def test_every_reason_is_documented():
    documented = yaml.safe_load(mod.RETURN)['reason']['description'][0]
    for reason in mod.RETRYABLE:
        assert 'V(%s)' % reason in documented, reason


def test_null_or_negative_keys_are_refused():
    module = FakeModule()
    signed = [('information_schema.COLUMNS', [
        {'name': 'id', 'data_type': 'bigint', 'column_type': 'bigint(20)', 'nullable': 'NO'},
        {'name': 'customer_id', 'data_type': 'int', 'column_type': 'int(11)', 'nullable': 'YES'}]),
        ('AS invalid_rows', [{'invalid_rows': 3}])]
    session = node_session(signed)
    with pytest.raises(FailJson) as failure:
        mod.Purge(module, session, clock=FakeClock()).run()
    assert ('table shop.orders has 3 row(s) with a NULL or negative key customer_id: they belong to no shard'
            in failure.value.args[0]['msg'])
    assert (failure.value.args[0]['reason'], failure.value.args[0]['retryable']) == ('tables_refused', False)
    assert any('WHERE (`customer_id` IS NULL OR `customer_id` < 0)' in read for read in session.reads)


def chunked_table(bounds, deleted_per_chunk, foreign=None, clock=None):
    """Handlers for a table whose chunk bounds and ROW_COUNT()s are scripted (each chunk takes 0.6 s)."""
    bounds = list(bounds)
    counts = list(deleted_per_chunk)
    total = dict(rows=100, foreign=foreign if foreign is not None else sum(deleted_per_chunk))

    def bound(sql, params):
        if clock is not None:
            clock.now += 0.6
        upper = bounds.pop(0)
        return [] if upper is None else [{'id': upper}]

    def count(sql, params):
        row = {'total_rows': total['rows'], 'foreign_rows': total['foreign']}
        total['rows'] -= total['foreign']
        total['foreign'] = 0
        return [row]

    return [
        ('AS chunk', bound),
        ('ROW_COUNT()', lambda sql, params: [{'deleted': counts.pop(0), 'gtid': '1-11-%d' % (50 + len(counts))}]),
        ('AS total_rows', count),
    ]


def test_purge_walks_chunks_and_summarises(tmp_path):
    progress = tmp_path / 'progress.jsonl'
    module = FakeModule(chunk_size=10, progress_file=str(progress), diff=True)
    clock = FakeClock()
    session = node_session(chunked_table([14, 29, 33, None], [10, 10, 4], clock=clock))
    result = mod.Purge(module, session, clock=clock).run()
    assert result['changed'] is True
    assert result['deleted'] == 24 and result['chunks'] == 3
    entry = result['tables']['shop.orders']
    assert (entry['deleted'], entry['chunks'], entry['foreign_rows_at_start']) == (24, 3, 24)
    assert (entry['remaining_rows'], entry['remaining_foreign_rows']) == (76, 0)
    pred = '(`customer_id` >= 0 AND MOD(`customer_id`, 2) NOT IN (0)) /* smooth.mariadb.shard_purge */'
    assert session.executed == [
        'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED',
        'SET SESSION innodb_lock_wait_timeout = 10',
        'DELETE FROM `shop`.`orders` WHERE (`id` <= 14) AND %s' % pred,
        'DELETE FROM `shop`.`orders` WHERE (`id` > 14) AND (`id` <= 29) AND %s' % pred,
        'DELETE FROM `shop`.`orders` WHERE (`id` > 29) AND (`id` <= 33) AND %s' % pred,
    ]
    assert result['queries_total'] == 5
    assert result['queries'] == session.executed
    assert result['diff'] == dict(before={'shop.orders': dict(rows=100, foreign_rows=24)},
                                  after={'shop.orders': dict(rows=76, foreign_rows=0)})
    assert 'no partner given: the purge is not throttled on replication lag' in module.warnings
    events = [json.loads(line)['event'] for line in progress.read_text().splitlines()]
    # A chunk takes 0.6 s: a chunk line at most once a second.
    assert events == ['start', 'table_start', 'chunk', 'table_done', 'done']
    assert entry['elapsed'] == 2.4 and result['rows_per_second'] == 10.0


def test_rerun_with_nothing_left_is_unchanged():
    module = FakeModule()
    session = node_session(chunked_table([None], [], foreign=0))
    result = mod.Purge(module, session, clock=FakeClock()).run()
    assert result['changed'] is False and result['deleted'] == 0 and result['chunks'] == 0
    assert [query for query in session.executed if query.startswith('DELETE')] == []


def test_check_mode_counts_and_deletes_nothing():
    module = FakeModule(check_mode=True, chunk_size=10)
    session = node_session([('AS total_rows', [{'total_rows': 100, 'foreign_rows': 45}])], read_only=True)
    result = mod.Purge(module, session, clock=FakeClock()).run()
    assert result['changed'] is True
    assert result['tables']['shop.orders']['foreign_rows_at_start'] == 45
    assert result['tables']['shop.orders']['chunks'] == 5
    assert result['deleted'] == 0 and session.executed == [] and result['queries'] == []


def test_binlog_false_and_statement_format_settings():
    module = FakeModule(binlog=False, lock_wait_timeout=3)
    extra = [('@@GLOBAL.server_id AS server_id, @@GLOBAL.log_bin',
              [{'server_id': 11, 'log_bin': 1, 'binlog_format': 'STATEMENT'}])]
    session = node_session(extra + chunked_table([None], [], foreign=0))
    mod.Purge(module, session, clock=FakeClock()).run()
    assert session.executed == ['SET SESSION innodb_lock_wait_timeout = 3', 'SET SESSION sql_log_bin = 0']


def test_foreign_rows_written_during_the_purge_fail_the_run():
    module = FakeModule()
    handlers = chunked_table([5, None], [3])
    calls = []

    def count(sql, params):
        calls.append(1)
        return [{'total_rows': 10, 'foreign_rows': 3 if len(calls) == 1 else 2}]
    handlers[2] = ('AS total_rows', count)
    with pytest.raises(FailJson) as failure:
        mod.Purge(module, node_session(handlers), clock=FakeClock()).run()
    assert failure.value.args[0]['msg'] == (
        'Purge on 10.0.0.1:3306 finished but shop.orders still holds 2 row(s) of other residues: rows written '
        'during the purge (is the application still writing them here?); rerun')
    assert failure.value.args[0]['changed'] is True
    assert (failure.value.args[0]['reason'], failure.value.args[0]['retryable']) == ('rows_arriving', False)


def test_deadlocked_chunk_is_retried_then_a_real_error_names_the_chunk():
    module = FakeModule()
    session = node_session(chunked_table([14, None], [10]), fail={'DELETE': [1213, 1205]})
    result = mod.Purge(module, session, clock=FakeClock()).run()
    assert result['deleted'] == 10
    assert len([query for query in session.executed if query.startswith('DELETE')]) == 3

    session = node_session(chunked_table([14, 20, None], [10, 10]), fail={'DELETE': [1146]})
    with pytest.raises(FailJson) as failure:
        mod.Purge(module, session, clock=FakeClock()).run()
    assert failure.value.args[0]['msg'].startswith(
        'Purge of shop.orders on 10.0.0.1:3306 failed on the chunk from the start up to id = 14: (1146) simulated '
        '(statement: DELETE FROM `shop`.`orders` WHERE (`id` <= 14)')
    assert (failure.value.args[0]['reason'], failure.value.args[0]['retryable']) == ('query_failed', False)

    # A deadlock on every attempt may pass when run again.
    session = node_session(chunked_table([14, None], [10]), fail={'DELETE': [1213, 1213, 1213]})
    with pytest.raises(FailJson) as failure:
        mod.Purge(module, session, clock=FakeClock()).run()
    assert (failure.value.args[0]['reason'], failure.value.args[0]['retryable']) == ('query_failed', True)


# ---------------------------------------------------------------------------
# Throttle
# ---------------------------------------------------------------------------

def partner_purge(applied, status, clock, **params):
    options = dict(max_lag=1.0, max_pause=5.0)
    options.update(params)
    module = FakeModule(**options)
    purge = mod.Purge(module, node_session(), clock=clock, sleep=clock.sleep)
    purge.partner_target = '10.0.0.2:3306'
    purge.partner_connection = 'from_a'
    purge.partner_session = FakeSession([
        ('gtid_slave_pos', lambda sql, params: [{'pos': applied()}]),
        ('SHOW ALL SLAVES STATUS', lambda sql, params: [status()]),
    ])
    return purge


def slave_row(sql_running='Yes', behind=0):
    return {'Connection_name': 'from_a', 'Slave_IO_Running': 'Yes', 'Slave_SQL_Running': sql_running,
            'Seconds_Behind_Master': behind, 'Master_Server_Id': 11, 'Last_SQL_Error': '', 'Last_IO_Error': ''}


def test_throttle_goes_on_when_the_partner_keeps_up():
    clock = FakeClock()
    purge = partner_purge(lambda: '1-11-7', slave_row, clock)
    purge.tracker.committed('1-11-7', clock.now - 0.5)
    purge.chunk_times = [0.6]
    purge.throttle('shop.orders')
    assert clock.sleeps == [] and purge.paused == 0
    assert purge.tracker.max_seen == 0.0 and purge.tracker.pending == []


def test_throttle_asks_the_partner_only_when_the_lag_could_reach_max_lag():
    """Chunks committed 0.3 s ago at most, a chunk takes 0.2 s: the lag stays under 1 s without asking."""
    clock = FakeClock()
    purge = partner_purge(lambda: '1-11-6', slave_row, clock)
    purge.tracker.committed('1-11-7', clock.now - 0.3)
    purge.chunk_times = [0.1, 0.2]
    purge.throttle('shop.orders')
    assert purge.partner_session.reads == [] and purge.tracker.max_seen is None
    clock.now += 0.6  # now 0.9 s + 0.2 s could exceed 1 s: ask
    purge.partner_session.handlers[0] = ('gtid_slave_pos', lambda sql, params: [{'pos': '1-11-7'}])
    purge.throttle('shop.orders')
    assert len(purge.partner_session.reads) == 2 and clock.sleeps == []
    assert purge.tracker.pending == [] and purge.tracker.max_seen == 0.0


def test_throttle_pauses_before_a_chunk_that_would_take_the_lag_past_max_lag():
    """A lag of 0.7 s is within max_lag 1 s, but the next chunk takes 0.5 s: wait until the partner applied."""
    clock = FakeClock()
    purge = partner_purge(lambda: '1-11-7' if clock.now >= 1000.3 else '1-11-6', slave_row, clock)
    purge.tracker.committed('1-11-7', clock.now - 0.7)
    purge.chunk_times = [0.5]
    purge.throttle('shop.orders')
    assert clock.now >= 1000.3 and clock.sleeps[:2] == [0.02, 0.04]
    assert purge.tracker.max_seen <= 1.0 and purge.tracker.pending == []


def test_throttle_failure_names_the_chunk_time_when_the_lag_itself_is_within_max_lag():
    clock = FakeClock()
    purge = partner_purge(lambda: '1-11-6', slave_row, clock, max_pause=0)
    purge.tracker.committed('1-11-7', clock.now - 0.7)
    purge.chunk_times = [0.5]
    with pytest.raises(FailJson) as failure:
        purge.throttle('shop.orders')
    assert 'lag 0.7 s (0.5 s more by the end of the next chunk) exceeds max_lag 1.0 s' in failure.value.args[0]['msg']
    assert (failure.value.args[0]['reason'], failure.value.args[0]['retryable']) == ('partner_lag', True)


def test_throttle_pauses_until_the_partner_catches_up():
    clock = FakeClock()
    purge = partner_purge(lambda: '1-11-7' if clock.now >= 1001.5 else '1-11-6', slave_row, clock)
    purge.tracker.committed('1-11-7', clock.now - 2)
    purge.throttle('shop.orders')
    assert clock.now >= 1001.5
    assert clock.sleeps[:3] == [0.02, 0.04, 0.08] and max(clock.sleeps) == 0.5
    assert purge.paused == pytest.approx(clock.now - 1000.0)


def test_throttle_fails_with_the_lag_when_max_pause_is_used_up():
    clock = FakeClock()
    purge = partner_purge(lambda: '1-11-6', lambda: slave_row(behind=3), clock)
    purge.tracker.committed('1-11-7', clock.now - 2)
    purge.deleted, purge.chunks = 1000, 1
    with pytest.raises(FailJson) as failure:
        purge.throttle('shop.orders')
    result = failure.value.args[0]
    assert result['msg'] == (
        'Partner 10.0.0.2:3306 (connection from_a) lag 7.0 s exceeds max_lag 1.0 s (1 chunk(s) not applied there '
        'yet, the oldest committed 7.0 s ago; Seconds_Behind_Master 3); paused 5.0 s in total, max_pause 5.0 s used '
        'up. 1000 row(s) deleted so far in 1 chunk(s) are committed; a rerun continues where this one stopped.')
    assert result['paused'] == 5.0 and result['max_partner_lag'] == 7.0
    assert result['max_partner_seconds_behind_master'] == 3
    assert result['changed'] is True
    assert len(clock.sleeps) < 25


def test_throttle_unknown_lag_when_the_partner_does_not_apply():
    clock = FakeClock()
    purge = partner_purge(lambda: '1-11-7', lambda: slave_row(sql_running='No', behind=None), clock, max_pause=0)
    with pytest.raises(FailJson) as failure:
        purge.throttle('shop.orders')
    assert ('lag unknown exceeds max_lag 1.0 s (the partner connection is not replicating: IO thread Yes, '
            'SQL thread No; no chunk of this run committed yet)' in failure.value.args[0]['msg'])
    assert clock.sleeps == []


def test_progress_throttles_chunk_lines(tmp_path):
    clock = FakeClock()
    path = tmp_path / 'p.jsonl'
    progress = mod.Progress(str(path), clock=clock)
    progress.write('chunk', force=False, n=1)
    clock.now += 0.5
    progress.write('chunk', force=False, n=2)
    clock.now += 0.6
    progress.write('chunk', force=False, n=3)
    progress.write('table_done', n=4)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line['n'] for line in lines] == [1, 3, 4]
    assert set(lines[0]) == set(['time', 'event', 'n'])
    mod.Progress(None).write('chunk')  # no file: nothing happens


def test_partner_checks_when_partner_has_no_connection_from_this_node(monkeypatch):
    module = FakeModule(partner=dict(login_host='10.0.0.2', login_port=3306, login_user=None, login_password=None,
                                     login_unix_socket=None, connection_name=None))
    partner = FakeSession([('@@GLOBAL.server_id', [{'server_id': 12}])] + NODE_BASICS)
    monkeypatch.setattr(mod, 'connect_server', lambda params: 'connection')
    monkeypatch.setattr(mod, 'SqlSession', lambda connection, read_only=False: partner)
    with pytest.raises(FailJson) as failure:
        mod.Purge(module, node_session(), clock=FakeClock()).run()
    assert ('partner 10.0.0.2:3306 has no replication connection from this node (server_id 11); name it with '
            'partner.connection_name' in failure.value.args[0]['msg'])
    assert (failure.value.args[0]['reason'], failure.value.args[0]['retryable']) == ('peers_refused', False)


def test_spec_tuple_is_shared():
    assert TableSpec._fields == ('name', 'schema', 'table', 'key')


# ---------------------------------------------------------------------------
# Owner check
# ---------------------------------------------------------------------------

OWNER = dict(residues=[1], login_host='10.0.0.5', login_port=3306, login_user=None, login_password=None,
             login_unix_socket=None)
PRED = '(`customer_id` >= 0 AND MOD(`customer_id`, 2) NOT IN (0)) /* smooth.mariadb.shard_purge */'


class DeletingSession(FakeSession):
    """A node session whose DELETEs report scripted affected rows, as the server's reply does."""

    def __init__(self, handlers, affected=(), **kwargs):
        super(DeletingSession, self).__init__(handlers, **kwargs)
        self.affected = list(affected)
        self.last_affected = None
        self.connection = self

    def execute(self, sql, params=None):
        super(DeletingSession, self).execute(sql, params)
        if sql.startswith('DELETE'):
            self.last_affected = self.affected.pop(0)

    def affected_rows(self):
        return self.last_affected


def owner_purge(monkeypatch, node_handlers, owner_handlers, affected=(), **params):
    """A purge of shop.orders (chunk ends scripted) with one owner of residue 1, both sessions scripted."""
    owner = FakeSession(list(owner_handlers) + [('@@GLOBAL.server_id', [{'server_id': 21}])] + ORDERS_INFO)
    monkeypatch.setattr(mod, 'connect_server', lambda params: 'connection')
    monkeypatch.setattr(mod, 'SqlSession', lambda connection, read_only=False: owner)
    node = DeletingSession(list(node_handlers) + ORDERS_INFO + NODE_BASICS, affected=affected,
                           read_only=params.get('check_mode', False))
    options = dict(owners=[OWNER], chunk_size=3)
    options.update(params)
    return mod.Purge(FakeModule(**options), node, clock=FakeClock()), node, owner


def bounds(*uppers):
    answers = list(uppers)
    return ('AS chunk', lambda sql, params: [] if answers[0] is None and answers.pop(0) is None
            else [{'id': answers.pop(0)}])


def digests(*answers):
    answers = [list(answer) for answer in answers]
    return ('AS hash_sum', lambda sql, params: answers.pop(0))


def counts(foreign=3):
    """Row counts: ``foreign`` rows of other residues before the purge, none after."""
    seen = []

    def count(sql, params):
        seen.append(1)
        return [{'total_rows': 10, 'foreign_rows': foreign if len(seen) == 1 else 0}]
    return ('AS total_rows', count)


GTID = ('last_gtid', [{'gtid': '1-11-60'}])


def test_owner_check_deletes_a_chunk_whose_digests_agree_in_one_transaction(monkeypatch):
    """Per chunk: a locking read of count and hash sum here, the same on the owner, one DELETE of the range."""
    node_handlers = [bounds(14, None), digests([{'residue': 1, 'row_count': 3, 'hash_sum': 99}]), counts(), GTID]
    owner_handlers = [digests([{'residue': 1, 'row_count': 3, 'hash_sum': 99 + 2 ** 64}])]
    purge, node, owner = owner_purge(monkeypatch, node_handlers, owner_handlers, affected=[3])
    result = purge.run()
    assert result['deleted'] == 3 and result['chunks'] == 1 and result['missing_on_owner'] == []
    assert node.executed[2:] == [
        'START TRANSACTION',
        'DELETE FROM `shop`.`orders` WHERE (`id` <= 14) AND %s' % PRED,
        'COMMIT',
    ]
    locking = [read for read in node.reads if 'hash_sum' in read]
    assert len(locking) == 1 and locking[0].endswith('(`id` <= 14) AND (`customer_id` >= 0 AND MOD(`customer_id`, 2) '
                                                     'NOT IN (0)) GROUP BY residue FOR UPDATE')
    assert not any('ORDER BY `id` FOR UPDATE' in read for read in node.reads)  # no keys shipped
    asked = [read for read in owner.reads if 'hash_sum' in read]
    assert len(asked) == 1 and asked[0].endswith('(`id` <= 14) AND (`customer_id` IS NOT NULL AND `customer_id` >= 0 '
                                                 'AND MOD(`customer_id`, 2) IN (1)) GROUP BY residue')
    assert result['queries'][-1] == 'DELETE FROM `shop`.`orders` WHERE (`id` <= 14) AND %s' % PRED


def test_owner_check_rolls_back_when_a_row_arrived_in_the_range_and_refuses_it(monkeypatch):
    """Another client inserted order 9 (customer 7) into the chunk after the locking read (READ COMMITTED takes no
    gap lock): the DELETE reports 4 rows, not the 3 proven. Rolled back; row by row, order 9 is not on its owner."""
    keys = [{'id': 3, 'customer_id': 1}, {'id': 9, 'customer_id': 7}, {'id': 11, 'customer_id': 3},
            {'id': 14, 'customer_id': 5}]
    node_handlers = [bounds(14, None), digests([{'residue': 1, 'row_count': 3, 'hash_sum': 99}]),
                     ('ORDER BY `id` FOR UPDATE', keys), counts(), GTID]
    owner_handlers = [digests([{'residue': 1, 'row_count': 3, 'hash_sum': 99}]),
                      ('SELECT `id`, `customer_id` FROM', [keys[0], keys[2], keys[3]])]
    purge, node, owner = owner_purge(monkeypatch, node_handlers, owner_handlers, affected=[4])
    with pytest.raises(FailJson) as failure:
        purge.run()
    result = failure.value.args[0]
    assert result['msg'].startswith(
        'Stopped the purge of shop.orders before the chunk from the start up to id = 14 (0 row(s) deleted so far, '
        'each found on its owner first, are committed) on 10.0.0.1:3306: 1 row(s) it would delete are not found on '
        'the shard that owns them - shop.orders: 1 row(s) of residue 1 not on their owner 10.0.0.5:3306, first id = 9.')
    assert node.executed[2:] == [
        'START TRANSACTION',
        'DELETE FROM `shop`.`orders` WHERE (`id` <= 14) AND %s' % PRED,
        'ROLLBACK',
        'START TRANSACTION',
        'ROLLBACK',
    ]
    assert result['deleted'] == 0 and result['changed'] is False and result['queries_total'] == 2
    assert result['missing_on_owner'] == [dict(table='shop.orders', key=[9], residue=1, reason='absent',
                                               owner='10.0.0.5:3306', owner_shard_key=None)]
    assert (result['reason'], result['retryable']) == ('missing_on_owner', False)


def order_11_missing_on_owner(monkeypatch, **params):
    """A chunk of orders 3, 11 and 14 (customers 1, 3, 5) whose owner lacks order 11: the digests differ."""
    keys = [{'id': 3, 'customer_id': 1}, {'id': 11, 'customer_id': 3}, {'id': 14, 'customer_id': 5}]
    node_handlers = [bounds(14, None), digests([{'residue': 1, 'row_count': 3, 'hash_sum': 99}]),
                     ('ORDER BY `id` FOR UPDATE', keys), counts(), GTID]
    owner_handlers = [digests([{'residue': 1, 'row_count': 2, 'hash_sum': 60}]),
                      ('SELECT `id`, `customer_id` FROM', [keys[0], keys[2]])]
    return owner_purge(monkeypatch, node_handlers, owner_handlers, affected=[3], **params)


def test_owner_check_compares_row_by_row_when_digests_differ(monkeypatch):
    """The owner lacks order 11, which the application deleted there: allow_missing_on_owner deletes it, by key."""
    purge, node, owner = order_11_missing_on_owner(
        monkeypatch, allow_missing_on_owner=True, deleted_on_owner=[dict(table='shop.orders', key=[11], shard_key=3)])
    result = purge.run()
    assert result['deleted'] == 3
    assert node.executed[2:] == [
        'START TRANSACTION',
        'DELETE FROM `shop`.`orders` WHERE `id` IN (3, 11, 14) AND %s' % PRED,
        'COMMIT',
    ]
    assert [(entry['key'], entry['reason']) for entry in result['missing_on_owner']] == [([11], 'deleted')]


@pytest.mark.parametrize('deleted', [[], [dict(table='shop.orders', key=[11], shard_key=7)],
                                     [dict(table='shop.items', key=[11], shard_key=3)]])
def test_allow_missing_on_owner_keeps_a_row_the_owner_did_not_delete_since_the_split(monkeypatch, deleted):
    """Order 11 (customer 3) is absent on the owner, but the owner's binary log has no delete of that row
    (same table, primary key and shard key): it never reached the owner, so it stays and the purge stops."""
    purge, node, owner = order_11_missing_on_owner(monkeypatch, allow_missing_on_owner=True, deleted_on_owner=deleted)
    with pytest.raises(FailJson) as failure:
        purge.run()
    result = failure.value.args[0]
    assert 'not on their owner 10.0.0.5:3306, which did not delete them since the split either, first id = 11' \
        in result['msg'], result['msg']
    assert [(entry['key'], entry['reason']) for entry in result['missing_on_owner']] == [([11], 'absent')]
    assert 'COMMIT' not in node.executed and not any(q.startswith('DELETE') for q in node.executed)


def test_allow_missing_on_owner_needs_the_owners_deletes(monkeypatch):
    purge, node, owner = owner_purge(monkeypatch, [], [], allow_missing_on_owner=True)
    with pytest.raises(FailJson) as failure:
        purge.run()
    assert 'allow_missing_on_owner needs deleted_on_owner: the rows the owner deleted since the split' \
        in failure.value.args[0]['msg']


def test_owner_check_fails_and_rolls_back_when_a_delete_by_key_meets_other_rows_than_it_locked(monkeypatch):
    keys = [{'id': 3, 'customer_id': 1}, {'id': 14, 'customer_id': 5}]
    node_handlers = [bounds(14, None), digests([{'residue': 1, 'row_count': 2, 'hash_sum': 99}]),
                     ('ORDER BY `id` FOR UPDATE', keys), counts(), GTID]
    owner_handlers = [digests([{'residue': 1, 'row_count': 3, 'hash_sum': 60}]),
                      ('SELECT `id`, `customer_id` FROM', keys)]
    purge, node, owner = owner_purge(monkeypatch, node_handlers, owner_handlers, affected=[1])
    with pytest.raises(FailJson) as failure:
        purge.run()
    assert failure.value.args[0]['msg'].startswith(
        'Purge of shop.orders on 10.0.0.1:3306: the chunk from the start up to id = 14 would have deleted 1 row(s) '
        'where 2 were locked and looked up on their owner; rolled back.')
    assert node.executed[-1] == 'ROLLBACK' and 'COMMIT' not in node.executed
    assert (failure.value.args[0]['reason'], failure.value.args[0]['retryable']) == ('chunk_changed', True)


def test_owner_check_retries_a_deadlocked_chunk_from_its_locking_read(monkeypatch):
    node_handlers = [bounds(14, None), digests([{'residue': 1, 'row_count': 3, 'hash_sum': 99}],
                                               [{'residue': 1, 'row_count': 3, 'hash_sum': 99}]), counts(), GTID]
    owner_handlers = [digests([{'residue': 1, 'row_count': 3, 'hash_sum': 99}],
                              [{'residue': 1, 'row_count': 3, 'hash_sum': 99}])]
    purge, node, owner = owner_purge(monkeypatch, node_handlers, owner_handlers, affected=[3])
    node.fail = {'DELETE': [1213]}
    result = purge.run()
    assert result['deleted'] == 3
    assert node.executed[2:] == [
        'START TRANSACTION', 'DELETE FROM `shop`.`orders` WHERE (`id` <= 14) AND %s' % PRED, 'ROLLBACK',
        'START TRANSACTION', 'DELETE FROM `shop`.`orders` WHERE (`id` <= 14) AND %s' % PRED, 'COMMIT']
    assert len([read for read in node.reads if read.endswith('FOR UPDATE')]) == 2


def test_owner_check_in_check_mode_compares_every_chunk_without_locking(monkeypatch):
    """Chunk 1 agrees by digest; chunk 2 does not, and row by row order 21 (customer 9) is another row on the owner."""
    keys = [{'id': 17, 'customer_id': 1}, {'id': 21, 'customer_id': 9}]
    node_handlers = [bounds(14, 21, None),
                     digests([{'residue': 1, 'row_count': 3, 'hash_sum': 99}],
                             [{'residue': 1, 'row_count': 2, 'hash_sum': 5}]),
                     ('ORDER BY `id`', keys), ('AS total_rows', [{'total_rows': 10, 'foreign_rows': 5}])]
    owner_handlers = [digests([{'residue': 1, 'row_count': 3, 'hash_sum': 99}],
                              [{'residue': 1, 'row_count': 2, 'hash_sum': 6}]),
                      ('SELECT `id`, `customer_id` FROM', [keys[0], {'id': 21, 'customer_id': 3}])]
    purge, node, owner = owner_purge(monkeypatch, node_handlers, owner_handlers, check_mode=True)
    purge.module.check_mode = True
    with pytest.raises(FailJson) as failure:
        purge.run()
    result = failure.value.args[0]
    assert result['msg'].startswith('Refusing to purge (check mode, nothing was deleted) on 10.0.0.1:3306: 1 row(s)')
    assert 'first id = 21 (customer_id 3 there)' in result['msg']
    assert (result['reason'], result['retryable']) == ('missing_on_owner', False)
    assert node.executed == [] and not any('FOR UPDATE' in read for read in node.reads)
    assert len([read for read in node.reads if 'ORDER BY `id`' in read and 'AS chunk' not in read]) == 1
    assert result['tables']['shop.orders']['missing_on_owner'] == 1


def test_a_table_the_account_may_not_delete_from_is_refused_before_anything_also_in_check_mode():
    """The dry run must prove the real run: EXPLAIN DELETE is checked for the DELETE privilege like the DELETE."""
    def denied(sql, params):
        assert sql == 'EXPLAIN DELETE FROM `shop`.`orders` WHERE FALSE'
        raise MariaDBQueryError(sql, "(1142) DELETE command denied to user 'ro'@'localhost' for table `shop`.`orders`",
                                errno=1142)
    for check_mode in (True, False):
        session = node_session([('EXPLAIN DELETE', denied)], read_only=check_mode)
        purge = mod.Purge(FakeModule(check_mode=check_mode), session, clock=FakeClock())
        with pytest.raises(FailJson) as failure:
            purge.run()
        msg = failure.value.args[0]['msg']
        assert msg.startswith('Refusing to purge on 10.0.0.1:3306, nothing was deleted. 1 problem(s): (1) the login '
                              'account may not delete from shop.orders: (1142) DELETE command denied'), msg
        assert msg.endswith('(grant it DELETE on the table).') and session.executed == []


def write_lock(path, run_id):
    path.write_text(json.dumps({'run_id': run_id, 'controller': 'ctl-1', 'pid': 1}) + '\n')


def test_purge_stops_within_a_second_of_its_run_losing_the_lock(tmp_path):
    # The run that started the purge died; the next run took the lock over during the first chunk.
    lock = tmp_path / 'run.lock'
    write_lock(lock, 'run-1')
    clock = FakeClock()
    handlers = chunked_table([14, 29, 33, None], [10, 10, 4], clock=clock)
    chunk_bound = handlers[0][1]

    def bound(sql, params):
        write_lock(lock, 'run-2')
        return chunk_bound(sql, params)
    session = node_session([('AS chunk', bound)] + handlers[1:])
    module = FakeModule(chunk_size=10, run_id='run-1', run_lock_path=str(lock))
    with pytest.raises(FailJson) as failed:
        mod.Purge(module, session, clock=clock).run()
    message = failed.value.args[0]['msg']
    assert ('Purge on 10.0.0.1:3306 stopped: the run lock %s names run run-2, not run run-1 that started this purge'
            % lock) in message
    # A chunk takes 0.6 s and the lock is read at most once a second: it stops after the second chunk.
    assert '20 row(s) deleted so far in 2 chunk(s) are committed; a rerun continues' in message
    assert len([q for q in session.executed if q.startswith('DELETE')]) == 2
    assert failed.value.args[0]['deleted'] == 20
    assert (failed.value.args[0]['reason'], failed.value.args[0]['retryable']) == ('run_lock_lost', False)


def test_purge_does_not_start_when_the_lock_names_another_run_or_is_gone(tmp_path):
    lock = tmp_path / 'run.lock'
    for content in ('run-2', None):
        if content:
            write_lock(lock, content)
        elif lock.exists():
            lock.unlink()
        session = node_session(chunked_table([14, None], [10]))
        with pytest.raises(FailJson) as failed:
            mod.Purge(FakeModule(run_id='run-1', run_lock_path=str(lock)), session, clock=FakeClock()).run()
        assert 'stopped: the run lock' in failed.value.args[0]['msg']
        assert 'no run (the lock was removed)' in failed.value.args[0]['msg'] or content
        assert session.executed == []


def test_purge_without_run_id_ignores_the_lock(tmp_path):
    session = node_session(chunked_table([14, None], [10]))
    result = mod.Purge(FakeModule(run_lock_path=str(tmp_path / 'absent')), session, clock=FakeClock()).run()
    assert result['deleted'] == 10
