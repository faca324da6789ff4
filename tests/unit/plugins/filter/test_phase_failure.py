# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""smooth.mariadb.phase_failure: the message every rescue of the phased playbooks stops with."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.smooth.mariadb.plugins.filter.phase_failure import FilterModule, phase_failure_message

PHASE_FAILURE = FilterModule().filters()['phase_failure']

WAY_BACK = '''Nothing is split. Fix the cause and run the playbook again,
              or roll back with playbooks/rollback_2n.yml.'''
TASK = {'name': 'Stop and remove the replication from the old partner', 'action': 'smooth.mariadb.replication'}


def test_a_task_that_failed_here_is_named_with_its_message():
    message = PHASE_FAILURE(TASK, {'failed': True, 'msg': 'Replication connection \'db0b\': STOP SLAVE failed.'},
                            phase='split', host='db0a', way_back=WAY_BACK)
    assert message == ('split failed on db0a at "Stop and remove the replication from the old partner": Replication '
                       "connection 'db0b': STOP SLAVE failed. Nothing is split. Fix the cause and run the playbook "
                       'again, or roll back with playbooks/rollback_2n.yml.')


def test_a_host_stopped_by_another_hosts_failure_says_so():
    assert PHASE_FAILURE(None, None, 'seed', 'new node db2a', WAY_BACK) == (
        'seed failed on new node db2a stopped because another host of the run failed (see above). Nothing is '
        'split. Fix the cause and run the playbook again, or roll back with playbooks/rollback_2n.yml.')


@pytest.mark.parametrize('result, shown', [
    ({'msg': 'Refusing to purge. 1 problem(s): (1) replica ... notices.', 'reason': 'replica_registered',
      'retryable': True},
     'Refusing to purge. 1 problem(s): (1) replica ... notices (reason: replica_registered; retryable: true).'),
    ({'msg': 'rows missing', 'reason': 'missing_on_owner', 'retryable': False},
     'rows missing (reason: missing_on_owner; retryable: false).'),
    ({'msg': 'no retryable field', 'reason': 'cannot_run'}, 'no retryable field (reason: cannot_run).'),
    ({'msg': 'a message of another module...'}, 'a message of another module.'),
    ({'failed': True}, '?.'),
    (None, '?.'),
])
def test_the_reason_and_retryable_of_the_failed_result_are_shown(result, shown):
    message = phase_failure_message(TASK, result, 'cleanup', 'db0a', 'Fix it.')
    assert message == 'cleanup failed on db0a at "%s": %s Fix it.' % (TASK['name'], shown)


def test_a_hint_is_added_for_the_reason_of_the_failed_result():
    hints = {'missing_on_owner': '(In this playbook that option is\n -e smooth_purge_allow_missing_on_owner=true.)'}
    refused = PHASE_FAILURE(TASK, {'msg': 'Refusing.', 'reason': 'missing_on_owner', 'retryable': False},
                            'cleanup', 'db0a', 'The way is forward.', hints)
    assert refused == ('cleanup failed on db0a at "%s": Refusing (reason: missing_on_owner; retryable: false). '
                       '(In this playbook that option is -e smooth_purge_allow_missing_on_owner=true.) '
                       'The way is forward.' % TASK['name'])
    other = PHASE_FAILURE(TASK, {'msg': 'Lagging.', 'reason': 'partner_lag', 'retryable': True},
                          'cleanup', 'db0a', 'The way is forward.', hints)
    assert 'allow_missing_on_owner' not in other
    # Another host's failure: no result of this host, no hint.
    assert 'allow_missing_on_owner' not in PHASE_FAILURE(None, {'reason': 'missing_on_owner'}, 'cleanup', 'db0a', 'x',
                                                         hints)


def test_an_unnamed_task_is_named_by_its_action():
    assert PHASE_FAILURE({'name': '', 'action': 'ansible.builtin.assert'}, {'msg': 'no'}, 'ha', 'db2a', 'x') == (
        'ha failed on db2a at "ansible.builtin.assert": no. x')


@pytest.mark.parametrize('args, complaint', [
    (('not a task', None, 'split', 'db0a', 'x'), 'expects ansible_failed_task (a dict) or none'),
    ((TASK, 'not a result', 'split', 'db0a', 'x'), 'failed_result must be ansible_failed_result (a dict) or none'),
    ((TASK, {}, None, 'db0a', 'x'), 'phase must be a non-empty string, got None'),
    ((TASK, {}, 'split', ' ', 'x'), "host must be a non-empty string, got ' '"),
    ((TASK, {}, 'split', 'db0a', None), 'way_back must be a non-empty string, got None'),
    ((TASK, {}, 'split', 'db0a', 'x', ['hint']), 'hints must be a dict {reason: sentence}'),
])
def test_bad_input_says_what_to_pass(args, complaint):
    with pytest.raises(AnsibleFilterError) as failure:
        PHASE_FAILURE(*args)
    assert complaint in str(failure.value)
