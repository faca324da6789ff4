# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run at a time: the run lock's decisions (module_utils/runlock.py), its filter and the work lock."""

import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.smooth.mariadb.plugins.filter.runlock import FilterModule
from ansible_collections.smooth.mariadb.plugins.module_utils.runlock import (
    WorkLock,
    decide_lock,
    find_playbook_process,
    holder_alive,
    lock_decision,
    lock_record,
    parse_lock,
    process_start,
    run_still_holds,
    work_lock_active,
)

DECIDE = FilterModule().filters()['run_lock_decision']
OWNER = {'playbook': 'expand_2n.yml', 'controller': 'ctl-1', 'user': 'root', 'pid': 4242, 'pid_start': 777,
         'started_at': '2026-12-03T03:00:00Z'}
OTHER = dict(lock_record('other-run', OWNER))


def stat_line(pid, ppid, start, comm='ansible-playbook'):
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    # priority nice num_threads itrealvalue starttime ...
    return '%d (%s) S %d 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 %d 0 0' % (pid, comm, ppid, start)


def test_record_and_parse():
    record = lock_record('r1', dict(OWNER, extra='x'))
    assert record == dict(OWNER, run_id='r1')
    assert parse_lock(json.dumps(record)) == record
    assert parse_lock('garbage') == {'run_id': None, 'unreadable': 'garbage'}
    assert parse_lock('{"x": 1}')['run_id'] is None


@pytest.mark.parametrize('state, existing, break_id, expected', [
    ('present', None, None, ('create', 'free')),
    ('present', {'run_id': 'me'}, None, ('keep', 'held by this run')),
    ('present', OTHER, None, ('refuse', 'held')),
    ('present', OTHER, 'someone-else', ('refuse', 'held')),
    ('present', OTHER, 'other-run', ('replace', 'held by the dead run other-run')),
    ('present', {'run_id': None, 'unreadable': 'x'}, None, ('refuse', 'held')),
    ('absent', None, None, ('none', 'free')),
    ('absent', {'run_id': 'me'}, None, ('remove', 'held by this run')),
    ('absent', OTHER, None, ('refuse', 'held')),
])
def test_decide_lock(state, existing, break_id, expected):
    assert decide_lock(state, existing, 'me', break_id) == expected


def test_run_still_holds():
    assert run_still_holds({'run_id': 'me'}, 'me') is True
    assert run_still_holds({'run_id': 'other'}, 'me') is False
    assert run_still_holds(None, 'me') is False
    assert run_still_holds({'run_id': None, 'unreadable': 'x'}, 'me') is False


def test_process_start_with_spaces_and_parentheses_in_the_name():
    assert process_start(stat_line(10, 1, 123456, comm='a (weird) name')) == 123456


def test_find_playbook_process_walks_up_to_ansible_playbook():
    stats = {300: stat_line(300, 200, 9, 'sh'), 200: stat_line(200, 100, 8, 'python3'),
             100: stat_line(100, 1, 7, 'python3')}
    cmdlines = {300: ['/bin/sh', '-c', 'x'], 200: ['/usr/bin/python3', '/venv/bin/ansible-playbook', 'site.yml'],
                100: ['/usr/bin/python3', '/venv/bin/ansible-playbook', 'site.yml']}
    # The worker (200) is a fork of the main process (100), with its command line, and ends with its task.
    assert find_playbook_process(300, stats.__getitem__, cmdlines.__getitem__) == (100, 7)
    # Under a shell or an IDE: the walk stops at the first parent that is not ansible-playbook.
    stats[100] = stat_line(100, 50, 7, 'python3')
    stats[50] = stat_line(50, 1, 6, 'bash')
    cmdlines[50] = ['bash']
    assert find_playbook_process(300, stats.__getitem__, cmdlines.__getitem__) == (100, 7)
    assert find_playbook_process(300, stats.__getitem__, lambda pid: ['sh']) == (None, None)


def test_holder_alive():
    def read_stat(pid):
        if pid != 4242:
            raise FileNotFoundError(pid)
        return stat_line(4242, 1, 777)
    assert holder_alive(OTHER, 'ctl-1', read_stat) is True
    assert holder_alive(dict(OTHER, pid_start=778), 'ctl-1', read_stat) is False     # pid reused
    assert holder_alive(dict(OTHER, pid=5), 'ctl-1', read_stat) is False              # gone
    assert holder_alive(OTHER, 'ctl-2', read_stat) is None                             # other controller
    assert holder_alive({'run_id': None, 'unreadable': 'x'}, 'ctl-1', read_stat) is None


def held(holder):
    return {'acquired': False, 'action': 'refuse', 'reason': 'held', 'held_by': holder}


MINE = {'acquired': True, 'action': 'create', 'reason': 'free', 'held_by': None}


def test_all_acquired():
    assert lock_decision({'db1': MINE, 'db2': MINE}, {}) == {'ok': True, 'break_run_id': None, 'message': '', 'note': ''}


def test_a_dead_run_of_this_controller_is_taken_over():
    decision = lock_decision({'db1': held(OTHER), 'db2': held(OTHER), 'db3': MINE}, {'other-run': False})
    assert decision == {'ok': False, 'break_run_id': 'other-run', 'message': '', 'note': ''}


def test_a_run_that_only_reads_leaves_the_takeover_to_the_real_run():
    # --tags preflight and --check: the dead run's purge would not stop (its lock is not rewritten), so the
    # takeover and its wait are not this run's; it goes on, saying what the real run will do.
    decision = lock_decision({'db1': held(OTHER), 'db2': MINE}, {'other-run': False}, read_only=True)
    assert decision['ok'] is True and decision['break_run_id'] is None and decision['message'] == ''
    assert decision['note'].startswith('The dead run other-run of this controller left its lock on db1.')
    # What stops the real run stops the dry run too.
    assert lock_decision({'db1': held(OTHER)}, {'other-run': True}, read_only=True)['ok'] is False
    assert lock_decision({'db1': held(OTHER)}, {'other-run': None}, read_only=True)['ok'] is False


def test_a_live_run_of_this_controller_stops_this_one():
    message = lock_decision({'db1': held(OTHER), 'db2': MINE}, {'other-run': True})['message']
    assert ('run other-run of expand_2n.yml, started 2026-12-03T03:00:00Z by root on ctl-1 (ansible-playbook pid '
            '4242) holds the lock on db1, and it is still running on this controller') in message
    assert message.endswith('so this one stops. Nothing was changed.')


def test_a_run_of_another_controller_is_reported_with_how_to_clear_it():
    decision = lock_decision({'db1': held(OTHER), 'db2': held(OTHER)}, {'other-run': None})
    assert decision['ok'] is False and decision['break_run_id'] is None
    assert ('If that run is no longer active, remove /var/lib/smooth-mariadb/run.lock on these hosts (ansible '
            'db1:db2 -b -m ansible.builtin.file -a "path=/var/lib/smooth-mariadb/run.lock state=absent")'
            in decision['message'])


def test_a_dead_run_beside_a_live_one_is_not_taken_over():
    live = dict(lock_record('live-run', OWNER))
    decision = lock_decision({'db1': held(OTHER), 'db2': held(live)}, {'other-run': False, 'live-run': True})
    assert decision['ok'] is False and decision['break_run_id'] is None and 'live-run' in decision['message']


def test_work_still_active_after_the_wait():
    busy = {'acquired': False, 'action': 'refuse', 'reason': 'work_active', 'held_by': OTHER}
    decision = lock_decision({'db1': busy, 'db2': MINE}, {})
    assert decision['ok'] is False and 'still works on db1' in decision['message']


def test_unreadable_lock_is_reported():
    decision = lock_decision({'db1': held({'run_id': None, 'unreadable': 'zz'})}, {})
    assert "an unreadable lock ('zz') holds the lock on db1" in decision['message']


def test_filter_checks_its_input():
    assert DECIDE({'db1': MINE})['ok']
    with pytest.raises(AnsibleFilterError):
        DECIDE(['x'])


def test_work_lock_is_seen_while_held(tmp_path):
    path = str(tmp_path / 'run' / 'work.lock')
    assert work_lock_active(path) is False
    with WorkLock(path):
        assert work_lock_active(path) is True
        with WorkLock(path):          # shared: a second module of the same run may hold it too
            assert work_lock_active(path) is True
    assert work_lock_active(path) is False
