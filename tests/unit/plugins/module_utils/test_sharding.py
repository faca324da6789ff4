# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import itertools
import sqlite3
from decimal import Decimal

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import render_statement
from ansible_collections.smooth.mariadb.plugins.module_utils import mariadb
from ansible_collections.smooth.mariadb.plugins.module_utils import sharding as s


def spec(name='shop.orders', key='customer_id'):
    schema, table = name.split('.', 1)
    return s.TableSpec(name, schema, table, key)


def info(columns=(('id', 'bigint', 'bigint(20)', False), ('customer_id', 'int', 'int(11)', False)),
         primary_key=('id',), kind='BASE TABLE', engine='InnoDB'):
    return dict(type=kind, engine=engine, primary_key=list(primary_key), columns=[
        dict(name=name, data_type=data_type, column_type=column_type, nullable=nullable,
             unsigned='unsigned' in column_type) for name, data_type, column_type, nullable in columns])


# ---------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------

def test_parse_tables_strings_dicts_and_default_key():
    specs, problems = s.parse_tables(['shop.orders', {'name': 'shop.items', 'key': 'order_id'},
                                      {'name': 'crm.people'}, 'db.with.dots'], 'customer_id')
    assert problems == []
    assert specs == [
        s.TableSpec('shop.orders', 'shop', 'orders', 'customer_id'),
        s.TableSpec('shop.items', 'shop', 'items', 'order_id'),
        s.TableSpec('crm.people', 'crm', 'people', 'customer_id'),
        s.TableSpec('db.with.dots', 'db', 'with.dots', 'customer_id'),
    ]


@pytest.mark.parametrize('tables, default_key, problem', [
    ([], 'k', 'no table given: list at least one table in tables'),
    (None, 'k', 'no table given: list at least one table in tables'),
    (['orders'], 'k', "tables[0]: table name 'orders' must be written as database.table"),
    (['.orders'], 'k', "tables[0]: table name '.orders' must be written as database.table"),
    (['shop.'], 'k', "tables[0]: table name 'shop.' must be written as database.table"),
    (['shop.orders'], None, 'table shop.orders: no key column; give key for the table or key_column for all'),
    ([{'name': 'shop.orders', 'column': 'x'}], 'k', 'tables[0]: unknown key(s) column; use name and key'),
    ([42], 'k', 'tables[0]: expected "db.table" or a dict with name and key, got 42'),
    (['shop.orders', {'name': 'shop.orders', 'key': 'id'}], 'k', 'table shop.orders is listed twice'),
])
def test_parse_tables_problems(tables, default_key, problem):
    dummy, problems = s.parse_tables(tables, default_key)
    assert problems == [problem]


@pytest.mark.parametrize('modulus, residues, problems', [
    (2, [0], []),
    (1, [0], []),
    (64, list(range(64)), []),
    (0, [0], ['modulus must be an integer of at least 1, got 0']),
    (None, [0], ['modulus must be an integer of at least 1, got None']),
    (True, [0], ['modulus must be an integer of at least 1, got True']),
    (4, [], ['owned_residues is empty: a node must own at least one residue of modulus 4']),
    (4, None, ['owned_residues is empty: a node must own at least one residue of modulus 4']),
    (4, [4, -1, 2], ['owned_residues 4, -1 out of range: residues of modulus 4 are 0 to 3']),
    (4, [1, 1, 3, 3], ['owned_residues lists 1, 3 more than once']),
])
def test_ownership_problems(modulus, residues, problems):
    assert s.ownership_problems(modulus, residues) == problems


def test_expand_residues_and_lcm():
    assert s.lcm(2, 3) == 6 and s.lcm(4, 2) == 4 and s.lcm(1, 1) == 1
    assert s.expand_residues(2, [1], 8) == frozenset([1, 3, 5, 7])
    assert s.expand_residues(1, [0], 2) == frozenset([0, 1])
    with pytest.raises(ValueError):
        s.expand_residues(3, [0], 8)


def test_ownership_layout_classes_and_representatives():
    layout = s.ownership_layout([('a', 2, [0]), ('a2', 2, [0]), ('b', 4, [1, 3]), ('b2', 2, [1])])
    assert layout['modulus'] == 4
    assert layout['overlaps'] == [] and layout['uncovered'] == []
    assert [(entry['servers'], entry['representative']) for entry in layout['classes']] == [
        (['a', 'a2'], 'a'), (['b', 'b2'], 'b')]


def test_ownership_layout_everything_owned_by_one_class():
    layout = s.ownership_layout([('a', 1, [0]), ('b', 1, [0])])
    assert layout['modulus'] == 1 and layout['uncovered'] == [] and len(layout['classes']) == 1


def test_ownership_layout_overlap_and_gap():
    layout = s.ownership_layout([('a', 4, [0, 1]), ('b', 2, [1])])
    assert layout['overlaps'] == ['a and b both own residue(s) 1 of modulus 4']
    assert layout['uncovered'] == [2]


def test_ownership_layout_after_repeated_doublings():
    owners = [('n%d' % r, 8, [r]) for r in range(8)]
    layout = s.ownership_layout(owners)
    assert layout['modulus'] == 8 and layout['uncovered'] == [] and len(layout['classes']) == 8


def test_normalise_ownership():
    assert s.normalise_ownership(None, None) == (1, (0,))
    assert s.normalise_ownership(4, [3, 1, 3]) == (4, (1, 3))


# ---------------------------------------------------------------------------
# Table checks
# ---------------------------------------------------------------------------

def test_table_problems_valid_table():
    assert s.table_problems(spec(), info()) == []


def test_table_problems_every_kind():
    assert s.table_problems(spec(), None) == ['table shop.orders does not exist']
    assert s.table_problems(spec(), info(kind='VIEW')) == ['shop.orders is not a base table (VIEW)']
    assert s.table_problems(spec(), info(primary_key=())) == [
        'table shop.orders has no primary key: rows cannot be walked in key order nor compared; '
        'add a primary key first']
    assert s.table_problems(spec(key='tenant'), info()) == [
        'table shop.orders has no key column tenant (columns: id, customer_id)']
    text_key = info(columns=(('id', 'bigint', 'bigint(20)', False), ('customer_id', 'varchar', 'varchar(8)', False)))
    assert s.table_problems(spec(), text_key) == [
        'key column customer_id of table shop.orders is varchar(8), not an integer type: the shard of a row is '
        'key % modulus, which needs TINYINT, SMALLINT, MEDIUMINT, INT or BIGINT']
    decimal_key = info(columns=(('id', 'bigint', 'bigint(20)', False), ('customer_id', 'decimal', 'decimal(10,0)', False)))
    assert 'is decimal(10,0), not an integer type' in s.table_problems(spec(), decimal_key)[0]
    both = s.table_problems(spec(key='tenant'), info(primary_key=()))
    assert len(both) == 2


@pytest.mark.parametrize('data_type', sorted(s.INTEGER_TYPES))
def test_every_integer_type_is_accepted(data_type):
    table = info(columns=(('id', 'bigint', 'bigint(20)', False), ('customer_id', data_type, data_type, False)))
    assert s.table_problems(spec(), table) == []


def test_find_column_exact_then_case_insensitive():
    table = info(columns=(('ID', 'bigint', 'bigint', False), ('id', 'int', 'int', False), ('Tenant', 'int', 'int', True)))
    assert s.find_column(table, 'id')['data_type'] == 'int'
    assert s.find_column(table, 'tenant')['name'] == 'Tenant'
    assert s.find_column(table, 'nope') is None


def test_non_transactional_warning():
    assert s.non_transactional_warning(spec(), info()) is None
    assert 'uses the Aria engine' in s.non_transactional_warning(spec(), info(engine='Aria'))


class ScriptedSession(object):
    def __init__(self, answers):
        self.answers = answers
        self.seen = []

    def fetch_all(self, sql, params=None):
        self.seen.append((sql, params))
        for fragment, rows in self.answers:
            if fragment in sql:
                return [dict(row) for row in rows]
        raise AssertionError('unexpected statement %s' % sql)

    def fetch_one(self, sql, params=None):
        rows = self.fetch_all(sql, params)
        return rows[0] if rows else None


def test_read_table_info_exact_name_and_columns():
    session = ScriptedSession([
        ('information_schema.TABLES', [{'name': 'Orders', 'type': 'BASE TABLE', 'engine': 'InnoDB'},
                                       {'name': 'orders', 'type': 'BASE TABLE', 'engine': 'InnoDB'}]),
        ('information_schema.COLUMNS', [
            {'name': 'id', 'data_type': 'bigint', 'column_type': 'bigint(20) unsigned', 'nullable': 'NO'},
            {'name': 'k', 'data_type': 'INT', 'column_type': 'int(11)', 'nullable': 'YES'}]),
        ('information_schema.STATISTICS', [{'name': 'id'}]),
    ])
    table = s.read_table_info(session, 'shop', 'orders')
    assert table['primary_key'] == ['id']
    assert table['columns'][0] == dict(name='id', data_type='bigint', column_type='bigint(20) unsigned',
                                       nullable=False, unsigned=True)
    assert table['columns'][1]['nullable'] is True and table['columns'][1]['data_type'] == 'int'
    assert session.seen[0][1] == ('shop', 'orders')


def test_read_table_info_case_mismatch_is_missing():
    session = ScriptedSession([('information_schema.TABLES', [{'name': 'Orders', 'type': 'BASE TABLE',
                                                               'engine': 'InnoDB'}])])
    assert s.read_table_info(session, 'shop', 'orders') is None


# ---------------------------------------------------------------------------
# SQL builders
# ---------------------------------------------------------------------------

def test_ownership_conditions():
    assert render_statement(*s.owned_condition('k', 4, (1, 3))) == (
        '(`k` IS NOT NULL AND `k` >= 0 AND MOD(`k`, 4) IN (1, 3))')
    assert render_statement(*s.owned_condition('k', 1, (0,))) == '(`k` IS NOT NULL AND `k` >= 0)'
    assert render_statement(*s.foreign_condition('k', 2, (0,))) == (
        'NOT (`k` IS NOT NULL AND `k` >= 0 AND MOD(`k`, 2) IN (0))')
    assert render_statement(*s.purge_condition('k', 4, (1, 3))) == '(`k` >= 0 AND MOD(`k`, 4) NOT IN (1, 3))'


def test_identifiers_are_quoted():
    sql, params = s.purge_condition('we`ird', 2, (0,))
    assert sql.startswith('(`we``ird` >= 0')
    assert s.qualified(spec('my db.or`ders')) == '`my db`.`or``ders`'


def _as_sent(statement):
    """The statement text PyMySQL sends: ``sql % escaped params``, also for an empty tuple."""
    sql, params = statement
    assert params is not None, 'a statement with identifiers in it must be run with a params tuple'
    return sql % tuple(render_statement('%s', (param,)) for param in params)


@pytest.mark.parametrize('table', ['t%', 't%%', 't%s', '%d'])
def test_percent_in_names_reaches_the_server_exactly(table):
    """A table named t% must not fail ("not enough arguments") and t%% must not turn into t%."""
    named = spec('shop.%s' % table, key='k%')
    quoted = '`shop`.`%s`' % table
    pk = ['id%']
    predicate = s.purge_condition('k%', 2, (1,))
    statements = [
        s.count_statement(named, s.owned_condition('k%', 1, (0,))),
        s.count_statement(named, s.owned_condition('k%', 2, (0,))),
        s.purge_bound_statement(named, pk, predicate, None, 10),
        s.purge_delete_statement(named, pk, predicate, None, (5,)),
        s.purge_rows_statement(named, pk, predicate, (3,), 10),
        s.owner_keys_statement(named, pk, s.owned_condition('k%', 2, (0,)), None, (9,)),
        s.purge_rows_delete_statement(named, pk, predicate, [(1,), (2,)]),
        s.purge_range_rows_statement(named, pk, predicate, (3,), (9,), lock=True),
        s.chunk_digest_statement(named, pk, predicate, (3,), (9,), 2, lock=True),
        s.invalid_key_count_statement(named, s.invalid_key_condition('k%', None)),
        s.table_stats_statement(named, pk, s.owned_condition('k%', 2, (1,)), columns=['id%', 'k%']),
        s.chunk_bound_statement(named, pk, None, 10),
        s.chunk_checksum_statement(named, pk, ['id%', 'k%'], None, None),
        s.foreign_examples_statement(named, pk, s.owned_condition('k%', 2, (1,)), 3),
    ]
    for statement in statements:
        sent = _as_sent(statement)
        assert quoted in sent, sent
        assert '`k%`' in sent or '`id%`' in sent, sent
        assert render_statement(*statement) == sent


@pytest.mark.parametrize('column, expected', [
    (dict(nullable=False, unsigned=True), None),
    (dict(nullable=True, unsigned=True), '(`k` IS NULL)'),
    (dict(nullable=False, unsigned=False), '(`k` < 0)'),
    (dict(nullable=True, unsigned=False), '(`k` IS NULL OR `k` < 0)'),
    (None, '(`k` IS NULL OR `k` < 0)'),
])
def test_invalid_key_condition(column, expected):
    condition = s.invalid_key_condition('k', column)
    assert (condition[0] if condition else None) == expected


def test_lexicographic_single_and_composite():
    assert s.pk_after(['id'], (5,)) == ('(`id` > %s)', (5,))
    assert s.pk_at_most(['id'], (5,)) == ('(`id` <= %s)', (5,))
    assert s.pk_after(['a', 'b'], (1, 2)) == ('(`a` > %s OR (`a` = %s AND (`b` > %s)))', (1, 1, 2))
    assert render_statement(*s.pk_at_most(['a', 'b', 'c'], (1, 'x', 3))) == (
        "(`a` < 1 OR (`a` = 1 AND (`b` < 'x' OR (`b` = 'x' AND (`c` <= 3)))))")
    with pytest.raises(ValueError):
        s.pk_after(['a', 'b'], (1,))


def _sqlite_matches(columns, condition, rows):
    """Rows (tuples) for which the generated condition holds, evaluated by sqlite."""
    database = sqlite3.connect(':memory:')
    try:
        database.execute('CREATE TABLE t (%s)' % ', '.join('`%s`' % column for column in columns))
        database.executemany('INSERT INTO t VALUES (%s)' % ', '.join('?' * len(columns)), rows)
        sql, params = condition
        found = database.execute('SELECT * FROM t WHERE %s' % sql.replace('%s', '?'), params).fetchall()
        return sorted(found)
    finally:
        database.close()


@pytest.mark.parametrize('width', [1, 2, 3])
def test_range_conditions_match_tuple_order(width):
    """The expanded comparisons select exactly lower < row <= upper in tuple order."""
    columns = ['c%d' % index for index in range(width)]
    grid = list(itertools.product(range(3), repeat=width))
    for lower, upper in itertools.product([None] + grid, [None] + grid):
        condition = s.pk_range_condition(columns, lower=lower, upper=upper)
        expected = sorted(row for row in grid
                          if (lower is None or row > lower) and (upper is None or row <= upper))
        assert _sqlite_matches(columns, condition, grid) == expected, (lower, upper)


def test_chunks_partition_the_table():
    """Successive chunks (previous upper = next lower) cover every row exactly once."""
    columns = ['a', 'b']
    grid = sorted(itertools.product(range(4), range(3)))
    bounds = [grid[2], grid[5], grid[6], grid[10], None]
    seen = []
    lower = None
    for upper in bounds:
        seen.extend(_sqlite_matches(columns, s.pk_range_condition(columns, lower, upper), grid))
        lower = upper
    assert sorted(seen) == grid


def test_owner_check_statements():
    predicate = s.purge_condition('customer_id', 2, (1,))
    rows = s.purge_rows_statement(spec(), ['id'], predicate, (7,), 500)
    assert render_statement(*rows) == (
        'SELECT `id`, `customer_id` FROM `shop`.`orders` FORCE INDEX (PRIMARY) WHERE (`id` > 7) AND '
        '(`customer_id` >= 0 AND MOD(`customer_id`, 2) NOT IN (1)) ORDER BY `id` LIMIT 500')
    # A key column that is part of the primary key is not selected twice.
    rows = s.purge_rows_statement(spec(key='b'), ['a', 'b'], s.purge_condition('b', 2, (1,)), None, 5)
    assert render_statement(*rows).startswith('SELECT `a`, `b` FROM `shop`.`orders` FORCE INDEX (PRIMARY) WHERE (')
    keys = s.owner_keys_statement(spec(), ['id'], s.owned_condition('customer_id', 2, [0]), None, (40,))
    assert render_statement(*keys) == (
        'SELECT `id`, `customer_id` FROM `shop`.`orders` WHERE (`id` <= 40) AND '
        '(`customer_id` IS NOT NULL AND `customer_id` >= 0 AND MOD(`customer_id`, 2) IN (0))')
    delete = s.purge_rows_delete_statement(spec(), ['id'], predicate, [(3,), (8,)])
    assert render_statement(*delete) == (
        'DELETE FROM `shop`.`orders` WHERE `id` IN (3, 8) AND '
        '(`customer_id` >= 0 AND MOD(`customer_id`, 2) NOT IN (1)) /* smooth.mariadb.shard_purge */')
    delete = s.purge_rows_delete_statement(spec(), ['a', 'b'], predicate, [(1, 'x'), (2, "it's")])
    assert render_statement(*delete).startswith("DELETE FROM `shop`.`orders` WHERE (`a`, `b`) IN ((1, 'x'), (2, 'it")


def test_chunk_digest_statements():
    predicate = s.purge_condition('customer_id', 2, (0,))
    digest = ("CAST(CONV(LEFT(MD5(CONCAT_WS('|', CONCAT_WS('#', LENGTH(`id`), `id`), "
              "CONCAT_WS('#', LENGTH(`customer_id`), `customer_id`))), 16), 16, 10) AS UNSIGNED)")
    node = s.chunk_digest_statement(spec(), ['id'], predicate, (7,), (30,), 2, lock=True)
    assert render_statement(*node) == (
        'SELECT MOD(`customer_id`, 2) AS residue, COUNT(*) AS row_count, SUM(%s) AS hash_sum '
        'FROM `shop`.`orders` FORCE INDEX (PRIMARY) WHERE (`id` > 7) AND (`id` <= 30) AND '
        '(`customer_id` >= 0 AND MOD(`customer_id`, 2) NOT IN (0)) GROUP BY residue FOR UPDATE' % digest)
    owner = s.chunk_digest_statement(spec(), ['id'], s.owned_condition('customer_id', 2, [1]), None, (30,), 2)
    assert render_statement(*owner) == (
        'SELECT MOD(`customer_id`, 2) AS residue, COUNT(*) AS row_count, SUM(%s) AS hash_sum '
        'FROM `shop`.`orders` FORCE INDEX (PRIMARY) WHERE (`id` <= 30) AND '
        '(`customer_id` IS NOT NULL AND `customer_id` >= 0 AND MOD(`customer_id`, 2) IN (1)) GROUP BY residue' % digest)
    # The shard key inside the primary key is hashed once, as row_identity names the row.
    assert s.identity_hash_expression(['a', 'b'], 'b') == s.row_hash_expression(['a', 'b'])
    rows = s.purge_range_rows_statement(spec(), ['id'], predicate, (7,), (30,), lock=True)
    assert render_statement(*rows) == (
        'SELECT `id`, `customer_id` FROM `shop`.`orders` FORCE INDEX (PRIMARY) WHERE (`id` > 7) AND (`id` <= 30) '
        'AND (`customer_id` >= 0 AND MOD(`customer_id`, 2) NOT IN (0)) ORDER BY `id` FOR UPDATE')
    assert not render_statement(*s.purge_range_rows_statement(spec(), ['id'], predicate, None, (30,))).endswith(
        'FOR UPDATE')


def test_chunk_digests_reduce_the_sum_modulo_2_64():
    rows = [dict(residue=1, row_count=2, hash_sum=Decimal(2 ** 64 + 5)), dict(residue=3, row_count=1, hash_sum=7)]
    assert s.chunk_digests(rows) == {1: (2, 5), 3: (1, 7)}
    assert s.chunk_digests([]) == {}


@pytest.mark.parametrize('node, by_owner, proven', [
    ({1: (3, 10)}, {0: {1: (3, 10)}}, True),
    ({}, {}, True),                                  # nothing to delete in the range
    ({1: (3, 10)}, {0: {1: (3, 11)}}, False),        # another row (primary key or shard key) on the owner
    ({1: (3, 10)}, {0: {1: (4, 10)}}, False),        # the owner holds more rows in the range
    ({1: (3, 10)}, {0: {}}, False),                  # the owner holds none
    ({1: (3, 10), 3: (1, 4)}, {0: {1: (3, 10)}}, False),  # residue 3 has no owner
    ({1: (3, 10)}, {}, False),                       # the owner was not asked (other column types)
    ({1: (3, 10), 2: (2, 9)}, {0: {1: (3, 10), 3: (5, 1)}, 1: {2: (2, 9)}}, True),  # owners' other residues
])
def test_digests_prove_chunk(node, by_owner, proven):
    assert s.digests_prove_chunk(node, by_owner, {1: 0, 2: 1}) is proven


def test_pk_in_condition_selects_exactly_the_keys():
    columns = ['a', 'b']
    grid = sorted(itertools.product(range(3), range(3)))
    keys = [(0, 2), (2, 1), (1, 1)]
    assert _sqlite_matches(columns, s.pk_in_condition(columns, keys), grid) == sorted(keys)
    assert _sqlite_matches(['a'], s.pk_in_condition(['a'], [(1,)]), [(0,), (1,), (2,)]) == [(1,)]


def test_parse_owners_maps_residues_and_refuses_overlaps():
    owners = [dict(residues=[1, 3], login_host='10.0.0.2'), dict(residues=[2], login_unix_socket='/s')]
    assert s.parse_owners(owners, 4, [0]) == ({1: 0, 3: 0, 2: 1}, [])
    assert s.parse_owners(None, 4, [0]) == ({}, [])
    by_residue, problems = s.parse_owners(
        [dict(residues=[1, 0], login_host='h'), dict(residues=[1, 4]), dict(residues=[], login_host='h')], 4, [0])
    assert by_residue == {1: 0}
    assert problems == [
        'owners[0]: residue 0 is kept by this node, it has no other owner',
        'owners[1]: give login_host (and login_port) or login_unix_socket',
        'owners[1]: residue 1 is already owned by owners[0]',
        'owners[1]: residue 4 is not within 0..3',
        'owners[2]: give the residues it owns',
    ]


def test_keys_missing_on_owners():
    rows = [dict(id=1, k=5), dict(id=2, k=6), dict(id=3, k=7), dict(id=4, k=9), dict(id=5, k=10)]
    # modulus 4: residues 1 (ids 1, 4), 2 (ids 2, 5), 3 (id 3); owner 0 has residue 1, owner 1 residue 2.
    held = {0: {(1,): 5, (4,): 9}, 1: {(2,): 6}}
    missing = s.keys_missing_on_owners(rows, ['id'], 'k', 4, {1: 0, 2: 1}, held)
    assert missing == [((3,), 3, None, None), ((5,), 2, 1, None)]
    assert s.keys_missing_on_owners(rows[:1], ['id'], 'k', 4, {1: 0}, {}) == [((1,), 1, 0, None)]
    assert s.keys_missing_on_owners([], ['id'], 'k', 4, {}, {}) == []


def test_owner_row_with_the_same_primary_key_and_another_shard_key_is_another_row():
    """Both new pairs hand out id 101: the owner's 101 (account 9) does not hold the stray 101 (account 7)."""
    rows = [dict(id=101, account=7), dict(id=103, account=13)]
    owner_rows = [dict(id=101, account=9), dict(id=103, account=13)]
    held = {0: dict(s.row_identity(row, ['id'], 'account') for row in owner_rows)}
    assert held == {0: {(101,): 9, (103,): 13}}
    assert s.keys_missing_on_owners(rows, ['id'], 'account', 2, {1: 0}, held) == [((101,), 1, 0, 9)]


def test_owner_keys_statement_reads_the_shard_key_too():
    owned = s.owned_condition('customer_id', 2, [1])
    sql = render_statement(*s.owner_keys_statement(spec(), ['id'], owned, (1,), (9,)))
    assert sql.startswith('SELECT `id`, `customer_id` FROM `shop`.`orders` WHERE ')
    owned = s.owned_condition('b', 2, [1])
    composite = render_statement(*s.owner_keys_statement(spec(key='b'), ['a', 'b'], owned, None, None))
    assert composite.startswith('SELECT `a`, `b` FROM')


def test_pk_range_condition_open():
    assert s.pk_range_condition(['id']) == ('1', ())


def test_purge_statements():
    predicate = s.purge_condition('customer_id', 2, (1,))
    bound = s.purge_bound_statement(spec(), ['id'], predicate, None, 1000)
    assert render_statement(*bound) == (
        'SELECT `id` FROM (SELECT `id` FROM `shop`.`orders` FORCE INDEX (PRIMARY) WHERE '
        '(`customer_id` >= 0 AND MOD(`customer_id`, 2) NOT IN (1)) ORDER BY `id` LIMIT 1000) AS chunk '
        'ORDER BY `id` DESC LIMIT 1')
    bound = s.purge_bound_statement(spec(), ['a', 'b'], predicate, (4, 'x'), 10)
    assert render_statement(*bound) == (
        "SELECT `a`, `b` FROM (SELECT `a`, `b` FROM `shop`.`orders` FORCE INDEX (PRIMARY) WHERE "
        "(`a` > 4 OR (`a` = 4 AND (`b` > 'x'))) AND (`customer_id` >= 0 AND MOD(`customer_id`, 2) NOT IN (1)) "
        "ORDER BY `a`, `b` LIMIT 10) AS chunk ORDER BY `a` DESC, `b` DESC LIMIT 1")
    delete = s.purge_delete_statement(spec(), ['id'], predicate, (10,), (25,))
    assert render_statement(*delete) == (
        'DELETE FROM `shop`.`orders` WHERE (`id` > 10) AND (`id` <= 25) AND '
        '(`customer_id` >= 0 AND MOD(`customer_id`, 2) NOT IN (1)) /* smooth.mariadb.shard_purge */')
    first = s.purge_delete_statement(spec(), ['id'], predicate, None, (25,))
    assert render_statement(*first).startswith('DELETE FROM `shop`.`orders` WHERE (`id` <= 25) AND (')


def test_count_statements():
    owned = s.owned_condition('k', 2, (0,))
    assert render_statement(*s.count_statement(spec(), owned)) == (
        'SELECT COUNT(*) AS total_rows, COALESCE(SUM(NOT (`k` IS NOT NULL AND `k` >= 0 AND MOD(`k`, 2) IN (0))), 0) '
        'AS foreign_rows FROM `shop`.`orders`')
    condition = s.invalid_key_condition('k', None)
    assert render_statement(*s.invalid_key_count_statement(spec(), condition)) == (
        'SELECT COUNT(*) AS invalid_rows FROM `shop`.`orders` WHERE (`k` IS NULL OR `k` < 0)')


def test_hash_expressions_encode_length_and_value():
    expression = s.pk_hash_expression(['a', 'b'])
    assert expression == ("CAST(CONV(LEFT(MD5(CONCAT_WS('|', CONCAT_WS('#', LENGTH(`a`), `a`), "
                          "CONCAT_WS('#', LENGTH(`b`), `b`))), 16), 16, 10) AS UNSIGNED)")


def test_table_stats_statement_with_and_without_row_checksum():
    owned = s.owned_condition('k', 2, (1,))
    sql, params = s.table_stats_statement(spec(), ['id'], owned)
    assert params == (2, 1, 2, 1)
    assert sql.count('%s') == 4
    assert 'row_checksum' not in sql
    assert sql.startswith('SELECT COUNT(*) AS total_rows, COALESCE(SUM((`k` IS NOT NULL')
    sql, params = s.table_stats_statement(spec(), ['id'], owned, ['id', 'k', 'note'])
    assert 'BIT_XOR(' in sql and sql.endswith('AS row_checksum FROM `shop`.`orders`')


def test_chunk_statements():
    assert render_statement(*s.chunk_bound_statement(spec(), ['id'], None, 100)) == (
        'SELECT `id` FROM `shop`.`orders` FORCE INDEX (PRIMARY) WHERE 1 ORDER BY `id` LIMIT 1 OFFSET 99')
    assert render_statement(*s.chunk_bound_statement(spec(), ['id'], (100,), 100)) == (
        'SELECT `id` FROM `shop`.`orders` FORCE INDEX (PRIMARY) WHERE (`id` > 100) ORDER BY `id` LIMIT 1 OFFSET 99')
    sql = render_statement(*s.chunk_checksum_statement(spec(), ['id'], ['id', 'v'], (100,), None))
    assert sql.startswith('SELECT COUNT(*) AS row_count, BIT_XOR(CAST(CONV(LEFT(MD5(')
    assert sql.endswith('FROM `shop`.`orders` WHERE (`id` > 100)')
    sql, params = s.foreign_examples_statement(spec(), ['id'], s.owned_condition('k', 2, (1,)), 5)
    assert params == (2, 1, 5)
    assert sql.endswith('ORDER BY `id` LIMIT %s')


# ---------------------------------------------------------------------------
# Values, checksums
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    (None, None), (5, 5), ('x', 'x'), (Decimal('7'), 7), (Decimal('1.50'), '1.50'),
    (b'abc', 'abc'), (b'\xff\x00', '0xff00'), (1.5, 1.5),
])
def test_json_value(value, expected):
    assert s.json_value(value) == expected


def test_describe_pk_and_range():
    assert s.describe_pk(['id'], (57,)) == 'id = 57'
    assert s.describe_pk(['a', 'b'], (1, 'x')) == '(a, b) = (1, "x")'
    assert s.describe_range(['id'], None, (10,)) == 'from the start up to id = 10'
    assert s.describe_range(['id'], (10,), None) == 'from after id = 10 up to the end'
    assert s.describe_range(['id'], (10,), (20,)) == 'from after id = 10 up to id = 20'


def test_hash_total_wraps_modulo_2_64():
    assert s.hash_total([Decimal(2 ** 64 - 1), 2]) == 1
    assert s.hash_total([None, 5]) == 5
    assert s.format_checksum(Decimal(2 ** 64 + 255)) == '00000000000000ff'


def test_sum_detects_a_duplicate_that_xor_would_cancel():
    hashes = [0x1234, 0xabcd, 0x5555]
    baseline = s.hash_total(hashes)
    duplicated = s.hash_total(hashes + [0xabcd])
    assert duplicated != baseline
    xor = 0
    for value in hashes + [0xabcd, 0xabcd]:
        xor ^= value
    assert xor == hashes[0] ^ hashes[1] ^ hashes[2]  # XOR: a row counted three times looks like once


# ---------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------

def test_server_params_inherit_credentials_not_address():
    defaults = dict(login_host='db1', login_port=3307, login_unix_socket='/run/x.sock', login_user='admin',
                    login_password='pw', config_file='', connect_timeout=5, ca_cert='/ca', client_cert=None,
                    client_key=None, check_hostname=None)
    params = mariadb.server_params(dict(login_host='db2'), defaults)
    assert params['login_host'] == 'db2' and params['login_port'] == 3306
    assert params['login_unix_socket'] is None
    assert (params['login_user'], params['login_password'], params['ca_cert']) == ('admin', 'pw', '/ca')
    params = mariadb.server_params(dict(login_host='db2', login_port=3310, login_user='other', login_password='x'),
                                   defaults)
    assert (params['login_port'], params['login_user'], params['login_password']) == (3310, 'other', 'x')


def test_an_entry_with_its_own_account_never_gets_the_modules_password():
    defaults = dict(login_user='admin', login_password='admin-pw', config_file='')
    assert mariadb.server_params(dict(login_host='db2', login_user='repl'), defaults)['login_password'] is None
    assert mariadb.server_params(dict(login_host='db2', login_password='own'), defaults)['login_password'] == 'own'


# ---------------------------------------------------------------------------
# Interlock
# ---------------------------------------------------------------------------

def conn(name='peer', host='10.0.0.2', port=3306, server_id=12, io='Yes', sql='Yes'):
    return name, dict(connection_name=name, source_host=host, source_port=port, source_server_id=server_id,
                      io_running_state=io, sql_running_state=sql)


def statuses(*connections):
    return dict(connections)


def peers(*entries):
    found, problems = s.parse_peers(list(entries))
    assert problems == []
    return found


def test_parse_peers():
    found, problems = s.parse_peers([{'host': '[FE80::1]'}, {'server_id': 7, 'host': None, 'port': None}, {}])
    assert found == [s.Peer('fe80::1', 3306, None, 'fe80::1:3306'), s.Peer(None, None, 7, 'server_id 7')]
    assert problems == ['allowed_peers[2]: give host (and port) and/or server_id']


def test_interlock_no_replication_at_all():
    problems, report = s.check_interlock('n1:3306', {}, [], [], [])
    assert problems == []
    assert report == dict(connections=[], replicas=[], dump_threads=0)


def test_interlock_refuses_connection_to_a_non_peer_running_or_not():
    for io, sql in (('Yes', 'Yes'), ('No', 'No'), ('Connecting', 'Yes')):
        problems, dummy = s.check_interlock('n1:3306', statuses(conn('old', io=io, sql=sql)), [], [], [])
        assert problems == ["replication connection 'old' on n1:3306 replicates from 10.0.0.2:3306 (server_id 12), "
                            "which is not an allowed peer (IO thread %s, SQL thread %s)" % (io, sql)]


def test_interlock_default_connection_name():
    problems, dummy = s.check_interlock('n1', statuses(conn('', server_id=0)), [], [], [])
    assert problems[0].startswith("replication connection '' (the default connection) on n1 replicates from "
                                  "10.0.0.2:3306, which")


def test_interlock_host_port_peer():
    ok, report = s.check_interlock('n1', statuses(conn('p', host='10.0.0.2')), [], [],
                                   peers({'host': '10.0.0.2', 'port': 3306}))
    assert ok == [] and report['connections'][0]['allowed_as'] == '10.0.0.2:3306'
    wrong_port, dummy = s.check_interlock('n1', statuses(conn('p', port=3307)), [], [],
                                          peers({'host': '10.0.0.2'}))
    assert len(wrong_port) == 1 and 'replicates from 10.0.0.2:3307' in wrong_port[0]
    other_spelling, dummy = s.check_interlock('n1', statuses(conn('p', host='db2.example')), [], [],
                                              peers({'host': '10.0.0.2'}))
    assert len(other_spelling) == 1
    case, dummy = s.check_interlock('n1', statuses(conn('p', host='DB2')), [], [], peers({'host': 'db2'}))
    assert case == []


def test_interlock_host_and_server_id_must_both_match():
    problems, dummy = s.check_interlock('n1', statuses(conn('p', server_id=13)), [], [],
                                        peers({'host': '10.0.0.2', 'server_id': 12}))
    assert problems == ["replication connection 'p' on n1 replicates from 10.0.0.2:3306, allowed as peer "
                        "10.0.0.2:3306 / server_id 12, but that server reports server_id 13"]
    # A stopped connection's Master_Server_Id is stale: the host:port decides.
    stopped, dummy = s.check_interlock('n1', statuses(conn('p', server_id=13, io='No', sql='No')), [], [],
                                       peers({'host': '10.0.0.2', 'server_id': 12}))
    assert stopped == []


def test_interlock_server_id_peer_needs_a_running_io_thread():
    ok, dummy = s.check_interlock('n1', statuses(conn('p', host='elsewhere', server_id=12)), [], [],
                                  peers({'server_id': 12}))
    assert ok == []
    stopped, dummy = s.check_interlock('n1', statuses(conn('p', server_id=12, io='No', sql='No')), [], [],
                                       peers({'server_id': 12}))
    assert len(stopped) == 1
    assert stopped[0].endswith('its IO thread does not run, so its source cannot be identified by server_id: '
                               'list the peer with its host and port')
    connecting, dummy = s.check_interlock('n1', statuses(conn('p', server_id=12, io='Connecting')), [], [],
                                          peers({'server_id': 12}))
    assert len(connecting) == 1


def test_interlock_several_connections_each_named():
    problems, report = s.check_interlock(
        'n1', statuses(conn('good', host='10.0.0.2'), conn('bad1', host='10.0.0.3', server_id=13),
                       conn('bad2', host='10.0.0.4', server_id=14, io='No', sql='No')),
        [], [], peers({'host': '10.0.0.2'}))
    assert [problem.split(' on ')[0] for problem in problems] == [
        "replication connection 'bad1'", "replication connection 'bad2'"]
    assert [entry['connection'] for entry in report['connections']] == ['bad1', 'bad2', 'good']


def test_interlock_replicas():
    replica = dict(server_id=12, host='10.0.0.2', port=3306)
    ok, report = s.check_interlock('n1', {}, [replica], [dict(id=5, user='repl', host='10.0.0.2:5000')],
                                   peers({'server_id': 12}))
    assert ok == [] and report['replicas'][0]['allowed_as'] == 'server_id 12'
    ok, dummy = s.check_interlock('n1', {}, [replica], [], peers({'host': '10.0.0.2', 'port': 3306}))
    assert ok == []
    # With a server_id, the peer's server_id decides, not the address.
    refused, dummy = s.check_interlock('n1', {}, [replica], [], peers({'host': '10.0.0.2', 'server_id': 99}))
    assert len(refused) == 1
    refused, dummy = s.check_interlock('n1', {}, [dict(replica, server_id=13, host='')], [], [])
    assert refused[0].startswith('replica server_id 13 (reported as ?:3306) replicates from n1, and is not an '
                                 'allowed peer')


def test_interlock_unregistered_dump_threads():
    threads = [dict(id=5, user='repl', host='10.0.0.2:5000'), dict(id=9, user='cdc', host='10.0.0.9:4000')]
    problems, dummy = s.check_interlock('n1', {}, [dict(server_id=12, host='10.0.0.2', port=3306)], threads,
                                        peers({'server_id': 12}))
    assert problems == ['2 binlog dump thread(s) on n1 but only 1 registered replica(s): unidentified readers of '
                        'the binary log: thread 5 (user repl from 10.0.0.2:5000), thread 9 (user cdc from 10.0.0.9:4000)']


def test_interlock_galera_and_process_privilege():
    problems, dummy = s.check_interlock('n1', {}, [], [], [], sees_all_threads=False, wsrep_on=True)
    assert problems[0] == 'n1 is a Galera cluster member (wsrep_on=ON): every member applies its deletes'
    assert problems[1].startswith('the login account on n1 lacks the PROCESS privilege')


def test_find_partner_connection():
    conns = statuses(conn('from_a', host='10.0.0.1', server_id=11), conn('other', host='10.0.0.9', server_id=19))
    assert s.find_partner_connection(conns, 11)[0] == 'from_a'
    assert s.find_partner_connection(conns, 5, node_host='10.0.0.1', node_port=3306)[0] == 'from_a'
    assert s.find_partner_connection(conns, 11, name='OTHER')[0] == 'other'
    assert s.find_partner_connection(conns, 11, name='nope')[2] == "has no replication connection 'nope'"
    assert s.find_partner_connection(conns, 5)[2].startswith('has no replication connection from this node')
    both = statuses(conn('x', server_id=11), conn('y', server_id=11))
    assert s.find_partner_connection(both, 11)[2] == (
        "has several connections from this node ('x', 'y'); name one with partner.connection_name")


# ---------------------------------------------------------------------------
# Lag
# ---------------------------------------------------------------------------

def running_status(behind=0):
    return dict(io_running_state='Yes', sql_running_state='Yes', seconds_behind_master=behind)


def test_gtid_parsing():
    assert s.parse_gtid('1-11-42') == (1, 11, 42)
    assert s.parse_gtid('') is None and s.parse_gtid('x') is None
    assert s.gtid_positions('1-11-42, 2-12-7,bad') == {1: 42, 2: 7}


def test_lag_tracker_follows_applied_chunks():
    tracker = s.LagTracker()
    tracker.committed('1-11-10', 100.0)
    tracker.committed('1-11-11', 101.0)
    tracker.committed('', 101.5)  # no binlog: nothing to track
    lag, reason = tracker.measure('1-11-9,2-12-3', running_status(), 103.0)
    assert lag == 3.0 and reason.startswith('2 chunk(s) not applied there yet, the oldest committed 3.0 s ago')
    lag, reason = tracker.measure('1-11-10', running_status(), 103.5)
    assert lag == 2.5 and len(tracker.pending) == 1
    lag, reason = tracker.measure('1-11-11', running_status(), 104.0)
    assert lag == 0.0 and reason == 'every chunk committed here has been applied there; Seconds_Behind_Master 0'
    assert tracker.max_seen == 3.0


def test_lag_tracker_bound_without_asking_the_partner():
    """The lag cannot exceed the age of the oldest chunk not yet seen applied."""
    tracker = s.LagTracker()
    assert tracker.bound(100.0) == 0.0
    tracker.committed('1-11-10', 100.0)
    tracker.committed('1-11-11', 101.0)
    assert tracker.bound(101.5) == 1.5
    tracker.measure('1-11-10', running_status(), 102.0)
    assert tracker.bound(102.0) == 1.0
    tracker.measure('1-11-11', running_status(), 102.5)
    assert tracker.bound(110.0) == 0.0


def test_lag_tracker_uses_seconds_behind_master_until_chunks_can_be_followed():
    tracker = s.LagTracker()
    lag, reason = tracker.measure('', running_status(behind=7), 10.0)
    assert (lag, reason) == (7.0, 'Seconds_Behind_Master 7')
    tracker.committed('', 10.5)  # not binlogged: still Seconds_Behind_Master
    assert tracker.measure('', running_status(behind=None), 11.0) == (0.0, 'Seconds_Behind_Master None')
    tracker.committed('1-11-3', 11.0)
    lag, reason = tracker.measure('1-11-3', running_status(behind=1), 11.2)
    assert lag == 0.0  # the whole-second Seconds_Behind_Master is reported, not used
    assert reason == 'every chunk committed here has been applied there; Seconds_Behind_Master 1'
    assert tracker.max_seen == 7.0 and tracker.max_behind == 7


def test_lag_tracker_unknown_when_partner_not_replicating():
    tracker = s.LagTracker()
    tracker.committed('1-11-10', 100.0)
    status = dict(io_running_state='Yes', sql_running_state='No', seconds_behind_master=None,
                  last_sql_error="Could not execute Delete_rows_v1 event", last_io_error='')
    lag, reason = tracker.measure('1-11-9', status, 102.0)
    assert lag is None
    assert reason == ('the partner connection is not replicating: IO thread Yes, SQL thread No '
                      '(Could not execute Delete_rows_v1 event); 1 chunk(s) not applied there yet, '
                      'the oldest committed 2.0 s ago')
    assert tracker.max_seen == 2.0
    assert tracker.measure('', None, 103.0) == (None, 'the partner connection no longer exists')


# ---------------------------------------------------------------------------
# Results and baselines
# ---------------------------------------------------------------------------

def test_query_log_summary():
    log = s.QueryLog(head=2)
    log.add('SET x')
    for number in range(1, 6):
        log.add('DELETE %d' % number, table='t1')
    log.add('DELETE only', table='t2')
    log.add('DELETE a', table='t3')
    log.add('DELETE b', table='t3')
    log.add('DELETE c', table='t3')
    assert log.total == 10
    assert log.summary() == ['SET x', 'DELETE 1', 'DELETE 2', '-- 2 more chunk statement(s) on t1, the last one:',
                             'DELETE 5', 'DELETE only', 'DELETE a', 'DELETE b', 'DELETE c']


def test_baseline_problems():
    good = s.baseline_document({'db.t': dict(rows=1, pk_checksum='00', primary_key=['id'])})
    assert s.baseline_problems(good) == []
    assert s.baseline_problems([]) == ['the baseline is not a shard_verify baseline (a dict with format and tables)']
    assert s.baseline_problems(dict(format='other/1', tables={}))[0].startswith("the baseline format 'other/1'")
    assert s.baseline_problems(s.baseline_document({'db.t': {'rows': 1}})) == [
        'baseline entry of table db.t lacks rows or pk_checksum']


def test_compare_with_baseline():
    union = dict(rows=10, pk_checksum='00000000000000aa', primary_key=['id'])
    entry = dict(rows=10, pk_checksum='00000000000000aa', primary_key=['id'])
    assert s.compare_with_baseline('db.t', union, entry) == []
    assert s.compare_with_baseline('db.t', union, None) == ['db.t: not in the baseline']
    lost = s.compare_with_baseline('db.t', dict(union, rows=9, pk_checksum='01'), entry)
    assert lost[0] == 'db.t: the shards together hold 9 rows, the baseline 10 (-1: rows lost)'
    assert len(lost) == 2
    same_count = s.compare_with_baseline('db.t', dict(union, pk_checksum='00000000000000ab'), entry)
    assert same_count == ['db.t: primary key checksum of the union is 00000000000000ab, the baseline '
                          '00000000000000aa with the same row count: some primary keys differ (rows lost and '
                          'others added or duplicated across shards)']
    changed_pk = s.compare_with_baseline('db.t', dict(union, primary_key=['id', 'x']), entry)
    assert changed_pk == ['db.t: primary key is (id, x) but was (id) when the baseline was recorded']


@pytest.mark.parametrize('chunk_size, max_lag, bad', [
    (1, 0, []),
    (1000, 5, []),
    (100000, 3600, []),
    (100001, 5, ['chunk']),
    (0, 5, ['chunk']),
    ('1000', 5, ['chunk']),
    (True, 5, ['chunk']),
    (1000.0, 5, ['chunk']),
    (1000, -0.5, ['lag']),
    (1000, 3601, ['lag']),
    (1000, '5', ['lag']),
    (None, None, ['chunk', 'lag']),
])
def test_purge_setting_problems_bounds(chunk_size, max_lag, bad):
    problems = s.purge_setting_problems(chunk_size, max_lag, names=('chunk', 'lag'))
    assert [problem.split(' ')[0] for problem in problems] == bad


def test_parse_tables_names_the_settings_as_written():
    specs, problems = s.parse_tables([{'name': 'a.b'}, 'c'], names=('smooth_sharded_tables', 'smooth_shard_key_column'))
    assert problems == ['table a.b: no key column; give key for the table or smooth_shard_key_column for all',
                        "smooth_sharded_tables[1]: table name 'c' must be written as database.table"]
    assert s.parse_tables('a.b', 'k', names=('smooth_sharded_tables', 'x'))[1] == [
        "smooth_sharded_tables must be a list of \"db.table\" or {name: db.table, key: column}, got 'a.b'"]


def test_ownership_scan_statement_counts_in_one_read():
    sql = render_statement(*s.ownership_scan_statement(spec(), s.invalid_key_condition('customer_id', None),
                                                       s.owned_condition('customer_id', 2, (1,))))
    assert sql == ('SELECT COUNT(*) AS total_rows, COUNT(CASE WHEN (`customer_id` IS NULL OR `customer_id` < 0) '
                   'THEN 1 END) AS no_shard_rows, COUNT(CASE WHEN NOT (`customer_id` IS NOT NULL AND '
                   '`customer_id` >= 0 AND MOD(`customer_id`, 2) IN (1)) THEN 1 END) AS foreign_rows '
                   'FROM `shop`.`orders`')
    unsigned = s.ownership_scan_statement(spec(), None, s.owned_condition('customer_id', 1, (0,)))
    assert 'COUNT(CASE WHEN FALSE THEN 1 END) AS no_shard_rows' in unsigned[0]


def test_statements_are_shortened_for_results_and_messages():
    keys = ', '.join(str(key) for key in range(1000))
    statement = 'DELETE FROM `a`.`b` WHERE `id` IN (%s)' % keys
    short = s.shorten_statement(statement)
    assert short.startswith('DELETE FROM `a`.`b` WHERE `id` IN (0, 1, 2')
    assert short.endswith(' ... (%d characters in all)' % len(statement))
    assert len(short) < 340
    assert s.shorten_statement('SET x = 1') == 'SET x = 1'
    log = s.QueryLog()
    for dummy in range(5):
        log.add(statement, table='a.b')
    assert all(len(line) < 340 for line in log.summary())


def test_parse_deleted_rows():
    rows = [dict(table='a.b', key=[1], shard_key=7), dict(table='a.b', key=[2, 'x'], shard_key=8)]
    assert s.parse_deleted_rows(rows) == (frozenset([('a.b', (1,), 7), ('a.b', (2, 'x'), 8)]), [])
    assert s.parse_deleted_rows(None) == (frozenset(), [])
    identities, problems = s.parse_deleted_rows([dict(table='a.b', key=1, shard_key=7), 'a.b',
                                                 dict(table='a.b', key=[1], shard_key='7')])
    assert identities == frozenset() and len(problems) == 3
    assert problems[0] == ("deleted_on_owner[0] must be {table, key (a list of primary key values), shard_key (an "
                           "integer)}, got {'table': 'a.b', 'key': 1, 'shard_key': 7}")


@pytest.mark.parametrize('current_user, grantee', [
    ('smooth_admin@10.0.0.1', "'smooth_admin'@'10.0.0.1'"),
    ('root@localhost', "'root'@'localhost'"),
    ('odd@name@%', "'odd@name'@'%'"),
])
def test_grantee_of_puts_the_host_after_the_last_at(current_user, grantee):
    assert s.grantee_of(current_user) == grantee


def test_process_privilege_is_read_for_the_login_account_only():
    # What a login with SELECT on *.* but no PROCESS sees: root's rows.
    rows = [{'grantee': "'root'@'localhost'", 'privilege': 'PROCESS'},
            {'grantee': "'root'@'localhost'", 'privilege': 'SUPER'}]
    assert s.holds_process_privilege(rows, 'smooth_admin@10.0.0.1') is False
    rows.append({'grantee': "'smooth_admin'@'10.0.0.1'", 'privilege': 'PROCESS'})
    assert s.holds_process_privilege(rows, 'smooth_admin@10.0.0.1') is True
    assert s.holds_process_privilege([{'grantee': "'smooth_admin'@'10.0.0.1'", 'privilege': 'process'}],
                                     'smooth_admin@10.0.0.1') is True
    # SUPER does not show other accounts' threads.
    assert s.holds_process_privilege([{'grantee': "'smooth_admin'@'10.0.0.1'", 'privilege': 'SUPER'}],
                                     'smooth_admin@10.0.0.1') is False
    assert s.holds_process_privilege([], 'root@localhost') is False
