# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils import binlog as b
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import (
    PURGE_MARK,
    purge_condition,
    purge_delete_statement,
    purge_rows_delete_statement,
    TableSpec,
)


@pytest.mark.parametrize('value, owned', [
    (4, True), (6, False), (5, False), (0, True), (-4, False), (None, False), ('8', True), ('x', False),
    (True, False),
])
def test_key_owned(value, owned):
    assert b.key_owned(value, 4, frozenset([0])) is owned


def test_column_value_ignores_letter_case():
    assert b.column_value({'Account_No': 7}, 'account_no') == 7
    assert b.column_value({'account_no': 7, 'ACCOUNT_NO': 8}, 'account_no') == 7
    assert b.column_value({}, 'account_no') is None


@pytest.mark.parametrize('kind, row, foreign', [
    ('insert', {'values': {'k': 5}}, True),
    ('insert', {'values': {'k': 4}}, False),
    ('delete', {'values': {'k': 7}}, True),
    ('delete', {'values': {'k': 6}}, False),
    ('update', {'before_values': {'k': 4}, 'after_values': {'k': 4}}, False),
    ('update', {'before_values': {'k': 5}, 'after_values': {'k': 5}}, True),
    # Moved into or out of the node's residue: both count.
    ('update', {'before_values': {'k': 5}, 'after_values': {'k': 4}}, True),
    ('update', {'before_values': {'k': 4}, 'after_values': {'k': 7}}, True),
    ('insert', {'values': {'k': None}}, True),
])
def test_is_foreign_change(kind, row, foreign):
    assert b.is_foreign_change(kind, row, 'k', 2, frozenset([0])) is foreign


def test_the_purge_marks_its_deletes():
    spec = TableSpec('a.b', 'a', 'b', 'k')
    predicate = purge_condition('k', 2, (0,))
    for sql, dummy in (purge_delete_statement(spec, ['id'], predicate, None, (5,)),
                       purge_rows_delete_statement(spec, ['id'], predicate, [(1,)])):
        assert b.is_purge_statement(sql)
    assert not b.is_purge_statement('DELETE FROM a.b WHERE id = 1')
    assert not b.is_purge_statement(None)
    assert PURGE_MARK == '/* smooth.mariadb.shard_purge */'


def write(collector, kind, key, statement=None, residue=1, gtid='0-1-5'):
    collector.add(kind, 'a.b', [key], residue, gtid, '2026-12-02 12:00:00Z', 42, statement)


def test_cleanup_mode_counts_every_foreign_write_but_the_purges_own_deletes():
    collector = b.WriteCollector('cleanup')
    write(collector, 'insert', 1)
    write(collector, 'update', 1, gtid='0-1-6')
    write(collector, 'delete', 2)
    write(collector, 'delete', 3, statement='DELETE FROM a.b WHERE x ' + PURGE_MARK)
    # The purge found row 4 on its owner by primary key and shard key and deleted it; whether the owner holds
    # what a stray writer wrote to it before is still open: the row as the purge deleted it is kept.
    write(collector, 'insert', 4)
    collector.add('delete', 'a.b', [4], 1, '0-1-9', 'later', None, 'DELETE FROM a.b WHERE x ' + PURGE_MARK,
                  image=dict(id=4, amount=9))
    # A row the purge deleted with no stray write before is nobody's business.
    write(collector, 'delete', 5, statement='DELETE FROM a.b WHERE x ' + PURGE_MARK)
    summary = collector.summary()
    assert summary['counts'] == dict(insert=2, update=1, delete=1)
    assert summary['purge_deletes'] == 3
    assert (summary['foreign_rows'], summary['foreign_writes'], summary['settled_rows']) == (3, 4, 0)
    assert ('a.b', (5,)) not in collector.rows
    purged = collector.rows[('a.b', (4,))]
    assert (purged['kind'], purged['purged_image'], purged['purged_gtid'], purged['by_purge']) == (
        'insert', dict(id=4, amount=9), '0-1-9', True)
    first = summary['writes'][0]
    assert (first['kind'], first['key'], first['gtid'], first['writes']) == ('update', [1], '0-1-6', 2)
    settled = collector.summary(settled={('a.b', (1,)), ('a.b', (4,))})
    assert (settled['foreign_rows'], settled['foreign_writes'], settled['settled_rows']) == (1, 1, 2)
    assert [entry['key'] for entry in settled['writes']] == [[2]]
    # A stray write after the purge's delete starts over (the row is read where it is again).
    write(collector, 'insert', 4, gtid='0-1-12')
    assert 'purged_image' not in collector.rows[('a.b', (4,))]


def test_rollback_mode_counts_deletes_only_the_purges_included():
    collector = b.WriteCollector('rollback')
    write(collector, 'insert', 1)
    write(collector, 'update', 1)
    write(collector, 'delete', 2)
    write(collector, 'delete', 3, statement='DELETE ... ' + PURGE_MARK)
    # A row a stray writer inserted here since the split and that was deleted again: nothing lost.
    write(collector, 'insert', 9)
    write(collector, 'delete', 9)
    summary = collector.summary()
    assert summary['counts'] == dict(insert=0, update=0, delete=2)
    assert sorted((entry['key'][0], entry['by_purge']) for entry in summary['writes']) == [(2, False), (3, True)]


def test_owner_deletes_mode_keeps_the_rows_deleted_and_not_written_again():
    # Read on the owner: the rows of its own residues its application deleted since the split.
    collector = b.WriteCollector('owner_deletes')
    collector.add('delete', 'a.b', [2], 1, '0-2-5', 'now', None, 'DELETE FROM a.b WHERE id = 2', shard_key=7)
    collector.add('update', 'a.b', [3], 1, '0-2-6', 'now', None, None, changed=['amount'], shard_key=10)
    collector.add('insert', 'a.b', [4], 1, '0-2-7', 'now', None, None, shard_key=13)
    # Deleted, then inserted again under the same key: the owner holds it, it is no delete.
    collector.add('delete', 'a.b', [5], 1, '0-2-8', 'now', None, None, shard_key=16)
    collector.add('insert', 'a.b', [5], 1, '0-2-9', 'now', None, None, shard_key=16)
    # Inserted on the owner since the split and deleted again: never the node's row (only a stray writer
    # could have put that identity there), so not listed.
    collector.add('delete', 'a.b', [4], 1, '0-2-10', 'now', None, None, shard_key=13)
    assert collector.counts == dict(insert=0, update=0, delete=3)
    assert b.deleted_rows(collector) == [dict(table='a.b', key=[2], shard_key=7)]
    assert collector.summary()['foreign_writes'] == 0


def test_collector_is_bounded():
    collector = b.WriteCollector('cleanup', limit=2)
    for key in range(5):
        write(collector, 'insert', key)
    assert collector.overflow is True and len(collector.rows) == 2
    write(collector, 'update', 0)
    assert collector.rows[('a.b', (0,))]['writes'] == 2


def test_carried_over_compares_what_the_writes_changed():
    here = dict(id=1, amount=250, status='NEW', updated_at='t1')
    moved_on = dict(id=1, amount=250, status='PAID', updated_at='t2')
    collector = b.WriteCollector('cleanup')
    write(collector, 'update', 1)
    collector.add('update', 'a.b', [2], 1, '0-1-7', 'now', None, None, changed=['amount'])
    collector.add('update', 'a.b', [2], 1, '0-1-8', 'now', None, None, changed=['status'])
    entry = collector.rows[('a.b', (2,))]
    assert entry['columns'] == ['amount', 'status'] and entry['writes'] == 2
    only_amount = dict(entry, columns=['amount'])
    # The owner's other columns moved on since the split: what the stray update changed is there.
    assert b.carried_over(only_amount, here, moved_on) is True
    assert b.carried_over(only_amount, here, dict(moved_on, amount=200)) is False
    assert b.carried_over(entry, here, moved_on) is False
    # An insert (or an update without the changed columns known) needs every column.
    assert b.carried_over(collector.rows[('a.b', (1,))], here, dict(here)) is True
    assert b.carried_over(collector.rows[('a.b', (1,))], here, moved_on) is False
    assert b.carried_over(dict(entry, kind='insert', columns=None), here, None) is False
    # After a delete the owner must not hold the row; a row gone on both is settled.
    assert b.carried_over(dict(entry, kind='delete'), None, None) is True
    assert b.carried_over(dict(entry, kind='delete'), None, here) is False
    assert b.carried_over(entry, None, None) is True


def test_a_delete_is_carried_over_when_the_owner_holds_that_primary_key_for_another_row():
    # A forgotten writer inserted order 1001 (account 5) here; the operator copied it to its owner under a
    # new id (the owner had handed out 1001 to account 8 since the split) and deleted it here: settled.
    collector = b.WriteCollector('cleanup')
    collector.add('insert', 'a.b', [1001], 1, '0-1-7', 'now', None, None, shard_key=5)
    collector.add('delete', 'a.b', [1001], 1, '0-1-9', 'now', None, 'DELETE FROM a.b WHERE id = 1001', shard_key=5)
    entry = collector.rows[('a.b', (1001,))]
    assert entry['shard_key'] == 5
    other_row = dict(id=1001, account_no=8, amount=3)
    assert b.carried_over(entry, None, other_row, 'account_no') is True
    assert b.carried_over(entry, None, dict(other_row, account_no=5), 'account_no') is False
    # The same for a write whose row is gone here without a delete in the binary log.
    inserted = dict(entry, kind='insert', columns=None)
    assert b.carried_over(inserted, None, other_row, 'account_no') is True
    # An insert is not carried over by another row under its primary key.
    assert b.carried_over(inserted, dict(other_row, account_no=5), other_row, 'account_no') is False


def test_an_insert_makes_every_column_count_for_later_updates():
    collector = b.WriteCollector('cleanup')
    collector.add('insert', 'a.b', [5], 1, '0-1-1', 'now', None, None)
    collector.add('update', 'a.b', [5], 1, '0-1-2', 'now', None, None, changed=['amount'])
    assert collector.rows[('a.b', (5,))]['columns'] is None


def test_changed_columns():
    assert b.changed_columns({'before_values': {'a': 1, 'b': 2}, 'after_values': {'a': 1, 'b': 3}}) == ['b']


def test_describe_write_of_a_row_the_purge_deleted():
    entry = dict(kind='update', table='acct.parent', key=[101], gtid='0-1-9', time='2026-12-02 12:00:00Z',
                 thread_id=None, statement=None, writes=1, purged_gtid='0-1-20',
                 purged_image=dict(id=101, account_no=7, balance=250))
    assert b.describe_write(entry, ['id']) == (
        'update of acct.parent id = 101 in GTID 0-1-9 at 2026-12-02 12:00:00Z, then deleted by the purge in GTID '
        '0-1-20 with the values id=101, account_no=7, balance=250')


def test_describe_write():
    entry = dict(kind='update', table='acct.parent', key=[101], gtid='0-1-9', time='2026-12-02 12:00:00Z',
                 thread_id=42, statement='UPDATE acct.parent SET balance = 250 WHERE id = 101', writes=3)
    assert b.describe_write(entry, ['id']) == (
        'update of acct.parent id = 101 in GTID 0-1-9 at 2026-12-02 12:00:00Z, connection id 42, statement '
        '"UPDATE acct.parent SET balance = 250 WHERE id = 101" (the last of 3 writes to the row)')
    entry = dict(entry, key=[1, 'x'], thread_id=None, statement=None, writes=1)
    assert b.describe_write(entry, ['a', 'b']) == (
        'update of acct.parent (a, b) = (1, "x") in GTID 0-1-9 at 2026-12-02 12:00:00Z')


class ProcesslistSession(object):
    def __init__(self, present_for):
        self.calls = 0
        self.present_for = present_for

    def fetch_all(self, sql, params=None):
        self.calls += 1
        assert params == (77,)
        return [dict(ID=77)] if self.calls <= self.present_for else []


def test_wait_reader_gone_polls_until_the_dump_thread_ended_bounded():
    clock = [0.0]
    session = ProcesslistSession(present_for=3)
    assert b.wait_reader_gone(session, 77, timeout=5, interval=1, clock=lambda: clock[0],
                              sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds)) is True
    assert session.calls == 4
    clock = [0.0]
    stuck = ProcesslistSession(present_for=1000)
    assert b.wait_reader_gone(stuck, 77, timeout=2, interval=1, clock=lambda: clock[0],
                              sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds)) is False
    assert stuck.calls == 3
    assert b.wait_reader_gone(stuck, None) is True


def test_reached_compares_file_then_offset():
    end = ('mariadb-bin.000002', 500)
    assert b.reached(('mariadb-bin.000002', 500), end)
    assert b.reached(('mariadb-bin.000003', 4), end)
    assert not b.reached(('mariadb-bin.000002', 499), end)
    assert not b.reached(('mariadb-bin.000001', 90000), end)
    assert not b.reached((None, 600), end)


@pytest.mark.parametrize('binlog_value, pymysql_value', [
    (b'caf\xc3\xa9', 'caf\u00e9'),
    ({'a', 'b'}, 'a,b'),
    ({'k': [1, 2]}, '{"k": [1, 2]}'),
    (1.100000023841858, 1.1),
    (Decimal('250.00'), Decimal('250.00')),
    (datetime.datetime(2026, 12, 2, 12, 0), datetime.datetime(2026, 12, 2, 12, 0)),
])
def test_values_read_by_either_driver_compare_equal(binlog_value, pymysql_value):
    entry = dict(kind='insert', columns=None, shard_key=5)
    assert b.carried_over(entry, dict(id=1, c=binlog_value), dict(id=1, c=pymysql_value)) is True


def test_values_that_differ_still_differ():
    entry = dict(kind='insert', columns=None, shard_key=5)
    for here, there in ((b'abc', 'abd'), ({'a'}, 'a,b'), (1.5, 1.6), (Decimal('250.00'), Decimal('250.01')),
                        (b'\xff', '\u00ff')):
        assert b.carried_over(entry, dict(c=here), dict(c=there)) is False, (here, there)


def test_the_result_gives_keys_as_json():
    collector = b.WriteCollector('cleanup')
    collector.add('insert', 'a.b', [Decimal('1.50')], 1, '0-1-1', 'now', None, None, shard_key=5)
    assert collector.summary()['writes'][0]['key'] == ['1.50']
