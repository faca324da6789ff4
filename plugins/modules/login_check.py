#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: login_check
short_description: Check that an account and password log in to a MariaDB server
version_added: 0.1.0
description:
  - Logs in with the given account and password and reads C(CURRENT_USER()), the account the
    server matched. Nothing else is read or changed, so an account with no privilege at all (a
    replication account) can be checked too.
  - A refused login does not fail the module; it returns RV(connected=false) with the server's
    error number and message, so a playbook can name the setting to fix. Use it before a step
    that would otherwise fail (or change accounts) with a wrong password.
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes.info_module
  - smooth.mariadb.mariadb
options: {}
notes:
  - The module fails (rather than returning RV(connected=false)) only on invalid options and a
    missing PyMySQL.
seealso:
  - module: smooth.mariadb.server_identity
'''

EXAMPLES = r'''
- name: Log in to the partner as the replication account
  smooth.mariadb.login_check:
    login_host: "{{ partner_address }}"
    login_user: smooth_repl
    login_password: "{{ smooth_replication_password }}"
    connect_timeout: 5
  register: repl_login

- name: Name the setting to fix
  ansible.builtin.assert:
    that: repl_login.connected
    fail_msg: "smooth_replication_password is not the password of smooth_repl on {{ partner_address }}: {{ repl_login.error }}"
'''

RETURN = r'''
connected:
  description: Whether the login succeeded.
  returned: always
  type: bool
current_user:
  description: The account the server matched (C(CURRENT_USER())); empty when the login failed.
  returned: always
  type: str
  sample: smooth_repl@10.214.1.12
errno:
  description: The server's (or driver's) error number when the login failed, else 0 (1045 is a refused password).
  returned: always
  type: int
  sample: 1045
error:
  description: The error, naming the server; the password is never part of it. Empty when connected.
  returned: always
  type: str
target:
  description: The server, as host:port or the socket path.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    HAS_PYMYSQL,
    PYMYSQL_IMPORT_ERROR,
    MariaDBConnectError,
    MariaDBQueryError,
    SqlSession,
    connect_with_params,
    describe_target,
    mariadb_common_argument_spec,
    to_text,
)


def check_login(params, connect=connect_with_params):
    """{connected, current_user, errno, error, target} for one login attempt."""
    target = describe_target(params)
    try:
        connection = connect(params)
    except MariaDBConnectError as exc:
        cause = exc.__cause__ or exc.__context__
        errno = cause.args[0] if cause is not None and cause.args and isinstance(cause.args[0], int) else -1
        return dict(connected=False, current_user='', errno=errno, error=str(exc), target=target)
    try:
        row = SqlSession(connection, read_only=True).fetch_one('SELECT CURRENT_USER() AS account')
    except MariaDBQueryError as exc:
        return dict(connected=False, current_user='', errno=exc.errno or -1,
                    error='Logged in to %s, but SELECT CURRENT_USER() failed: %s' % (target, exc.message),
                    target=target)
    finally:
        connection.close()
    return dict(connected=True, current_user=to_text(row['account']), errno=0, error='', target=target)


def main():
    module = AnsibleModule(argument_spec=mariadb_common_argument_spec(), supports_check_mode=True)
    if not HAS_PYMYSQL:
        module.fail_json(msg=missing_required_lib('PyMySQL'), exception=PYMYSQL_IMPORT_ERROR)
    module.exit_json(changed=False, **check_login(module.params))


if __name__ == '__main__':
    main()
