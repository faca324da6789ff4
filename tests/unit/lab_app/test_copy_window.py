# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""lab/app/copy_window.py without a database: the GTID lists and the single-copy windows."""

from __future__ import annotations

import pytest

from .lab_modules import load

window_mod = load('copy_window')


@pytest.mark.parametrize('lists, expected', [
    (('0-1-100,1-2-50', ''), {0: 100, 1: 50}),
    (('', '0-1-120'), {0: 120}),
    (('0-1-100', '0-1-90,2-3-7'), {0: 100, 2: 7}),
    (('', None), {}),
    ((' 0-1-5, 1-2-6 ', ''), {0: 5, 1: 6}),
])
def test_parse_positions(lists, expected):
    assert window_mod.parse_positions(*lists) == expected


def reading(domain, **positions):
    return {'domain': domain, 'positions': {int(key[1:]): value for key, value in positions.items()}}


def test_a_partner_that_keeps_up_gives_no_window():
    tracker = window_mod.WindowTracker()
    for t in range(10):
        windows = tracker.observe(float(t), {'a': reading(1, d1=10 * t + 10), 'b': reading(2, d1=10 * t + 10)})
        assert windows == {'a': 0.0, 'b': 0.0}
    assert tracker.report()['longest_seconds'] == 0.0


def test_writes_on_one_node_only_open_a_window_until_a_copy_catches_up():
    tracker = window_mod.WindowTracker()
    # a writes on; b stops replicating at t=2 (the split) and c, a new node, holds nothing until t=6.
    b_seq = {0: 10, 1: 20, 2: 30}
    c_seq = {6: 70, 7: 80, 8: 90}
    seen = []
    for t in range(9):
        readings = {'a': reading(1, d1=10 * t + 10), 'b': reading(2, d1=b_seq.get(t, 30))}
        if t in c_seq:
            readings['c'] = reading(3, d1=c_seq[t])
        seen.append(tracker.observe(float(t), readings)['a'])
    # At t=3 a holds 40 and the best copy 30: the write first seen at t=3 is pending (0 s); at t=5 it is 2 s old.
    assert seen == [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0]
    report = tracker.report()
    assert (report['longest_seconds'], report['longest_node'], report['longest_at']) == (2.0, 'a', 5.0)
    assert report['per_node']['a']['best_copy'] == 30 and report['per_node']['a']['seq'] == 60


def test_a_copy_lost_later_counts_from_when_it_was_lost_not_from_the_write():
    # a wrote seq 10 at t=0 and b copied it at once; nothing more until t=76. Then b (the new partner) is killed
    # and does not answer; c, the old partner, still holds seq 5 from the split. a writes seq 12 at t=76.
    # Seq 10 had two copies until t=75: its window counts from there, not from t=0 (molecule expand_2n
    # reported 77 s and 149 s for what was b's restart after a kill in the cleanup).
    tracker = window_mod.WindowTracker()
    for t in range(76):
        assert tracker.observe(float(t), {'a': reading(1, d1=10), 'b': reading(2, d1=10), 'c': reading(3, d1=5)})['a'] == 0.0
    seen = [tracker.observe(float(t), {'a': reading(1, d1=12), 'c': reading(3, d1=5)})['a'] for t in (76, 77, 80)]
    assert seen == [1.0, 2.0, 5.0]
    # b is back and has applied everything: no window.
    assert tracker.observe(81.0, {'a': reading(1, d1=12), 'b': reading(2, d1=12), 'c': reading(3, d1=5)})['a'] == 0.0
    assert tracker.report()['per_node']['a']['seconds'] == 5.0


def test_a_lag_counts_from_the_oldest_write_no_copy_holds():
    tracker = window_mod.WindowTracker()
    tracker.observe(0.0, {'a': reading(1, d1=5), 'b': reading(2, d1=5)})
    tracker.observe(1.0, {'a': reading(1, d1=8), 'b': reading(2, d1=5)})
    tracker.observe(2.0, {'a': reading(1, d1=9), 'b': reading(2, d1=6)})
    # 6..8 were first seen at t=1; b holds 6: 7 and 8 are still pending, since t=1.
    assert tracker.observe(3.0, {'a': reading(1, d1=9), 'b': reading(2, d1=7)})['a'] == 2.0
    assert tracker.observe(4.0, {'a': reading(1, d1=9), 'b': reading(2, d1=9)})['a'] == 0.0


def test_a_node_that_never_wrote_or_did_not_answer():
    tracker = window_mod.WindowTracker()
    assert tracker.observe(0.0, {'c': reading(3)}) == {'c': 0.0}
    assert tracker.observe(1.0, {}) == {}
    assert tracker.report()['longest_seconds'] == 0.0 and tracker.report()['readings'] == 2


def test_the_longest_span_each_node_did_not_answer_with_its_last_error():
    silence = window_mod.SilenceTracker(['a', 'b'])
    silence.observe(0.0, {'a': 1, 'b': 1}, {})
    silence.observe(0.5, {'a': 1}, {'b': 'Too many connections'})
    silence.observe(1.0, {'a': 1}, {'b': 'Too many connections'})
    silence.observe(1.5, {'a': 1, 'b': 1}, {'b': 'Too many connections'})
    silence.observe(2.0, {'a': 1}, {'b': 'refused'})
    assert 'a' not in silence.longest
    assert silence.longest['b'] == {'seconds': 0.5, 'from': 0.5, 'to': 1.0, 'last_error': 'Too many connections'}
