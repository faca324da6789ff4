#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: run_lock
short_description: Take or give back the lock that lets one run at a time change a fleet
version_added: 0.1.0
description:
  - Keeps a lock file on a node of the fleet that names the run holding it (run id, playbook,
    controller, user, process id and start time of ansible-playbook). The playbooks of this
    collection take it on every node in their plan play and give it back at their end, so a
    second run stops before anything changes.
  - A lock another run holds is not an error of the module; it returns RV(acquired=false) with
    RV(reason) and RV(held_by), and the filter P(smooth.mariadb.run_lock_decision#filter) decides
    what the run does.
  - With O(break_run_id), a lock held by that run (a dead run, see the lookup
    P(smooth.mariadb.controller_run#lookup)) is taken over - rewritten at once, so that a purge of the
    dead run still working on the node (M(smooth.mariadb.shard_purge) with O(smooth.mariadb.shard_purge#module:run_id))
    stops at its next chunk - and the module then waits, at most O(work_wait) seconds, until no module
    of the dead run holds the node's work lock.
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  state:
    description:
      - V(present) takes the lock (or keeps it, when this run holds it); V(absent) gives it back
        (only when this run holds it).
    type: str
    choices: [present, absent]
    default: present
  run_id:
    description: The id of this run.
    type: str
    required: true
  owner:
    description:
      - Who runs, stored in the lock; keys C(playbook), C(controller), C(user), C(pid),
        C(pid_start), C(started_at) (as the lookup P(smooth.mariadb.controller_run#lookup) gives them).
    type: dict
    default: {}
  break_run_id:
    description: Take over a lock held by this run id (a run known to be dead).
    type: str
  path:
    description: The lock file.
    type: path
    default: /var/lib/smooth-mariadb/run.lock
  work_lock_path:
    description: The node's work lock, held by modules while they change data.
    type: path
    default: /run/smooth-mariadb/work.lock
  work_wait:
    description:
      - With O(break_run_id), seconds to wait for a module of the dead run that still works on the
        node to stop (a purge stops at its next chunk once the lock no longer names its run) before
        RV(acquired=false) with RV(reason=work_active) is returned; the lock then names this run.
    type: int
    default: 120
notes:
  - The lock is created with O_EXCL, so two runs cannot both create it on a node.
'''

EXAMPLES = r'''
- name: Take the lock of the fleet
  smooth.mariadb.run_lock:
    run_id: "{{ smooth_run.run_id }}"
    owner: "{{ smooth_run }}"
  register: smooth_lock

- name: Give the lock back at the end of the run
  smooth.mariadb.run_lock:
    run_id: "{{ smooth_run.run_id }}"
    state: absent
'''

RETURN = r'''
acquired:
  description: With O(state=present), whether this run holds the lock now; with V(absent), whether it no longer does.
  returned: always
  type: bool
action:
  description: What was done, V(create), V(keep), V(replace), V(remove), V(none) or V(refuse).
  returned: always
  type: str
reason:
  description: Why; with V(refuse), V(held) (another run holds the lock) or V(work_active) (a module of the dead run still works here).
  returned: always
  type: str
held_by:
  description: The lock as it was before this call (null when there was none).
  returned: always
  type: dict
'''

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smooth.mariadb.plugins.module_utils.runlock import (
    decide_lock,
    lock_record,
    read_lock_file,
    work_lock_active,
)


def write_new(path, record):
    """Create the lock file; False when another run created it first."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, 'w') as handle:
        handle.write(json.dumps(record, sort_keys=True) + '\n')
    return True


def replace(path, record):
    temp = '%s.%d' % (path, os.getpid())
    with open(temp, 'w') as handle:
        handle.write(json.dumps(record, sort_keys=True) + '\n')
    os.rename(temp, path)


def wait_for_work(path, seconds):
    """Whether a module still holds the work lock after waiting up to seconds for it."""
    deadline = time.monotonic() + max(seconds, 0)
    for _poll in range(max(seconds, 0) + 1):
        if not work_lock_active(path):
            return False
        if time.monotonic() >= deadline:
            break
        time.sleep(1)
    return work_lock_active(path)


def run_module(module):
    params = module.params
    path = params['path']
    existing = read_lock_file(path)
    action, reason = decide_lock(params['state'], existing, params['run_id'], params['break_run_id'])
    record = lock_record(params['run_id'], params['owner'])
    result = dict(changed=action in ('create', 'replace', 'remove'), action=action, reason=reason, held_by=existing,
                  acquired=action in ('create', 'keep', 'replace', 'remove', 'none'))
    if module.check_mode:
        if action == 'replace' and work_lock_active(params['work_lock_path']):
            result.update(acquired=False, reason='work_active')
        return result
    if action == 'create':
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        if not write_new(path, record):
            # Another run created it between the read and now.
            result.update(changed=False, action='refuse', reason='held', acquired=False, held_by=read_lock_file(path))
    elif action == 'replace':
        # First the lock, so that a purge of the dead run stops at its next chunk; then wait for it.
        replace(path, record)
        if wait_for_work(params['work_lock_path'], params['work_wait']):
            result.update(acquired=False, reason='work_active')
    elif action == 'remove':
        os.unlink(path)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            run_id=dict(type='str', required=True),
            owner=dict(type='dict', default={}),
            break_run_id=dict(type='str'),
            path=dict(type='path', default='/var/lib/smooth-mariadb/run.lock'),
            work_lock_path=dict(type='path', default='/run/smooth-mariadb/work.lock'),
            work_wait=dict(type='int', default=120),
        ),
        supports_check_mode=True,
    )
    try:
        result = run_module(module)
    except OSError as exc:
        module.fail_json(msg='Cannot use the lock %s: %s' % (module.params['path'], exc))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
