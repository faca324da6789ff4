# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decision of a run on the locks of the fleet (module_utils/runlock.py)."""

from ansible.errors import AnsibleFilterError

from ansible_collections.smooth.mariadb.plugins.module_utils.runlock import lock_decision


def _run_lock_decision(results, liveness=None):
    if not isinstance(results, dict) or not all(isinstance(r, dict) for r in results.values()):
        raise AnsibleFilterError('smooth.mariadb.run_lock_decision: expects {node: result of smooth.mariadb.run_lock}')
    return lock_decision(results, liveness or {})


class FilterModule(object):
    def filters(self):
        return {'run_lock_decision': _run_lock_decision}
