# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""server_identity on a server that does not run: option files and the datadir.

(The running path is exercised on real servers by the molecule scenarios.)
"""

from __future__ import annotations

import pytest

from ansible_collections.smooth.mariadb.plugins.modules import server_identity

from .module_standin import FailJson, ModuleStandIn


class Module(ModuleStandIn):
    ARGUMENT_SPEC = staticmethod(server_identity.argument_spec)

    def __init__(self, print_defaults=None, rc=0, **params):
        super(Module, self).__init__(**params)
        self.print_defaults = print_defaults
        self.rc = rc
        self.commands = []

    def get_bin_path(self, name):
        return '/usr/bin/my_print_defaults' if self.print_defaults is not None else None

    def run_command(self, argv):
        self.commands.append(argv)
        return self.rc, self.print_defaults, 'bad option file' if self.rc else ''


def make_datadir(tmp_path, databases):
    datadir = tmp_path / 'mysql'
    for name, files in databases.items():
        (datadir / name).mkdir(parents=True)
        for f in files:
            (datadir / name / f).write_text('x')
    return datadir


def test_stopped_server_with_user_data_counts_as_holding_data(tmp_path):
    datadir = make_datadir(tmp_path, {'mysql': ['db.opt'], 'shop': ['db.opt', 'orders.frm', 'orders.ibd']})
    module = Module(print_defaults='--server-id=101\n--gtid-domain-id=101\n--auto-increment-increment=2\n'
                                   '--auto-increment-offset=1\n--datadir=%s\n' % datadir)
    result = server_identity.read_stopped(module)
    assert module.commands == [['/usr/bin/my_print_defaults', '--mysqld']]
    assert result['running'] is False and result['installed'] is True and result['source'] == 'option files'
    assert result['identity'] == {'server_id': 101, 'gtid_domain_id': 101, 'auto_increment_increment': 2,
                                  'auto_increment_offset': 1}
    assert result['user_databases'] == ['shop'] and result['holds_data'] is True
    assert result['evidence'] == ['databases shop'] and result['datadir'] == str(datadir)


def test_stopped_fresh_install_holds_no_data(tmp_path):
    datadir = make_datadir(tmp_path, {'mysql': ['db.opt'], 'sys': ['db.opt'], 'performance_schema': ['db.opt']})
    result = server_identity.read_stopped(Module(print_defaults='', datadir=str(datadir)))
    assert result['holds_data'] is False and result['evidence'] == []
    assert result['identity']['server_id'] == 1


def test_host_without_mariadb(tmp_path):
    result = server_identity.read_stopped(Module(datadir=str(tmp_path / 'absent')))
    assert result['installed'] is False and result['source'] == 'none'
    assert result['identity'] is None and result['holds_data'] is False


def test_failing_print_defaults_fails_the_module(tmp_path):
    with pytest.raises(FailJson) as failed:
        server_identity.read_stopped(Module(print_defaults='', rc=1, datadir=str(tmp_path)))
    assert 'my_print_defaults --mysqld failed (rc 1): bad option file' in failed.value.args[0]['msg']
