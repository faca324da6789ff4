# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: controller_run
version_added: 0.1.0
author:
  - smooth.mariadb developers (!UNKNOWN)
short_description: Who runs this playbook on the controller, and whether the run holding a lock still runs
description:
  - Without terms, returns this run as the module M(smooth.mariadb.run_lock) stores it - C(controller)
    (the controller's host name), C(user), C(pid) and C(pid_start) (the process id of ansible-playbook
    and its start time, from C(/proc)), C(started_at) (UTC) and C(run_id) (new for every call, so set it
    once per run with C(set_fact)).
  - With terms (lock holders, as the module M(smooth.mariadb.run_lock) returns them in C(held_by)),
    returns for each whether its run still runs - true or false when it ran from this controller
    (its process is alive with the same start time), null when it ran from another controller
    (unknown here).
  - Runs on the controller (Linux, C(/proc)).
options:
  _terms:
    description: Lock holders to check.
    type: list
    elements: dict
'''

EXAMPLES = r'''
- name: Name this run
  ansible.builtin.set_fact:
    smooth_run: "{{ lookup('smooth.mariadb.controller_run') | combine({'playbook': 'expand_2n.yml'}) }}"
  run_once: true

- name: Is the run that holds the lock still running?
  ansible.builtin.debug:
    msg: "{{ lookup('smooth.mariadb.controller_run', smooth_lock.held_by) }}"
'''

RETURN = r'''
_raw:
  description: This run (no terms), or one liveness (true, false or null) per term.
  type: list
  elements: raw
'''

import getpass
import os
import socket
import time
import uuid

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.smooth.mariadb.plugins.module_utils.runlock import find_playbook_process, holder_alive


def read_stat(pid):
    with open('/proc/%d/stat' % pid) as handle:
        return handle.read()


def read_cmdline(pid):
    with open('/proc/%d/cmdline' % pid, 'rb') as handle:
        return [arg.decode('utf-8', 'replace') for arg in handle.read().split(b'\0') if arg]


def this_run():
    pid, start = find_playbook_process(os.getpid(), read_stat, read_cmdline)
    if pid is None:
        raise AnsibleLookupError('smooth.mariadb.controller_run: no ansible-playbook process above pid %d in /proc'
                                 % os.getpid())
    return {'run_id': uuid.uuid4().hex[:16], 'controller': socket.gethostname(), 'user': getpass.getuser(),
            'pid': pid, 'pid_start': start, 'started_at': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        if not terms:
            return [this_run()]
        controller = socket.gethostname()
        return [holder_alive(term if isinstance(term, dict) else None, controller, read_stat) for term in terms]
