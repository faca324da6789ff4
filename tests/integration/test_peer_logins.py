# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smooth.mariadb.peer_logins on a real server: the logins a run makes, finds left by a stopped run, and removes;
read-only privileges that really refuse writes; nothing in the binary log."""

from __future__ import annotations

import json

import pymysql
import pytest

MODULE = 'smooth.mariadb.peer_logins'
USER = 'smooth_peer_it'
PASSWORD = 'Peer-Pw-51c2-Lab'
OTHER_PASSWORD = 'Peer-Pw-Other-77a'
HOSTS = ['127.0.0.1', '192.0.2.77']
KEEP = ['localhost', '192.0.2.1']


def logins(server):
    return sorted(row['host'] for row in server.query('SELECT Host AS host FROM mysql.user WHERE User = %s', (USER,)))


def binlog_pos(server):
    return server.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')[0]['pos']


def log_in(server, password):
    return pymysql.connect(host=server.host, port=server.port, user=USER, password=password, connect_timeout=5,
                           autocommit=True)


@pytest.fixture
def server(servers):
    a = servers.a
    a.setup_sql(["DROP USER IF EXISTS '%s'@'%s'" % (USER, host) for host in HOSTS + KEEP])
    a.setup_sql(["CREATE USER '%s'@'192.0.2.1' IDENTIFIED BY 'operator-pw-1'" % USER])
    try:
        yield a
    finally:
        a.setup_sql(["DROP USER IF EXISTS '%s'@'%s'" % (USER, host) for host in HOSTS + KEEP])


def args(server, **overrides):
    options = dict(server.login_args(), user=USER, password=PASSWORD, hosts=HOSTS + KEEP, keep=KEEP)
    options.update(overrides)
    return options


def test_a_run_makes_read_only_logins_that_never_reach_the_binary_log_and_removes_them(ansible, server):
    before = binlog_pos(server)
    made = ansible(MODULE, args(server))
    assert not made.get('failed'), made
    assert made['created'] == HOSTS and not made['changed'] and made['left'] == []
    assert all(PASSWORD not in query for query in made['queries'])
    assert logins(server) == sorted(HOSTS + ['192.0.2.1'])
    connection = log_in(server, PASSWORD)
    try:
        with connection.cursor() as cursor:
            cursor.execute('SELECT COUNT(*) FROM mysql.user')
            with pytest.raises(pymysql.err.OperationalError) as refused:
                cursor.execute('CREATE DATABASE smooth_peer_it_db')
            assert refused.value.args[0] == 1044
    finally:
        connection.close()
    # Asked again in the same run (the seed phase after the logins play): nothing to do.
    again = ansible(MODULE, args(server, made_by_run=made['created']))
    assert not again['changed'] and again['queries'] == [] and again['created'] == []
    removed = ansible(MODULE, args(server, state='absent', made_by_run=made['created']))
    assert removed['removed'] == HOSTS and not removed['changed']
    assert logins(server) == ['192.0.2.1']
    assert binlog_pos(server) == before


def test_a_login_left_by_a_stopped_run_is_set_again_with_the_password_and_reported(ansible, server):
    ansible(MODULE, args(server, password=OTHER_PASSWORD))
    server.setup_sql(["GRANT INSERT ON *.* TO '%s'@'127.0.0.1'" % USER])
    predicted = ansible(MODULE, args(server), check=True)
    assert predicted['changed'] and predicted['left'] == HOSTS and predicted['reset'] == [] and predicted['queries'] == []
    log_in(server, OTHER_PASSWORD).close()
    reset = ansible(MODULE, args(server))
    assert reset['changed'] and reset['reset'] == HOSTS and reset['created'] == []
    log_in(server, PASSWORD).close()
    grants = ' '.join(list(row.values())[0] for row in server.query("SHOW GRANTS FOR '%s'@'127.0.0.1'" % USER))
    assert 'INSERT' not in grants and 'SELECT' in grants
    removed = ansible(MODULE, args(server, state='absent'))
    assert removed['changed'] and removed['removed'] == HOSTS


def test_check_mode_makes_the_logins_only_when_told_and_removes_only_those(ansible, server):
    dry = ansible(MODULE, args(server), check=True)
    assert dry['created'] == [] and logins(server) == ['192.0.2.1']
    made = ansible(MODULE, args(server, create_in_check_mode=True), check=True)
    assert made['created'] == HOSTS and not made['changed']
    server.setup_sql(["CREATE USER '%s'@'192.0.2.99' IDENTIFIED BY 'x-pw-12345678'" % USER])
    end = ansible(MODULE, args(server, hosts=HOSTS + ['192.0.2.99'], state='absent', made_by_run=HOSTS), check=True)
    assert end['removed'] == HOSTS and end['left'] == ['192.0.2.99'] and not end['changed']
    assert logins(server) == ['192.0.2.1', '192.0.2.99']
    server.setup_sql(["DROP USER '%s'@'192.0.2.99'" % USER])


@pytest.mark.parametrize('overrides, said', [
    ({'privileges': ['SELECT', 'INSERT']}, "'INSERT' is not one of"),
    ({'password': None}, 'password: required with state=present'),
    ({'hosts': ['127.0.0.1', '']}, 'an empty host would match every host'),
])
def test_bad_options_change_nothing(ansible, server, overrides, said):
    done = ansible(MODULE, args(server, **overrides))
    assert done['failed'] and done['reason'] == 'bad_options' and said in done['msg'], done
    assert logins(server) == ['192.0.2.1']


def end_of_dry_run(ansible, server, lock_path):
    """The role's last step of a dry run (roles/smooth/tasks/peer_logins_remove.yml), after it made HOSTS."""
    return ansible('ansible.builtin.include_role', {'name': 'smooth.mariadb.smooth', 'tasks_from': 'peer_logins_remove'},
                   check=True, task_vars={
                       'smooth_login_unix_socket': server.socket, 'smooth_admin_user': USER,
                       'smooth_admin_peer_addresses': HOSTS, 'smooth_admin_hosts': ['192.0.2.1'],
                       'smooth_admin_peer_created': HOSTS, 'smooth_run_read_only': True,
                       'smooth_run': {'run_id': 'dry-run-1', 'playbook': 'expand_2n.yml'},
                       '__smooth_run_lock_path': str(lock_path)})


def test_a_dry_run_removes_its_logins_at_its_end_while_no_run_holds_the_lock(ansible, server, tmp_path):
    assert ansible(MODULE, args(server, create_in_check_mode=True), check=True)['created'] == HOSTS
    done = end_of_dry_run(ansible, server, tmp_path / 'run.lock')
    assert done.returncode == 0, done.output[-3000:]
    assert logins(server) == ['192.0.2.1']
    assert 'holds the lock of the fleet' not in done.stdout


def test_a_dry_run_leaves_its_logins_to_a_real_run_that_took_the_lock_since(ansible, server, tmp_path):
    # A dry run takes no lock: a real run started after it made its logins, took the lock, found the logins
    # there (it made none of its own) and uses them. Removed now, that run's seed or cleanup would fail to log in.
    assert ansible(MODULE, args(server, create_in_check_mode=True), check=True)['created'] == HOSTS
    lock = tmp_path / 'run.lock'
    lock.write_text(json.dumps({'run_id': 'real-run-7', 'playbook': 'expand_2n.yml', 'controller': 'ops-1',
                                'user': 'dba', 'pid': 4242, 'pid_start': 1, 'started_at': '2026-12-04T21:00:00Z'}) + '\n')
    done = end_of_dry_run(ansible, server, lock)
    assert done.returncode == 0, done.output[-3000:]
    assert logins(server) == sorted(HOSTS + ['192.0.2.1'])
    said = ' '.join(done.stdout.split())
    assert 'run real-run-7 (expand_2n.yml, user dba on ops-1) holds the lock of the fleet' in said, said[-3000:]
    assert 'The logins this dry run made (127.0.0.1, 192.0.2.77) stay for it' in said
    # The lock is the real run's still: a dry run never writes it.
    assert json.loads(lock.read_text())['run_id'] == 'real-run-7'
