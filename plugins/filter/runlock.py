# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run selects and its decision on the locks of the fleet (module_utils/runlock.py)."""

from ansible.errors import AnsibleFilterError

from ansible_collections.smooth.mariadb.plugins.module_utils.runlock import lock_decision


def _run_lock_decision(results, liveness=None, read_only=False):
    if not isinstance(results, dict) or not all(isinstance(r, dict) for r in results.values()):
        raise AnsibleFilterError('smooth.mariadb.run_lock_decision: expects {node: result of smooth.mariadb.run_lock}')
    if not isinstance(read_only, bool):
        raise AnsibleFilterError('smooth.mariadb.run_lock_decision: read_only must be a boolean, got %r' % (read_only,))
    return lock_decision(results, liveness or {}, read_only=read_only)


def selected_phases(phases, run_tags, skip_tags):
    """The entries of ``phases`` (play tags) a run with ``--tags``/``--skip-tags`` runs, in their order (pure).

    ``run_tags`` is ansible_run_tags (``['all']`` when no --tags was given), ``skip_tags`` ansible_skip_tags.
    A phase runs when it is selected (by its tag, or ``all``; ``tagged`` selects every phase too, all of them
    being tagged) and not skipped (by its tag, ``tagged`` or ``all``). The special tags ``untagged`` and
    ``always`` select none of them.
    """
    for value, what in ((phases, 'phases'), (run_tags, 'run_tags'), (skip_tags, 'skip_tags')):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) \
                or not all(isinstance(v, str) for v in value):
            raise AnsibleFilterError('smooth.mariadb.selected_phases: %s must be a list of tags, got %r' % (what, value))
    run, skip = set(run_tags or ['all']), set(skip_tags)
    every = bool(run & {'all', 'tagged'})
    if skip & {'all', 'tagged'}:
        return []
    return [p for p in phases if (every or p in run) and p not in skip]


class FilterModule(object):
    def filters(self):
        return {'run_lock_decision': _run_lock_decision, 'selected_phases': selected_phases}
