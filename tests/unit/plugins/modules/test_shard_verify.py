# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""shard_verify's input checks, mirror planning, chunk walk and baseline file, without servers."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import render_statement
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import ShardingError, TableSpec, baseline_document
from ansible_collections.smooth.mariadb.plugins.modules import shard_verify as mod

from .module_standin import FailJson, ModuleStandIn


class FakeModule(ModuleStandIn):
    ARGUMENT_SPEC = staticmethod(mod.argument_spec)
    DEFAULTS = dict(servers=[dict(name='a', login_host='10.0.0.1'), dict(name='b', login_host='10.0.0.2')],
                    tables=['shop.orders'], key_column='customer_id', mode='record')

    def atomic_move(self, source, destination):
        os.rename(source, destination)


def test_argument_spec_secrets():
    assert mod.argument_spec()['servers']['options']['login_password']['no_log'] is True


@pytest.mark.parametrize('entry, default, expected', [
    (dict(name='a'), None, (1, [0], [])),
    (dict(name='a'), 4, (1, [0], [])),
    (dict(name='a', owned_residues=[3, 1]), 4, (4, [1, 3], [])),
    (dict(name='a', modulus=2, owned_residues=[1]), 4, (2, [1], [])),
    (dict(name='a', owned_residues=[1]), None,
     (None, None, ['server a: owned_residues given without a modulus (set modulus for the server or for all)'])),
    (dict(name='a', owned_residues=[]), 2, (None, None, ['server a: owned_residues is empty'])),
    (dict(name='a', modulus=2), None, (None, None, ['server a: modulus given without owned_residues'])),
    (dict(name='a', owned_residues=[2]), 2,
     (2, [2], ['server a: owned_residues 2 out of range: residues of modulus 2 are 0 to 1'])),
])
def test_server_ownership(entry, default, expected):
    assert mod.server_ownership(entry, default) == expected


def test_plan_mirrors_default_groups_servers_with_the_same_ownership():
    classes = dict(a=0, a2=0, b=1, b2=1, c=2)
    groups, problems = mod.plan_mirrors(None, ['a', 'b', 'a2', 'b2', 'c'], classes)
    assert problems == [] and groups == [['a', 'a2'], ['b', 'b2']]
    assert mod.plan_mirrors([], ['a', 'a2'], dict(a=0, a2=0)) == ([], [])


def test_plan_mirrors_explicit_groups_are_checked():
    classes = dict(a=0, a2=0, b=1)
    groups, problems = mod.plan_mirrors([['a', 'a2'], ['a', 'x'], ['a'], ['a', 'a'], ['a', 'b']],
                                        ['a', 'a2', 'b'], classes)
    assert groups == [['a', 'a2']]
    assert problems == [
        'mirrors[1]: unknown server(s) x',
        'mirrors[2]: a group needs two or more different servers, got a',
        'mirrors[3]: a group needs two or more different servers, got a, a',
        'mirrors[4]: a, b do not own the same residues, so they cannot hold the same rows',
    ]


def test_check_input_collects_every_problem(tmp_path):
    module = FakeModule(mode='verify', chunk_size=0, baseline_file=str(tmp_path / 'missing.json'), modulus=4,
                        servers=[dict(name='a', login_host='h1', owned_residues=[0, 1]),
                                 dict(name='a', login_host='h2'),
                                 dict(name='b', login_port=3306, owned_residues=[1, 7])])
    verify = mod.Verify(module)
    problems = verify.check_input()
    assert problems[0] == 'server name a is used twice'
    assert 'server b: give login_host (and login_port) or login_unix_socket' in problems
    assert 'server b: owned_residues 7 out of range: residues of modulus 4 are 0 to 3' in problems
    assert 'chunk_size must be at least 1, got 0' in problems
    assert any(problem.startswith('cannot read the baseline file %s' % (tmp_path / 'missing.json'))
               for problem in problems)
    assert 'no server owns residue(s) 2, 3 of modulus 4: the shards cannot hold every row' in problems


def test_check_input_baseline_choices(tmp_path):
    assert 'mode=verify needs baseline or baseline_file' in mod.Verify(FakeModule(mode='verify')).check_input()
    both = mod.Verify(FakeModule(mode='verify', baseline={}, baseline_file='/x')).check_input()
    assert 'give baseline or baseline_file, not both' in both
    path = tmp_path / 'b.json'
    path.write_text(json.dumps(baseline_document({'shop.orders': dict(rows=3, pk_checksum='0a')})))
    verify = mod.Verify(FakeModule(mode='verify', baseline_file=str(path)))
    assert verify.check_input() == []
    assert verify.expected['tables']['shop.orders']['rows'] == 3
    assert verify.groups == [['a', 'b']]
    bad = mod.Verify(FakeModule(mode='verify', baseline={'tables': {}})).check_input()
    assert bad == ["the baseline format None is not smooth.mariadb.shard_verify/1"]


def table_info(columns=('id', 'customer_id', 'note'), primary_key=('id',)):
    return dict(type='BASE TABLE', engine='InnoDB', primary_key=list(primary_key),
                columns=[dict(name=name, column_type='int', data_type='int', nullable=False, unsigned=False)
                         for name in columns])


def test_compare_schema():
    infos = dict(a={'t': table_info()}, b={'t': table_info()}, c={'t': table_info(columns=('id', 'customer_id'))})
    assert mod.compare_schema(['a', 'b'], 't', infos) is None
    assert mod.compare_schema(['a', 'b', 'c'], 't', infos) == (
        'mirrors a and c define table t differently (columns or primary key), so their rows cannot be compared')


class ChunkSession(object):
    """Answers chunk bound and chunk checksum queries from an in-memory table {pk: row checksum}."""

    def __init__(self, rows):
        self.rows = rows
        self.reads = []

    def fetch_one(self, sql, params=None):
        self.reads.append(render_statement(sql, params))
        keys = sorted(self.rows)
        if 'OFFSET' in sql:
            lower = params[0] if len(params) == 2 else None
            after = [key for key in keys if lower is None or key > lower]
            offset = params[-1]
            return {'id': after[offset]} if len(after) > offset else None
        lower = upper = None
        if '`id` > %s' in sql:
            lower = params[0]
        if '`id` <= %s' in sql:
            upper = params[-1]
        inside = [key for key in keys if (lower is None or key > lower) and (upper is None or key <= upper)]
        checksum = 0
        for key in inside:
            checksum ^= self.rows[key]
        return {'row_count': len(inside), 'checksum': checksum}


def test_chunk_walk_names_the_first_differing_chunk():
    rows = dict((key, key * 7919) for key in range(1, 101))
    other = dict(rows)
    other[57] = 1
    del other[83]
    verify = mod.Verify(FakeModule(chunk_size=10))
    verify.infos = dict(a={'shop.orders': table_info()}, b={'shop.orders': table_info()})
    verify.sessions = dict(a=ChunkSession(rows), b=ChunkSession(other))
    compared, difference = verify.chunk_walk(['a', 'b'], TableSpec('shop.orders', 'shop', 'orders', 'customer_id'),
                                             100)
    assert compared == 6
    assert difference['range'] == 'from after id = 50 up to id = 60'
    assert (difference['lower'], difference['upper']) == ([50], [60])
    assert difference['rows'] == dict(a=10, b=10)
    assert difference['checksums']['a'] != difference['checksums']['b']


def test_chunk_walk_rows_beyond_the_reference_end_are_compared():
    rows = dict((key, key) for key in range(1, 21))
    other = dict(rows)
    other[25] = 5
    verify = mod.Verify(FakeModule(chunk_size=10))
    verify.infos = dict(a={'shop.orders': table_info()}, b={'shop.orders': table_info()})
    verify.sessions = dict(a=ChunkSession(rows), b=ChunkSession(other))
    compared, difference = verify.chunk_walk(['a', 'b'], TableSpec('shop.orders', 'shop', 'orders', 'k'), 20)
    assert compared == 3
    assert difference['range'] == 'from after id = 20 up to the end'
    assert difference['rows'] == dict(a=0, b=1)


def test_chunk_walk_identical_tables():
    rows = dict((key, key) for key in range(1, 35))
    verify = mod.Verify(FakeModule(chunk_size=10))
    verify.infos = dict(a={'shop.orders': table_info()}, b={'shop.orders': table_info()})
    verify.sessions = dict(a=ChunkSession(rows), b=ChunkSession(dict(rows)))
    assert verify.chunk_walk(['a', 'b'], TableSpec('shop.orders', 'shop', 'orders', 'k'), 34) == (4, None)


def test_union_counts_one_server_per_ownership_and_wraps():
    verify = mod.Verify(FakeModule())
    verify.specs = [TableSpec('shop.orders', 'shop', 'orders', 'k')]
    verify.layout = dict(classes=[dict(representative='a'), dict(representative='b')])
    verify.infos = dict(a={'shop.orders': table_info()}, b={'shop.orders': table_info()})
    stats = dict(a={'shop.orders': dict(owned_rows=3, pk_sum=2 ** 64 - 1)},
                 b={'shop.orders': dict(owned_rows=4, pk_sum=2)},
                 a2={'shop.orders': dict(owned_rows=3, pk_sum=2 ** 64 - 1)})
    assert verify.union(stats) == {'shop.orders': dict(rows=7, pk_checksum='0000000000000001', primary_key=['id'])}


def test_write_baseline_changed_only_when_content_changes(tmp_path):
    path = tmp_path / 'baseline.json'
    document = baseline_document({'shop.orders': dict(rows=3, pk_checksum='0a', primary_key=['id'])})
    verify = mod.Verify(FakeModule(baseline_file=str(path)))
    changed, diff = verify.write_baseline(document)
    assert changed is True and diff['before'] == ''
    assert json.loads(path.read_text()) == document
    assert path.read_text().endswith('}\n')
    changed, diff = verify.write_baseline(document)
    assert changed is False and diff['before'] == diff['after']

    checked = mod.Verify(FakeModule(check_mode=True, baseline_file=str(path)))
    changed, diff = checked.write_baseline(baseline_document({}))
    assert changed is True
    assert json.loads(path.read_text()) == document  # not written in check mode
    assert not [name for name in os.listdir(str(tmp_path)) if name.startswith('.baseline-')]


# ---------------------------------------------------------------------------
# reason and retryable of a failure
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('failed_checks, retryable', [
    (['mirrors'], True),
    (['ownership'], False),
    (['mirrors', 'ownership'], False),
    (['schema'], False),
    (['mirrors', 'union'], False),
])
def test_only_mirrors_that_differ_may_pass_when_read_again(failed_checks, retryable):
    assert mod.assertions_retryable(failed_checks) is retryable


def test_every_reason_is_documented():
    documented = yaml.safe_load(mod.RETURN)['reason']['description'][0]
    for reason in ('cannot_run', 'assertions_failed', 'query_failed', 'baseline_file'):
        assert 'V(%s)' % reason in documented


def test_a_refusal_is_cannot_run_and_not_retryable(monkeypatch):
    def unreachable(params):
        raise ShardingError('Unable to connect to MariaDB at %s:3306' % params['login_host'])
    monkeypatch.setattr(mod, 'connect_server', unreachable)
    with pytest.raises(FailJson) as failure:
        mod.Verify(FakeModule(chunk_size=0)).run()
    result = failure.value.args[0]
    assert result['msg'].startswith('shard_verify cannot run: (1) chunk_size must be at least 1, got 0. '
                                    '(2) server a: Unable to connect to MariaDB at 10.0.0.1:3306.')
    assert (result['reason'], result['retryable']) == ('cannot_run', False)
    assert 'failed_checks' not in result


def read_servers(monkeypatch, stats, chunk_difference=None):
    """A Verify of a and b (mirrors by default) whose reads return ``stats`` {server: table stats}."""
    verify = mod.Verify(FakeModule())

    def connect():
        verify.targets = dict(a='10.0.0.1:3306', b='10.0.0.2:3306')
        verify.sessions = dict(a=None, b=None)
        return []

    def check_tables():
        verify.infos = dict(a={'shop.orders': table_info()}, b={'shop.orders': table_info()})
        return []

    def open_snapshots():
        for server in verify.sessions:
            verify.report['servers'][server] = dict(tables={})
    monkeypatch.setattr(verify, 'connect', connect)
    monkeypatch.setattr(verify, 'check_tables', check_tables)
    monkeypatch.setattr(verify, 'open_snapshots', open_snapshots)
    monkeypatch.setattr(verify, 'table_stats', lambda server, spec: dict(stats[server]))
    monkeypatch.setattr(verify, 'chunk_walk', lambda group, spec, rows: (1, chunk_difference))
    return verify


def stats_of(rows, checksum, foreign=0):
    return dict(rows=rows + foreign, owned_rows=rows, foreign_rows=foreign, pk_sum=rows, pk_checksum='%016x' % rows,
                row_checksum=checksum, foreign_examples=['id = 9'] if foreign else [])


def test_mirrors_that_differ_are_assertions_failed_and_retryable(monkeypatch):
    verify = read_servers(monkeypatch, dict(a=stats_of(3, 'aa'), b=stats_of(3, 'bb')))
    with pytest.raises(FailJson) as failure:
        verify.run()
    result = failure.value.args[0]
    assert result['msg'].startswith('1 assertion(s) failed: (1) mirrors a, b differ in shop.orders (rows a=3, b=3)')
    assert (result['reason'], result['retryable'], result['failed_checks']) == ('assertions_failed', True, ['mirrors'])
    assert result['failures'] == [result['msg'][len('1 assertion(s) failed: (1) '):-1]]


def test_foreign_rows_are_assertions_failed_and_not_retryable(monkeypatch):
    verify = read_servers(monkeypatch, dict(a=stats_of(3, 'aa', foreign=1), b=stats_of(3, 'bb')))
    with pytest.raises(FailJson) as failure:
        verify.run()
    result = failure.value.args[0]
    assert (result['reason'], result['retryable']) == ('assertions_failed', False)
    assert result['failed_checks'] == ['mirrors', 'ownership']
    assert result['failures'][0].startswith('server a (10.0.0.1:3306) holds 1 row(s) of shop.orders it does not own')


def test_servers_that_agree_pass_without_reason(monkeypatch):
    result = read_servers(monkeypatch, dict(a=stats_of(3, 'aa'), b=stats_of(3, 'aa'))).run()
    assert result['failures'] == [] and 'reason' not in result and result['changed'] is False
