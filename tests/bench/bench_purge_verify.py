# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark of smooth.mariadb.shard_purge (beside pt-archiver) and shard_verify on one table of 1,000,000 rows.

Two loopback servers: a primary P and its replica R (R replicates from P, the
way a node's new partner does, on the default connection so that pt-archiver's
SHOW SLAVE STATUS sees it). Both get the same 1,000,000 rows (BIGINT primary
key = shard key), loaded without binary logging. Then, through ansible-playbook
like a user would run them:

* shard_verify mode=record (P and R as mirrors) and mode=verify against it;
* shard_purge of residue 1 of modulus 2 (about 500,000 rows) on P, with R as
  the partner (the deletes replicate to R) and max_lag 1 s, with chunk_size
  1000 and, after putting the rows back, 5000;
* pt-archiver (Debian's percona-toolkit) on the same rows, P as source and R as
  --check-slave-lag with --max-lag 1: --bulk-delete (one DELETE of a primary key
  range per 1000 rows), then row by row (one DELETE per row, committed per 1000);
  PT_ROW_BY_ROW=0 skips the slow row-by-row run;
* shard_purge with the owner check (option owners): a third server O holds the
  rows of residue 1, as the shard that now owns them would; first in check mode
  (every row looked up on O), then for real, chunk_size 1000.

The rows are put back (without binary logging, on P and R) between the runs,
so every run starts from the same table. Prints the figures and the ratio
shard_purge with owners / pt-archiver --bulk-delete; asserts only that the work
was done (rows gone on both servers), never timings. The machine's load (other
test runs) moves all figures. Run: .venv/bin/python tests/bench/bench_purge_verify.py
(ROWS=200000 in the environment for a quicker run).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
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
PT_ARCHIVER = shutil.which('pt-archiver')
ROW_BY_ROW = os.environ.get('PT_ROW_BY_ROW', '1') != '0'
BUFFER_POOL = 512 * 1024 * 1024
CHUNK = 1000
MAX_LAG = 1


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
    """R replicates from P on the default connection (''): pt-archiver reads SHOW SLAVE STATUS, which shows only that one."""
    position = source.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')[0]['pos']
    replica.query('SET GLOBAL gtid_slave_pos = %s', (position,))
    replica.query("CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, "
                  "MASTER_PASSWORD = %s, MASTER_USE_GTID = slave_pos",
                  (source.host, source.port, REPL_USER, REPL_PASSWORD))
    replica.query('START SLAVE')

    def running():
        row = replica.slaves().get('') or {}
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


def domain_seq(text, domain):
    """The sequence number of ``domain`` in a GTID position text (0 when absent)."""
    for part in (text or '').split(','):
        fields = part.strip().split('-')
        if len(fields) == 3 and int(fields[0]) == domain:
            return int(fields[2])
    return 0


class LagSampler(threading.Thread):
    """R's lag behind P as seen from outside, every INTERVAL: the age of the oldest transaction of P not applied on R.

    A transaction's age counts from the first sample that saw it in P's gtid_binlog_pos, so the
    figure is low by up to INTERVAL. The same measure for shard_purge and pt-archiver.
    """

    INTERVAL = 0.05

    def __init__(self, primary, replica):
        super(LagSampler, self).__init__(daemon=True)
        self.primary = primary
        self.replica = replica
        self.domain = primary.domain_id
        self.seen = []  # (sequence number, first seen)
        self.max_lag = 0.0
        self.samples = 0
        self.done = threading.Event()

    def run(self):
        source = self.primary.root_connection()
        target = self.replica.root_connection()
        try:
            while not self.done.is_set():
                with source.cursor() as cursor:
                    cursor.execute('SELECT @@GLOBAL.gtid_binlog_pos AS pos')
                    produced = domain_seq(cursor.fetchone()['pos'], self.domain)
                now = time.monotonic()
                if not self.seen or produced > self.seen[-1][0]:
                    self.seen.append((produced, now))
                with target.cursor() as cursor:
                    cursor.execute('SELECT @@GLOBAL.gtid_slave_pos AS pos')
                    applied = domain_seq(cursor.fetchone()['pos'], self.domain)
                while self.seen and self.seen[0][0] <= applied:
                    self.seen.pop(0)
                if self.seen:
                    self.max_lag = max(self.max_lag, time.monotonic() - self.seen[0][1])
                self.samples += 1
                self.done.wait(self.INTERVAL)
        finally:
            source.close()
            target.close()

    def stop(self):
        self.done.set()
        self.join(10)
        return self.max_lag


def pt_archiver(primary, replica, bulk):
    """Purge the rows of residue 1 with pt-archiver; returns (wall seconds, its statistics)."""
    argv = [PT_ARCHIVER,
            '--source', 'h=%s,P=%d,u=admin,p=%s,D=bench,t=t' % (primary.host, primary.port, ADMIN_PASSWORD),
            '--purge', '--where', 'id %% %d = 1' % 2, '--limit', str(CHUNK), '--commit-each',
            '--no-safe-auto-increment', '--check-slave-lag', 'h=%s,P=%d,u=admin,p=%s'
            % (replica.host, replica.port, ADMIN_PASSWORD), '--max-lag', str(MAX_LAG), '--statistics']
    if bulk:
        argv.append('--bulk-delete')
    started = time.monotonic()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=7200, check=False)
    wall = time.monotonic() - started
    output = done.stdout.decode('utf-8', 'replace')
    if done.returncode != 0:
        raise SystemExit('pt-archiver failed (%d): %s' % (done.returncode, output.replace(ADMIN_PASSWORD, '***')))
    return wall, output


def purged_everywhere(primary, replica):
    catch_up(replica, primary)
    assert rows(primary, 'id % 2 = 1') == 0 and rows(replica, 'id % 2 = 1') == 0
    assert rows(replica) == rows(primary) == ROWS - (ROWS + 1) // 2


def put_back(primary, replica):
    for server in (primary, replica):
        restore_odd_rows(server)
    assert rows(primary) == rows(replica) == ROWS


def main():
    if not PT_ARCHIVER:
        raise SystemExit('pt-archiver is needed (apt-get install percona-toolkit, or make setup)')
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
        foreign = (ROWS + 1) // 2
        summary = []

        def shard_purge(chunk_size, checked):
            args = dict(primary.login_args(), tables=['bench.t'], key_column='id', modulus=2, owned_residues=[0],
                        chunk_size=chunk_size, max_lag=MAX_LAG, max_pause=600,
                        partner=dict(login_host=replica.host, login_port=replica.port))
            label = 'shard_purge%s chunk_size %d' % (' with owners' if checked else '', chunk_size)
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
            before_binlog = binlog_bytes(primary)
            sampler = LagSampler(primary, replica)
            sampler.start()
            purged, wall = run(ansible, 'smooth.mariadb.shard_purge', args)
            sampled = sampler.stop()
            entry = purged['tables']['bench.t']
            lag_after = catch_up(replica, primary)
            print('%s: deleted %d rows in %d chunks, table %.1f s, %.0f rows/s; module %.1f s (%.0f rows/s), '
                  'wall %.1f s; partner max lag %.3f s as measured by the module (max Seconds_Behind_Master %s), '
                  '%.3f s as sampled on R; paused %.1f s; R caught up %.2f s after; binlog +%.1f MiB'
                  % (label, entry['deleted'], entry['chunks'], entry['elapsed'], entry['rows_per_second'],
                     purged['elapsed'], entry['deleted'] / purged['elapsed'], wall, purged['max_partner_lag'],
                     purged['max_partner_seconds_behind_master'], sampled, purged['paused'], lag_after,
                     (binlog_bytes(primary) - before_binlog) / 1048576.0))
            assert entry['deleted'] == foreign
            purged_everywhere(primary, replica)
            summary.append((label, entry['rows_per_second'], entry['deleted'] / purged['elapsed'], sampled))
            if checked:
                again, wall = run(ansible, 'smooth.mariadb.shard_purge', args)
                print('shard_purge rerun: changed=%s deleted=%d, module %.1f s (one scan to find nothing)'
                      % (again['changed'], again['deleted'], again['elapsed']))
            return entry['rows_per_second']

        def archiver(bulk):
            label = 'pt-archiver %s' % ('--bulk-delete' if bulk else 'row by row')
            before_binlog = binlog_bytes(primary)
            sampler = LagSampler(primary, replica)
            sampler.start()
            wall, output = pt_archiver(primary, replica, bulk)
            sampled = sampler.stop()
            lag_after = catch_up(replica, primary)
            statistics = ' '.join(line.strip() for line in output.splitlines() if re.match(r'(SELECT|DELETE) ', line))
            print('%s --limit %d: deleted %d rows, wall %.1f s, %.0f rows/s (%s); R lag %.3f s as sampled on R; '
                  'R caught up %.2f s after; binlog +%.1f MiB'
                  % (label, CHUNK, foreign, wall, foreign / wall, statistics, sampled, lag_after,
                     (binlog_bytes(primary) - before_binlog) / 1048576.0))
            purged_everywhere(primary, replica)
            summary.append((label, foreign / wall, foreign / wall, sampled))
            return foreign / wall

        shard_purge(CHUNK, False)
        put_back(primary, replica)
        shard_purge(5000, False)
        put_back(primary, replica)
        bulk = archiver(True)
        put_back(primary, replica)
        checked = shard_purge(CHUNK, True)
        if ROW_BY_ROW:
            put_back(primary, replica)
            archiver(False)

        print('summary: %d rows, %d deleted per run, lag bound %s s (pt-archiver reads whole seconds of '
              'Seconds_Behind_Master)' % (ROWS, foreign, MAX_LAG))
        for label, table_rate, whole_rate, sampled in summary:
            print('  %-40s %8.0f rows/s  (whole run %8.0f rows/s)  max lag sampled on R %.3f s'
                  % (label, table_rate, whole_rate, sampled))
        print('ratio shard_purge with owners / pt-archiver --bulk-delete: %.2f' % (checked / bulk))


if __name__ == '__main__':
    main()
