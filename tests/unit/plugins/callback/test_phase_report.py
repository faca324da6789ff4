# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.smooth.mariadb.plugins.callback.phase_report import PhaseTimes, phase_of, render


class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_phase_of_play_names():
    assert phase_of('Phase split - Stop the replication within every old pair') == 'split'
    assert phase_of('Phase vip_add - Give the second node the new VIP') == 'vip_add'
    assert phase_of('Deploy MariaDB on the first node') == 'Deploy MariaDB on the first node'
    assert phase_of('Phase - not one') == 'Phase - not one'
    assert phase_of(None) == ''


PLAYBOOKS = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'playbooks')
# The seed before anything changes for the application (issue 13): the new
# nodes are current copies when the split makes each new pair dual-master.
PHASES = {'expand_2n.yml': ['preflight', 'lock', 'logins', 'seed', 'vip_add', 'route', 'split', 'ha', 'cleanup', 'verify',
                            'end'],
          'expand_2n_plan.yml': ['plan'],
          'rollback_2n.yml': ['rollback', 'lock', 'end']}


@pytest.mark.parametrize('playbook', sorted(PHASES))
def test_every_play_of_the_phased_playbooks_is_reported_under_its_phase(playbook):
    # The report groups plays by the name 'Phase <phase> - ...': a play renamed out of that form (or into
    # another phase) would be reported as a phase of its own, silently. Its tag says the same phase (or
    # always, for the plays every run needs).
    with open(os.path.join(PLAYBOOKS, playbook)) as handle:
        plays = [p for p in yaml.safe_load(handle) if 'ansible.builtin.import_playbook' not in p]
    seen = []
    for play in plays:
        phase = phase_of(play['name'])
        assert phase in PHASES[playbook], play['name']
        assert play['tags'] in ([phase], ['always']), (play['name'], play['tags'])
        if phase not in seen:
            seen.append(phase)
    assert seen == PHASES[playbook]


def test_phases_are_timed_summed_and_counted():
    clock = Clock()
    times = PhaseTimes(clock)
    times.start('Phase preflight - checks')
    times.task()
    clock.now += 2.5
    times.start('Phase split - app check')
    times.task()
    clock.now += 1.0
    times.start('Phase split - stop replication')
    times.task()
    clock.now += 4.0
    times.start('Phase seed - copy')
    times.task()
    times.count('smooth.mariadb.seed', {'changed': True, 'rows': 700})
    times.count('smooth.mariadb.seed', {'changed': False, 'rows': 700})
    times.count('smooth.mariadb.shard_purge', {'changed': True, 'deleted': True})
    times.failed('db1')
    times.failed('db1')
    clock.now += 3.0
    times.start('Phase cleanup - purge')
    times.task()
    times.count('smooth.mariadb.shard_purge', {'changed': True, 'deleted': 350})
    times.count('ansible.builtin.debug', {'changed': True, 'deleted': 9})
    clock.now += 10.0
    times.start('Phase verify - not selected by --tags')
    clock.now += 0.5
    report = times.report(ok=False)
    assert [(p['phase'], p['seconds'], p['plays']) for p in report['phases']] == [
        ('preflight', 2.5, 1), ('split', 5.0, 2), ('seed', 3.0, 1), ('cleanup', 10.0, 1)]
    assert report['total_seconds'] == 21.0
    assert (report['rows_seeded'], report['rows_purged']) == (700, 350)
    assert report['phases'][2]['failed_hosts'] == ['db1']
    lines = render(report)
    assert lines[3].split() == ['seed', '3.0', '700', 'rows', 'copied;', 'FAILED', 'on', 'db1']
    assert lines[-1].split() == ['total', '21.0', 'FAILED']


def test_failed_tasks_count_what_they_committed():
    times = PhaseTimes(Clock())
    times.start('Phase cleanup - purge')
    times.task()
    times.count('smooth.mariadb.shard_purge', {'changed': True, 'failed': True, 'deleted': 13943})
    times.count('smooth.mariadb.shard_purge', {'changed': True, 'deleted': 4929})
    times.count('smooth.mariadb.shard_purge', {'changed': False, 'failed': True, 'deleted': 0})
    assert times.report(ok=False)['rows_purged'] == 18872


def test_a_host_stopped_by_a_rescue_is_not_named_as_failed():
    times = PhaseTimes(Clock())
    times.start('Phase cleanup - purge')
    times.task()
    # lab-1's purge fails, then its rescue fails it; lab-2 completed, then was stopped by its rescue.
    times.failed('lab-1')
    times.failed('lab-1', in_rescue=True)
    times.failed('lab-2', in_rescue=True)
    # lab-3 is stopped first, then a task of its own fails too.
    times.failed('lab-3', in_rescue=True)
    times.failed('lab-3')
    phase = times.report(ok=False)['phases'][0]
    assert phase['failed_hosts'] == ['lab-1', 'lab-3']
    assert phase['stopped_hosts'] == ['lab-2']
    assert render(times.report(ok=False))[1].split()[-4:] == ['lab-3;', 'stopped', 'on', 'lab-2']


class _Node(object):
    def __init__(self, uuid, parent=None, rescue=None):
        self._uuid = uuid
        self._parent = parent
        self.rescue = rescue


def test_in_rescue_walks_the_blocks_around_a_task():
    from ansible_collections.smooth.mariadb.plugins.callback.phase_report import in_rescue
    outer = _Node('outer')
    stop = _Node('stop')
    block = _Node('block', parent=outer, rescue=[stop])
    stop._parent = block
    task = _Node('task', parent=block)
    assert in_rescue(stop) is True
    assert in_rescue(task) is False
    # A task in a block that stands in a rescue section (include in a rescue) counts as in the rescue.
    inner_block = _Node('inner', parent=None)
    outer_rescue = _Node('outer2', rescue=[inner_block])
    inner_block._parent = outer_rescue
    nested = _Node('nested', parent=inner_block)
    assert in_rescue(nested) is True
    assert in_rescue(_Node('alone')) is False


def test_each_phase_says_when_it_began_and_ended():
    ticks = iter([100.0, 101.0, 104.5, 110.0, 110.0])
    times = PhaseTimes(clock=lambda: next(ticks))
    times.start('Phase seed - Copy')
    times.task()
    times.start('Phase split - Stop')
    times.task()
    report = times.report(True)
    assert [(p['phase'], p['started_at'], p['ended_at'], p['seconds']) for p in report['phases']] == \
        [('seed', 101.0, 104.5, 3.5), ('split', 104.5, 110.0, 5.5)]
