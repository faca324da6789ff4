# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""expansion_info on real servers, through Ansible: one read of what the phases decide on."""

from __future__ import annotations

import socket

from mariadb_lab import start_replication

INFO = 'smooth.mariadb.expansion_info'


def test_one_read_of_connections_gtids_split_points_and_marks(ansible, servers, tmp_path):
    a, b = servers.a, servers.b
    start_replication(a, b, name='from_b')
    a.setup_sql([
        'CREATE DATABASE IF NOT EXISTS smooth_mariadb',
        'CREATE TABLE IF NOT EXISTS smooth_mariadb.split_point (version INT NOT NULL PRIMARY KEY, modulus INT NOT NULL, '
        'gtid_binlog_pos TEXT NOT NULL, recorded_at DATETIME NOT NULL) ENGINE=InnoDB',
        "REPLACE INTO smooth_mariadb.split_point VALUES (2, 4, '1-11-5', '2026-12-03 10:00:00')",
    ])
    state_dir = tmp_path / 'state'
    state_dir.mkdir()
    (state_dir / 'expansion-2.cleanup').write_text('cleanup of map version 2 (modulus 4) began 2026-12-03T10:00:00Z\n')
    (state_dir / 'expansion-1.cleanup').write_text('begun, no modulus written\n')
    (state_dir / 'README').write_text('not a mark (modulus 8)\n')
    (state_dir / 'expansion-2.done').write_text('expansion to shard map version 2 (modulus 4) verified\n')
    try:
        done = ansible(INFO, dict(a.login_args(), state_dir=str(state_dir)), check=True)
        assert done.returncode == 0, done.output
        assert done['changed'] is False and done['running'] is True and done['source'] == 'server'
        assert done['identity']['server_id'] == 11 and done['identity']['gtid_domain_id'] == 1
        assert list(done['connections']) == ['from_b']
        link = done['connections']['from_b']
        assert link['source_host'] == b.host and link['source_port'] == b.port and link['running'] is True
        binlog_pos = a.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')[0]['pos']
        assert done['gtid_binlog_pos'] == binlog_pos
        assert done['split_points'] == [{'version': 2, 'modulus': 4, 'gtid_binlog_pos': '1-11-5',
                                         'recorded_at': '2026-12-03 10:00:00'}]
        assert [(mark['mark'], mark['modulus']) for mark in done['cleanup_marks']] == [
            ('expansion-1.cleanup', None), ('expansion-2.cleanup', 4)]
        assert done['cleanup_marks'][1]['path'] == str(state_dir / 'expansion-2.cleanup')
        assert [(mark['mark'], mark['modulus']) for mark in done['done_marks']] == [('expansion-2.done', 4)]
        assert done['seeded'] is False and 'smoke' in done['user_databases']
        assert done['variables']['binlog_format'] == 'ROW' and done['variables']['log_slave_updates'] is True
        expected_bytes = a.query("SELECT SUM(data_length + index_length) AS n FROM information_schema.tables "
                                 "WHERE table_schema = 'smoke'")[0]['n']
        assert done['data_bytes'] == int(expected_bytes) and done['data_bytes'] > 0
        assert done['disk']['path'] == done['datadir'].rstrip('/') and done['disk']['free_bytes'] > 0
    finally:
        a.setup_sql(['DROP DATABASE IF EXISTS smooth_mariadb'])


def test_a_stopped_server_is_read_from_its_datadir_with_no_connection(ansible, tmp_path):
    # The free space of a datadir not made yet is that of the directory it will be made in.
    done = ansible(INFO, {'login_unix_socket': str(tmp_path / 'absent.sock'), 'datadir': str(tmp_path / 'a' / 'b'),
                          'state_dir': str(tmp_path / 'no-state-dir')})
    assert done.returncode == 0, done.output
    assert done['disk']['path'] == str(tmp_path) and done['disk']['free_bytes'] > 0

    datadir = tmp_path / 'data'
    (datadir / 'mysql').mkdir(parents=True)
    (datadir / 'smooth_mariadb').mkdir()
    (datadir / 'smooth_mariadb' / 'seed.frm').write_text('x')
    (datadir / 'shop').mkdir()
    (datadir / 'shop' / 'db.opt').write_text('default-character-set=utf8mb4\n')
    done = ansible(INFO, {'login_unix_socket': str(tmp_path / 'absent.sock'), 'datadir': str(datadir),
                          'state_dir': str(tmp_path / 'no-state-dir')})
    assert done.returncode == 0, done.output
    assert done['running'] is False and done['connections'] == {} and done['split_points'] == []
    assert done['cleanup_marks'] == [] and done['done_marks'] == []
    assert done['seeded'] is True and done['user_databases'] == ['shop']
    assert done['variables'] == {} and done['data_bytes'] is None and done['disk']['path'] == str(datadir)


def test_a_server_that_died_and_left_its_socket_may_be_read_again(ansible, servers, tmp_path):
    # kill -9 of mariadbd leaves its socket file: nothing listens there until systemd has restarted it. The
    # plan must say so and may read again (retryable), not stop as for a wrong password.
    stale = tmp_path / 'mysqld.sock'
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(stale))
    listener.close()
    assert stale.exists()
    done = ansible(INFO, {'login_unix_socket': str(stale), 'state_dir': str(tmp_path / 'no-state-dir')})
    assert done.get('failed') and done['retryable'] is True, done.result
    assert done['errno'] in (2002, 2003), done.result
    assert 'The server does not answer: it does not run (its socket file is left from a server that died)' in done['msg']
    assert 'Nothing was changed.' in done['msg']

    # A refusal that waiting does not mend is not retryable.
    done = ansible(INFO, dict(servers.a.login_args(login_password='not-the-password'),
                              state_dir=str(tmp_path / 'no-state-dir')))
    assert done.get('failed') and done['retryable'] is False and done['errno'] == 1045, done.result
