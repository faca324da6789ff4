# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smooth.mariadb.pair_compare against the two real servers as a dual-master pair, under live writes.

Each test gets its own database, created identically on A and B without binary
logging, then A and B replicate from each other (GTID) and background writers
write through both while the module compares them: hot rows updated hundreds of
times per second, and rows appended at the end of the table.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from mariadb_lab import ADMIN_PASSWORD, REPL_PASSWORD, BackgroundWriter
from test_shard_purge import caught_up, running, scratch_database

MODULE = 'smooth.mariadb.pair_compare'
ROWS = 3000


@pytest.fixture
def pair_db(servers, waiter):
    """A database with the same rows on A and B, and A <=> B replicating; reset and dropped afterwards."""
    a, b = servers.a, servers.b
    with scratch_database(servers, waiter, 'pair') as db:
        for server in (a, b):
            server.setup_sql([
                'CREATE DATABASE %s' % db,
                'CREATE TABLE %s.orders (id BIGINT NOT NULL PRIMARY KEY, account_no INT NOT NULL, amount INT NOT NULL, '
                'note VARCHAR(32) NULL) ENGINE=InnoDB' % db,
                "INSERT INTO %s.orders SELECT seq, seq %% 97, seq, IF(seq %% 10 = 0, NULL, CONCAT('n', seq)) "
                "FROM %s.seq_1_to_%d" % (db, db, ROWS),
                # An unsharded table every shard holds, with a composite key.
                'CREATE TABLE %s.rates (currency CHAR(3) NOT NULL, day INT NOT NULL, rate DECIMAL(10,4) NOT NULL, '
                'PRIMARY KEY (currency, day)) ENGINE=InnoDB' % db,
                "INSERT INTO %s.rates SELECT c.code, s.seq, s.seq / 7 FROM (SELECT 'EUR' AS code UNION SELECT 'USD') c, "
                "%s.seq_1_to_40 s" % (db, db),
            ])
        dual_master(a, b, waiter)
        yield db


def dual_master(a, b, waiter):
    for replica, source in ((a, b), (b, a)):
        position = source.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')[0]['pos']
        replica.query('SET GLOBAL gtid_slave_pos = %s', (position,))
        replica.query("CHANGE MASTER 'peer' TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = 'repl', "
                      'MASTER_PASSWORD = %s, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1',
                      (source.host, source.port, REPL_PASSWORD))
        replica.query("START SLAVE 'peer'")
    waiter(lambda: running(a, 'peer') and running(b, 'peer'), what='A <=> B replicating')


def compare_args(servers, db, **extra):
    a, b = servers.a, servers.b
    args = dict(login_user='admin', login_password=ADMIN_PASSWORD, config_file='',
                servers=[dict(name='a', login_host=a.host, login_port=a.port),
                         dict(name='b', login_host=b.host, login_port=b.port)],
                tables=[{'name': '%s.orders' % db, 'key': 'account_no'}], chunk_size=500)
    args.update(extra)
    return args


class LiveWrites(object):
    """Writers on both nodes while a block runs: hot rows updated without pause, and new rows at the end."""

    def __init__(self, servers, db, hot_a=(1, 2, 3), hot_b=(2001, 2002)):
        self.writers = [
            BackgroundWriter(servers.a, lambda step: ('UPDATE %s.orders SET amount = amount + 1 WHERE id = %%s' % db,
                                                      (hot_a[step % len(hot_a)],)), limit=200000, pause=0),
            BackgroundWriter(servers.b, lambda step: ('UPDATE %s.orders SET amount = amount + 1 WHERE id = %%s' % db,
                                                      (hot_b[step % len(hot_b)],)), limit=200000, pause=0.001),
            BackgroundWriter(servers.a, lambda step: ('INSERT INTO %s.orders VALUES (%%s, %%s, 0, NULL)' % db,
                                                      (100000 + step, step % 97)), limit=200000, pause=0.002),
        ]

    def __enter__(self):
        for writer in self.writers:
            writer.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        for writer in self.writers:
            writer.stop()

    def check(self):
        for writer in self.writers:
            assert writer.error is None, writer.error
            assert writer.written > 50, 'a writer wrote only %d rows' % writer.written


def assert_no_secret(result):
    blob = json.dumps(result.result) + result.output
    assert ADMIN_PASSWORD not in blob and REPL_PASSWORD not in blob


def test_no_divergence_under_live_writes_on_hot_rows_passes(ansible, servers, pair_db):
    db = pair_db
    with LiveWrites(servers, db) as load:
        result = ansible(MODULE, compare_args(servers, db, other_tables=True, exclude_schemas=['smoke']))
        load.check()
    assert result.get('failed') is not True, result.get('msg')
    assert result['changed'] is False
    assert (result['reason'], result['refused'], result['retryable']) == ('equal', False, False)
    counts = result['counts']
    assert counts['tables'] == 2 and set(result['tables']) == set(['%s.orders' % db, '%s.rates' % db])
    assert counts['compared'] >= ROWS // 500 + 1
    assert counts['diverged'] == counts['unsettled'] == 0
    assert counts['equal'] + counts['settled'] == counts['compared']
    assert result['differences'] == [] and result['schema_differences'] == []
    assert result['tables']['%s.rates' % db]['primary_key'] == ['currency', 'day']
    assert 'a and b hold the same rows' in result['msg']
    assert_no_secret(result)


def test_rows_changed_without_binlog_on_one_node_under_live_writes_are_refused_with_table_and_range(
        ansible, servers, pair_db):
    a, b = servers.a, servers.b
    db = pair_db
    with LiveWrites(servers, db) as load:
        # Not replicated: B's note of order 1700 and A's order 2400 (deleted) differ from then on.
        b.setup_sql(["UPDATE %s.orders SET note = 'stale' WHERE id = 1700" % db])
        a.setup_sql(['DELETE FROM %s.orders WHERE id = 2400' % db])
        result = ansible(MODULE, compare_args(servers, db))
        checked = ansible(MODULE, compare_args(servers, db, tries=3), check=True)
        load.check()
    for found in (result, checked):
        assert found.get('failed') is True
        assert (found['reason'], found['refused'], found['retryable']) == ('diverged', True, False)
        assert found['changed'] is False
        diverged = [item for item in found['differences'] if item['verdict'] == 'diverged']
        assert [(item['table'], item['range']) for item in diverged] == [
            ('%s.orders' % db, 'from after id = 1500 up to id = 2000'),
            ('%s.orders' % db, 'from after id = 2000 up to id = 2501'),
        ]
        assert diverged[0]['rows_differing'] == [dict(key=[1700], where='values differ')]
        assert diverged[1]['rows_differing'] == [dict(key=[2400], where='only on the second node')]
        assert diverged[1]['rows'] == dict(a=500, b=501)
        assert diverged[0]['lower'] == [1500] and diverged[0]['upper'] == [2000]
        assert diverged[0]['readings'] >= 3  # a plain one, one after a catch-up, one locked (or more)
        assert found['counts']['diverged'] == 2
        msg = ' '.join(found['msg'].split())
        assert msg.startswith('The nodes of pair a / b hold different rows although replication runs without error')
        assert ('%s.orders, key range from after id = 1500 up to id = 2000 (rows a=500, b=500; rows that differ: '
                'id = 1700 (values differ))' % db) in msg
        assert 'id = 2400 (only on b)' in msg
        assert 'SELECT * FROM `%s`.`orders` WHERE `id` > 1500 AND `id` <= 2000 ORDER BY `id`' % db in msg or \
            diverged[0]['select'] in msg
        assert 'sql_log_bin = 0' in msg and msg.endswith('Nothing was changed.')
        assert_no_secret(found)
    # The select named reads the rows of the range on either node.
    rows = a.query(result['differences'][0]['select'])
    assert len(rows) == 500 and rows[0]['id'] == 1501
    # Nothing changed: the difference is still there, replication still runs both ways.
    assert b.query('SELECT note FROM %s.orders WHERE id = 1700' % db)[0]['note'] == 'stale'
    assert running(a, 'peer') and running(b, 'peer')


def test_a_partition_in_which_both_nodes_wrote_the_same_row_is_refused_though_replication_shows_no_error(
        ansible, servers, pair_db, waiter):
    """The story of the issue: both nodes take writes while they cannot reach each other; when the
    partition heals each applies the other's older update over its own newer one. Replication runs
    Yes/Yes without error, with no lag, the preflight's other checks pass - and the row differs."""
    a, b = servers.a, servers.b
    db = pair_db
    for server in (a, b):
        server.query("STOP SLAVE 'peer' IO_THREAD")
    a.query('UPDATE %s.orders SET amount = 111 WHERE id = 42' % db)
    b.query('UPDATE %s.orders SET amount = 222 WHERE id = 42' % db)
    for server in (a, b):
        server.query("START SLAVE 'peer' IO_THREAD")
    waiter(lambda: running(a, 'peer') and running(b, 'peer'), what='A <=> B replicating again')
    caught_up(a, b)
    caught_up(b, a)
    amounts = [server.query('SELECT amount FROM %s.orders WHERE id = 42' % db)[0]['amount'] for server in (a, b)]
    assert amounts == [222, 111]  # crossed: each node kept the other's update
    # What the preflight checked before: both directions run, without error and without lag.
    for server in (a, b):
        info = ansible('smooth.mariadb.replication_info', server.login_args())
        assert info.get('failed') is not True, info.get('msg')
        link = info['connections']['peer']
        assert link['running'] is True and link['seconds_behind_master'] == 0
        assert not link['last_sql_error'] and not link['last_io_error']
        tables = ansible('smooth.mariadb.shard_tables_check', dict(server.login_args(), modulus=1, owned_residues=[0],
                                                                   tables=[{'name': '%s.orders' % db,
                                                                            'key': 'account_no'}]))
        assert tables.get('failed') is not True, tables.get('msg')
    with LiveWrites(servers, db):
        result = ansible(MODULE, compare_args(servers, db))
    assert result.get('failed') is True and result['reason'] == 'diverged'
    assert [(item['range'], item['rows_differing']) for item in result['differences']] == [
        ('from the start up to id = 500', [dict(key=[42], where='values differ')])]


def test_a_chunk_behind_on_one_node_settles_after_the_catch_up(ansible, servers, pair_db, waiter):
    """B's replication applier waits on a row lock while the module reads: the first reading differs,
    the catch-up waits until B applied A's update, the rereading agrees."""
    a, b = servers.a, servers.b
    db = pair_db
    holder = b.root_connection()
    released = threading.Event()
    try:
        with holder.cursor() as cursor:
            cursor.execute('BEGIN')
            cursor.execute('SELECT * FROM %s.orders WHERE id = 7 FOR UPDATE' % db)
        a.query('UPDATE %s.orders SET amount = -7 WHERE id = 7' % db)

        def release_when_waited():
            # Release the lock once the module waits for B to catch up (bounded).
            try:
                waiter(lambda: b.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST "
                                       "WHERE INFO LIKE 'SELECT MASTER_GTID_WAIT(%%'")[0]['n'],
                       timeout=60, interval=0.1, what='a MASTER_GTID_WAIT on b')
            finally:
                holder.rollback()
                released.set()
        thread = threading.Thread(target=release_when_waited, daemon=True)
        thread.start()
        result = ansible(MODULE, compare_args(servers, db, wait_timeout=30))
        thread.join(timeout=70)
    finally:
        holder.close()
    assert released.is_set()
    assert result.get('failed') is not True, result.get('msg')
    assert result['reason'] == 'equal'
    assert result['counts']['rechecked'] == 1 and result['counts']['settled'] == 1
    assert result['tables']['%s.orders' % db]['settled'] == 1


def test_hot_rows_with_lag_settle_locked_and_without_locks_are_unsettled_refused_or_accepted_when_asked(
        ansible, servers, pair_db):
    """B applies A's writes a second late (MASTER_DELAY) while A updates rows 1 to 3 without pause: read plainly,
    that chunk never reads the same on both nodes; read locked, it does."""
    a, b = servers.a, servers.b
    db = pair_db
    b.query("STOP SLAVE 'peer'")
    b.query("CHANGE MASTER 'peer' TO MASTER_DELAY = 1")
    b.query("START SLAVE 'peer'")
    hot = 'from the start up to id = 500'
    with LiveWrites(servers, db, hot_b=(2999,)) as load:
        settled = ansible(MODULE, compare_args(servers, db, lock_timeout=5))
        refused = ansible(MODULE, compare_args(servers, db, lock_rows=False, tries=2, wait_timeout=5))
        accepted = ansible(MODULE, compare_args(servers, db, lock_rows=False, tries=2, wait_timeout=5,
                                                unsettled='warn'))
        load.check()
    assert settled.get('failed') is not True, settled.get('msg')
    assert settled['reason'] == 'equal' and settled['counts']['settled'] >= 1
    for found in (refused, accepted):
        unsettled = dict((item['range'], item) for item in found['differences'] if item['verdict'] == 'unsettled')
        assert hot in unsettled, found['differences']
        assert 'kept changing under writes' in unsettled[hot]['cause']
        assert found['counts']['diverged'] == 0
    assert refused.get('failed') is True
    assert (refused['reason'], refused['refused'], refused['retryable']) == ('unsettled', True, True)
    assert 'could not be proven equal' in refused['msg'] and 'unsettled=warn' in refused['msg']
    assert accepted.get('failed') is not True, accepted.get('msg')
    assert (accepted['reason'], accepted['refused']) == ('unsettled', False)
    assert 'could not be proven equal' in accepted.output  # the warning


def test_a_table_defined_differently_or_missing_on_one_node_is_a_difference(ansible, servers, pair_db):
    a, b = servers.a, servers.b
    db = pair_db
    b.setup_sql(['ALTER TABLE %s.rates ADD COLUMN source VARCHAR(8) NULL' % db,
                 'CREATE TABLE %s.scratch (id INT PRIMARY KEY)' % db])
    result = ansible(MODULE, compare_args(servers, db, tables=[], other_tables=True, exclude_schemas=['smoke']))
    assert result.get('failed') is True and result['reason'] == 'diverged'
    assert result['schema_differences'] == [
        'mirrors a and b define table %s.rates differently (columns or primary key), so their rows cannot be compared'
        % db,
        'table %s.scratch exists on b only' % db]
    assert 'define their tables differently' in result['msg']


def test_a_pair_that_does_not_replicate_both_ways_or_bad_input_cannot_run(ansible, servers, pair_db):
    a, b = servers.a, servers.b
    db = pair_db
    b.query("STOP SLAVE 'peer' SQL_THREAD")
    try:
        result = ansible(MODULE, compare_args(servers, db))
    finally:
        b.query("START SLAVE 'peer' SQL_THREAD")
    assert result.get('failed') is True
    # A pair that does not replicate needs a fix first: running again as it is cannot help.
    assert (result['reason'], result['refused'], result['retryable']) == ('cannot_run', True, False)
    assert 'the SQL thread is not applying' in result['msg'] and 'replicating both ways' in result['msg']
    args = compare_args(servers, db, chunk_size=0)
    args['servers'] = [dict(name='a', login_host=a.host)]
    bad = ansible(MODULE, args)
    assert bad.get('failed') is True and (bad['reason'], bad['retryable']) == ('cannot_run', False)
    assert 'chunk_size must be from 1 to 100000' in bad['msg'] and 'servers must list the two nodes' in bad['msg']
    wrong = ansible(MODULE, compare_args(servers, db, login_password='not-the-password'))
    assert wrong.get('failed') is True and (wrong['reason'], wrong['retryable']) == ('cannot_run', False)
    assert 'server a' in wrong['msg']
    assert 'not-the-password' not in json.dumps(wrong.result)
