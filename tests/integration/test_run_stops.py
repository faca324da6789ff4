# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""An unreachable host stops the whole run before the next phase (issue 11).

With any_errors_fatal alone, ansible-core counts a host that became
unreachable both as unreachable and as failed, so its check "the whole batch
failed" misses and the next play runs on the hosts that are left: measured,
an expansion whose ha phase lost a host went on into the cleanup play.
max_fail_percentage: 0 ends the run. The first test shows the mechanism on
two plays; the second holds every play of the collection's playbooks to it.

The price of the pair: once one host of a play fails in a block, ansible-core
runs only the first task of its rescue (always: sections are cut the same
way), because any_errors_fatal stops the other hosts and max_fail_percentage
then ends the play. Measured here on two hosts: a clean-up task before the
message left the run without its message. So every rescue of the collection
is one task, the action smooth.mariadb.phase_failed (roles/smooth/tasks/failed.yml),
which removes the files a phase names and then stops with the phase's message;
the last two tests run both on two hosts.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN_DIR = os.path.dirname(sys.executable)


def run_two_phases(tmp_path, max_fail_percentage):
    marker = tmp_path / 'second-phase-ran'
    first = {'name': 'Phase one', 'hosts': 'good:gone', 'gather_facts': False, 'any_errors_fatal': True,
             'tasks': [{'name': 'Reach every host', 'ansible.builtin.ping': {}}]}
    if max_fail_percentage is not None:
        first['max_fail_percentage'] = max_fail_percentage
    # The next phase runs on other hosts (the cleanup on the current nodes after the ha phase on the new ones).
    second = {'name': 'Phase two', 'hosts': 'other', 'gather_facts': False, 'any_errors_fatal': True,
              'tasks': [{'name': 'Leave a mark', 'ansible.builtin.file': {'path': str(marker), 'state': 'touch'}}]}
    playbook = tmp_path / 'phases.yml'
    playbook.write_text(json.dumps([first, second]))
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(json.dumps({'all': {'hosts': {
        'good': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable},
        'other': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable},
        # Nothing listens on port 9 of loopback: unreachable at once.
        'gone': {'ansible_connection': 'ssh', 'ansible_host': '127.0.0.1', 'ansible_port': 9,
                 'ansible_ssh_common_args': '-o ConnectTimeout=3 -o StrictHostKeyChecking=no'},
    }}}))
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path))
    env.pop('ANSIBLE_CONFIG', None)
    done = subprocess.run([os.path.join(BIN_DIR, 'ansible-playbook'), '-i', str(inventory), str(playbook)],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120, check=False)
    return done, marker.exists()


def test_any_errors_fatal_alone_goes_on_to_the_next_phase_after_an_unreachable_host(tmp_path):
    done, ran = run_two_phases(tmp_path, None)
    assert 'UNREACHABLE' in done.stdout, done.stdout
    assert ran, 'ansible-core now stops by itself; max_fail_percentage may no longer be needed:\n' + done.stdout


def test_max_fail_percentage_zero_stops_the_run_after_an_unreachable_host(tmp_path):
    done, ran = run_two_phases(tmp_path, 0)
    assert 'UNREACHABLE' in done.stdout, done.stdout
    assert done.returncode != 0
    assert not ran, done.stdout


def two_hosts(tmp_path):
    inventory = tmp_path / 'two.yml'
    inventory.write_text(json.dumps({'all': {'hosts': {
        name: {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
               'mark': str(tmp_path / ('%s.done' % name))} for name in ('first', 'second')}}}))
    for name in ('first', 'second'):
        (tmp_path / ('%s.done' % name)).write_text('verified\n')
    return inventory


def run_play(tmp_path, rescue):
    play = {'name': 'A phase', 'hosts': 'first:second', 'gather_facts': False, 'any_errors_fatal': True,
            'max_fail_percentage': 0,
            'tasks': [{'name': 'The phase', 'block': [
                {'name': 'Fail on the first host only', 'ansible.builtin.fail': {'msg': 'broken here'},
                 'when': "inventory_hostname == 'first'"},
                {'name': 'Go on', 'ansible.builtin.debug': {'msg': 'went on'}}],
                'rescue': rescue}]}
    playbook = tmp_path / 'play.yml'
    playbook.write_text(json.dumps([play]))
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.collections'))
    env.pop('ANSIBLE_CONFIG', None)
    return subprocess.run([os.path.join(BIN_DIR, 'ansible-playbook'), '-i', str(two_hosts(tmp_path)), str(playbook)],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120, check=False)


def test_with_both_settings_a_rescue_runs_only_its_first_task(tmp_path):
    done = run_play(tmp_path, [
        {'name': 'Clean up', 'ansible.builtin.file': {'path': '{{ mark }}', 'state': 'absent'}},
        {'name': 'Stop with the message', 'ansible.builtin.fail': {'msg': 'THE MESSAGE'}}])
    assert done.returncode != 0, done.stdout
    assert 'broken here' in done.stdout and 'went on' not in done.stdout, done.stdout
    assert not (tmp_path / 'first.done').exists(), done.stdout
    assert 'THE MESSAGE' not in done.stdout, (
        'ansible-core now runs the whole rescue: a rescue may hold more than one task again\n' + done.stdout)


def test_the_one_task_of_failed_yml_removes_the_mark_and_stops_with_the_message(tmp_path):
    done = run_play(tmp_path, [{'name': 'Stop', 'ansible.builtin.import_tasks': os.path.join(
        ROOT, 'roles', 'smooth', 'tasks', 'failed.yml'), 'vars': {
        '__phase': 'verify', '__way': 'Fix the cause and run again.', '__remove': ['{{ mark }}']}}])
    assert done.returncode != 0, done.stdout
    assert 'went on' not in done.stdout, done.stdout
    assert 'verify failed on first at \"Fail on the first host only\": broken here.' in done.stdout, done.stdout
    assert 'Fix the cause and run again. Removed %s on this host.' % (tmp_path / 'first.done') in done.stdout, done.stdout
    assert not (tmp_path / 'first.done').exists()
    # The other host stopped in its block, before its rescue: its mark is as it was.
    assert (tmp_path / 'second.done').exists()


def test_every_play_of_the_collection_stops_the_run_on_any_failed_or_unreachable_host():
    loose = []
    for path in sorted(glob.glob(os.path.join(ROOT, 'playbooks', '*.yml'))):
        with open(path) as handle:
            plays = yaml.safe_load(handle) or []
        for play in plays:
            if 'import_playbook' in play or 'ansible.builtin.import_playbook' in play:
                continue
            if play.get('any_errors_fatal') is not True or play.get('max_fail_percentage') != 0:
                loose.append('%s: %s' % (os.path.basename(path), play.get('name')))
    assert loose == [], 'plays without any_errors_fatal: true and max_fail_percentage: 0:\n' + '\n'.join(loose)
