# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The verdicts of pair_compare: when a chunk that differs is lag, a divergence, or unsettled."""

from __future__ import annotations

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils import divergence as dv

A = (10, 'aaaa')
B = (10, 'bbbb')
C = (11, 'cccc')
D = (10, 'dddd')


def readings(*pairs):
    """Plain readings from (first, second) pairs; every rereading after a successful catch-up."""
    return [dv.plain(first, second, index > 0) for index, (first, second) in enumerate(pairs)]


def test_equal_at_the_first_reading():
    assert dv.chunk_verdict(readings((A, A)), False) == (dv.EQUAL, None)
    assert dv.chunk_verdict(readings((A, A)), True) == (dv.EQUAL, None)


def test_a_difference_is_read_again_before_any_verdict():
    assert dv.chunk_verdict(readings((A, B)), False) == (None, None)
    assert dv.chunk_verdict(readings((A, B), (A, B)), False) == (None, None)


def test_lag_settles_once_the_nodes_agree():
    # The second node had not applied the newest write yet; after the catch-up it has.
    assert dv.chunk_verdict(readings((A, B), (A, A)), False) == (dv.SETTLED, None)
    # Hot rows: both moved on, and agree at the third reading.
    assert dv.chunk_verdict(readings((A, B), (C, B), (D, D)), True) == (dv.SETTLED, None)
    # Agreement in a locked reading settles too.
    assert dv.chunk_verdict(readings((A, B), (C, B)) + [dv.locked(D, D, True)], True) == (dv.SETTLED, None)


def test_a_complete_locked_reading_that_differs_proves_a_divergence():
    verdict, cause = dv.chunk_verdict(readings((A, B), (C, B)) + [dv.locked(D, B, True)], False)
    assert verdict == dv.DIVERGED
    assert 'locked on both nodes' in cause


def test_an_incomplete_locked_reading_proves_nothing():
    found = readings((A, B), (C, B)) + [dv.locked(D, B, False)]
    assert dv.chunk_verdict(found, False) == (None, None)
    verdict, cause = dv.chunk_verdict(found, True)
    assert verdict == dv.UNSETTLED
    assert '1 of 1 reading(s) with its rows locked could not complete' in cause


def test_without_locks_the_same_difference_three_times_after_catch_ups_is_a_divergence():
    verdict, cause = dv.chunk_verdict(readings((A, B), (A, B), (A, B)), False)
    assert verdict == dv.DIVERGED
    assert 'the same difference in 3 readings in a row' in cause


def test_a_divergence_may_be_confirmed_after_the_chunk_stopped_changing():
    # Hot writes at first, then quiet: the last three readings repeat the difference.
    found = readings((A, B), (C, B), (D, B), (D, B), (D, B))
    assert dv.chunk_verdict(found, False)[0] == dv.DIVERGED
    assert dv.chunk_verdict(found[:4], False) == (None, None)


def test_readings_without_a_catch_up_or_locked_ones_do_not_count_as_repetitions():
    found = [dv.plain(A, B, False), dv.plain(A, B, False), dv.plain(A, B, True)]
    assert dv.chunk_verdict(found, False) == (None, None)
    found = [dv.plain(A, B, False), dv.plain(A, B, True), dv.plain(A, B, False)]
    assert dv.chunk_verdict(found, False) == (None, None)
    found = [dv.plain(A, B, False), dv.locked(A, B, False), dv.plain(A, B, True)]
    assert dv.chunk_verdict(found, False) == (None, None)


def test_a_row_flipping_between_two_values_with_one_flip_of_lag_is_not_a_divergence_at_once():
    # first shows A, second lags one flip behind with B, twice: not enough.
    assert dv.chunk_verdict(readings((A, B), (A, B)), True)[0] == dv.UNSETTLED


@pytest.mark.parametrize('found, cause', [
    (readings((A, B), (C, B), (A, D), (C, B)), 'it kept changing under writes (between its 4 readings the first node '
                                               'changed it 3 time(s), the second 2 time(s))'),
    ([dv.plain(A, B, False), dv.plain(A, B, False), dv.plain(A, B, False), dv.plain(A, B, False)],
     'replication did not catch up in time before 3 of the 3 rereadings'),
])
def test_a_chunk_neither_settled_nor_proven_after_its_last_attempt_is_unsettled_and_says_why(found, cause):
    assert dv.chunk_verdict(found, True) == (dv.UNSETTLED, cause)
    assert dv.chunk_verdict(found, False) == (None, None)


def test_row_differences_name_values_and_rows_on_one_node_in_key_order():
    first = {(1,): 'h1', (2,): 'h2', (5,): 'h5', (7,): 'h7'}
    second = {(1,): 'h1', (2,): 'x2', (6,): 'h6', (7,): 'h7'}
    rows, total = dv.row_differences([(first, second)], 5)
    assert total == 3
    assert rows == [dict(key=[2], where='values differ'), dict(key=[5], where='only on the first node'),
                    dict(key=[6], where='only on the second node')]
    rows, total = dv.row_differences([(first, second)], 1)
    assert (rows, total) == ([dict(key=[2], where='values differ')], 3)
    assert dv.row_differences([(first, dict(first))], 5) == ([], 0)


def test_row_differences_keep_only_rows_that_differ_the_same_way_in_every_read():
    # Row 1 is hot: it differs in both reads, but not the same way. Row 5 is stale on the second node.
    reads = [({(1,): 'h1a', (5,): 'h5'}, {(1,): 'h1b', (5,): 'old'}),
             ({(1,): 'h1c', (5,): 'h5', (9,): 'new'}, {(1,): 'h1b', (5,): 'old'})]
    assert dv.row_differences(reads, 5) == ([dict(key=[5], where='values differ')], 1)


def test_row_differences_order_composite_keys_of_mixed_types():
    first = {(1, 'b'): 'x', (1, 'a'): 'x', (0, 'z'): 'x'}
    rows, total = dv.row_differences([(first, {})], 10)
    assert [row['key'] for row in rows] == [[0, 'z'], [1, 'a'], [1, 'b']]


def test_tally_counts_chunks_rereadings_and_verdicts():
    chunks = [(dv.EQUAL, readings((A, A))), (dv.SETTLED, readings((A, B), (A, A))),
              (dv.DIVERGED, readings((A, B), (C, B)) + [dv.locked(C, B, True)])]
    assert dv.tally(chunks) == dict(compared=3, rechecked=2, rereads=3, equal=1, settled=1, diverged=1, unsettled=0)


@pytest.mark.parametrize('counts, schema, incomplete, accept, expected', [
    (dict(diverged=0, unsettled=0), [], None, False, ('equal', False, False)),
    (dict(diverged=1, unsettled=2), [], None, True, ('diverged', True, False)),
    (dict(diverged=0, unsettled=0), ['table t exists on a only'], None, False, ('diverged', True, False)),
    (dict(diverged=0, unsettled=1), [], None, False, ('unsettled', True, True)),
    (dict(diverged=0, unsettled=1), [], None, True, ('unsettled', False, True)),
    (dict(diverged=0, unsettled=0), [], 'table t', True, ('incomplete', True, True)),
])
def test_outcome(counts, schema, incomplete, accept, expected):
    assert dv.outcome(counts, schema, incomplete, accept) == expected


def difference(verdict, cause=None, **extra):
    entry = dict(table='shop.orders', verdict=verdict, cause=cause, range='from after id = 1000 up to id = 2000',
                 primary_key=['id'], rows=dict(db0a=1000, db0b=1000),
                 rows_differing=[dict(key=[1005], where='values differ'),
                                 dict(key=[1010], where='only on the second node')],
                 rows_differing_total=4,
                 select='SELECT * FROM `shop`.`orders` WHERE (`id` > 1000) AND (`id` <= 2000) ORDER BY `id`')
    entry.update(extra)
    return entry


COUNTS = dict(compared=12, rechecked=3, settled=1, diverged=1, unsettled=1)


def test_the_refusal_names_the_pair_table_range_rows_and_the_repair():
    message = dv.refusal_message(['db0a', 'db0b'], dv.DIVERGED, [difference(dv.DIVERGED)], [], COUNTS)
    assert message.startswith('The nodes of pair db0a / db0b hold different rows although replication runs without '
                              'error (12 chunk(s) compared, 3 read again after both nodes applied what the other had, '
                              '1 of them settled (replication lag)); diverged: shop.orders, key range from after '
                              'id = 1000 up to id = 2000 (rows db0a=1000, db0b=1000; rows that differ: id = 1005 '
                              '(values differ), id = 1010 (only on db0b) and 2 more).')
    assert 'SELECT * FROM `shop`.`orders` WHERE (`id` > 1000) AND (`id` <= 2000) ORDER BY `id`' in message
    assert 'SET SESSION sql_log_bin = 0' in message and 're-seed' in message
    assert message.endswith('Nothing was changed.')


def test_the_message_names_unsettled_chunks_with_their_cause_and_the_way_on():
    message = dv.refusal_message(['db0a', 'db0b'], dv.UNSETTLED,
                                 [difference(dv.UNSETTLED, 'it kept changing under writes (...)')], [], COUNTS)
    assert message.startswith('1 chunk(s) of pair db0a / db0b could not be proven equal: shop.orders, key range from '
                              'after id = 1000 up to id = 2000')
    assert ': it kept changing under writes (...)' in message
    assert 'unsettled=warn' in message and 'Run again' in message


def test_the_message_names_tables_defined_differently_and_an_incomplete_run():
    message = dv.refusal_message(['a', 'b'], dv.DIVERGED, [], ['table shop.notes exists on a only'], COUNTS)
    assert message == ('The nodes of pair a / b define their tables differently: table shop.notes exists on a only. '
                       'Nothing was changed.')
    message = dv.refusal_message(['a', 'b'], 'incomplete', [], [], COUNTS, 'table shop.orders from after id = 5 up '
                                 'to the end')
    assert 'did not finish within its time limit' in message and 'stopped in table shop.orders from after id = 5' in message
