# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark: smooth.mariadb.seed (methods dump and mariabackup) of one 1,000,000-row InnoDB table.

Starts two throw-away servers on loopback (tests/integration/mariadb_lab.py:
32M buffer pool unless --buffer-pool says otherwise, innodb_flush_log_at_trx_commit=2,
sync_binlog=0), fills one
table on the source (BIGINT primary key, BIGINT shard key, ~100 bytes a row),
runs the module through ansible-playbook and prints seconds, rows/s, MB/s,
the SQL bytes streamed and the bytes the source sent over the wire (its
Bytes_sent counter, compressed protocol). With --method mariabackup (or both)
a third server is seeded with a physical backup of the source (mariabackup
run locally against the source's socket, the target stopped and started by
scripts) and the xbstream bytes are printed. In the same run, on the same data,
the raw copies the seed is measured against: ``mariabackup --backup
--stream=xbstream | mbstream -x`` (a shell pipe, nothing else) and ``tar`` of
the datadir of a stopped server into a new directory; then one line per method
with its MB/s and its share of the raw rate. Not part of CI; timings are
printed, never asserted.

    .venv/bin/python tests/bench/bench_seed.py [--rows N] [--compress auto|yes|no] [--method dump|mariabackup|both]
        [--buffer-pool 1G]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'integration'))

from mariadb_lab import (  # noqa: E402  pylint: disable=wrong-import-position
    AnsibleRunner,
    _collections_root,
    find_server_binaries,
    running_servers,
    take_back,
    write_service_scripts,
)

TABLE_SQL = [
    'CREATE DATABASE bench',
    'CREATE TABLE bench.orders (id BIGINT NOT NULL PRIMARY KEY, shard_key BIGINT NOT NULL, customer_id INT NOT NULL, '
    'amount DECIMAL(12,2) NOT NULL, status VARCHAR(16) NOT NULL, note VARCHAR(48) NOT NULL, '
    'created_at DATETIME NOT NULL) ENGINE=InnoDB',
]
# Built after the fill, in one sorted pass: filled with the index in place, 1 GB took 12 minutes (random inserts
# into a secondary index through a 32M buffer pool).
INDEX_SQL = 'ALTER TABLE bench.orders ADD KEY shard_key (shard_key)'
FILL_SQL = ("INSERT INTO bench.orders SELECT seq, seq * 7919 %% 1000003, seq %% 50000, (seq %% 100000) / 100, "
            "ELT(seq %% 4 + 1, 'new', 'paid', 'shipped', 'closed'), CONCAT('note ', MD5(seq)), "
            "'2024-01-01' + INTERVAL (seq %% 31536000) SECOND FROM bench.seq_%d_to_%d")


def bytes_sent(server):
    return int(server.query("SHOW GLOBAL STATUS LIKE 'Bytes_sent'")[0]['Value'])


def tree_bytes(path):
    """Bytes of the regular files under path."""
    total = 0
    for root, dummy, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            if os.path.isfile(full) and not os.path.islink(full):
                total += os.path.getsize(full)
    return total


def timed_shell(command, timeout=3600):
    """Run a shell pipeline; (seconds, rc, stderr tail)."""
    started = time.monotonic()
    proc = subprocess.run(['bash', '-o', 'pipefail', '-c', command], capture_output=True, text=True, timeout=timeout,
                          check=False)
    return time.monotonic() - started, proc.returncode, proc.stderr[-600:]


def raw_copy(name, command, destination, figures):
    """Time one raw copy (a shell pipe) into destination; append its figures; returns 1 on failure."""
    seconds, rc, err = timed_shell(command)
    if rc != 0:
        print('%s failed (rc %d): %s' % (name, rc, err))
        return 1
    copied = tree_bytes(destination)
    figures.append((name, copied, seconds))
    print('%s: %.1f MB in %.2f s' % (name, copied / 1e6, seconds))
    return 0


def bench_raw(source, third, work_dir, figures):
    """The raw copies of the same data: mariabackup | mbstream from the running source, tar of a stopped datadir."""
    raw_dir, scratch, tar_dir = (os.path.join(work_dir, name) for name in ('raw-backup', 'raw-scratch', 'raw-tar'))
    for directory in (raw_dir, scratch, tar_dir):
        os.makedirs(directory)
    command = ('mariabackup --no-defaults --backup --stream=xbstream --target-dir=%s --socket=%s --user=root '
               '--datadir=%s 2>/dev/null | mbstream -x -C %s'
               % tuple(shlex.quote(value) for value in (scratch, source.socket, source.datadir, raw_dir)))
    if raw_copy('raw mariabackup --stream | mbstream -x', command, raw_dir, figures):
        return 1
    # tar of a stopped datadir: the third server holds the same data after its mariabackup seed.
    third.stop()
    command = 'tar -C %s -cf - . | tar -C %s -xf -' % (shlex.quote(third.datadir), shlex.quote(tar_dir))
    return raw_copy('raw tar of a stopped datadir', command, tar_dir, figures)


def print_rates(figures, data_bytes):
    """One line per copy: MB/s of what it moved, MB/s of the table's data (the same for all), share of the raw pipe."""
    raw = [seconds for name, copied, seconds in figures if name.startswith('raw mariabackup')]
    print('\nrates on the same data in this run (%.1f MB of InnoDB data and indexes):' % (data_bytes / 1e6))
    header = ('copy', 'moved MB/s', 'data MB/s', 'moved MB', 'seconds', 'data rate against the raw mariabackup pipe')
    print('  %-52s %12s %12s %10s %9s  %s' % header)
    for name, copied, seconds in figures:
        share = '%.0f%%' % (100 * raw[0] / seconds) if raw else '-'
        values = (name, copied / 1e6 / seconds, data_bytes / 1e6 / seconds, copied / 1e6, seconds, share)
        print('  %-52s %12.1f %12.1f %10.1f %9.2f  %s' % values)


def bench_mariabackup(ansible, source, target, work_dir, rows, figures):
    """Seed target from source with method mariabackup; print the figures; returns 1 on failure."""
    mariadbd = find_server_binaries()[0]
    scripts = os.path.join(work_dir, 'phy-scripts')
    os.makedirs(scripts)
    stop, start, dummy = write_service_scripts(target, mariadbd, scripts)
    backup = ['mariabackup', '--no-defaults', '--backup', '--stream=xbstream', '--target-dir=%s' % scripts,
              '--socket=%s' % source.socket, '--user=root', '--datadir=%s' % source.datadir]
    try:
        wall = time.monotonic()
        result = ansible('smooth.mariadb.seed', dict(
            target.login_args(), source=dict(login_host=source.host, login_port=source.port), method='mariabackup',
            backup_command=backup, datadir=target.datadir, work_dir=os.path.join(work_dir, 'phy-work'),
            stop_command=[stop], start_command=[start], row_count='auto'), timeout=3600)
        wall = time.monotonic() - wall
        if result.get('failed'):
            print('seed (method mariabackup) failed: %s' % result.get('msg'))
            return 1
        seconds = result['seconds']
        copied = result['tables']['bench.orders']
        same = (source.query('CHECKSUM TABLE bench.orders')[0]['Checksum']
                == target.query('CHECKSUM TABLE bench.orders')[0]['Checksum'])
        print('seed (method mariabackup, row_count auto as the role sets it: %s): %d rows (of %d) in %.2f s (module), '
              '%.2f s (ansible-playbook wall)' % (result['row_count'], copied, rows, seconds, wall))
        steps = result.get('step_seconds') or {}
        print('steps (s): %s; the rest of the module %.2f s'
              % (', '.join('%s %.2f' % item for item in steps.items()), seconds - sum(steps.values())))
        print('rate: %.0f rows/s, %.1f MB/s of xbstream' % (copied / seconds, result['bytes'] / 1e6 / seconds))
        print('bytes: %d xbstream streamed into mbstream; old datadir kept at %s' % (result['bytes'], result['old_datadir']))
        print('coordinates: gtid_slave_pos=%s, %s:%s; checksums equal: %s'
              % (result['gtid_slave_pos'], result['source_log_file'], result['source_log_pos'], same))
        figures.append(('seed mariabackup (module: stream, prepare, restart)', result['bytes'], seconds))
        figures.append(('seed mariabackup (ansible-playbook wall)', result['bytes'], wall))
        if steps.get('stream'):
            figures.append(('seed mariabackup (its stream step only)', result['bytes'], steps['stream']))
    finally:
        take_back(target, mariadbd, stop)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--rows', type=int, default=1000000)
    parser.add_argument('--compress', choices=['auto', 'yes', 'no'], default='auto',
                        help='the dump: auto (the module decides by the route: loopback, not compressed), yes or no')
    parser.add_argument('--method', choices=['dump', 'mariabackup', 'both'], default='both')
    parser.add_argument('--buffer-pool', default='32M',
                        help='innodb_buffer_pool_size of every server (32M: a dump that loads more than fits pages '
                             'its index in and out; a shard of a real fleet has its data mostly in memory)')
    args = parser.parse_args()
    os.environ['SMOOTH_MARIADB_LAB_BUFFER_POOL'] = args.buffer_pool

    collections_root, temp_root = _collections_root()
    work_dir = tempfile.mkdtemp(prefix='smooth-mariadb-bench-')
    try:
        with running_servers([('src', 21, 21, 1), ('dst', 22, 22, 2), ('phy', 23, 23, 1)]) as (source, target, third):
            started = time.monotonic()
            connection = source.root_connection()
            with connection.cursor() as cursor:
                for sql in TABLE_SQL:
                    cursor.execute(sql)
                for first in range(1, args.rows + 1, 100000):
                    cursor.execute(FILL_SQL % (first, min(first + 99999, args.rows)))
                cursor.execute(INDEX_SQL)
                cursor.execute('ANALYZE TABLE bench.orders')
                cursor.fetchall()
            connection.close()
            size = source.query("SELECT DATA_LENGTH + INDEX_LENGTH AS size, AVG_ROW_LENGTH AS avg FROM "
                                "information_schema.TABLES WHERE TABLE_SCHEMA = 'bench'")[0]
            print('source filled: %d rows in %.1f s; InnoDB data+index %.1f MB, avg row %d bytes; buffer pool %s '
                  'on every server' % (args.rows, time.monotonic() - started, size['size'] / 1e6, size['avg'],
                                       args.buffer_pool))

            ansible = AnsibleRunner(work_dir, collections_root)
            figures = []
            if args.method in ('mariabackup', 'both'):
                if bench_mariabackup(ansible, source, third, work_dir, args.rows, figures):
                    return 1
            # The raw copies right after the backup seed, so that a dump that fails still leaves them.
            if bench_raw(source, third, work_dir, figures):
                return 1
            if args.method == 'mariabackup':
                print_rates(figures, size['size'])
                return 0
            sent_before = bytes_sent(source)
            wall = time.monotonic()
            result = ansible('smooth.mariadb.seed', dict(
                target.login_args(), source=dict(login_host=source.host, login_port=source.port), databases=['bench'],
                compress=None if args.compress == 'auto' else args.compress == 'yes', row_count='exact'),
                timeout=3600)
            wall = time.monotonic() - wall
            wire = bytes_sent(source) - sent_before
            if result.get('failed'):
                print('seed failed: %s' % result.get('msg'))
                return 1
            seconds = result['seconds']
            rows = result['tables']['bench.orders']
            same = (source.query('CHECKSUM TABLE bench.orders')[0]['Checksum']
                    == target.query('CHECKSUM TABLE bench.orders')[0]['Checksum'])
            print('seed (method dump, compress=%s: %s): %d rows in %.2f s (module), %.2f s (ansible-playbook wall)'
                  % (result['compress'], result['compress_reason'], rows, seconds, wall))
            print('rate: %.0f rows/s, %.1f MB/s of SQL' % (rows / seconds, result['bytes'] / 1e6 / seconds))
            print('bytes: %d SQL streamed into mariadb; %d sent by the source over the wire (ratio %.2f)'
                  % (result['bytes'], wire, wire / float(result['bytes'])))
            print('coordinates: gtid_slave_pos=%s, %s:%s; target gtid_binlog_pos=%r; checksums equal: %s'
                  % (result['gtid_slave_pos'], result['source_log_file'], result['source_log_pos'],
                     target.query('SELECT @@GLOBAL.gtid_binlog_pos AS p')[0]['p'], same))
            figures.append(('seed dump, compress=%s (module; bytes of SQL)' % result['compress'], result['bytes'],
                            seconds))
            print_rates(figures, size['size'])
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
        if temp_root:
            shutil.rmtree(temp_root, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
