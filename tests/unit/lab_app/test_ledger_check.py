# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""lab/app/ledger_check.py without a database: the ledger, the expectations and the checks."""

from __future__ import annotations

import decimal
import json

import pymysql
import pytest

from .lab_modules import load

check_mod = load('ledger_check')
D = decimal.Decimal


def rec(order_no, account_no, amount, outcome='ack', op='insert'):
    return json.dumps({'op': op, 'order_no': order_no, 'account_no': account_no, 'amount': amount,
                       't_start': 1.0, 't_end': 1.1, 'outcome': outcome, 'http': 200, 'version': 1,
                       'shard': 0, 'error': None})


def ledger(*lines):
    orders, dummy = check_mod.read_ledger(list(lines) + [''])
    return orders


def layout(*shards):
    """shards: per shard index, {node name: rows}."""
    return [{'index': i, 'nodes': [{'name': name, 'rows': rows} for name, rows in nodes.items()]}
            for i, nodes in enumerate(shards)]


# -- the ledger ----------------------------------------------------------------------------------

def test_read_ledger_keeps_attempts_in_order():
    orders, info = check_mod.read_ledger([rec('a', 3, '1.00'), rec('a', 3, '2.5', 'unknown', 'update'),
                                          rec('b', 4, '7.00', 'failed'), '\n'])
    assert info == {'lines': 3, 'truncated_last_line': False}
    assert orders['a'] == {'account_no': 3, 'writes': [('insert', 'ack', D('1.00')), ('update', 'unknown', D('2.50'))]}
    assert orders['b']['writes'] == [('insert', 'failed', D('7.00'))]


def test_read_ledger_tolerates_only_a_truncated_last_line():
    orders, info = check_mod.read_ledger([rec('a', 3, '1.00'), rec('b', 3, '1.00')[:20]])
    assert info['truncated_last_line'] is True and list(orders) == ['a']
    with pytest.raises(check_mod.CheckError, match='ledger line 1 is not a ledger record'):
        check_mod.read_ledger(['{"op": "insert"}', rec('a', 3, '1.00')])
    with pytest.raises(check_mod.CheckError, match='ledger line 1'):
        check_mod.read_ledger([rec('a', 3, '1.00', outcome='maybe'), rec('b', 3, '1.00')])


@pytest.mark.parametrize('writes, must_exist, acked_insert, allowed', [
    ([('insert', 'ack', D('1.00'))], True, True, {D('1.00')}),
    ([('insert', 'ack', D('1.00')), ('update', 'ack', D('2.00'))], True, True, {D('2.00')}),
    # failed/unknown updates before the last ack were overwritten by it
    ([('insert', 'ack', D('1.00')), ('update', 'unknown', D('2.00')), ('update', 'ack', D('3.00'))],
     True, True, {D('3.00')}),
    # ... after it, they may or may not have committed
    ([('insert', 'ack', D('1.00')), ('update', 'failed', D('2.00')), ('update', 'unknown', D('3.00'))],
     True, True, {D('1.00'), D('2.00'), D('3.00')}),
    ([('insert', 'unknown', D('1.00'))], False, False, {D('1.00')}),
    ([('insert', 'failed', D('1.00'))], False, False, {D('1.00')}),
    ([('insert', 'unknown', D('1.00')), ('update', 'ack', D('4.00'))], True, False, {D('4.00')}),
])
def test_expectation(writes, must_exist, acked_insert, allowed):
    assert check_mod.expectation({'account_no': 1, 'writes': writes}) == {
        'must_exist': must_exist, 'acked_insert': acked_insert, 'allowed': allowed}


# -- the check ------------------------------------------------------------------------------------

ORDERS = (rec('r-0-1', 10, '1.00'), rec('r-0-2', 11, '2.00'), rec('r-0-2', 11, '2.50', op='update'),
          rec('r-0-3', 13, '3.00'), rec('r-0-3', 13, '3.50', 'unknown', 'update'),
          rec('r-0-4', 14, '4.00', 'unknown'), rec('r-0-5', 15, '5.00', 'failed'))


def consistent():
    shard0 = [('r-0-1', 10, D('1.00')), ('r-0-4', 14, D('4.00'))]
    shard1 = [('r-0-2', 11, D('2.50')), ('r-0-3', 13, D('3.50'))]
    node_d = [shard1[0], ('r-0-3', 13, D('3.00'))]   # the unknown update did not reach d
    return layout({'a': list(shard0), 'b': list(shard0)}, {'c': list(shard1), 'd': node_d})


def test_a_consistent_fleet_is_ok():
    report = check_mod.check(ledger(*ORDERS), 2, consistent())
    assert report['ok'] is True
    assert all(report[p] == 0 for p in check_mod.PROBLEMS)
    assert report['acked_inserts'] == 3 and report['must_exist'] == 3
    assert report['checked_rows'] == 8 and report['rows_not_in_ledger'] == 0
    assert report['not_acked_present'] == 1   # r-0-4, unknown, committed after all
    assert report['nodes']['d'] == dict(shard=1, rows=2, rows_not_in_ledger=0, missing=0, duplicated=0,
                                        misplaced=0, wrong_amount=0, foreign_rows=0)


def test_a_missing_row_is_found_on_the_node_that_lacks_it():
    shards = consistent()
    shards[0]['nodes'][1]['rows'].pop(0)  # r-0-1 gone from b only
    report = check_mod.check(ledger(*ORDERS), 2, shards)
    assert report['ok'] is False and report['missing'] == 1
    assert report['examples']['missing'] == [{'order_no': 'r-0-1', 'account_no': 10, 'node': 'b', 'shard': 0}]
    assert report['nodes']['b']['missing'] == 1 and report['nodes']['a']['missing'] == 0


def test_a_row_in_the_wrong_shard_is_misplaced_foreign_and_missing():
    shards = consistent()
    for node in shards[1]['nodes']:           # r-0-2 (account 11, shard 1) moved to shard 0's node a
        node['rows'] = [row for row in node['rows'] if row[0] != 'r-0-2']
    shards[0]['nodes'][0]['rows'].append(('r-0-2', 11, D('2.50')))
    report = check_mod.check(ledger(*ORDERS), 2, shards)
    assert report['ok'] is False
    assert report['missing'] == 2 and report['misplaced'] == 1 and report['foreign_rows'] == 1
    assert report['examples']['misplaced'][0]['reason'] == 'in shard 0, owned by shard 1'
    assert report['examples']['foreign_rows'][0] == {'order_no': 'r-0-2', 'account_no': 11, 'node': 'a', 'shard': 0,
                                                     'owner': 1}


def test_an_unknown_insert_may_be_absent_but_not_misplaced():
    shards = consistent()
    shards[0]['nodes'][0]['rows'] = [row for row in shards[0]['nodes'][0]['rows'] if row[0] != 'r-0-4']
    assert check_mod.check(ledger(*ORDERS), 2, shards)['ok'] is True
    shards[1]['nodes'][0]['rows'].append(('r-0-4', 14, D('4.00')))
    report = check_mod.check(ledger(*ORDERS), 2, shards)
    assert report['misplaced'] == 1 and report['foreign_rows'] == 1 and report['missing'] == 0


def test_wrong_amounts():
    shards = consistent()
    shards[1]['nodes'][0]['rows'][0] = ('r-0-2', 11, D('2.00'))   # the acked update is lost
    shards[1]['nodes'][1]['rows'][1] = ('r-0-3', 13, D('9.99'))   # never written
    report = check_mod.check(ledger(*ORDERS), 2, shards)
    assert report['wrong_amount'] == 2 and report['missing'] == 0
    assert report['examples']['wrong_amount'][0] == {'order_no': 'r-0-2', 'account_no': 11, 'node': 'c', 'shard': 1,
                                                     'amount': '2.00', 'allowed': ['2.50']}
    assert report['examples']['wrong_amount'][1]['allowed'] == ['3.00', '3.50']


def test_duplicates_and_changed_account_numbers():
    shards = consistent()
    shards[0]['nodes'][0]['rows'].append(('r-0-1', 10, D('1.00')))
    shards[1]['nodes'][0]['rows'].append(('r-0-5', 17, D('5.00')))  # failed insert, other account_no
    report = check_mod.check(ledger(*ORDERS), 2, shards)
    assert report['duplicated'] == 1
    assert report['examples']['duplicated'] == [{'order_no': 'r-0-1', 'node': 'a', 'shard': 0, 'times': 2}]
    assert report['misplaced'] == 1
    assert report['examples']['misplaced'][0]['reason'] == 'account_no differs from the ledger'


def test_rows_not_in_the_ledger_are_counted_and_must_be_placed_right():
    shards = consistent()
    shards[0]['nodes'][0]['rows'] += [('other-1', 20, D('1.00')), ('other-2', 21, D('1.00'))]
    report = check_mod.check(ledger(*ORDERS), 2, shards)
    assert report['rows_not_in_ledger'] == 2 and report['nodes']['a']['rows_not_in_ledger'] == 2
    assert report['foreign_rows'] == 1 and report['misplaced'] == 0 and report['ok'] is False


def test_examples_are_capped():
    orders = ledger(*[rec('r-%d' % i, 2 * i, '1.00') for i in range(25)])
    report = check_mod.check(orders, 2, layout({'a': []}, {'b': []}))
    assert report['missing'] == 25 and len(report['examples']['missing']) == check_mod.EXAMPLES
    assert 'PROBLEMS: missing 25' in check_mod.human_summary(report)


# -- the shards file and main ----------------------------------------------------------------------

SHARDS = {'modulus': 2, 'user': 'smooth_admin', 'password': 'pw',
          'shards': [{'index': 1, 'nodes': [{'name': 'lab-3', 'host': '10.214.0.13'}]},
                     {'index': 0, 'nodes': [{'name': 'lab-1', 'host': '10.214.0.11', 'port': 3307}]}]}


def test_read_shards_fills_in_defaults_and_sorts():
    config = check_mod.read_shards(SHARDS)
    assert config['database'] == 'smooth_lab' and config['table'] == 't_trade_order'
    assert [s['index'] for s in config['shards']] == [0, 1]
    assert config['shards'][0]['nodes'] == [{'name': 'lab-1', 'host': '10.214.0.11', 'port': 3307}]
    assert config['shards'][1]['nodes'][0]['port'] == 3306


@pytest.mark.parametrize('change, message', [
    (dict(modulus=0), 'modulus must be an integer >= 1'),
    (dict(modulus=3), 'every shard index 0 .. 2 exactly once'),
    (dict(shards=[{'index': 0, 'nodes': []}, {'index': 1, 'nodes': [{'name': 'x', 'host': 'h'}]}]),
     'shard 0 has no nodes'),
    (dict(shards=[{'index': 0, 'nodes': [{'name': 'x', 'host': 'h'}]}, {'index': 1, 'nodes': [{'name': 'x', 'host': 'g'}]}]),
     'node x is listed twice'),
    (dict(shards=[{'index': 0}, 'x']), 'every shard index 0 .. 1 exactly once'),
    (dict(password=None), 'user and password'),
    (dict(table='t; DROP'), 'table must be a name'),
])
def test_read_shards_refuses(change, message):
    with pytest.raises(check_mod.CheckError) as caught:
        check_mod.read_shards(dict(SHARDS, **change))
    assert message in str(caught.value)


class FakeCursor(object):
    def __init__(self, rows):
        self.rows = rows
        self.executed = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql):
        self.executed.append(sql)

    def __iter__(self):
        return iter(self.rows)


class FakeConnection(object):
    def __init__(self, rows):
        self.cursor_ = FakeCursor(rows)
        self.closed = False

    def cursor(self):
        return self.cursor_

    def rollback(self):
        pass

    def close(self):
        self.closed = True


def run_main(tmp_path, rows_by_port, ledger_lines, shards=None):
    (tmp_path / 'ledger.jsonl').write_text('\n'.join(ledger_lines) + '\n')
    (tmp_path / 'shards.json').write_text(json.dumps(shards or SHARDS))
    connections = []

    def connect(**kwargs):
        if kwargs['port'] not in rows_by_port:
            raise pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '%s'" % kwargs['host'])
        assert kwargs['user'] == 'smooth_admin' and kwargs['password'] == 'pw'
        connections.append(FakeConnection(rows_by_port[kwargs['port']]))
        return connections[-1]
    code = check_mod.main(['--ledger', str(tmp_path / 'ledger.jsonl'), '--shards', str(tmp_path / 'shards.json'),
                           '--report', str(tmp_path / 'report.json')], connect=connect)
    return code, connections


def test_main_exit_codes_and_report(tmp_path, capsys):
    lines = [rec('r-0-1', 10, '1.00'), rec('r-0-2', 11, '2.00')]
    code, connections = run_main(tmp_path, {3307: [('r-0-1', 10, D('1.00'))], 3306: [('r-0-2', 11, D('2.00'))]}, lines)
    assert code == 0
    assert connections[0].cursor_.executed == ['START TRANSACTION READ ONLY',
                                               'SELECT order_no, account_no, amount FROM `smooth_lab`.`t_trade_order`']
    assert all(c.closed for c in connections)
    report = json.loads((tmp_path / 'report.json').read_text())
    assert report['ok'] is True and report['acked_inserts'] == 2 and report['checked_rows'] == 2
    assert report['nodes']['lab-1'] == dict(shard=0, host='10.214.0.11', port=3307, rows=1, rows_not_in_ledger=0,
                                            missing=0, duplicated=0, misplaced=0, wrong_amount=0, foreign_rows=0)
    assert 'OK: every acked write' in capsys.readouterr().out

    code, dummy = run_main(tmp_path, {3307: [('r-0-1', 10, D('1.00'))], 3306: []}, lines)
    assert code == 1
    report = json.loads((tmp_path / 'report.json').read_text())
    assert report['missing'] == 1 and report['examples']['missing'][0]['node'] == 'lab-3'
    assert 'PROBLEMS: missing 1' in capsys.readouterr().out


def test_main_connection_and_usage_errors_exit_2(tmp_path, capsys):
    code, dummy = run_main(tmp_path, {3307: []}, [rec('r-0-1', 10, '1.00')])
    assert code == 2
    assert "node lab-3 (10.214.0.13:3306): cannot connect: (2003, \"Can't connect" in capsys.readouterr().err
    code, dummy = run_main(tmp_path, {3307: [], 3306: []}, ['not json', rec('r-0-1', 10, '1.00')])
    assert code == 2 and 'ledger line 1' in capsys.readouterr().err
