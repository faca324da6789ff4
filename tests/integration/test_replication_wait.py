# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smooth.mariadb.replication_wait (the catch-up barrier) on the a <-> b pair, through Ansible.

The replica is held back for real: a transaction on the replica locks a row
that the source then updates, so the replica's SQL thread waits on that lock
and everything behind it queues. The barrier must wait until the lock goes,
fail with the lag when it does not go in time, and fail at once when the
connection is stopped or broken.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from mariadb_lab import ADMIN_PASSWORD, BackgroundWriter, catch_up, start_replication

MODULE = 'smooth.mariadb.replication_wait'
SCHEMA_SQL = [
    'CREATE DATABASE barrier',
    'CREATE TABLE barrier.ticks (id BIGINT AUTO_INCREMENT PRIMARY KEY, origin VARCHAR(8) NOT NULL, '
    'n INT NOT NULL DEFAULT 0) ENGINE=InnoDB',
]


@pytest.fixture
def barrier(servers):
    """barrier.ticks on a and b (created locally on each), settled and dropped afterwards."""
    a, b = servers.a, servers.b
    for server in (a, b):
        server.setup_sql(SCHEMA_SQL)
    yield a, b
    # Leave a consistent pair behind for the next tests: each side applies
    # all of the other's binary log, then the schema goes, unlogged, on both.
    for server in (a, b):
        server.reset_replication()
    catch_up(b, a)
    catch_up(a, b)
    for server in (a, b):
        server.setup_sql(['DROP DATABASE barrier'])


def gtid_seq(position, domain):
    for part in position.split(','):
        if part and int(part.split('-')[0]) == domain:
            return int(part.split('-')[2])
    return None


def domain_gtid(position, domain):
    return [part for part in position.split(',') if part.startswith('%d-' % domain)][0]


def binlog_pos(server):
    return server.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')[0]['pos']


def slave_pos(server):
    return server.query('SELECT @@GLOBAL.gtid_slave_pos AS pos')[0]['pos']


class RowLock(object):
    """Hold a row lock on a server in an open transaction until released."""

    def __init__(self, server, row_id):
        self.connection = server.root_connection()
        self.connection.autocommit(False)
        with self.connection.cursor() as cursor:
            cursor.execute('SELECT * FROM barrier.ticks WHERE id = %s FOR UPDATE', (row_id,))

    def release(self):
        if self.connection is not None:
            self.connection.rollback()
            self.connection.close()
            self.connection = None


def insert_tick(server, origin):
    connection = server.root_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute('INSERT INTO barrier.ticks (origin) VALUES (%s)', (origin,))
            return cursor.lastrowid
    finally:
        connection.close()


def hold_replica(source, replica, waiter):
    """Block replica's SQL thread: lock a row on it, then update that row on source."""
    row_id = insert_tick(source, 'hold')
    waiter(lambda: replica.query('SELECT id FROM barrier.ticks WHERE id = %s', (row_id,)), what='hold row on replica')
    lock = RowLock(replica, row_id)
    source.query('UPDATE barrier.ticks SET n = n + 1 WHERE id = %s', (row_id,))
    return lock


def ticks_writer(server, origin):
    """Insert ticks on a server in the background (bounded), remembering acknowledged ids."""
    return BackgroundWriter(server, lambda step: ('INSERT INTO barrier.ticks (origin) VALUES (%s)', (origin,)),
                            limit=3000, pause=0.005)


def missing_ids(server, ids):
    if not ids:
        return []
    present = set(row['id'] for row in server.query(
        'SELECT id FROM barrier.ticks WHERE id IN (%s)' % ','.join(str(int(i)) for i in ids)))
    return sorted(set(ids) - present)


def barrier_args(replica, source, **extra):
    args = dict(replica.login_args(), source=dict(login_host=source.host, login_port=source.port))
    args.update(extra)
    return args


def assert_no_secret(result):
    assert ADMIN_PASSWORD not in json.dumps(result.result) + result.output


def test_pair_barrier_waits_for_both_directions_under_writes(ansible, barrier, waiter):
    a, b = barrier
    start_replication(a, b)
    start_replication(b, a)
    lock = hold_replica(a, b, waiter)
    writers = [ticks_writer(a, 'a'), ticks_writer(b, 'b')]
    seen_waiting = []

    def release_when_waiting():
        # Let the barrier be seen waiting on b (MASTER_GTID_WAIT in b's
        # process list) while b's SQL thread is blocked, then unblock it.
        def waiting():
            return [row for row in b.query('SHOW FULL PROCESSLIST')
                    if 'MASTER_GTID_WAIT' in str(row.get('Info') or '') and row.get('User') == 'admin']
        try:
            seen_waiting.extend(waiter(waiting, timeout=40, interval=0.1, what='barrier waiting on b'))
            time.sleep(0.5)  # the barrier keeps waiting while the replica is blocked
        finally:
            lock.release()

    releaser = threading.Thread(target=release_when_waiting, daemon=True)
    try:
        for writer in writers:
            writer.start()
        waiter(lambda: all(len(writer.acked) > 20 for writer in writers), what='writers under way')
        releaser.start()
        called = time.monotonic()
        a_before, b_before = binlog_pos(a), binlog_pos(b)
        result = ansible(MODULE, barrier_args(b, a, pair=True, timeout=60))
        returned_a, returned_b = missing_ids(b, writers[0].acked_before(called)), \
            missing_ids(a, writers[1].acked_before(called))
    finally:
        lock.release()
        releaser.join(timeout=60)
        for writer in writers:
            writer.stop()
    assert result.get('failed') is not True, result.get('msg')
    assert result['changed'] is False
    assert seen_waiting, 'the barrier was never seen waiting on b'
    assert all(writer.error is None for writer in writers), [writer.error for writer in writers]
    # Writes went on during the wait, on both sides.
    assert all(len(writer.acked_before(called)) < len(writer.acked) for writer in writers)

    forward, backward = result['directions']
    assert forward['replica'] == '%s:%d' % (b.host, b.port) and forward['source'] == '%s:%d' % (a.host, a.port)
    assert backward['replica'] == forward['source'] and backward['source'] == forward['replica']
    assert forward['connection_name'] == 'peer' and backward['connection_name'] == 'peer'
    assert forward['reached'] is True and backward['reached'] is True
    # b was held back until the lock went: the forward direction really waited.
    assert forward['seconds'] >= 0.4
    # Each waited for at least what the other had when the task was started ...
    assert gtid_seq(forward['wait_position'], 1) >= gtid_seq(a_before, 1)
    assert gtid_seq(backward['wait_position'], 2) >= gtid_seq(b_before, 2)
    assert gtid_seq(forward['reached_position'], 1) >= gtid_seq(forward['wait_position'], 1)
    assert gtid_seq(backward['reached_position'], 2) >= gtid_seq(backward['wait_position'], 2)
    # ... and every row acknowledged before the call was there when it returned.
    assert returned_a == [] and returned_b == []
    # The replica's own domain, echoed back in the source's binary log, is not waited for.
    assert forward['wait_position'].split('-')[0] == '1' and ',' not in forward['wait_position']
    assert [item['domain'] for item in forward['skipped_domains']] == [2]
    assert 'written by the replica itself (server_id 12)' in forward['skipped_domains'][0]['reason']
    assert [item['domain'] for item in backward['skipped_domains']] == [1]
    assert 'written by the replica itself (server_id 11)' in backward['skipped_domains'][0]['reason']
    assert result['waited_seconds'] >= forward['seconds'] + backward['seconds'] - 0.01
    assert_no_secret(result)


def test_timeout_reports_the_lag_then_check_mode_waits(ansible, barrier, waiter):
    a, b = barrier
    start_replication(b, a)
    lock = hold_replica(a, b, waiter)
    try:
        before = slave_pos(b)
        wanted = domain_gtid(binlog_pos(a), 1)  # b's own domain 2 is not waited for
        failed = ansible(MODULE, barrier_args(b, a, timeout=2))
    finally:
        lock.release()
    assert failed.get('failed') is True
    msg = failed['msg']
    # The module measures its own wait (1.9 or 2.0 s for a 2 s timeout, depending on the last slice).
    assert re.match(r'Timed out after [12]\.[0-9] s: ', msg), msg
    assert ("%s:%d has not applied %s from %s:%d through connection 'peer'"
            % (b.host, b.port, wanted, a.host, a.port)) in msg
    assert ('Still missing: domain 1 at 1-11-%d, needs %s (1 behind)' % (gtid_seq(before, 1), wanted)) in msg
    assert 'Seconds_Behind_Master: ' in msg and 'IO thread Yes; SQL thread Yes' in msg
    direction = failed['directions'][0]
    assert direction['reached'] is False and direction['wait_position'] == wanted
    assert direction['missing'] == [dict(domain=1, wanted=wanted, reached='1-11-%d' % gtid_seq(before, 1), behind=1)]
    assert 1.5 <= direction['seconds'] < 10 and 2.0 <= failed['waited_seconds'] < 10
    assert isinstance(direction['seconds_behind_master'], int)

    # Released, the same barrier passes, in check mode too (it only reads and waits).
    checked = ansible(MODULE, barrier_args(b, a, timeout=20), check=True)
    assert checked.get('failed') is not True, checked.get('msg')
    assert checked['changed'] is False
    assert checked['directions'][0]['reached'] is True
    assert gtid_seq(checked['directions'][0]['reached_position'], 1) >= gtid_seq(wanted, 1)


def test_stopped_or_broken_connection_fails_at_once(ansible, barrier, waiter):
    a, b = barrier
    start_replication(b, a)
    b.query("STOP SLAVE 'peer'")
    insert_tick(a, 'lost')
    stopped = ansible(MODULE, barrier_args(b, a, timeout=60))
    assert stopped.get('failed') is True
    assert stopped['msg'] == ("%s:%d cannot catch up with %s:%d through connection 'peer': the SQL thread is not "
                              "applying: IO thread No; SQL thread No." % (b.host, b.port, a.host, a.port))
    assert stopped['waited_seconds'] == 0.0 and stopped['directions'] == []

    # A broken SQL thread: the row a inserts next already exists on b.
    b.query("START SLAVE 'peer'")
    clash_id = 900000001
    b.setup_sql(["INSERT INTO barrier.ticks (id, origin) VALUES (%d, 'local')" % clash_id])
    a.query("INSERT INTO barrier.ticks (id, origin) VALUES (%s, 'clash')", (clash_id,))
    waiter(lambda: b.slaves()['peer']['Last_SQL_Errno'] == 1062, what='duplicate key error on b')
    broken = ansible(MODULE, barrier_args(b, a, timeout=60, connection_name='peer'))
    assert broken.get('failed') is True
    assert broken['msg'].startswith("%s:%d cannot catch up with %s:%d through connection 'peer': the SQL thread is "
                                    "not applying: IO thread Yes; SQL thread No; Last_SQL_Errno 1062: "
                                    % (b.host, b.port, a.host, a.port))
    assert "Duplicate entry '%d'" % clash_id in broken['msg']
    # Repair b for the next tests: drop the local row, let replication apply a's.
    b.setup_sql(['DELETE FROM barrier.ticks WHERE id = %d' % clash_id])
    b.query("START SLAVE 'peer'")
    waiter(lambda: b.query('SELECT origin FROM barrier.ticks WHERE id = %s', (clash_id,)) == [{'origin': 'clash'}],
           what='clash row applied on b')


def test_unknown_connection_is_named(ansible, barrier):
    a, b = barrier
    start_replication(b, a)
    result = ansible(MODULE, barrier_args(b, a, connection_name='nosuch', timeout=5))
    assert result.get('failed') is True
    assert result['msg'] == ("Replica %s:%d: there is no replication connection 'nosuch'; connections: "
                             "'peer' (%s:%d)" % (b.host, b.port, a.host, a.port))
