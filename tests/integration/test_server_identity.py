# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""server_identity and login_check on real servers, through Ansible."""

from __future__ import annotations

from mariadb_lab import REPL_PASSWORD, REPL_USER

IDENTITY = 'smooth.mariadb.server_identity'
LOGIN = 'smooth.mariadb.login_check'


def test_identity_of_a_running_server_with_data(ansible, servers):
    a = servers.a
    done = ansible(IDENTITY, a.login_args(), check=True)
    assert done.returncode == 0, done.output
    assert done['changed'] is False and done['running'] is True and done['source'] == 'server'
    assert done['identity'] == {'server_id': 11, 'gtid_domain_id': 1, 'auto_increment_increment': 2,
                                'auto_increment_offset': 1}
    assert 'smoke' in done['user_databases']
    assert done['holds_data'] is True and done['evidence'][0].startswith('databases ')
    assert done['seeded'] is False


def test_identity_of_a_stopped_server_comes_from_its_datadir(ansible, tmp_path):
    datadir = tmp_path / 'data'
    (datadir / 'mysql').mkdir(parents=True)
    (datadir / 'shop').mkdir()
    (datadir / 'shop' / 'db.opt').write_text('default-character-set=utf8mb4\n')
    done = ansible(IDENTITY, {'login_unix_socket': str(tmp_path / 'absent.sock'), 'datadir': str(datadir)})
    assert done.returncode == 0, done.output
    assert done['running'] is False and done['user_databases'] == ['shop'] and done['holds_data'] is True


def test_identity_of_an_unreachable_server_fails_instead_of_guessing(ansible, servers):
    done = ansible(IDENTITY, servers.a.login_args(login_password='wrong-password-1'))
    assert done.get('failed') is True
    assert 'Access denied' in done['msg'] and 'wrong-password-1' not in done.output


def test_login_check_reports_a_refused_password_as_an_outcome(ansible, servers):
    a = servers.a
    done = ansible(LOGIN, a.login_args(login_user=REPL_USER, login_password='not-the-password'))
    assert done.returncode == 0, done.output
    assert done['connected'] is False and done['errno'] == 1045 and 'Access denied' in done['error']
    assert 'not-the-password' not in done.output


def test_login_check_opens_an_account_without_privileges(ansible, servers):
    done = ansible(LOGIN, servers.a.login_args(login_user=REPL_USER, login_password=REPL_PASSWORD))
    assert done.returncode == 0, done.output
    assert done['connected'] is True and done['current_user'] == '%s@127.0.0.1' % REPL_USER and done['errno'] == 0
