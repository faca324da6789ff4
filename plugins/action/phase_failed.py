# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action smooth.mariadb.phase_failed: the one task of every rescue of the phases.

It stops the host with the phase's message (filter phase_failure: what failed,
where, the way back) after removing, on the host, the files the phase names
(the mark of a verified expansion when the verify phase fails).

Why one task does both: the plays run with any_errors_fatal and
max_fail_percentage 0 (an unreachable host must stop the run), and with that
pair ansible-core runs only the first task of a rescue once another host of the
play is stopped with the failing one (tests/integration/test_run_stops.py). A
second rescue task (the message after a clean-up step) never ran.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.smooth.mariadb.plugins.filter.phase_failure import phase_failure_message

ARGS = frozenset(['failed_task', 'failed_result', 'phase', 'host', 'way_back', 'hints', 'remove_files'])


def check_remove_files(paths):
    """``(paths, problems)``: the paths to remove, and {entry: why it is not removed} (pure).

    A path is absolute or starts with ``~`` (the file module expands it on the host). A bad entry is not
    removed and is named in the message; it never replaces the phase's message.
    """
    if paths is None:
        return [], {}
    if isinstance(paths, (str, bytes)) or not isinstance(paths, (list, tuple)):
        return [], {repr(paths): 'remove_files must be a list of paths'}
    out, problems = [], {}
    for path in paths:
        if not isinstance(path, str) or not path.startswith(('/', '~')) or path.rstrip('/') in ('', '~') \
                or '\n' in path:
            problems[repr(path)] = 'not an absolute path of a file'
        else:
            out.append(path)
    return out, problems


def remove_files(paths, execute):
    """``(removed, not_removed)`` after ``execute(path)`` for every path (the file module, state absent).

    ``execute`` returns the module's result; an exception (the connection or become failing) is recorded as
    that path's error, so the phase still stops with its message.
    """
    removed, not_removed = [], {}
    for path in paths:
        try:
            res = execute(path)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            not_removed[path] = to_text(exc) or type(exc).__name__
            continue
        if res.get('failed') or res.get('unreachable'):
            not_removed[path] = to_text(res.get('msg') or 'failed')
        elif res.get('changed'):
            removed.append(path)
    return removed, not_removed


def removal_sentence(removed, not_removed, check_mode):
    """What the removal did, as a sentence to add to the message ('' when nothing was removed or failed; pure).

    ``removed``: the paths that were there and are removed (check mode: would be); ``not_removed``: {path: error}.
    """
    parts = []
    if removed:
        parts.append('%s %s on this host.' % ('Would remove' if check_mode else 'Removed', ', '.join(removed)))
    for path in sorted(not_removed):
        parts.append('Could not remove %s (%s): remove it by hand before the next run.' % (path, not_removed[path]))
    return ' '.join(parts)


def outcome(args, removed=(), not_removed=None, check_mode=False):
    """The failed result of the task (pure): msg, phase, and the reason and retryable of the failed result."""
    failed_task = args.get('failed_task')
    failed_result = args.get('failed_result')
    msg = phase_failure_message(failed_task, failed_result, args.get('phase'), args.get('host'),
                                args.get('way_back'), args.get('hints'))
    extra = removal_sentence(list(removed), not_removed or {}, check_mode)
    if extra:
        msg = msg + ' ' + extra
    result = {'failed': True, 'changed': bool(removed), 'msg': msg, 'phase': args.get('phase'),
              'removed_files': list(removed), 'not_removed_files': dict(not_removed or {})}
    if failed_task is not None and isinstance(failed_result, Mapping):
        for key in ('reason', 'retryable'):
            if key in failed_result:
                result[key] = failed_result[key]
    return result


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = ARGS

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        try:
            # Checked before anything is removed: a message that cannot be written stops with the reason.
            outcome(args)
        except (ValueError, AnsibleError) as exc:
            return {'failed': True, 'msg': 'smooth.mariadb.phase_failed: %s' % to_text(exc)}
        paths, problems = check_remove_files(args.get('remove_files'))

        def execute(path):
            # In check mode the file module only says whether it would remove the file.
            return self._execute_module(module_name='ansible.builtin.file', module_args={'path': path, 'state': 'absent'},
                                        task_vars=task_vars)

        removed, not_removed = remove_files(paths, execute)
        not_removed.update(problems)
        return outcome(args, removed, not_removed, self._play_context.check_mode)
