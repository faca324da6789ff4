# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import itertools

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils import schema as m
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import TableSpec


def spec(name, key='account_no'):
    schema, table = name.split('.', 1)
    return TableSpec(name, schema, table, key)


def fk(child, parent, child_columns=('account_no', 'parent_id'), parent_columns=('account_no', 'id'),
       on_delete='RESTRICT', name=None):
    return m.ForeignKey(name or 'fk_%s' % child.split('.')[1], child, list(child_columns), parent,
                        list(parent_columns), on_delete, 'RESTRICT')


PARENT = spec('acct.parent')
CHILD = spec('acct.child')


def test_children_first_whatever_the_list_order():
    for specs in ([PARENT, CHILD], [CHILD, PARENT]):
        plan = m.schema_plan(specs, [fk('acct.child', 'acct.parent')], [])
        assert plan['problems'] == []
        assert plan['order'] == ['acct.child', 'acct.parent']
        assert plan['foreign_keys'][0]['verdict'] == ('allowed: carries the shard key; acct.child is purged before '
                                                      'acct.parent')


def test_without_foreign_keys_the_list_order_stays():
    specs = [spec('a.x'), spec('a.y'), spec('a.z')]
    assert m.schema_plan(specs, [], [])['order'] == ['a.x', 'a.y', 'a.z']


def test_every_order_of_a_chain_and_a_diamond_puts_children_first():
    names = ['s.grand', 's.parent', 's.child', 's.other']
    keys = [fk('s.child', 's.parent', name='c'), fk('s.parent', 's.grand', name='p'),
            fk('s.other', 's.grand', name='o'), fk('s.child', 's.other', name='co')]
    for permutation in itertools.permutations(names):
        plan = m.schema_plan([spec(name) for name in permutation], keys, [])
        assert plan['problems'] == []
        order = plan['order']
        for key in keys:
            assert order.index(key.child) < order.index(key.parent), (permutation, order)


@pytest.mark.parametrize('rule, effect', [
    ('RESTRICT', 'fail (error 1451)'),
    ('NO ACTION', 'fail (error 1451)'),
    ('CASCADE', 'deletes the referencing rows there too'),
    ('SET NULL', 'sets the referencing columns there to NULL'),
])
def test_foreign_key_from_an_unlisted_table_is_refused(rule, effect):
    plan = m.schema_plan([PARENT], [fk('acct.audit', 'acct.parent', on_delete=rule)], [])
    assert len(plan['problems']) == 1
    problem = plan['problems'][0]
    assert problem.startswith('foreign key fk_audit of acct.audit (account_no, parent_id) references acct.parent '
                              '(account_no, id) ON DELETE %s: a table that is not among the sharded tables' % rule)
    assert effect in problem
    assert 'List acct.audit among the sharded tables' in problem
    assert plan['foreign_keys'][0]['verdict'] == 'refused: from a table that is not purged'


def test_foreign_key_from_a_listed_table_into_an_unlisted_one_is_allowed():
    plan = m.schema_plan([CHILD], [fk('acct.child', 'ref.countries', ('country',), ('code',))], [])
    assert plan['problems'] == [] and plan['order'] == ['acct.child']
    assert plan['foreign_keys'][0]['verdict'].startswith('allowed')


def test_foreign_keys_between_unlisted_tables_are_ignored():
    plan = m.schema_plan([CHILD], [fk('x.a', 'x.b')], [])
    assert plan == dict(problems=[], order=['acct.child'], foreign_keys=[], triggers=[])


@pytest.mark.parametrize('child_columns, parent_columns, child_key, ok', [
    (('account_no', 'parent_id'), ('account_no', 'id'), 'account_no', True),
    (('parent_id', 'account_no'), ('id', 'account_no'), 'account_no', True),
    (('ACCOUNT_NO', 'parent_id'), ('Account_No', 'id'), 'account_no', True),
    (('parent_id',), ('id',), 'account_no', False),
    # Both shard keys are in the key, but not opposite each other.
    (('account_no', 'parent_id'), ('id', 'account_no'), 'account_no', False),
    # The child is sharded by another column than the one referencing the parent's key.
    (('account_no', 'parent_id'), ('account_no', 'id'), 'owner_no', False),
])
def test_foreign_key_between_listed_tables_must_carry_both_shard_keys(child_columns, parent_columns, child_key, ok):
    plan = m.schema_plan([PARENT, spec('acct.child', key=child_key)],
                         [fk('acct.child', 'acct.parent', child_columns, parent_columns)], [])
    if ok:
        assert plan['problems'] == []
    else:
        assert len(plan['problems']) == 1
        assert 'does not map the shard key %s of acct.child onto the shard key account_no of acct.parent' % (
            child_key) in plan['problems'][0]
        assert 'a child row can live on another shard than its parent' in plan['problems'][0]


def test_self_reference_and_cycles_are_refused():
    plan = m.schema_plan([PARENT], [fk('acct.parent', 'acct.parent', name='self')], [])
    assert plan['problems'] == ['foreign key self of acct.parent (account_no, parent_id) references acct.parent '
                                '(account_no, id) ON DELETE RESTRICT: the table references itself; the purge deletes '
                                'in primary key chunks, so a row may go before a row that references it (a cycle of '
                                'foreign keys has no safe delete order). Drop the foreign key for the cleanup']
    specs = [spec('s.a'), spec('s.b'), spec('s.c'), spec('s.d')]
    cycle = [fk('s.a', 's.b', name='ab'), fk('s.b', 's.c', name='bc'), fk('s.c', 's.a', name='ca'),
             fk('s.d', 's.a', name='da')]
    plan = m.schema_plan(specs, cycle, [])
    assert plan['problems'] == ['the foreign keys between s.a, s.b, s.c form a cycle: no order deletes children '
                                'before parents. Drop one of them for the cleanup']
    assert plan['order'][0] == 's.d'


def test_delete_order_reports_the_tables_of_a_cycle():
    assert m.delete_order(['a', 'b'], {('a', 'b'), ('b', 'a')}) == ([], ['a', 'b'])
    assert m.delete_order(['p', 'c'], {('c', 'p')}) == (['c', 'p'], [])


def test_delete_triggers_refused_unless_allowed_other_triggers_reported():
    triggers = [m.Trigger('audit_del', 'acct', 'parent', 'DELETE', 'AFTER'),
                m.Trigger('stamp', 'acct', 'parent', 'UPDATE', 'BEFORE'),
                m.Trigger('elsewhere', 'acct', 'log', 'DELETE', 'AFTER')]
    plan = m.schema_plan([PARENT], [], triggers)
    assert plan['problems'] == [
        'trigger audit_del runs AFTER DELETE on acct.parent: it runs for every row the purge deletes and may change '
        'other tables. Drop it for the cleanup, or allow it once you know what it does (allow_delete_triggers; in '
        'expand_2n.yml smooth_purge_allow_delete_triggers)']
    assert [(entry['name'], entry['verdict']) for entry in plan['triggers']] == [
        ('audit_del', 'refused: runs for every purged row'), ('stamp', 'allowed: does not run on delete')]
    allowed = m.schema_plan([PARENT], [], triggers, allow_delete_triggers=True)
    assert allowed['problems'] == []
    assert allowed['triggers'][0]['verdict'] == 'allowed by the operator: runs for every purged row'


class ScriptedSession(object):
    def __init__(self, rows):
        self.rows = rows
        self.seen = []

    def fetch_all(self, sql, params=None):
        self.seen.append((sql, params))
        return [dict(row) for row in self.rows]


def test_read_foreign_keys_groups_columns_by_constraint():
    session = ScriptedSession([
        dict(child_schema='acct', child_table='child', name='fk1', parent_schema='acct', parent_table='parent',
             on_delete='restrict', on_update='CASCADE', child_column='account_no', parent_column='account_no'),
        dict(child_schema='acct', child_table='child', name='fk1', parent_schema='acct', parent_table='parent',
             on_delete='restrict', on_update='CASCADE', child_column='parent_id', parent_column='id'),
        dict(child_schema='other', child_table='x', name='fk1', parent_schema='acct', parent_table='parent',
             on_delete='CASCADE', on_update='RESTRICT', child_column='pid', parent_column='id'),
    ])
    keys = m.read_foreign_keys(session, ['acct', 'acct'])
    assert keys == [
        m.ForeignKey('fk1', 'acct.child', ['account_no', 'parent_id'], 'acct.parent', ['account_no', 'id'],
                     'RESTRICT', 'CASCADE'),
        m.ForeignKey('fk1', 'other.x', ['pid'], 'acct.parent', ['id'], 'CASCADE', 'RESTRICT'),
    ]
    sql, params = session.seen[0]
    assert params == ('acct', 'acct')
    assert 'rc.CONSTRAINT_SCHEMA IN (%s) OR rc.UNIQUE_CONSTRAINT_SCHEMA IN (%s)' in sql
    assert m.read_foreign_keys(session, []) == []


def test_read_triggers():
    session = ScriptedSession([dict(name='t1', table_schema='acct', table_name='parent', event='delete',
                                    timing='after')])
    assert m.read_triggers(session, ['acct']) == [m.Trigger('t1', 'acct', 'parent', 'DELETE', 'AFTER')]
    assert session.seen[0][1] == ('acct',)


def test_describe_schema_lines():
    plan = m.schema_plan([CHILD, PARENT], [fk('acct.child', 'acct.parent')],
                         [m.Trigger('stamp', 'acct', 'parent', 'UPDATE', 'BEFORE')])
    assert m.describe_schema(plan) == [
        'delete order (children first): acct.child, acct.parent',
        'foreign key fk_child: acct.child (account_no, parent_id) -> acct.parent (account_no, id) ON DELETE RESTRICT'
        ' - allowed: carries the shard key; acct.child is purged before acct.parent',
        'trigger stamp: BEFORE UPDATE on acct.parent - allowed: does not run on delete',
    ]
    assert m.describe_schema(m.schema_plan([CHILD], [], [])) == [
        'delete order (children first): acct.child', 'no foreign key touches a sharded table',
        'no trigger on a sharded table']
