# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Two real MariaDB servers on loopback, and a way to run modules through Ansible.

The session fixture ``servers`` creates two throw-away instances (A and B), each
with its own datadir made by ``mariadb-install-db``, its own socket and a free
TCP port on 127.0.0.1, binary logging in ROW format with log_slave_updates,
and distinct server_id / gtid_domain_id. Each gets an ``admin`` account
(everything, used by the modules over TCP) and a ``repl`` account with only
REPLICATION SLAVE. They are stopped and their directories removed at the end
of the session, also when tests fail; every wait is bounded.

``ansible`` runs one module task through ``ansible-playbook`` on localhost and
returns the registered result plus the full stdout/stderr. The modules run
with SMOOTH_MARIADB_TARGET_PYTHON if set (e.g. /usr/bin/python3 with Debian's
python3-pymysql), else with the interpreter running pytest.

Needs the Debian packages mariadb-server and mariadb-client (mariadbd,
mariadb-install-db). Without them the tests fail, unless
SMOOTH_MARIADB_SKIP_INTEGRATION=1 asks to skip them.
"""

from __future__ import annotations

import os
import shutil

import pytest

from mariadb_lab import (
    AnsibleRunner,
    Servers,
    _collections_root,
    find_server_binaries,
    running_servers,
    wait_for,
)


@pytest.fixture(scope='session')
def servers():
    mariadbd, install_db = find_server_binaries()
    if not (mariadbd and install_db):
        message = ('mariadbd and mariadb-install-db are needed for the integration tests '
                   '(apt-get install mariadb-server mariadb-client)')
        if os.environ.get('SMOOTH_MARIADB_SKIP_INTEGRATION') == '1':
            pytest.skip(message)
        pytest.fail(message)
    smoke = [
        'CREATE DATABASE smoke',
        'CREATE TABLE smoke.marks (id INT AUTO_INCREMENT PRIMARY KEY, '
        'origin VARCHAR(16) NOT NULL, token VARCHAR(64) NOT NULL UNIQUE) ENGINE=InnoDB',
    ]
    with running_servers([('a', 11, 1, 1), ('b', 12, 2, 2)], extra_sql=smoke) as (a, b):
        grants = a.query("SHOW GRANTS FOR 'repl'@'127.0.0.1'")
        assert len(grants) == 1 and 'GRANT REPLICATION SLAVE ON *.*' in list(grants[0].values())[0]
        yield Servers(a, b)


@pytest.fixture(autouse=True)
def clean_replication(request):
    """Every test starts with no replication connection on either server."""
    if 'servers' in request.fixturenames:
        for server in request.getfixturevalue('servers'):
            server.reset_replication()
    yield


@pytest.fixture(scope='session')
def ansible(tmp_path_factory):
    collections_root, temp_root = _collections_root()
    try:
        yield AnsibleRunner(str(tmp_path_factory.mktemp('ansible')), collections_root)
    finally:
        if temp_root:
            shutil.rmtree(temp_root, ignore_errors=True)


@pytest.fixture
def waiter():
    return wait_for


@pytest.fixture(scope='session')
def third_server(servers):
    """A third server (c, server_id 13, domain 3), started empty on first use."""
    with running_servers([('c', 13, 3, 1)]) as (c,):
        yield c
