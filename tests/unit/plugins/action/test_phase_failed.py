# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action phase_failed: its message, its outcome and its check of remove_files (the pure parts; the removal
itself runs the file module, tests/integration/test_run_stops.py runs it on real hosts of a play)."""

import pytest

from ansible.errors import AnsibleConnectionFailure

from ansible_collections.smooth.mariadb.plugins.action.phase_failed import (
    check_remove_files, outcome, removal_sentence, remove_files)

TASK = {'name': 'Check the VIP of the shard', 'action': 'ansible.builtin.assert'}
ARGS = {'failed_task': TASK, 'failed_result': {'msg': 'VIP held by no node.', 'reason': 'no_holder', 'retryable': True},
        'phase': 'verify', 'host': 'db0a', 'way_back': 'Fix it and run again.'}


def test_the_outcome_fails_with_the_phase_message_and_the_reason_of_the_failed_result():
    res = outcome(ARGS)
    assert res['failed'] is True and res['changed'] is False
    assert res['msg'] == ('verify failed on db0a at "Check the VIP of the shard": VIP held by no node (reason: '
                          'no_holder; retryable: true). Fix it and run again.')
    assert (res['phase'], res['reason'], res['retryable']) == ('verify', 'no_holder', True)
    assert res['removed_files'] == [] and res['not_removed_files'] == {}


def test_a_host_stopped_by_another_gets_no_reason_of_its_own():
    res = outcome(dict(ARGS, failed_task=None))
    assert 'stopped because another host of the run failed' in res['msg']
    assert 'reason' not in res and 'retryable' not in res


def test_the_message_says_what_was_removed_and_what_could_not_be():
    res = outcome(ARGS, ['/var/lib/s/expansion-2.done'], {'/var/lib/s/x': 'Permission denied'})
    assert res['changed'] is True
    assert res['msg'].endswith('Fix it and run again. Removed /var/lib/s/expansion-2.done on this host. '
                               'Could not remove /var/lib/s/x (Permission denied): remove it by hand before the next run.')
    assert res['not_removed_files'] == {'/var/lib/s/x': 'Permission denied'}


def test_check_mode_says_would_remove():
    assert removal_sentence(['/a'], {}, True) == 'Would remove /a on this host.'
    assert removal_sentence([], {}, False) == ''


@pytest.mark.parametrize('paths', ['/a', ['relative'], ['/'], ['~'], [None], [''], {'/a': 1}, ['/a\n/b']])
def test_a_bad_entry_of_remove_files_is_named_not_removed(paths):
    # It never takes the phase's message away (the one task of the rescue must print it).
    out, problems = check_remove_files(paths)
    assert out == [] and len(problems) == 1


def test_remove_files_absent_or_empty_removes_nothing():
    assert check_remove_files(None) == ([], {}) and check_remove_files([]) == ([], {})
    assert check_remove_files(['/var/lib/s/a.done', '~/s/b.done']) == (['/var/lib/s/a.done', '~/s/b.done'], {})


def test_a_removal_that_raises_is_named_and_the_others_go_on():
    def execute(path):
        if path == '/x':
            raise AnsibleConnectionFailure('Failed to connect to the host via ssh: Connection reset')
        return {'changed': path == '/a'}
    removed, not_removed = remove_files(['/x', '/a', '/b'], execute)
    assert removed == ['/a']
    assert not_removed == {'/x': 'Failed to connect to the host via ssh: Connection reset'}
    msg = outcome(ARGS, removed, not_removed)['msg']
    assert msg.startswith('verify failed on db0a at "Check the VIP of the shard"')
    assert 'Could not remove /x (Failed to connect to the host via ssh: Connection reset)' in msg


def test_a_failed_or_unreachable_removal_is_named():
    removed, not_removed = remove_files(['/a', '/b'], lambda p: {'failed': True, 'msg': 'Permission denied'}
                                        if p == '/a' else {'unreachable': True, 'msg': 'gone'})
    assert removed == [] and not_removed == {'/a': 'Permission denied', '/b': 'gone'}


def test_a_message_that_cannot_be_written_is_an_error():
    with pytest.raises(Exception, match='way_back'):
        outcome(dict(ARGS, way_back=''))
