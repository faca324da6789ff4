# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smooth.mariadb.seed option accounts: the application's accounts of server a copied into
the empty third server c, through Ansible.

c (not b) is the target, as in test_seed.py: a seed sets the target's gtid_slave_pos
and leaves a seed record, which the replication tests on a and b must not inherit.
"""

from __future__ import annotations

import json

import pymysql
import pytest

from mariadb_lab import ADMIN_PASSWORD, wipe_server

MODULE = 'smooth.mariadb.seed'
APP = 'smooth_lab_app'
APP_PASSWORD = 'App-Pw-7c1e-Lab'
NEW_PASSWORD = 'App-Pw-Changed-93d'
OTHER = 'smooth_lab_other'     # on a too, never named: must not reach c
HOSTS = ('10.214.0.15', '127.0.0.1')   # the order of the result (ORDER BY Host)
ONLY_ON_C = '192.0.2.9'


def account(user, host):
    return "'%s'@'%s'" % (user, host)


def drop_accounts(server):
    rows = server.query('SELECT User AS user, Host AS host FROM mysql.user WHERE User IN (%s, %s)', (APP, OTHER))
    server.setup_sql(['DROP USER %s' % account(row['user'], row['host']) for row in rows])


@pytest.fixture
def app_accounts(servers, third_server):
    """On a: database smooth_lab, the application's account from two hosts, another account. c empty."""
    a, c = servers.a, third_server
    wipe_server(c)
    drop_accounts(c)
    a.setup_sql([
        'CREATE DATABASE smooth_lab',
        'CREATE TABLE smooth_lab.orders (id INT PRIMARY KEY, note VARCHAR(20) NOT NULL) ENGINE=InnoDB',
        'INSERT INTO smooth_lab.orders VALUES (1, %s)' % "'first'",
        "CREATE USER %s IDENTIFIED BY '%s'" % (account(APP, '127.0.0.1'), APP_PASSWORD),
        "CREATE USER %s IDENTIFIED BY '%s' WITH MAX_USER_CONNECTIONS 5" % (account(APP, '10.214.0.15'), APP_PASSWORD),
        'GRANT SELECT, INSERT, UPDATE ON smooth_lab.* TO %s' % account(APP, '127.0.0.1'),
        'GRANT SELECT, INSERT, UPDATE ON smooth_lab.* TO %s' % account(APP, '10.214.0.15'),
        "CREATE USER %s IDENTIFIED BY 'other-pw-1'" % account(OTHER, '127.0.0.1'),
        'GRANT SELECT ON smooth_lab.* TO %s' % account(OTHER, '127.0.0.1'),
    ])
    try:
        yield a, c
    finally:
        drop_accounts(a)
        a.setup_sql(['DROP DATABASE IF EXISTS smooth_lab'])
        drop_accounts(c)
        wipe_server(c)


def seed_args(target, source, **extra):
    args = dict(target.login_args(), source=dict(login_host=source.host, login_port=source.port))
    args.update(extra)
    return args


def create_user(server, host):
    return [list(row.values())[0] for row in server.query('SHOW CREATE USER %s@%s', (APP, host))]


def grants(server, host):
    return sorted(list(row.values())[0] for row in server.query('SHOW GRANTS FOR %s@%s', (APP, host)))


def password_hash(server, host):
    return server.query('SELECT Password AS p FROM mysql.user WHERE User = %s AND Host = %s', (APP, host))[0]['p']


def login(server, password):
    """Log in to server as the application (from 127.0.0.1); returns the connection."""
    return pymysql.connect(host=server.host, port=server.port, user=APP, password=password, database='smooth_lab',
                           connect_timeout=5, autocommit=True)


def assert_no_secret(result, *secrets):
    blob = json.dumps(result.result) + result.output
    for secret in (ADMIN_PASSWORD, APP_PASSWORD, NEW_PASSWORD) + secrets:
        assert secret not in blob


def variable(server, name):
    return server.query('SELECT @@GLOBAL.%s AS v' % name)[0]['v']


def test_accounts_created_unchanged_then_updated(ansible, app_accounts):
    a, c = app_accounts
    hashes = [password_hash(a, host) for host in HOSTS]
    seeded = ansible(MODULE, seed_args(c, a, accounts=[APP]), diff=True)
    assert seeded.get('failed') is not True, seeded.get('msg')
    assert seeded['changed'] is True
    assert seeded['accounts'] == [dict(user=APP, host=host, action='created') for host in HOSTS]
    for host in HOSTS:
        # The same account: SHOW CREATE USER (hash and limits included) and the same grants.
        assert create_user(c, host) == create_user(a, host)
        assert grants(c, host) == grants(a, host)
        assert password_hash(c, host) == password_hash(a, host)
    assert 'WITH MAX_USER_CONNECTIONS 5' in create_user(c, '10.214.0.15')[0]
    assert not c.query('SELECT 1 FROM mysql.user WHERE User = %s', (OTHER,))
    # Nothing of the seed nor of the accounts entered c's binary log.
    assert variable(c, 'gtid_binlog_pos') == ''
    assert "CREATE USER `%s`@`127.0.0.1` IDENTIFIED BY PASSWORD '********'" % APP in seeded['queries']
    assert seeded['queries'].index('SET SESSION sql_log_bin = 0') < seeded['queries'].index(
        "CREATE USER `%s`@`127.0.0.1` IDENTIFIED BY PASSWORD '********'" % APP)
    after = seeded['diff']['after']['accounts']['`%s`@`127.0.0.1`' % APP]
    assert after == dict(create_user=["CREATE USER `%s`@`127.0.0.1` IDENTIFIED BY PASSWORD '********'" % APP],
                         grants=['GRANT SELECT, INSERT, UPDATE ON `smooth_lab`.* TO `%s`@`127.0.0.1`' % APP,
                                 'GRANT USAGE ON *.* TO `%s`@`127.0.0.1`' % APP])
    assert seeded['diff']['before'] == dict(accounts={})
    assert_no_secret(seeded, *hashes)

    # The password works on c, and the grants hold: INSERT yes, DELETE no.
    connection = login(c, APP_PASSWORD)
    try:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO orders VALUES (2, 'on c')")
            with pytest.raises(pymysql.err.OperationalError) as denied:
                cursor.execute('DELETE FROM orders')
            assert denied.value.args[0] == 1142
    finally:
        connection.close()
    c.setup_sql(['DELETE FROM smooth_lab.orders WHERE id = 2'])

    # Again: seed and accounts unchanged, nothing run.
    again = ansible(MODULE, seed_args(c, a, accounts=[APP]))
    assert again.get('failed') is not True, again.get('msg')
    assert again['changed'] is False and again['queries'] == []
    assert again['accounts'] == [dict(user=APP, host=host, action='unchanged') for host in HOSTS]

    # a changes: a new password and other grants for one host, a column grant for the other;
    # c has a host of its own for the name, which must stay as it is.
    a.setup_sql(["ALTER USER %s IDENTIFIED BY '%s'" % (account(APP, '127.0.0.1'), NEW_PASSWORD),
                 'GRANT DELETE ON smooth_lab.* TO %s' % account(APP, '127.0.0.1'),
                 'REVOKE UPDATE ON smooth_lab.* FROM %s' % account(APP, '127.0.0.1'),
                 'GRANT UPDATE (note) ON smooth_lab.orders TO %s' % account(APP, '10.214.0.15')])
    c.setup_sql(["CREATE USER %s IDENTIFIED BY 'c-only-pw'" % account(APP, ONLY_ON_C)])
    before = dict((host, (create_user(c, host), grants(c, host))) for host in HOSTS)
    checked = ansible(MODULE, seed_args(c, a, accounts=[APP]), check=True, diff=True)
    assert checked.get('failed') is not True, checked.get('msg')
    assert checked['changed'] is True and checked['queries'] == []
    assert checked['accounts'] == [dict(user=APP, host=host, action='updated') for host in HOSTS]
    assert dict((host, (create_user(c, host), grants(c, host))) for host in HOSTS) == before
    diff = checked['diff']
    assert 'GRANT SELECT, INSERT, UPDATE ON `smooth_lab`.* TO `%s`@`127.0.0.1`' % APP in \
        diff['before']['accounts']['`%s`@`127.0.0.1`' % APP]['grants']
    assert 'GRANT SELECT, INSERT, DELETE ON `smooth_lab`.* TO `%s`@`127.0.0.1`' % APP in \
        diff['after']['accounts']['`%s`@`127.0.0.1`' % APP]['grants']
    assert_no_secret(checked, password_hash(a, '127.0.0.1'), *hashes)

    position = variable(c, 'gtid_binlog_pos')   # moved by the application's INSERT above
    updated = ansible(MODULE, seed_args(c, a, accounts=[APP]))
    assert updated.get('failed') is not True, updated.get('msg')
    assert updated['changed'] is True
    assert updated['accounts'] == [dict(user=APP, host=host, action='updated') for host in HOSTS]
    for host in HOSTS:
        assert create_user(c, host) == create_user(a, host)
        assert grants(c, host) == grants(a, host)
    assert "accounts: `%s`@`%s` exists on the target only; left as it is" % (APP, ONLY_ON_C) in updated.output
    assert c.query('SELECT 1 AS x FROM mysql.user WHERE User = %s AND Host = %s', (APP, ONLY_ON_C)) == [{'x': 1}]
    # Precise: UPDATE is revoked, nothing of the kept privileges.
    assert "REVOKE UPDATE ON `smooth_lab`.* FROM '%s'@'127.0.0.1'" % APP in updated['queries']
    assert not [query for query in updated['queries'] if query.startswith('REVOKE') and 'SELECT' in query]
    assert updated['queries'][0] == 'SET SESSION sql_log_bin = 0'
    assert variable(c, 'gtid_binlog_pos') == position != ''
    assert_no_secret(updated, password_hash(a, '127.0.0.1'), *hashes)
    connection = login(c, NEW_PASSWORD)
    connection.close()
    with pytest.raises(pymysql.err.OperationalError) as refused:
        login(c, APP_PASSWORD)
    assert refused.value.args[0] == 1045


def test_accounts_refused_before_any_change(ansible, app_accounts):
    a, c = app_accounts
    unknown = ansible(MODULE, seed_args(c, a, accounts=[APP, 'smooth_lab_nosuch']))
    assert unknown.get('failed') is True
    assert unknown['msg'] == ("Seeding %s:%d from %s:%d: accounts: the source %s:%d has no account named "
                              "'smooth_lab_nosuch'; nothing was changed"
                              % (c.host, c.port, a.host, a.port, a.host, a.port))
    assert unknown['changed'] is False and unknown['queries'] == []

    refused = ansible(MODULE, seed_args(c, a, accounts=['root', 'admin', 'app%', APP]))
    assert refused.get('failed') is True
    assert refused['msg'] == ("Seeding %s:%d from %s:%d: accounts: refusing to copy 'root' (a system account), "
                              "'admin' (an account this module logs in with), 'app%%' (contains the wildcard %%); "
                              "nothing was changed" % (c.host, c.port, a.host, a.port))
    assert refused['changed'] is False
    # Not seeded, no account: nothing happened on c.
    assert not c.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('smooth_lab', 'smooth_mariadb')")
    assert not c.query('SELECT 1 FROM mysql.user WHERE User = %s', (APP,))
