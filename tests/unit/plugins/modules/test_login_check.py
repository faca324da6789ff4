# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""login_check: a refused login is an outcome with the server's error, not a failure."""

from __future__ import annotations

import pymysql

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import MariaDBConnectError
from ansible_collections.smooth.mariadb.plugins.modules.login_check import check_login

PARAMS = {'login_host': '10.0.0.12', 'login_port': 3306, 'login_user': 'smooth_repl', 'login_password': 'pw',
          'login_unix_socket': None}


class Cursor(object):
    description = True

    def __init__(self, rows):
        self.rows = rows

    def execute(self, sql, params=None):
        self.sql = sql

    def fetchall(self):
        return self.rows

    def close(self):
        pass


class Connection(object):
    closed = False

    def cursor(self):
        return Cursor([{'account': 'smooth_repl@10.0.0.11'}])

    def close(self):
        self.closed = True


def refused(params):
    try:
        raise pymysql.err.OperationalError(1045, "Access denied for user 'smooth_repl'@'10.0.0.11' (using password: YES)")
    except pymysql.MySQLError:
        raise MariaDBConnectError("Unable to connect to MariaDB at 10.0.0.12:3306 as user 'smooth_repl': (1045) "
                                  "Access denied for user 'smooth_repl'@'10.0.0.11' (using password: YES)")


def test_refused_login_is_an_outcome_with_the_servers_errno_and_message():
    result = check_login(PARAMS, connect=refused)
    assert result == {'connected': False, 'current_user': '', 'errno': 1045, 'target': '10.0.0.12:3306',
                      'error': "Unable to connect to MariaDB at 10.0.0.12:3306 as user 'smooth_repl': (1045) "
                               "Access denied for user 'smooth_repl'@'10.0.0.11' (using password: YES)"}


def test_successful_login_reports_the_matched_account_and_closes():
    connection = Connection()
    result = check_login(PARAMS, connect=lambda params: connection)
    assert result == {'connected': True, 'current_user': 'smooth_repl@10.0.0.11', 'errno': 0, 'error': '',
                      'target': '10.0.0.12:3306'}
    assert connection.closed


def test_error_without_a_server_code():
    def unreachable(params):
        raise MariaDBConnectError('Unable to connect to MariaDB at 10.0.0.12:3306: timed out')
    result = check_login(PARAMS, connect=unreachable)
    assert result['connected'] is False and result['errno'] == -1 and 'timed out' in result['error']
