# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action smooth.mariadb.seed_wait: wait for a seed running as an async job, printing its progress.

A seed of a large shard runs for hours, and a task prints nothing until it
ends. The role starts smooth.mariadb.seed as an async job (poll 0) with a
progress_file; this action polls the job (the async_status module) and reads
that file (slurp), and prints one line every ``interval`` seconds while the
copy runs. When the job ends it returns the seed's own result, so a failed
seed fails this task with the seed's message.
"""

from __future__ import annotations

import base64
import json
import time

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.smooth.mariadb.plugins.module_utils.seed import progress_text

ARGS = frozenset(['jid', 'progress_file', 'interval', 'timeout', 'label'])
# Keys async_status adds to the job's result; the seed's result is returned without them.
ASYNC_KEYS = ('ansible_job_id', 'started', 'finished', 'results_file', 'stdout', 'stdout_lines', 'stderr',
              'stderr_lines', 'attempts')

display = Display()


def next_delay(polls, interval):
    """Seconds before the next look at the job (pure): 1, 2, 4, ... then every ``interval``.

    A small seed ends within the first seconds and is not kept waiting for a
    whole interval; a long one is asked once per interval.
    """
    return float(min(interval, 2 ** polls))


def wait_for_job(status, read_progress, say, interval, timeout, label, sleep=time.sleep, clock=time.monotonic):
    """Poll ``status()`` until the job has finished, saying the progress every ``interval`` seconds.

    ``status()`` is async_status's result; ``read_progress()`` the progress
    record or None; ``say(line)`` prints. Returns the job's result without the
    async keys, or a failed result after ``timeout`` seconds (the job may still
    run; it is named).
    """
    started = clock()
    last_said = started
    last = None
    polls = 0
    while True:
        result = status()
        if result.get('finished'):
            return dict((key, value) for key, value in result.items() if key not in ASYNC_KEYS)
        if result.get('failed'):
            return dict(failed=True, msg='%s: cannot read the async job %s: %s'
                        % (label, result.get('ansible_job_id'), result.get('msg')))
        now = clock()
        if now - started >= timeout:
            progress = read_progress() or last
            return dict(failed=True, reason='timeout', msg=(
                '%s: the copy did not end within %d s (the async job %s may still run on the host; last progress: '
                '%s)' % (label, timeout, result.get('ansible_job_id'), progress_text(progress) if progress else 'none')))
        if now - last_said >= interval:
            progress = read_progress()
            if progress:
                last = progress
                say('%s: %s' % (label, progress_text(progress)))
            elif last:
                # The module removes its progress file as it ends, a moment before the job says so.
                say('%s: ending (last progress: %s)' % (label, progress_text(last)))
            else:
                say('%s: the copy runs (no progress yet)' % label)
            last_said = now
        sleep(min(next_delay(polls, interval), max(0.0, timeout - (now - started))))
        polls += 1


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = ARGS

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=dict(
            jid=dict(type='str', required=True),
            progress_file=dict(type='path'),
            interval=dict(type='int', default=30),
            timeout=dict(type='int', required=True),
            label=dict(type='str'),
        ))
        if args['interval'] < 1 or args['timeout'] < 1:
            return dict(failed=True, msg='smooth.mariadb.seed_wait: interval and timeout must be 1 second or more')
        label = args['label'] or task_vars.get('inventory_hostname', 'seed')
        async_dir = self._remote_expand_user(self.get_shell_option('async_dir', default='~/.ansible_async'))

        def status():
            return self._execute_module(module_name='ansible.legacy.async_status', task_vars=task_vars,
                                        module_args=dict(jid=args['jid'], _async_dir=async_dir))

        def read_progress():
            if not args['progress_file']:
                return None
            found = self._execute_module(module_name='ansible.legacy.slurp', task_vars=task_vars,
                                         module_args=dict(src=args['progress_file']))
            if found.get('failed') or 'content' not in found:
                return None
            try:
                return json.loads(to_text(base64.b64decode(found['content'])))
            except ValueError:
                return None

        result = wait_for_job(status, read_progress, display.display, args['interval'], args['timeout'], label)
        if result.get('reason') != 'timeout':
            # The job has ended: its results file on the host is not needed any more.
            self._execute_module(module_name='ansible.legacy.async_status', task_vars=task_vars,
                                 module_args=dict(jid=args['jid'], mode='cleanup', _async_dir=async_dir))
        return result
