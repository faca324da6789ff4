# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark of smooth.mariadb.shard_purge and shard_verify on one table of 1,000,000 rows.

Two loopback servers: a primary P and its replica R (R replicates from P, the
way a node's new partner does). Both get the same 1,000,000 rows (BIGINT
primary key = shard key), loaded without binary logging. Then, through
ansible-playbook like a user would run them:

* shard_verify mode=record (P and R as mirrors) and mode=verify against it;
* shard_purge of residue 1 of modulus 2 (about 500,000 rows) on P, with R as
  the partner (the deletes replicate to R) and max_lag 2 s, with chunk_size
  1000 and, after putting the rows back, 5000;
* the same with the owner check (option owners): a third server O holds the
  rows of residue 1, as the shard that now owns them would; first in check
  mode (every row looked up on O), then for real (each chunk looked up on O,
  then deleted by primary key), chunk_size 1000.

Prints the figures; asserts only that the work was done (rows gone on both
servers), never timings. Run: .venv/bin/python tests/bench/bench_purge_verify.py
(ROWS=200000 in the environment for a quicker run).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'integration'))

from mariadb_lab import (  # noqa: E402 pylint: disable=wrong-import-position
    ADMIN_PASSWORD,
    REPL_PASSWORD,
    REPL_USER,
    AnsibleRunner,
    _collections_root,
    running_servers,
    wait_for,
)

ROWS = int(os.environ.get('ROWS', '1000000'))
BUFFER_POOL = 512 * 1024 * 1024


def load(server, where='1'):
    server.query('SET GLOBAL innodb_buffer_pool_size = %s', (BUFFER_POOL,))
    started = time.monotonic()
    server.setup_sql([
        'CREATE DATABASE bench',
        'CREATE TABLE bench.t (id BIGINT NOT NULL PRIMARY KEY, grp INT NOT NULL, payload VARCHAR(64) NOT NULL, '
        'created DATETIME NOT NULL) ENGINE=InnoDB',
        "INSERT INTO bench.t SELECT seq, seq %% 997, REPEAT(CHAR(97 + seq %% 26), 40), "
        "'2026-01-01' + INTERVAL seq SECOND FROM bench.seq_1_to_%d WHERE %s" % (ROWS, where),
    ])
    return time.monotonic() - started


def restore_odd_rows(server):
    server.setup_sql([
        "INSERT INTO bench.t SELECT seq, seq %% 997, REPEAT(CHAR(97 + seq %% 26), 40), "
        "'2026-01-01' + INTERVAL seq SECOND FROM bench.seq_1_to_%d WHERE seq %% 2 = 1" % ROWS,
    ])


def rows(server, where='1'):
    return server.query('SELECT COUNT(*) AS n FROM bench.t WHERE %s' % where)[0]['n']


def replicate(replica, source):
    position = source.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')[0]['pos']
    replica.query('SET GLOBAL gtid_slave_pos = %s', (position,))
    replica.query("CHANGE MASTER 'from_p' TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, "
                  "MASTER_PASSWORD = %s, MASTER_USE_GTID = slave_pos",
                  (source.host, source.port, REPL_USER, REPL_PASSWORD))
    replica.query("START SLAVE 'from_p'")

    def running():
        row = replica.slaves().get('from_p') or {}
        return row.get('Slave_IO_Running') == 'Yes' and row.get('Slave_SQL_Running') == 'Yes'
    wait_for(running, timeout=20, what='R replicating from P')


def catch_up(replica, source, timeout=300):
    position = source.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')[0]['pos']
    started = time.monotonic()
    waited = replica.query('SELECT MASTER_GTID_WAIT(%s, %s) AS w', (position, timeout))[0]['w']
    if waited != 0:
        raise SystemExit('R did not catch up with P within %d s' % timeout)
    return time.monotonic() - started


def binlog_bytes(server):
    return sum(int(row['File_size']) for row in server.query('SHOW BINARY LOGS'))


def run(ansible, module, args):
    started = time.monotonic()
    result = ansible(module, args)
    wall = time.monotonic() - started
    if result.get('failed'):
        raise SystemExit('%s failed: %s' % (module, result.get('msg')))
    return result, wall


def main():
    with running_servers([('p', 31, 1, 1), ('r', 32, 2, 2), ('o', 33, 3, 1)]) as (primary, replica, owner):
        collections_root, dummy = _collections_root()
        ansible = AnsibleRunner(tempfile.mkdtemp(prefix='bench-purge-'), collections_root)
        for server in (primary, replica):
            seconds = load(server)
            print('load %s: %d rows in %.1f s (%.0f rows/s), not binlogged'
                  % (server.name, ROWS, seconds, ROWS / seconds))
        seconds = load(owner, 'seq % 2 = 1')
        print('load o: the %d rows of residue 1 in %.1f s, not binlogged' % (rows(owner), seconds))
        replicate(replica, primary)
        primary.setup_sql(['ANALYZE TABLE bench.t'])
        size = primary.query("SELECT data_length + index_length AS b FROM information_schema.TABLES "
                             "WHERE table_schema = 'bench' AND table_name = 't'")[0]['b']
        print('table bench.t: %d rows, %.1f MiB (InnoDB data+index), buffer pool %d MiB per server'
              % (ROWS, int(size) / 1048576.0, BUFFER_POOL // 1048576))

        login = dict(login_user='admin', login_password=ADMIN_PASSWORD, config_file='')
        servers = [dict(name='p', login_host=primary.host, login_port=primary.port),
                   dict(name='r', login_host=replica.host, login_port=replica.port)]
        verify_args = dict(login, servers=servers, tables=['bench.t'], key_column='id')
        baseline_file = os.path.join(ansible.work_dir, 'baseline.json')
        recorded, wall = run(ansible, 'smooth.mariadb.shard_verify',
                             dict(verify_args, mode='record', baseline_file=baseline_file))
        print('shard_verify record: 2 servers x %d rows (mirrors + union), module %.1f s, wall %.1f s '
              '(%.0f rows/s read, servers one after the other)'
              % (ROWS, recorded['report']['elapsed'], wall, 2 * ROWS / recorded['report']['elapsed']))
        verified, wall = run(ansible, 'smooth.mariadb.shard_verify',
                             dict(verify_args, mode='verify', baseline_file=baseline_file))
        print('shard_verify verify: 2 servers x %d rows, module %.1f s, wall %.1f s (%.0f rows/s read), failures %d'
              % (ROWS, verified['report']['elapsed'], wall, 2 * ROWS / verified['report']['elapsed'],
                 len(verified['failures'])))

        owners = [dict(residues=[1], login_host=owner.host, login_port=owner.port)]
        for chunk_size, checked in ((1000, False), (5000, False), (1000, True)):
            before_binlog = binlog_bytes(primary)
            args = dict(primary.login_args(), tables=['bench.t'], key_column='id', modulus=2, owned_residues=[0],
                        chunk_size=chunk_size, max_lag=2, max_pause=600,
                        partner=dict(login_host=replica.host, login_port=replica.port))
            if checked:
                args['owners'] = owners
                started = time.monotonic()
                looked = ansible('smooth.mariadb.shard_purge', args, check=True)
                wall = time.monotonic() - started
                if looked.get('failed'):
                    raise SystemExit('shard_purge check mode with owners failed: %s' % looked.get('msg'))
                print('shard_purge check mode with owners: looked up %d rows on O, %d missing, module %.1f s, '
                      'wall %.1f s (%.0f rows/s)'
                      % (looked['tables']['bench.t']['foreign_rows_at_start'],
                         looked['tables']['bench.t']['missing_on_owner'], looked['elapsed'], wall,
                         looked['tables']['bench.t']['foreign_rows_at_start'] / looked['elapsed']))
            purged, wall = run(ansible, 'smooth.mariadb.shard_purge', args)
            entry = purged['tables']['bench.t']
            lag_after = catch_up(replica, primary)
            print('shard_purge%s chunk_size %d: deleted %d rows in %d chunks, table %.1f s, %.0f rows/s; '
                  'module %.1f s, wall %.1f s; partner max lag %.3f s (max Seconds_Behind_Master %s), paused %.1f s; '
                  'R caught up %.2f s after; binlog +%.1f MiB'
                  % (' with owners' if checked else '', chunk_size, entry['deleted'], entry['chunks'], entry['elapsed'], entry['rows_per_second'],
                     purged['elapsed'], wall, purged['max_partner_lag'],
                     purged['max_partner_seconds_behind_master'], purged['paused'], lag_after,
                     (binlog_bytes(primary) - before_binlog) / 1048576.0))
            assert rows(primary, 'id % 2 = 1') == 0 and rows(replica, 'id % 2 = 1') == 0
            assert rows(replica) == rows(primary) == ROWS - (ROWS + 1) // 2
            again, wall = run(ansible, 'smooth.mariadb.shard_purge', args)
            print('shard_purge rerun: changed=%s deleted=%d, module %.1f s (one scan to find nothing)'
                  % (again['changed'], again['deleted'], again['elapsed']))
            if not checked:
                for server in (primary, replica):
                    restore_odd_rows(server)
                assert rows(primary) == rows(replica) == ROWS


if __name__ == '__main__':
    main()
