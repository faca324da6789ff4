# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action seed_wait: how it polls a seed's async job and what it says meanwhile (pure parts)."""

from __future__ import annotations

from ansible_collections.smooth.mariadb.plugins.action.seed_wait import next_delay, wait_for_job


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def job(finishes_at, clock, result=None):
    """async_status of a job that ends at ``finishes_at`` (clock seconds) with ``result``."""
    def status():
        if clock.now >= finishes_at:
            return dict(dict(ansible_job_id='j1', started=1, finished=1, results_file='/root/.ansible_async/j1',
                             stdout='', stderr=''), **(result or dict(changed=True, method='mariabackup', rows=42)))
        return dict(ansible_job_id='j1', started=1, finished=0, results_file='/root/.ansible_async/j1')
    return status


PROGRESS = dict(state='copying', method='mariabackup', bytes=2 * 1024 ** 3, seconds=30, source_bytes=8 * 1024 ** 3)


def test_delays_grow_to_the_interval():
    assert [next_delay(polls, 30) for polls in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_a_short_seed_returns_its_result_without_a_progress_line():
    clock, said = Clock(), []
    result = wait_for_job(job(0.5, clock), lambda: PROGRESS, said.append, 30, 600, 'lab-3', clock.sleep, clock)
    assert result == dict(changed=True, method='mariabackup', rows=42)
    assert said == [] and clock.now == 1.0


def test_a_long_seed_says_its_progress_once_per_interval():
    clock, said = Clock(), []
    result = wait_for_job(job(100, clock), lambda: PROGRESS, said.append, 30, 600, 'lab-3', clock.sleep, clock)
    assert result['rows'] == 42 and 'finished' not in result and 'ansible_job_id' not in result
    assert said == ['lab-3: copying by mariabackup: 2.0 GiB streamed in 30 s (68.3 MiB/s); the source holds 8.0 GiB '
                    'of data'] * 3
    # Asked at 0, 1, 3, 7, 15, 31, 61, 91, 121: the job had ended at 100.
    assert clock.now == 121.0


def test_no_progress_file_yet_is_said_too():
    clock, said = Clock(), []
    wait_for_job(job(40, clock), lambda: None, said.append, 30, 600, 'lab-3', clock.sleep, clock)
    assert said == ['lab-3: the copy runs (no progress yet)']


def test_a_failed_seed_fails_with_its_own_message():
    clock = Clock()
    failed = dict(failed=True, msg='Seeding lab-3 from lab-1: step stream: ...', reason='stream')
    result = wait_for_job(job(3, clock, failed), lambda: None, [].append, 30, 600, 'lab-3', clock.sleep, clock)
    assert result == failed


def test_the_wait_ends_at_its_timeout_and_names_the_job():
    clock, said = Clock(), []
    result = wait_for_job(job(10 ** 6, clock), lambda: PROGRESS, said.append, 30, 100, 'lab-3', clock.sleep, clock)
    assert result['failed'] is True and result['reason'] == 'timeout'
    assert result['msg'].startswith('lab-3: the copy did not end within 100 s (the async job j1 may still run on the '
                                    'host; last progress: copying by mariabackup: 2.0 GiB')
    assert clock.now == 100.0


def test_an_unreadable_job_fails_at_once():
    clock = Clock()
    result = wait_for_job(lambda: dict(failed=True, ansible_job_id='j9', msg='could not find job', started=1,
                                       finished=0),
                          lambda: None, [].append, 30, 600, 'lab-3', clock.sleep, clock)
    assert result == dict(failed=True, msg='lab-3: cannot read the async job j9: could not find job')


def test_the_last_progress_is_said_once_the_file_is_gone():
    clock, said = Clock(), []
    records = [PROGRESS, None]
    wait_for_job(job(70, clock), lambda: records.pop(0) if records else None, said.append, 30, 600, 'lab-3',
                 clock.sleep, clock)
    assert said[0].startswith('lab-3: copying by mariabackup: 2.0 GiB')
    assert said[1].startswith('lab-3: ending (last progress: copying by mariabackup: 2.0 GiB')
