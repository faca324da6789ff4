# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""pair_compare's input checks and the statements it reads with (pure parts)."""

from __future__ import annotations

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils import sharding
from ansible_collections.smooth.mariadb.plugins.modules import pair_compare as mod


def params(**extra):
    values = dict(servers=[dict(name='db0a', login_host='10.0.0.11'), dict(name='db0b', login_host='10.0.0.12')],
                  tables=['shop.orders'], other_tables=False, chunk_size=1000, tries=5, wait_timeout=10.0,
                  lock_timeout=2.0, timeout=3600.0, examples=5)
    values.update(extra)
    return values


def test_good_input_has_no_problem():
    assert mod.input_problems(params()) == []
    assert mod.input_problems(params(tables=[], other_tables=True)) == []


@pytest.mark.parametrize('extra, problem', [
    (dict(servers=[dict(name='db0a', login_host='h')]), 'servers must list the two nodes of the pair under two '
                                                        'different names, got db0a'),
    (dict(servers=[dict(name='x', login_host='h'), dict(name='x', login_host='i')]), 'got x, x'),
    (dict(servers=[dict(name='x', login_host='h'), dict(name='y')]), 'server y: give login_host'),
    (dict(chunk_size=0), 'chunk_size must be from 1 to 100000, got 0'),
    (dict(tries=21), 'tries must be from 1 to 20, got 21'),
    (dict(wait_timeout=-1), 'wait_timeout must be from 0 to 3600'),
    (dict(timeout=0.5), 'timeout must be from 1 to 86400'),
    (dict(examples=101), 'examples must be from 0 to 100'),
    (dict(lock_timeout=61), 'lock_timeout must be from 0 to 60'),
    (dict(tables=[]), 'nothing to compare: list tables or set other_tables'),
])
def test_bad_input_is_named(extra, problem):
    found = mod.input_problems(params(**extra))
    assert any(problem in text for text in found), found


def test_listed_tables_take_names_and_dicts_and_ignore_the_shard_key():
    specs, problems = mod.listed_tables(['shop.orders', {'name': 'shop.items.v2', 'key': 'order_id'}, 'nodot', '.x'])
    assert [(spec.schema, spec.table) for spec in specs] == [('shop', 'orders'), ('shop', 'items.v2')]
    assert problems == ["tables[2]: 'nodot' must be written as database.table",
                        "tables[3]: '.x' must be written as database.table"]


def test_the_server_entries_share_the_login_options_of_every_other_server_entry():
    options = mod.argument_spec()['servers']['options']
    assert set(options) == set(sharding.server_login_options()) | set(['name'])
    assert options['login_password']['no_log'] is True
    assert set(sharding.owners_argument_spec()['options']) == set(sharding.server_login_options()) | set(['residues'])


def test_row_hashes_statement_reads_the_chunk_in_key_order_with_bound_values():
    spec = sharding.TableSpec('sh`op.or`ders', 'sh`op', 'or`ders', None)
    sql, args = sharding.chunk_row_hashes_statement(spec, ['a', 'b'], ['a', 'b', 'c'], (1, 'x'), (2, 'y'))
    assert sql.startswith('SELECT `a`, `b`, CAST(CONV(LEFT(MD5(')
    assert 'FROM `sh``op`.`or``ders` WHERE' in sql
    assert sql.endswith('ORDER BY `a`, `b`')
    assert args == (1, 1, 'x', 2, 2, 'y')
    # The same hash as the chunk checksum, so a differing checksum has differing row hashes.
    checksum_sql, dummy = sharding.chunk_checksum_statement(spec, ['a', 'b'], ['a', 'b', 'c'], None, None)
    assert sharding.row_hash_expression(['a', 'b', 'c']) in sql and sharding.row_hash_expression(['a', 'b', 'c']) in checksum_sql


def test_user_tables_statement_binds_the_excluded_schemas():
    sql, args = sharding.user_tables_statement(('mysql', 'smooth_mariadb', "it's"))
    assert "TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN (%s, %s, %s)" in sql
    assert args == ('mysql', 'smooth_mariadb', "it's")


class FakeModule(object):
    def __init__(self, **extra):
        self.params = params(**extra)


def failing(exc):
    def run():
        raise exc
    return run


@pytest.mark.parametrize('exc, retryable', [
    # A lock wait timeout, a deadlock, a lost connection: the same run may succeed later.
    (mod.MariaDBQueryError('SELECT ...', 'Lock wait timeout exceeded', errno=1205), True),
    (mod.MariaDBQueryError('SELECT ...', 'Deadlock found', errno=1213), True),
    (mod.MariaDBQueryError('SELECT ...', 'Lost connection to server during query', errno=2013), True),
    # A table or a privilege missing needs a fix first.
    (mod.MariaDBQueryError('SELECT ...', "Table 'shop.orders' doesn't exist", errno=1146), False),
    (mod.MariaDBQueryError('SELECT ...', 'SELECT command denied', errno=1142), False),
    (mod.CannotRun('servers db0a and db0b both report server_id 11'), False),
])
def test_cannot_run_is_retryable_only_on_a_transient_statement_error(exc, retryable):
    compare = mod.Compare(FakeModule())
    compare.run = failing(exc)
    result = compare.outcome()
    assert (result['reason'], result['refused'], result['retryable']) == ('cannot_run', True, retryable)
    assert result['msg'].startswith('pair_compare') and result['msg'].endswith('Nothing was changed.')
