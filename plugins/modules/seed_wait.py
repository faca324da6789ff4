#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The documentation of the action plugin plugins/action/seed_wait.py (it runs on the controller).

from __future__ import annotations

DOCUMENTATION = r'''
---
module: seed_wait
short_description: Wait for a seed started as an async job, printing its progress while it runs
version_added: 0.2.0
description:
  - A seed of a large shard runs for hours, and a task prints nothing until it ends. Start M(smooth.mariadb.seed)
    with C(async) and C(poll=0) and its O(smooth.mariadb.seed#module:progress_file); this action then asks the job
    (module M(ansible.builtin.async_status)) after 1, 2, 4, ... seconds and then every O(interval), and prints one
    line per O(interval) while the copy runs, read from the progress file (module M(ansible.builtin.slurp)) - the
    state (copying, preparing, counting), the bytes streamed, the seconds and the rate, and the size of the source's
    data.
  - When the job ends it returns the seed's own result (without the async keys), so a failed seed fails this task
    with the seed's message, C(reason) included.
  - After O(timeout) seconds it fails with C(reason=timeout), naming the job (which may still run on the host) and
    the last progress.
author:
  - smooth.mariadb developers (!UNKNOWN)
options:
  jid:
    description: The C(ansible_job_id) of the seed task's result.
    type: str
    required: true
  progress_file:
    description: The seed's O(smooth.mariadb.seed#module:progress_file) on the host. Unset, the lines say only that the
      copy runs.
    type: path
  interval:
    description: Seconds between two progress lines (and between two looks at the job once the first seconds passed).
    type: int
    default: 30
  timeout:
    description: Seconds to wait in all; set it to the seed task's C(async).
    type: int
    required: true
  label:
    description: What each line starts with. Unset, the host's inventory name.
    type: str
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Reads only; a seed started in check mode ends at once, and its result is returned.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: smooth.mariadb.seed
'''

EXAMPLES = r'''
- name: Start the copy as an async job
  smooth.mariadb.seed:
    source:
      login_host: 10.0.0.11
      login_user: smooth_admin
      login_password: "{{ admin_password }}"
    method: mariabackup
    backup_command: [ssh, -i, /var/lib/smooth-mariadb/seed_ed25519, root@10.0.0.11, mariabackup --backup --stream=xbstream]
    timeout: 86400
    progress_file: /var/lib/smooth-mariadb/seed.progress
  async: 87000
  poll: 0
  register: copy_job

- name: Wait for the copy, a progress line every 30 s
  smooth.mariadb.seed_wait:
    jid: "{{ copy_job.ansible_job_id }}"
    progress_file: /var/lib/smooth-mariadb/seed.progress
    timeout: 87000
  register: seeded
'''

RETURN = r'''
msg:
  description: When the wait failed by itself (timeout, the job unreadable), why; otherwise the seed's C(msg) if any.
  returned: on failure
  type: str
reason:
  description: V(timeout) when the job did not end within O(timeout); otherwise the seed's C(reason) if any.
  returned: on failure
  type: str
  sample: timeout
'''
