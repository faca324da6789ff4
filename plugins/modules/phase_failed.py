#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The documentation of the action plugin plugins/action/phase_failed.py (it runs on the controller).

from __future__ import annotations

DOCUMENTATION = r'''
---
module: phase_failed
short_description: Stop a phase with what failed and the way back, after removing the files it names
version_added: 0.2.0
description:
  - The one task of the rescue of every phase of C(expand_2n.yml) and C(rollback_2n.yml). It always fails, with
    the message of the filter P(smooth.mariadb.phase_failure#filter) (the phase, the host, the task that failed
    and its message, the C(reason) and C(retryable) of the failed result, a hint by reason, the way back).
  - Before that it removes, on the host, the files listed in O(remove_files) (the verify phase removes the mark of
    a verified expansion, so the next run does not count the fleet as complete). The message says what was
    removed, and names a file it could not remove.
  - Why one task does both. The phases run with C(any_errors_fatal) and C(max_fail_percentage=0) (an unreachable
    host must stop the run). With both, ansible-core runs only the first task of a rescue when another host of the
    play is stopped along with the failing one; a clean-up task before the message left the run without its
    message. A rescue of this collection is therefore one task, this one.
author:
  - smooth.mariadb developers (!UNKNOWN)
options:
  failed_task:
    description: C(ansible_failed_task), or null when it is not defined (the host stopped because another failed).
    type: dict
  failed_result:
    description: C(ansible_failed_result), or null.
    type: dict
  phase:
    description: The phase, as the message names it (V(split)).
    type: str
    required: true
  host:
    description: The host, as the message names it.
    type: str
    required: true
  way_back:
    description: What was restored, what holds now and what to do next.
    type: str
    required: true
  hints:
    description: A sentence to add after the failure, by the C(reason) of the failed result.
    type: dict
  remove_files:
    description:
      - Paths of files to remove on the host before stopping (module M(ansible.builtin.file),
        O(ansible.builtin.file#module:state=absent)), absolute or starting with C(~). A file already absent is no
        change.
      - A file that cannot be removed (an entry that is not such a path, the file module failing, the connection
        failing) is named in the message, with the error; the task still stops with the phase's message.
    type: list
    elements: path
    default: []
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
    details: In check mode the files are not removed; the message says which would be.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The task always fails; that is its purpose.
seealso:
  - plugin: smooth.mariadb.phase_failure
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Check the fleet
  block:
    - name: Read the replication connections of this node
      smooth.mariadb.replication_info:
      register: links
  rescue:
    - name: Stop with what failed (the only task of the rescue)
      smooth.mariadb.phase_failed:
        failed_task: "{{ ansible_failed_task | default(none) }}"
        failed_result: "{{ ansible_failed_result | default(none) }}"
        phase: verify
        host: "{{ inventory_hostname }}"
        way_back: Fix the cause named above and run the playbook again.
        remove_files:
          - /var/lib/smooth-mariadb/expansion-2.done
'''

RETURN = r'''
msg:
  description: The message the phase stops with.
  returned: always
  type: str
  sample: 'verify failed on db0a at "Read the replication connections of this node": ... Fix the cause ...'
phase:
  description: O(phase).
  returned: always
  type: str
reason:
  description: The C(reason) of the failed result, when it has one.
  returned: when the failed result has one
  type: str
retryable:
  description: The C(retryable) of the failed result, when it has one.
  returned: when the failed result has one
  type: bool
removed_files:
  description: The files of O(remove_files) that were on the host and are removed (in check mode, would be).
  returned: always
  type: list
  elements: str
not_removed_files:
  description: The files of O(remove_files) that could not be removed, with the error.
  returned: always
  type: dict
'''
