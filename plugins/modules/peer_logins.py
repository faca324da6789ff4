#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: peer_logins
short_description: Let the nodes of a MariaDB fleet log in to this server as one account, for one run
version_added: 0.2.0
description:
  - Makes (O(state=present)) or removes (O(state=absent)) the logins of the account O(user) from each host of
    O(hosts), with read-only global privileges, in one call and one connection. The phases of
    C(expand_2n.yml) and C(rollback_2n.yml) use it on every node, so that the modules of a node can read its
    peers for the length of a run (README "Accounts").
  - A run leaves the logins as it found them. Making a missing login and removing it again at the end of the
    same run is not reported as a change; pass the hosts made earlier in the run as O(made_by_run).
  - A login that exists, is not in O(keep) and was not made by this run was left by a run that stopped. With
    O(state=present) it is set to O(privileges) and O(password) again (a change; RV(left) names it). With
    O(state=absent) it is removed (a change).
  - The statements are not written to the binary log (C(sql_log_bin=0)), so the logins never replicate.
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes
  - smooth.mariadb.mariadb
attributes:
  check_mode:
    support: full
    details:
      - A login left by a stopped run is only reported. With O(create_in_check_mode=true) the missing logins
        are made in check mode too (a dry run then logs in where the real run will; not a change). With
        O(state=absent) only the logins of O(made_by_run) are removed in check mode.
  diff_mode:
    support: full
    details:
      - The hosts the account has a login from, before and after.
  idempotent:
    support: full
    details:
      - A second O(state=present) finds every login made by the first; passed as O(made_by_run), nothing is
        reported. Without O(made_by_run) they count as left by a stopped run and are set again (a change).
options:
  user:
    description: The account whose logins are managed (the admin account, C(smooth_admin_user)).
    type: str
    required: true
  password:
    description: Password of the logins made or set again. Required with O(state=present).
    type: str
  hosts:
    description: Hosts (addresses) to make or remove a login from (the nodes of the fleet).
    type: list
    elements: str
    required: true
  privileges:
    description:
      - Global privileges of the logins, read-only ones only (C(SELECT), C(SHOW VIEW), C(TRIGGER), C(EVENT),
        C(PROCESS), C(SLAVE MONITOR), C(REPLICATION MASTER ADMIN), C(BINLOG MONITOR), C(REPLICATION CLIENT),
        C(REPLICA MONITOR), C(SHOW DATABASES)); anything else is refused before the server is changed.
    type: list
    elements: str
    default: [SELECT, SHOW VIEW, TRIGGER, EVENT, PROCESS, SLAVE MONITOR, REPLICATION MASTER ADMIN, BINLOG MONITOR]
  keep:
    description: Hosts whose login is never touched (the operator's logins, such as C(localhost)).
    type: list
    elements: str
    default: []
  made_by_run:
    description: Hosts whose login this run made earlier (RV(created) of an earlier call).
    type: list
    elements: str
    default: []
  state:
    description: Whether the logins exist at the end.
    type: str
    choices: [present, absent]
    default: present
  create_in_check_mode:
    description: With O(state=present), make the missing logins in check mode too.
    type: bool
    default: false
notes:
  - Needs C(CREATE USER) and C(GRANT OPTION) with the privileges granted, and C(BINLOG ADMIN) (or C(SUPER)) for
    C(sql_log_bin); the phases log in as root over the Unix socket.
seealso:
  - module: community.mysql.mysql_user
'''

EXAMPLES = r'''
- name: Let every node of the fleet log in as smooth_admin, for this run
  smooth.mariadb.peer_logins:
    login_unix_socket: /run/mysqld/mysqld.sock
    user: smooth_admin
    password: "{{ smooth_admin_password }}"
    hosts: [10.214.0.11, 10.214.0.12, 10.214.0.13]
    keep: [localhost, 10.214.0.1]
  check_mode: false
  register: logins

- name: Remove them at the end of the run
  smooth.mariadb.peer_logins:
    login_unix_socket: /run/mysqld/mysqld.sock
    user: smooth_admin
    hosts: [10.214.0.11, 10.214.0.12, 10.214.0.13]
    keep: [localhost, 10.214.0.1]
    made_by_run: "{{ logins.created }}"
    state: absent
'''

RETURN = r'''
created:
  description: Hosts whose login was made (in check mode without O(create_in_check_mode), none).
  returned: always
  type: list
  elements: str
  sample: [10.214.0.12, 10.214.0.13]
reset:
  description: Hosts whose login, left by a stopped run, was set to O(privileges) and O(password) again.
  returned: always
  type: list
  elements: str
removed:
  description: Hosts whose login was removed.
  returned: always
  type: list
  elements: str
left:
  description: Hosts whose login a stopped run left (not in O(keep) nor O(made_by_run)); set again or removed, or in check mode what would be.
  returned: always
  type: list
  elements: str
queries:
  description: The statements run, the password masked.
  returned: always
  type: list
  elements: str
reason:
  description: Why the module failed, for playbooks to decide on (C(bad_options), C(statement_failed)).
  returned: failure
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    MariaDBQueryError,
    SqlSession,
    mariadb_common_argument_spec,
    mariadb_connect,
    to_text,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.peer_logins import (
    login_statements,
    plan_logins,
    privilege_problems,
)

DEFAULT_PRIVILEGES = ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT', 'PROCESS', 'SLAVE MONITOR',
                      'REPLICATION MASTER ADMIN', 'BINLOG MONITOR']


def argument_spec():
    spec = mariadb_common_argument_spec()
    spec.update(
        user=dict(type='str', required=True),
        password=dict(type='str', no_log=True),
        hosts=dict(type='list', elements='str', required=True),
        privileges=dict(type='list', elements='str', default=DEFAULT_PRIVILEGES),
        keep=dict(type='list', elements='str', default=[]),
        made_by_run=dict(type='list', elements='str', default=[]),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        create_in_check_mode=dict(type='bool', default=False),
    )
    return spec


def option_problems(params):
    problems = []
    if not params['user']:
        problems.append('user: give the account name')
    if params['state'] == 'present':
        if not params['password']:
            problems.append('password: required with state=present')
        problems.extend(privilege_problems(params['privileges']))
    if any(not host for host in params['hosts']):
        problems.append('hosts: an empty host would match every host (a wildcard); give addresses')
    return problems


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    result = dict(changed=False, created=[], reset=[], removed=[], left=[], queries=[])
    problems = option_problems(params)
    if problems:
        module.fail_json(msg='peer_logins: %s. Nothing was changed.' % '; '.join(problems), reason='bad_options',
                         **result)
    connection = mariadb_connect(module)
    try:
        session = SqlSession(connection)
        existing = [to_text(row['host']) for row in
                    session.fetch_all('SELECT Host AS host FROM mysql.user WHERE User = %s', (params['user'],))]
        plan = plan_logins(existing, params['hosts'], params['keep'], params['made_by_run'], params['state'],
                           module.check_mode, params['create_in_check_mode'])
        result.update(left=plan['left'], changed=plan['changed'])
        actions = [('create', host) for host in plan['create']] + [('reset', host) for host in plan['reset']] \
            + [('remove', host) for host in plan['remove']]
        if actions:
            # Not binlogged: the logins of a node are its own and never replicate.
            session.fetch_all('SET SESSION sql_log_bin = 0')
        for action, host in actions:
            session.execute_all(login_statements(params['user'], params['password'], host, params['privileges'],
                                                 action))
            result[dict(create='created', reset='reset', remove='removed')[action]].append(host)
    except MariaDBQueryError as exc:
        result['queries'] = session.queries
        module.fail_json(msg='peer_logins on %s: %s. Done before it: %s.' % (
            params.get('login_unix_socket') or params.get('login_host'), exc,
            '; '.join(session.queries) or 'nothing'), reason='statement_failed', **result)
    finally:
        connection.close()
    result['queries'] = session.queries
    after = [host for host in existing if host not in result['removed']] + result['created']
    result['diff'] = dict(before='\n'.join(sorted(existing)) + '\n', after='\n'.join(sorted(after)) + '\n')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
