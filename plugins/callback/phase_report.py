# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback that times the phases of a playbook and sums what the modules did."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: phase_report
type: aggregate
short_description: Time each phase of a playbook and report the rows the modules copied and deleted
version_added: 0.1.0
author: smooth.mariadb developers (!UNKNOWN)
description:
  - Times the plays of a playbook grouped by phase. A play named C(Phase <phase> - ...) belongs to
    C(<phase>) (the plays of C(smooth.mariadb.expand_2n) are named C(Phase preflight - ...),
    C(Phase split - ...) and so on); any other play is its own phase.
  - Adds up, per phase, the rows deleted by M(smooth.mariadb.shard_purge) (C(deleted)) and the rows
    copied by M(smooth.mariadb.seed) (C(rows)) in the tasks that changed something - also in a task that
    failed after it had committed some (a purge stopped halfway counts what it deleted).
  - Names the hosts that failed - a host one of whose own tasks failed. A host whose only failure is a
    task of a C(rescue) section (the way the phases of C(smooth.mariadb.expand_2n) stop every host when
    one fails) is named as stopped, not as failed.
  - A phase whose plays ran no task, because C(--tags) did not select it, is left out.
  - Prints a table at the end of the run and, when O(report_file) is set, writes the same as JSON, with the
    time each phase began and ended (C(started_at), C(ended_at), seconds since the epoch).
  - Enable it with C(callbacks_enabled = smooth.mariadb.phase_report) in C(ansible.cfg) (or
    C(ANSIBLE_CALLBACKS_ENABLED)); it adds to the normal output, it does not replace it.
options:
  report_file:
    description: JSON file to write the report to (on the controller). Nothing is written when unset.
    type: path
    env:
      - name: SMOOTH_PHASE_REPORT_FILE
    ini:
      - section: callback_smooth_phase_report
        key: report_file
'''

import json
import re
import time

from ansible.plugins.callback import CallbackBase

_COUNTERS = {
    'smooth.mariadb.shard_purge': ('rows_purged', 'deleted'),
    'smooth.mariadb.seed': ('rows_seeded', 'rows'),
    # The role runs the seed as an async job; its result comes from seed_wait.
    'smooth.mariadb.seed_wait': ('rows_seeded', 'rows'),
}


_PHASE = re.compile(r'^Phase (\S+) - ')


def phase_of(play_name):
    """Phase of a play: <phase> of a name 'Phase <phase> - ...', else the whole name."""
    name = (play_name or '').strip()
    match = _PHASE.match(name)
    return match.group(1) if match else name


def in_rescue(task):
    """Whether a task stands in the rescue section of one of the blocks around it."""
    child = task
    parent = getattr(task, '_parent', None)
    while parent is not None:
        uuid = getattr(child, '_uuid', None)
        if uuid is not None and any(getattr(entry, '_uuid', None) == uuid for entry in getattr(parent, 'rescue', None) or []):
            return True
        child = parent
        parent = getattr(parent, '_parent', None)
    return False


class PhaseTimes(object):
    """Pure bookkeeping of phases, independent of Ansible's objects."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.phases = []
        self.current = None
        self.started = clock()

    def start(self, play_name):
        now = self.clock()
        self.stop(now)
        name = phase_of(play_name)
        entry = next((phase for phase in self.phases if phase['phase'] == name), None)
        if entry is None:
            entry = {'phase': name, 'seconds': 0.0, 'plays': 0, 'tasks': 0, 'rows_purged': 0, 'rows_seeded': 0,
                     'failed_hosts': [], 'stopped_hosts': [], 'started_at': now, 'ended_at': now}
            self.phases.append(entry)
        entry['plays'] += 1
        self.current = (entry, now)

    def stop(self, now=None):
        if self.current is not None:
            entry, began = self.current
            now = self.clock() if now is None else now
            entry['seconds'] = round(entry['seconds'] + (now - began), 3)
            entry['ended_at'] = now
            self.current = None

    def task(self):
        if self.current is not None:
            self.current[0]['tasks'] += 1

    def count(self, action, result):
        if self.current is None or action not in _COUNTERS or not result.get('changed'):
            return
        key, field = _COUNTERS[action]
        value = result.get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            self.current[0][key] += value

    def failed(self, host, in_rescue=False):
        """A task failed on host. A failure in a rescue section only stops the host (it has no own
        failure in the phase yet: the rescue ran because another host failed)."""
        if self.current is None:
            return
        entry = self.current[0]
        if not in_rescue:
            if host in entry['stopped_hosts']:
                entry['stopped_hosts'].remove(host)
            if host not in entry['failed_hosts']:
                entry['failed_hosts'].append(host)
        elif host not in entry['failed_hosts'] and host not in entry['stopped_hosts']:
            entry['stopped_hosts'].append(host)

    def report(self, ok):
        self.stop()
        return {
            'ok': ok,
            'total_seconds': round(self.clock() - self.started, 3),
            # A phase whose plays ran no task (not selected by --tags) is left out.
            'phases': [phase for phase in self.phases if phase['tasks']],
            'rows_purged': sum(phase['rows_purged'] for phase in self.phases),
            'rows_seeded': sum(phase['rows_seeded'] for phase in self.phases),
        }


def render(report):
    """The report as lines of text."""
    lines = ['%-24s %9s  %s' % ('phase', 'seconds', 'notes')]
    for phase in report['phases']:
        notes = []
        if phase['rows_seeded']:
            notes.append('%d rows copied' % phase['rows_seeded'])
        if phase['rows_purged']:
            notes.append('%d rows deleted' % phase['rows_purged'])
        if phase['failed_hosts']:
            notes.append('FAILED on %s' % ', '.join(phase['failed_hosts']))
        if phase.get('stopped_hosts'):
            notes.append('stopped on %s' % ', '.join(phase['stopped_hosts']))
        lines.append('%-24s %9.1f  %s' % (phase['phase'][:24], phase['seconds'], '; '.join(notes)))
    lines.append('%-24s %9.1f  %s' % ('total', report['total_seconds'], 'ok' if report['ok'] else 'FAILED'))
    return lines


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'smooth.mariadb.phase_report'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.times = PhaseTimes()

    def v2_playbook_on_play_start(self, play):
        self.times.start(play.get_name())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.times.task()

    def v2_runner_on_ok(self, result):
        self.times.count(result._task.action, result._result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        # What a failed task committed before it failed counts too.
        self.times.count(result._task.action, result._result)
        if not ignore_errors:
            self.times.failed(result._host.get_name(), in_rescue=in_rescue(result._task))

    def v2_runner_on_unreachable(self, result):
        self.times.failed(result._host.get_name())

    def v2_playbook_on_stats(self, stats):
        ok = not any(stats.failures.get(host) or stats.dark.get(host) for host in stats.processed)
        report = self.times.report(ok)
        self._display.banner('PHASE REPORT')
        for line in render(report):
            self._display.display(line)
        path = self.get_option('report_file')
        if path:
            with open(path, 'w') as handle:
                json.dump(report, handle, indent=2, sort_keys=True)
                handle.write('\n')
