# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
