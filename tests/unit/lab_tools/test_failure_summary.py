"""lab/failure_summary.py: what failed, read back from an Ansible log."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'lab'))
import failure_summary  # noqa: E402  pylint: disable=wrong-import-position

# As ansible-core 2.19 writes ANSIBLE_LOG_PATH with callback_result_format yaml:
# two processes (an outer playbook whose command task runs an inner one), an
# ignored failure, and a failure whose result carries stdout.
LOG = '''\
2026-12-01 21:01:45,564 p=100 u=root n=ansible INFO| PLAY [Outer play] ******************************
2026-12-01 21:01:45,573 p=100 u=root n=ansible INFO| TASK [Run the inner playbook] *****************
2026-12-01 21:01:45,600 p=200 u=root n=ansible INFO| PLAY [Inner play] ******************************
2026-12-01 21:01:45,601 p=200 u=root n=ansible INFO| TASK [Allowed to fail] *************************
2026-12-01 21:01:45,700 p=200 u=root n=ansible INFO| fatal: [db-1]: FAILED! =>
    changed: false
    msg: this one is ignored
2026-12-01 21:01:45,701 p=200 u=root n=ansible INFO| ...ignoring
2026-12-01 21:01:45,800 p=200 u=root n=ansible INFO| TASK [Check the pair] *************************
2026-12-01 21:01:45,900 p=200 u=root n=ansible ERROR| [ERROR]: Task failed: Action failed: the pair is split
2026-12-01 21:01:45,901 p=200 u=root n=ansible INFO| fatal: [db-2]: FAILED! =>
    changed: false
    msg: the pair
      is split
2026-12-01 21:01:46,958 p=100 u=root n=ansible INFO| fatal: [localhost]: FAILED! =>
    changed: true
    msg: non-zero return code
    rc: 2
    stdout: |-
        line 1
        line 2

        line 3
2026-12-01 21:01:46,959 p=100 u=root n=ansible INFO| PLAY RECAP *************************************
'''


def test_failures_keep_play_task_and_host_per_process_and_drop_ignored_ones():
    found = failure_summary.failures(LOG.splitlines(True))
    assert [(f['pid'], f['host'], f['play'], f['task']) for f in found] == [
        ('200', 'db-2', 'Inner play', 'Check the pair'),
        ('100', 'localhost', 'Outer play', 'Run the inner playbook')]
    assert found[0]['result']['msg'] == 'the pair is split'
    assert found[1]['result']['rc'] == 2


def test_summary_names_the_task_the_message_and_the_last_lines_of_stdout():
    lines = failure_summary.summary_lines(failure_summary.failures(LOG.splitlines(True)), last=1, tail=2)
    assert lines[0] == '2 failed task(s) in the log; the last 1:'
    assert lines[1] == '- 2026-12-01 21:01:46 p=100 [localhost] Outer play / Run the inner playbook'
    assert lines[2] == '  msg: non-zero return code'
    assert lines[3:] == ['  stdout, last 2 line(s):', '    line 2', '    line 3']


def test_summary_clips_long_lines_and_says_when_nothing_failed():
    found = [{'time': 't', 'pid': '1', 'play': 'p', 'task': 't', 'host': 'h', 'result': {'msg': 'x' * 500}}]
    lines = failure_summary.summary_lines(found, width=40)
    assert lines[2] == '  msg: ' + 'x' * 30 + '...'
    assert len(lines[2]) == 40
    assert 'no failed task' in failure_summary.summary_lines([])[0]


def test_loop_items_are_named_with_their_host():
    log = ('2026-12-01 21:44:53,221 p=307 u=root n=ansible INFO| TASK [Count rows] ****\n'
           '2026-12-01 21:44:53,222 p=307 u=root n=ansible INFO| failed: [db-1] (item=shop.orders) => \n'
           '    ansible_loop_var: item\n    msg: \'Module failed: Value of unknown type: <class\n        x>\'\n')
    found = failure_summary.failures(log.splitlines(True))
    assert [(f['host'], f['task'], f['result']['msg']) for f in found] == [
        ('db-1 (item=shop.orders)', 'Count rows', 'Module failed: Value of unknown type: <class x>')]


def test_json_results_parse_too():
    log = ('2026-12-01 21:01:45,025 p=1 u=root n=ansible INFO| fatal: [h]: FAILED! => {\n'
           '    "changed": false,\n    "msg": "boom"\n}\n')
    assert failure_summary.failures(log.splitlines(True))[0]['result']['msg'] == 'boom'
