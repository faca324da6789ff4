# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The message a phase of a playbook stops with: what failed, where, and the way back.

One failure pattern for every rescue of the phased playbooks: the rescue passes
ansible_failed_task and ansible_failed_result along with the phase, the host
and what to do next; the wording lives here, once.
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

ANOTHER_HOST = 'stopped because another host of the run failed (see above)'


def _text(value, what):
    if not isinstance(value, str) or not value.strip():
        raise AnsibleFilterError('smooth.mariadb.phase_failure: %s must be a non-empty string, got %r' % (what, value))
    return ' '.join(value.split())


def _failed_where(failed_task, failed_result):
    """``at "<task>": <msg> (reason: <reason>; retryable: <bool>)``, or why this host stopped without a failure."""
    if failed_task is None:
        return ANOTHER_HOST
    name = failed_task.get('name') or failed_task.get('action') or '?'
    result = failed_result or {}
    msg = str(result.get('msg') or '').rstrip().rstrip('.').rstrip() or '?'
    text = 'at "%s": %s' % (name, msg)
    if result.get('reason'):
        text += ' (reason: %s' % result['reason']
        if isinstance(result.get('retryable'), bool):
            text += '; retryable: %s' % ('true' if result['retryable'] else 'false')
        text += ')'
    return text


def phase_failure_message(failed_task, failed_result, phase, host, way_back, hints=None):
    """The message a phase stops with (pure).

    ``<phase> failed on <host> at "<task>": <msg> (reason: ...; retryable: ...). [<hint>] <way back>``,
    or ``<phase> failed on <host> stopped because another host of the run failed (see above). <way back>``
    when ``failed_task`` is None (the rescue ran because another host failed: any_errors_fatal).
    ``hints`` maps a ``reason`` of the failed result to a sentence added after the failure.
    """
    if failed_task is not None and not isinstance(failed_task, Mapping):
        raise AnsibleFilterError('smooth.mariadb.phase_failure: expects ansible_failed_task (a dict) or none, got %r'
                                 % (failed_task,))
    if failed_result is not None and not isinstance(failed_result, Mapping):
        raise AnsibleFilterError('smooth.mariadb.phase_failure: failed_result must be ansible_failed_result (a dict) '
                                 'or none, got %r' % (failed_result,))
    if hints is not None and not isinstance(hints, Mapping):
        raise AnsibleFilterError('smooth.mariadb.phase_failure: hints must be a dict {reason: sentence}, got %r'
                                 % (hints,))
    parts = ['%s failed on %s %s.' % (_text(phase, 'phase'), _text(host, 'host'), _failed_where(failed_task, failed_result))]
    reason = (failed_result or {}).get('reason') if failed_task is not None else None
    if reason and hints and reason in hints:
        parts.append(_text(hints[reason], 'hints[%s]' % reason))
    parts.append(_text(way_back, 'way_back'))
    return ' '.join(parts)


def _phase_failure(failed_task, failed_result=None, phase=None, host=None, way_back=None, hints=None):
    return phase_failure_message(failed_task, failed_result, phase, host, way_back, hints)


class FilterModule(object):
    def filters(self):
        return {'phase_failure': _phase_failure}
