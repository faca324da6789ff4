# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smooth.mariadb.shard_purge against the two real servers, through Ansible.

Every test gets its own database, created identically on A and B without
binary logging (so both hold the same rows, as a pair does), and dropped at
the end. Replication is set up by the tests themselves, from the source's
current GTID position, so nothing written by earlier tests is replayed.
"""

from __future__ import annotations

import contextlib
import json
import uuid

import pymysql
import pytest

from mariadb_lab import ADMIN_PASSWORD, REPL_PASSWORD, REPL_USER, collection_module, run_until_the_lock_moves

MODULE = 'smooth.mariadb.shard_purge'

# (table, key column, DDL, INSERT ... SELECT over the sequence engine)
TABLES = (
    ('orders', 'customer_id',
     'CREATE TABLE {db}.orders (id BIGINT NOT NULL PRIMARY KEY, customer_id INT NOT NULL, '
     'amount DECIMAL(10,2) NOT NULL, note VARCHAR(32) NULL, KEY (customer_id)) ENGINE=InnoDB',
     "INSERT INTO {db}.orders SELECT seq, (seq * 7) % 50, seq * 1.5, IF(seq % 10 = 0, NULL, CONCAT('n', seq)) "
     "FROM {db}.seq_1_to_200"),
    ('items', 'order_id',
     'CREATE TABLE {db}.items (order_id BIGINT NOT NULL, line INT NOT NULL, sku VARCHAR(16) NOT NULL, '
     'PRIMARY KEY (order_id, line)) ENGINE=InnoDB',
     "INSERT INTO {db}.items SELECT o.seq, l.seq, CONCAT('sku-', o.seq, '-', l.seq) "
     "FROM {db}.seq_1_to_60 o, {db}.seq_1_to_5 l"),
    ('accounts', 'id',
     'CREATE TABLE {db}.accounts (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(32) NOT NULL) '
     'ENGINE=InnoDB',
     "INSERT INTO {db}.accounts SELECT seq, CONCAT('acct-', seq) FROM {db}.seq_1_to_150"),
)


def expected_foreign(modulus, owned):
    """Rows of other residues per table, computed like the fixtures' INSERTs."""
    return {
        'orders': sum(1 for seq in range(1, 201) if ((seq * 7) % 50) % modulus not in owned),
        'items': sum(5 for seq in range(1, 61) if seq % modulus not in owned),
        'accounts': sum(1 for seq in range(1, 151) if seq % modulus not in owned),
    }


def create_tables(server, db, names=None):
    statements = ['CREATE DATABASE %s' % db]
    for name, dummy, ddl, insert in TABLES:
        if names is None or name in names:
            statements += [ddl.format(db=db), insert.format(db=db)]
    server.setup_sql(statements)


def kill_dump_threads(server, waiter):
    """End the binlog dump threads a previous test's replica left behind."""
    for row in server.query("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%%'"):
        try:
            server.query('KILL %s', (row['ID'],))
        except pymysql.err.MySQLError:
            pass  # ended meanwhile
    waiter(lambda: not server.query('SHOW SLAVE HOSTS'), timeout=10, what='no replica registered on %s' % server.name)


def replicate(replica, source, name='peer', start=True):
    """replica replicates from source, starting at the source's current GTID position."""
    position = source.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')[0]['pos']
    replica.query('SET GLOBAL gtid_slave_pos = %s', (position,))
    replica.query('CHANGE MASTER %s TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, MASTER_PASSWORD = %s, '
                  'MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1',
                  (name, source.host, source.port, REPL_USER, REPL_PASSWORD))
    if start:
        replica.query('START SLAVE %s', (name,))


def running(server, name):
    row = server.slaves().get(name)
    return row is not None and row['Slave_IO_Running'] == 'Yes' and row['Slave_SQL_Running'] == 'Yes'


def caught_up(replica, source):
    """Wait (bounded) until replica has applied source's current binlog position."""
    position = source.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')[0]['pos']
    row = replica.query('SELECT MASTER_GTID_WAIT(%s, 20) AS waited', (position,))[0]
    assert row['waited'] == 0, 'replica %s did not reach %s' % (replica.name, position)


def count(server, sql):
    return list(server.query(sql)[0].values())[0]


@contextlib.contextmanager
def scratch_database(servers, waiter, prefix):
    """A fresh database name for A and B, with no binlog dump thread left over from
    earlier tests; afterwards replication is reset, dump threads ended and the
    database dropped on both."""
    a, b = servers.a, servers.b
    for server in (a, b):
        kill_dump_threads(server, waiter)
    db = '%s_%s' % (prefix, uuid.uuid4().hex[:8])
    try:
        yield db
    finally:
        for server in (a, b):
            server.reset_replication()
        for server in (a, b):
            kill_dump_threads(server, waiter)
            server.setup_sql(['DROP DATABASE IF EXISTS %s' % db])


@pytest.fixture
def shard_db(servers, waiter):
    """A fresh database with the three tables on A and B; replication reset and dropped afterwards."""
    with scratch_database(servers, waiter, 'purge') as db:
        for server in (servers.a, servers.b):
            create_tables(server, db)
        yield db


def purge_args(server, db, **extra):
    args = dict(server.login_args(), tables=['%s.orders' % db, {'name': '%s.items' % db, 'key': 'order_id'},
                                             {'name': '%s.accounts' % db, 'key': 'id'}],
                key_column='customer_id', modulus=3, owned_residues=[1], chunk_size=7)
    args.update(extra)
    return args


def assert_no_secret(result):
    blob = json.dumps(result.result) + result.output
    assert ADMIN_PASSWORD not in blob and REPL_PASSWORD not in blob


def test_purge_in_chunks_replicates_to_partner_and_reruns_unchanged(ansible, servers, shard_db, tmp_path, waiter):
    a, b = servers.a, servers.b
    db = shard_db
    replicate(b, a, 'from_a')
    waiter(lambda: running(b, 'from_a'), what='b replicating from a')
    expected = expected_foreign(3, [1])
    partner = dict(login_host=b.host, login_port=b.port)

    # Check mode: counts, deletes nothing.
    checked = ansible(MODULE, purge_args(a, db, partner=partner), check=True, diff=True)
    assert checked.get('failed') is not True, checked.get('msg')
    assert checked['changed'] is True
    assert checked['deleted'] == 0
    assert dict((name.split('.')[1], entry['foreign_rows_at_start'])
                for name, entry in checked['tables'].items()) == expected
    assert checked['tables']['%s.items' % db]['chunks'] == -(-expected['items'] // 7)
    assert checked['queries'] == []
    assert checked['diff']['before']['%s.orders' % db] == dict(rows=200, foreign_rows=expected['orders'])
    assert count(a, 'SELECT COUNT(*) FROM %s.orders' % db) == 200
    assert count(a, 'SELECT COUNT(*) FROM %s.items' % db) == 300

    # The real run, with a progress file.
    progress = tmp_path / 'progress.jsonl'
    done = ansible(MODULE, purge_args(a, db, partner=partner, max_lag=5, progress_file=str(progress)))
    assert done.get('failed') is not True, done.get('msg')
    assert done['changed'] is True
    assert done['deleted'] == sum(expected.values())
    for table, rows in (('orders', 200), ('items', 300), ('accounts', 150)):
        entry = done['tables']['%s.%s' % (db, table)]
        assert entry['deleted'] == expected[table]
        assert entry['chunks'] == -(-expected[table] // 7)
        assert entry['remaining_rows'] == rows - expected[table]
        assert entry['remaining_foreign_rows'] == 0
    assert done['chunks'] == sum(-(-rows // 7) for rows in expected.values())
    assert count(a, 'SELECT COUNT(*) FROM %s.orders WHERE customer_id %% 3 <> 1' % db) == 0
    assert count(a, 'SELECT COUNT(*) FROM %s.orders' % db) == 200 - expected['orders']
    assert count(a, 'SELECT COUNT(*) FROM %s.items WHERE order_id %% 3 <> 1' % db) == 0
    assert count(a, 'SELECT COUNT(*) FROM %s.accounts WHERE id %% 3 <> 1' % db) == 0

    # Lag was measured against the partner, which received the deletes.
    assert isinstance(done['max_partner_lag'], float) and 0 <= done['max_partner_lag'] <= 5
    assert done['partner']['server_id'] == b.server_id and done['partner']['connection'] == 'from_a'
    assert done['interlock']['node']['replicas'][0]['server_id'] == b.server_id
    caught_up(b, a)
    assert count(b, 'SELECT COUNT(*) FROM %s.orders' % db) == 200 - expected['orders']
    assert count(b, 'SELECT COUNT(*) FROM %s.items WHERE order_id %% 3 <> 1' % db) == 0
    assert running(b, 'from_a')

    # Queries are summarised: settings, the first two and the last chunk per table.
    assert done['queries_total'] == done['chunks'] + 2
    assert done['queries'][:2] == ['SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED',
                                   'SET SESSION innodb_lock_wait_timeout = 10']
    items_deletes = [query for query in done['queries'] if query.startswith('DELETE FROM `%s`.`items`' % db)]
    assert len(items_deletes) == 3
    assert items_deletes[0] == (
        'DELETE FROM `%s`.`items` WHERE (`order_id` < 3 OR (`order_id` = 3 AND (`line` <= 2))) '
        'AND (`order_id` >= 0 AND MOD(`order_id`, 3) NOT IN (1)) /* smooth.mariadb.shard_purge */' % db)
    assert len(done['queries']) < 20
    # Each chunk is an index range scan of the primary key, the composite one too.
    for query in items_deletes:
        plan = a.query('EXPLAIN ' + query)[0]
        assert (plan['type'], plan['key']) == ('range', 'PRIMARY'), plan

    events = [json.loads(line) for line in progress.read_text().splitlines()]
    assert events[0]['event'] == 'start' and events[-1]['event'] == 'done'
    done_tables = dict((event['table'], event) for event in events if event['event'] == 'table_done')
    assert done_tables['%s.items' % db]['deleted'] == expected['items']
    assert events[-1]['deleted'] == sum(expected.values())

    # Nothing left: a rerun changes nothing.
    again = ansible(MODULE, purge_args(a, db, partner=partner, progress_file=str(progress)))
    assert again.get('failed') is not True, again.get('msg')
    assert again['changed'] is False
    assert again['deleted'] == 0 and again['chunks'] == 0
    assert again['tables']['%s.orders' % db]['remaining_foreign_rows'] == 0
    assert_no_secret(done)


def test_refusals_name_every_problem_and_delete_nothing(ansible, servers, shard_db):
    a = servers.a
    db = shard_db
    a.setup_sql([
        'CREATE TABLE %s.nopk (customer_id INT NOT NULL, note VARCHAR(8)) ENGINE=InnoDB' % db,
        'CREATE TABLE %s.textkey (id INT PRIMARY KEY, customer_id VARCHAR(8) NOT NULL) ENGINE=InnoDB' % db,
        'CREATE TABLE %s.negkey (id INT PRIMARY KEY, customer_id INT NULL) ENGINE=InnoDB' % db,
        'INSERT INTO %s.negkey VALUES (1, 4), (2, -3), (3, NULL)' % db,
        'CREATE TABLE %s.nokey (id INT PRIMARY KEY, other INT) ENGINE=InnoDB' % db,
    ])

    wrong = ansible(MODULE, purge_args(a, db, login_password='not-the-password'))
    assert wrong['failed'] is True
    assert 'Unable to connect to MariaDB at 127.0.0.1:%d' % a.port in wrong['msg']
    assert 'Access denied' in wrong['msg']
    assert 'not-the-password' not in json.dumps(wrong.result)
    assert (wrong['reason'], wrong['retryable']) == ('cannot_connect', False)

    tables = ['%s.orders' % db, '%s.ghost' % db, '%s.nopk' % db, '%s.textkey' % db, '%s.negkey' % db,
              '%s.nokey' % db, 'nodot']
    refused = ansible(MODULE, purge_args(a, db, tables=tables, owned_residues=[1, 3, 1]))
    assert refused['failed'] is True
    msg = refused['msg']
    assert msg.startswith('Refusing to purge on 127.0.0.1:%d, nothing was deleted. 8 problem(s):' % a.port)
    assert 'table name \'nodot\' must be written as database.table' in msg
    assert 'owned_residues 3 out of range: residues of modulus 3 are 0 to 2' in msg
    assert 'owned_residues lists 1 more than once' in msg
    assert 'table %s.ghost does not exist' % db in msg
    assert 'table %s.nopk has no primary key' % db in msg
    assert ('key column customer_id of table %s.textkey is varchar(8), not an integer type' % db) in msg
    assert 'table %s.negkey has 2 row(s) with a NULL or negative key customer_id' % db in msg
    assert 'table %s.nokey has no key column customer_id (columns: id, other)' % db in msg
    assert refused['changed'] is False and refused['deleted'] == 0
    assert (refused['reason'], refused['retryable']) == ('bad_options', False)
    assert [problem['reason'] for problem in refused['problems']] == ['bad_options'] * 3 + ['tables_refused'] * 5
    assert count(a, 'SELECT COUNT(*) FROM %s.orders' % db) == 200

    bad_modulus = ansible(MODULE, purge_args(a, db, modulus=0, owned_residues=[]))
    assert bad_modulus['failed'] is True
    assert 'modulus must be an integer of at least 1, got 0' in bad_modulus['msg']


def test_interlock_refuses_replication_with_a_server_that_is_not_a_peer(ansible, servers, shard_db, waiter):
    a, b = servers.a, servers.b
    db = shard_db
    b_address = '127.0.0.1:%d' % b.port

    # A still replicates from its old partner B: refused, naming the connection.
    replicate(a, b, 'old_partner')
    waiter(lambda: running(a, 'old_partner'), what='a replicating from b')
    refused = ansible(MODULE, purge_args(a, db))
    assert refused['failed'] is True
    assert ("replication connection 'old_partner' on 127.0.0.1:%d replicates from %s (server_id %d), "
            "which is not an allowed peer (IO thread Yes, SQL thread Yes)" % (a.port, b_address, b.server_id)
            in refused['msg'])
    assert refused['deleted'] == 0
    assert (refused['reason'], refused['retryable']) == ('interlock', False)
    assert count(a, 'SELECT COUNT(*) FROM %s.orders' % db) == 200

    # Stopped is not enough: the configured connection is still refused.
    a.query("STOP SLAVE 'old_partner'")
    refused = ansible(MODULE, purge_args(a, db, allowed_peers=[{'server_id': b.server_id}]))
    assert refused['failed'] is True
    assert "replication connection 'old_partner'" in refused['msg']
    assert 'IO thread No, SQL thread No' in refused['msg']
    assert 'cannot be identified by server_id' in refused['msg']

    # An allowed host:port whose server reports another server_id is refused.
    a.query("START SLAVE 'old_partner'")
    waiter(lambda: running(a, 'old_partner'), what='a replicating from b again')
    refused = ansible(MODULE, purge_args(a, db, allowed_peers=[{'host': '127.0.0.1', 'port': b.port,
                                                                'server_id': 99}]))
    assert refused['failed'] is True
    assert 'allowed as peer 127.0.0.1:%d / server_id 99, but that server reports server_id %d' % (
        b.port, b.server_id) in refused['msg']
    assert refused['reason'] == 'interlock'
    assert count(a, 'SELECT COUNT(*) FROM %s.orders' % db) == 200

    # B replicating from A (A has a replica) is refused too, naming the replica.
    a.reset_replication()
    replicate(b, a, 'from_a')
    waiter(lambda: running(b, 'from_a'), what='b replicating from a')
    refused = ansible(MODULE, purge_args(a, db))
    assert refused['failed'] is True
    assert 'replica server_id %d (reported as 127.0.0.1:%d) replicates from 127.0.0.1:%d, and is not an allowed peer' % (
        b.server_id, b.port, a.port) in refused['msg']
    assert '1 binlog dump thread(s)' not in refused['msg']
    # A registered replica may be one that stopped a moment ago: the only refusal that may pass by itself.
    assert (refused['reason'], refused['retryable']) == ('replica_registered', True)
    assert count(a, 'SELECT COUNT(*) FROM %s.orders' % db) == 200

    # With B as the allowed peer, both directions are accepted and the purge runs.
    replicate(a, b, 'old_partner')
    waiter(lambda: running(a, 'old_partner'), what='a replicating from b')
    allowed = ansible(MODULE, purge_args(a, db, allowed_peers=[{'host': '127.0.0.1', 'port': b.port,
                                                                'server_id': b.server_id}]))
    assert allowed.get('failed') is not True, allowed.get('msg')
    assert allowed['changed'] is True
    assert allowed['deleted'] == sum(expected_foreign(3, [1]).values())
    report = allowed['interlock']['node']
    assert report['connections'][0]['allowed_as'] == '127.0.0.1:%d / server_id %d' % (b.port, b.server_id)
    assert report['replicas'][0]['allowed_as'] == '127.0.0.1:%d / server_id %d' % (b.port, b.server_id)


def test_throttle_fails_with_the_lag_and_a_rerun_continues(ansible, servers, shard_db, waiter):
    a, b = servers.a, servers.b
    db = shard_db
    replicate(b, a, 'from_a')
    waiter(lambda: running(b, 'from_a'), what='b replicating from a')
    partner = dict(login_host=b.host, login_port=b.port)
    args = purge_args(a, db, tables=['%s.accounts' % db], key_column='id', chunk_size=5, partner=partner,
                      max_lag=0, max_pause=1.5)

    # B's SQL thread waits on a row lock: B stays connected but falls behind.
    blocker = b.root_connection()
    try:
        with blocker.cursor() as cursor:
            cursor.execute('BEGIN')
            cursor.execute('SELECT COUNT(*) FROM %s.accounts FOR UPDATE' % db)
        slow = ansible(MODULE, args)
    finally:
        blocker.rollback()
        blocker.close()
    assert slow['failed'] is True
    assert slow['msg'].startswith('Partner 127.0.0.1:%d (connection from_a) lag ' % b.port), slow['msg']
    assert 'exceeds max_lag 0.0 s (1 chunk(s) not applied there yet, the oldest committed' in slow['msg']
    assert 'max_pause 1.5 s used up. 5 row(s) deleted so far in 1 chunk(s) are committed' in slow['msg']
    assert slow['changed'] is True and slow['deleted'] == 5
    assert (slow['reason'], slow['retryable']) == ('partner_lag', True)
    assert 1.5 <= slow['paused'] < 3
    assert slow['max_partner_lag'] >= 1.4
    assert slow['max_partner_seconds_behind_master'] is not None
    assert count(a, 'SELECT COUNT(*) FROM %s.accounts' % db) == 145

    # B's SQL thread stopped: the lag is unknown, the purge does not even start.
    caught_up(b, a)
    b.query("STOP SLAVE 'from_a' SQL_THREAD")
    stopped = ansible(MODULE, args)
    assert stopped['failed'] is True
    assert ('lag unknown exceeds max_lag 0.0 s (the partner connection is not replicating: IO thread Yes, '
            'SQL thread No; no chunk of this run committed yet); paused 1.5 s in total' in stopped['msg'])
    assert stopped['deleted'] == 0 and stopped['changed'] is False
    assert count(a, 'SELECT COUNT(*) FROM %s.accounts' % db) == 145

    # Once B applies again, a rerun continues and finishes; then nothing is left.
    b.query("START SLAVE 'from_a' SQL_THREAD")
    waiter(lambda: running(b, 'from_a'), what='b SQL thread running')
    rest = ansible(MODULE, dict(args, max_lag=2, max_pause=30))
    assert rest.get('failed') is not True, rest.get('msg')
    assert rest['changed'] is True
    assert rest['deleted'] == expected_foreign(3, [1])['accounts'] - 5
    assert rest['tables']['%s.accounts' % db]['remaining_foreign_rows'] == 0
    caught_up(b, a)
    assert count(b, 'SELECT COUNT(*) FROM %s.accounts' % db) == 50
    again = ansible(MODULE, dict(args, max_lag=2, max_pause=30))
    assert again['changed'] is False and again['deleted'] == 0


def dump_thread_ids(server):
    return [row['id'] for row in server.query(
        "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump' ORDER BY ID")]


def test_a_replica_that_stopped_stays_registered_until_the_replication_module_ends_its_dump_thread(
        ansible, servers, shard_db, waiter):
    """The split's sequence: B stops replicating from A. A's dump thread serving B lingers until its next
    event or heartbeat, and B stays registered with A: the purge refuses with reason replica_registered,
    retryable (the playbook retries on it). smooth.mariadb.replication with end_dump_threads_for ends the
    thread (check mode first: it only says so); then the purge runs."""
    a, b = servers.a, servers.b
    db = shard_db
    replicate(b, a, 'from_a')
    waiter(lambda: running(b, 'from_a'), what='b replicating from a')
    b.reset_replication()
    lingering = dump_thread_ids(a)
    assert len(lingering) == 1 and a.query('SHOW SLAVE HOSTS'), 'the dump thread serving B ended at once'

    refused = ansible(MODULE, purge_args(a, db), check=True)
    assert refused['failed'] is True
    assert (refused['reason'], refused['retryable']) == ('replica_registered', True)
    assert [problem['reason'] for problem in refused['problems']] == ['replica_registered']
    assert 'replica server_id %d (reported as 127.0.0.1:%d) replicates from 127.0.0.1:%d' % (
        b.server_id, b.port, a.port) in refused['problems'][0]['msg']

    # A has no connection 'from_b'; only the dump thread serving B's address is ended.
    end = dict(a.login_args(), connection_name='from_b', state='absent', end_dump_threads_for=[b.host])
    checked = ansible('smooth.mariadb.replication', end, check=True, diff=True)
    assert checked.get('failed') is not True, checked.get('msg')
    assert checked['changed'] is True and checked['queries'] == ['KILL CONNECTION %d' % lingering[0]]
    assert [(thread['id'], thread['gone']) for thread in checked['dump_threads']] == [(lingering[0], False)]
    assert checked['diff']['before'] == {'dump_threads': lingering}
    assert dump_thread_ids(a) == lingering

    ended = ansible('smooth.mariadb.replication', end)
    assert ended.get('failed') is not True, ended.get('msg')
    assert ended['changed'] is True and ended['queries'] == ['KILL CONNECTION %d' % lingering[0]]
    waiter(lambda: not a.query('SHOW SLAVE HOSTS'), timeout=10, what='B no longer registered with A')
    assert dump_thread_ids(a) == []
    again = ansible('smooth.mariadb.replication', end)
    assert again['changed'] is False and again['dump_threads'] == [] and again['queries'] == []

    purged = ansible(MODULE, purge_args(a, db))
    assert purged.get('failed') is not True, purged.get('msg')
    assert purged['deleted'] == sum(expected_foreign(3, [1]).values()) and 'reason' not in purged.result


def owner_args(server, residues):
    """An owners entry for server (login and port, the module's own credentials)."""
    return dict(residues=residues, login_host=server.host, login_port=server.port)


def test_owner_check_refuses_rows_the_owner_does_not_hold_and_deletes_only_rows_it_holds(ansible, servers, shard_db):
    """B plays the owner of residues 0 and 2 (of 3) that A gives away; A and B start with the same rows."""
    a, b = servers.a, servers.b
    db = shard_db
    owners = [owner_args(b, [0, 2])]
    # A stale writer put order 1001 (customer 5, residue 2) on A only, after the split; the
    # application deleted account 3 (residue 0) on its owner B. Neither is on B.
    a.setup_sql(["INSERT INTO %s.orders VALUES (1001, 5, 1.00, 'stale')" % db])
    b.setup_sql(['DELETE FROM %s.accounts WHERE id = 3' % db])
    foreign = expected_foreign(3, [1])

    checked = ansible(MODULE, purge_args(a, db, owners=owners), check=True)
    assert checked['failed'] is True
    msg = checked['msg']
    assert msg.startswith('Refusing to purge (check mode, nothing was deleted) on 127.0.0.1:%d: 2 row(s) it would '
                          'delete are not found on the shard that owns them' % a.port), msg
    assert '%s.accounts: 1 row(s) of residue 0 not on their owner 127.0.0.1:%d, first id = 3' % (db, b.port) in msg
    assert '%s.orders: 1 row(s) of residue 2 not on their owner 127.0.0.1:%d, first id = 1001' % (db, b.port) in msg
    assert 'allow_missing_on_owner=true' in msg
    assert (checked['reason'], checked['retryable']) == ('missing_on_owner', False)
    assert sorted((m['table'], m['key']) for m in checked['missing_on_owner']) == [
        ('%s.accounts' % db, [3]), ('%s.orders' % db, [1001])]
    assert checked['owners'] == [dict(target='127.0.0.1:%d' % b.port, server_id=12, residues=[0, 2])]
    assert count(a, 'SELECT COUNT(*) FROM %s.orders' % db) == 201

    # Outside check mode the purge stops at the first chunk holding such a row; what it
    # deleted before was found on B first, and the rows B lacks are still on A.
    stopped = ansible(MODULE, purge_args(a, db, owners=owners))
    assert stopped['failed'] is True
    assert 'Stopped the purge of %s.' % db in stopped['msg']
    assert (stopped['reason'], stopped['retryable']) == ('missing_on_owner', False)
    assert count(a, 'SELECT COUNT(*) FROM %s.orders WHERE id = 1001' % db) == 1
    assert count(a, 'SELECT COUNT(*) FROM %s.accounts WHERE id = 3' % db) == 1
    assert stopped['deleted'] < foreign['orders'] + foreign['items'] + foreign['accounts'] + 1

    # Once the stale row is on its owner, only the row the application deleted remains unproven.
    b.setup_sql(["INSERT INTO %s.orders VALUES (1001, 5, 1.00, 'stale')" % db])
    again = ansible(MODULE, purge_args(a, db, owners=owners), check=True)
    assert again['failed'] is True
    assert '1 row(s) it would delete' in again['msg'] and 'first id = 3' in again['msg']

    # allow_missing_on_owner needs the rows the owner deleted since the split, and deletes only those.
    unlisted = ansible(MODULE, purge_args(a, db, owners=owners, allow_missing_on_owner=True))
    assert unlisted['failed'] is True
    assert 'allow_missing_on_owner needs deleted_on_owner: the rows the owner deleted since the split' in unlisted['msg']
    assert unlisted['reason'] == 'bad_options'
    never = ansible(MODULE, purge_args(a, db, owners=owners, allow_missing_on_owner=True, deleted_on_owner=[
        dict(table='%s.accounts' % db, key=[3], shard_key=6)]))
    assert never['failed'] is True and count(a, 'SELECT COUNT(*) FROM %s.accounts WHERE id = 3' % db) == 1
    assert ('%s.accounts: 1 row(s) of residue 0 not on their owner 127.0.0.1:%d, which did not delete them since '
            'the split either, first id = 3' % (db, b.port)) in never['msg'], never['msg']
    allowed = ansible(MODULE, purge_args(a, db, owners=owners, allow_missing_on_owner=True, deleted_on_owner=[
        dict(table='%s.accounts' % db, key=[3], shard_key=3)]))
    assert allowed.get('failed') is not True, allowed['msg']
    assert [(m['key'], m['reason']) for m in allowed['missing_on_owner']] == [([3], 'deleted')]
    assert allowed['deleted'] + never['deleted'] + stopped['deleted'] == (
        foreign['orders'] + foreign['items'] + foreign['accounts'] + 1)
    for table, key in (('orders', 'customer_id'), ('items', 'order_id'), ('accounts', 'id')):
        assert count(a, 'SELECT COUNT(*) FROM %s.%s WHERE MOD(%s, 3) <> 1' % (db, table, key)) == 0
    assert any('IN (' in query for query in allowed['queries'])
    rerun = ansible(MODULE, purge_args(a, db, owners=owners))
    assert rerun['changed'] is False and rerun['deleted'] == 0
    assert_no_secret(allowed)


def test_owner_refusals_name_the_owner_problem_and_delete_nothing(ansible, servers, shard_db):
    a, b = servers.a, servers.b
    db = shard_db
    b.setup_sql(['DROP TABLE %s.items' % db])
    refused = ansible(MODULE, purge_args(a, db, owners=[
        owner_args(b, [0, 1]), owner_args(a, [2, 0]), dict(residues=[2]),
        dict(residues=[2], login_host=b.host, login_port=b.port, login_password='wrong-owner-pw')]))
    assert refused['failed'] is True
    msg = refused['msg']
    assert msg.startswith('Refusing to purge on 127.0.0.1:%d, nothing was deleted.' % a.port)
    assert 'owners[0]: residue 1 is kept by this node, it has no other owner' in msg
    assert 'owners[1]: residue 0 is already owned by owners[0]' in msg
    assert 'owners[2]: give login_host (and login_port) or login_unix_socket' in msg
    assert 'owners[3]: residue 2 is already owned by owners[1]' in msg
    assert 'owner 127.0.0.1:%d has no table %s.items' % (b.port, db) in msg
    assert 'owner 127.0.0.1:%d has the server_id 11 of this node' % a.port in msg
    assert 'Access denied' in msg
    assert 'wrong-owner-pw' not in json.dumps(refused.result)
    assert refused['deleted'] == 0
    assert (refused['reason'], refused['retryable']) == ('bad_options', False)
    assert sorted(set(problem['reason'] for problem in refused['problems'])) == [
        'bad_options', 'cannot_connect', 'peers_refused', 'tables_refused']
    assert count(a, 'SELECT COUNT(*) FROM %s.orders' % db) == 200


def test_percent_in_names_purges_exactly_the_listed_table(ansible, servers, shard_db):
    """Names reach the server as written: t%% is not t%, and t% does not break the statement."""
    a = servers.a
    db = shard_db
    statements = []
    for table in ('t%', 't%%'):
        statements += [
            'CREATE TABLE {db}.`{t}` (`id%` INT NOT NULL PRIMARY KEY, `k%` INT NOT NULL) ENGINE=InnoDB'.format(
                db=db, t=table),
            'INSERT INTO {db}.`{t}` SELECT seq, seq FROM {db}.seq_1_to_20'.format(db=db, t=table),
        ]
    a.setup_sql(statements)

    def rows(table):
        return count(a, 'SELECT COUNT(*) FROM {db}.`{t}`'.format(db=db, t=table))

    checked = ansible(MODULE, purge_args(a, db, tables=[{'name': '%s.t%%%%' % db, 'key': 'k%'}], modulus=2,
                                         owned_residues=[0]), check=True)
    assert checked.get('failed') is not True, checked.get('msg')
    assert checked['tables'] == {'%s.t%%%%' % db: dict(checked['tables']['%s.t%%%%' % db], foreign_rows_at_start=10)}

    done = ansible(MODULE, purge_args(a, db, tables=[{'name': '%s.t%%%%' % db, 'key': 'k%'}], modulus=2,
                                      owned_residues=[0]))
    assert done.get('failed') is not True, done.get('msg')
    assert done['deleted'] == 10
    assert (rows('t%%'), rows('t%')) == (10, 20)
    assert any(query.startswith('DELETE FROM `%s`.`t%%%%`' % db) for query in done['queries'])

    single = ansible(MODULE, purge_args(a, db, tables=[{'name': '%s.t%%' % db, 'key': 'k%'}], modulus=2,
                                        owned_residues=[1]))
    assert single.get('failed') is not True, single.get('msg')
    assert single['deleted'] == 10
    assert (rows('t%%'), rows('t%')) == (10, 10)
    assert count(a, 'SELECT COUNT(*) FROM {db}.`t%` WHERE MOD(`k%`, 2) = 0'.format(db=db)) == 0


def test_owner_check_compares_the_shard_key_and_allow_missing_deletes_only_absent_rows(ansible, servers, shard_db):
    """After a split both new pairs hand out the same ids: the owner's order 1001 (customer 8) is not A's
    stray order 1001 (customer 5). allow_missing_on_owner deletes neither it nor rows no owner covers."""
    a, b = servers.a, servers.b
    db = shard_db
    a.setup_sql(["INSERT INTO %s.orders VALUES (1001, 5, 1.00, 'stray')" % db])
    b.setup_sql(["INSERT INTO %s.orders VALUES (1001, 8, 9.00, 'owner')" % db])
    owners = [owner_args(b, [0, 2])]
    orders_only = dict(tables=['%s.orders' % db])

    for allow in (False, True):
        deleted = dict(deleted_on_owner=[]) if allow else {}
        checked = ansible(MODULE, purge_args(a, db, owners=owners, allow_missing_on_owner=allow, **dict(orders_only, **deleted)),
                          check=True)
        assert checked['failed'] is True, allow
        assert ('%s.orders: 1 row(s) of residue 2 whose primary key the owner 127.0.0.1:%d holds for another row '
                '(another customer_id): ids handed out on both shards since the split, first id = 1001 '
                '(customer_id 8 there)' % (db, b.port)) in checked['msg'], checked['msg']
        assert checked['missing_on_owner'] == [dict(table='%s.orders' % db, key=[1001], residue=2, reason='other_row',
                                                    owner='127.0.0.1:%d' % b.port, owner_shard_key=8)]
        real = ansible(MODULE, purge_args(a, db, owners=owners, allow_missing_on_owner=allow, **dict(orders_only, **deleted)))
        assert real['failed'] is True
        assert count(a, "SELECT COUNT(*) FROM %s.orders WHERE id = 1001 AND note = 'stray'" % db) == 1

    # A residue no owner covers is never deleted, allow_missing_on_owner or not.
    a.setup_sql(['DELETE FROM %s.orders WHERE id = 1001' % db,
                 "INSERT INTO %s.orders VALUES (1002, 2, 1.00, 'uncovered')" % db])
    residue_2 = 'SELECT COUNT(*) FROM %s.orders WHERE MOD(customer_id, 3) = 2' % db
    before = count(a, residue_2)
    assert before >= 1
    uncovered = ansible(MODULE, purge_args(a, db, owners=[owner_args(b, [0])], allow_missing_on_owner=True,
                                           deleted_on_owner=[], **orders_only), check=True)
    assert uncovered['failed'] is True
    assert 'of residue 2 which none of the owners given holds' in uncovered['msg']
    assert {entry['reason'] for entry in uncovered['missing_on_owner']} == {'no_owner'}
    real = ansible(MODULE, purge_args(a, db, owners=[owner_args(b, [0])], allow_missing_on_owner=True,
                                      deleted_on_owner=[], **orders_only))
    assert real['failed'] is True
    assert count(a, residue_2) == before


class PurgeFailed(Exception):
    """fail_json of the in-process purge; args[0] holds its keywords."""


def in_process_purge(node, db, hook, **params):
    """Run shard_purge's Purge in this process against node, calling hook() on another connection right after
    the purge read the first chunk's rows for the owner check (the locking read; before the DELETE).

    Through Ansible there is no way into that window; the module code is the same.
    """
    purge_module = collection_module('plugins.modules.shard_purge')
    from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import SqlSession, mariadb_connect

    class StandIn(object):
        check_mode = False
        _diff = False

        def __init__(self):
            self.params = dict((name, spec.get('default')) for name, spec in purge_module.argument_spec().items())
            self.params.update(purge_args(node, db, **params))
            self.warnings = []

        def fail_json(self, **kwargs):
            raise PurgeFailed(kwargs)

        def warn(self, message):
            self.warnings.append(message)

    class Hooked(SqlSession):
        def fetch_all(self, sql, params=None):
            rows = super(Hooked, self).fetch_all(sql, params)
            chunk_read = 'FOR UPDATE' in sql or (' LIMIT ' in sql and 'AS chunk' not in sql)  # now, or before
            if chunk_read and 'FROM `%s`.`orders`' % db in sql and hooks:
                hooks.pop()()
            return rows

    hooks = [hook]
    module = StandIn()
    connection = mariadb_connect(module)
    try:
        return purge_module.Purge(module, Hooked(connection)).run()
    finally:
        connection.close()


def other_client(server, statement):
    """Run statement as another client, waiting at most 1 s for row locks; returns whether it went through."""
    connection = server.root_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute('SET SESSION innodb_lock_wait_timeout = 1')
            cursor.execute('SET SESSION sql_log_bin = 0')
            try:
                cursor.execute(statement)
            except pymysql.err.OperationalError as exc:
                if exc.args[0] == 1205:  # lock wait timeout
                    return False
                raise
        return True
    finally:
        connection.close()


def owner_entry(server, residues):
    return dict(owner_args(server, residues), login_user=None, login_password=None, login_unix_socket=None)


def test_owner_check_never_deletes_a_row_changed_between_its_check_and_the_delete(servers, shard_db):
    """Order 2 (customer 14, residue 2 of 3) is on its owner B. Another client changes its customer to 15 (residue 0,
    which B owns too, but B has no order 2 of customer 15) after the purge checked the chunk and before it
    deletes it. The chunk's rows are locked from the check to the commit: the change waits (and times out);
    order 2 is deleted as the row B holds. Without the lock the purge deleted order 2 of customer 15, which B
    does not hold."""
    a, b = servers.a, servers.b
    db = shard_db
    changed = []
    result = in_process_purge(a, db, lambda: changed.append(other_client(
        a, 'UPDATE %s.orders SET customer_id = 15 WHERE id = 2' % db)),
        tables=['%s.orders' % db], owners=[owner_entry(b, [0, 2])])
    # Order 2 of customer 15 was never looked up on B: if the change went through, it must still be here.
    assert changed == [False] or count(a, 'SELECT COUNT(*) FROM %s.orders WHERE id = 2' % db) == 1, changed
    assert changed == [False]  # locked by the purge until its chunk committed
    assert result['deleted'] == expected_foreign(3, [1])['orders']
    assert count(a, 'SELECT COUNT(*) FROM %s.orders WHERE id = 2' % db) == 0
    assert count(b, 'SELECT COUNT(*) FROM %s.orders WHERE id = 2 AND customer_id = 14' % db) == 1


def test_owner_check_rolls_back_a_chunk_another_client_wrote_into_and_refuses_the_row(servers, shard_db):
    """Order 3 is gone on A and B; after the purge checked the first chunk (READ COMMITTED: no gap locks), another
    client inserts order 3 for customer 20 (residue 2) on A only, inside the chunk's key range. The DELETE of the
    range would take it too and reports one row more than were proven: the chunk is rolled back, compared row by
    row, and the purge stops naming order 3, which stays."""
    a, b = servers.a, servers.b
    db = shard_db
    for server in (a, b):
        server.setup_sql(['DELETE FROM %s.orders WHERE id = 3' % db])
    inserted = []
    with pytest.raises(PurgeFailed) as failure:
        in_process_purge(a, db, lambda: inserted.append(other_client(
            a, "INSERT INTO %s.orders VALUES (3, 20, 1.00, 'late')" % db)),
            tables=['%s.orders' % db], owners=[owner_entry(b, [0, 2])])
    assert inserted == [True]  # not blocked: the window is real
    result = failure.value.args[0]
    assert result['msg'].startswith('Stopped the purge of %s.orders before the chunk from the start up to id = ' % db)
    assert ('%s.orders: 1 row(s) of residue 2 not on their owner 127.0.0.1:%d, first id = 3.' % (db, b.port)
            in result['msg']), result['msg']
    assert result['deleted'] == 0
    assert count(a, "SELECT COUNT(*) FROM %s.orders WHERE id = 3 AND note = 'late'" % db) == 1
    assert count(a, 'SELECT COUNT(*) FROM %s.orders' % db) == 200  # the chunk was rolled back


def create_family(server, db, on_delete='RESTRICT', child_key='account_no'):
    """acct-like parent and child tables: every child row references a parent of the same account."""
    server.setup_sql([
        'CREATE DATABASE IF NOT EXISTS %s' % db,
        'CREATE TABLE %s.parent (id BIGINT NOT NULL PRIMARY KEY, account_no INT NOT NULL, balance INT NOT NULL, '
        'UNIQUE KEY (account_no, id)) ENGINE=InnoDB' % db,
        'CREATE TABLE %s.child (id BIGINT NOT NULL PRIMARY KEY, account_no INT NOT NULL, parent_id BIGINT NOT NULL, '
        'CONSTRAINT fk_child_parent FOREIGN KEY (%s, parent_id) REFERENCES %s.parent (account_no, id) '
        'ON DELETE %s) ENGINE=InnoDB' % (db, child_key, db, on_delete),
        'INSERT INTO %s.parent SELECT seq, seq * 7 %% 23, 100 FROM %s.seq_1_to_40' % (db, db),
        # Child ids 1..80, two per parent, of the parent's account.
        'INSERT INTO %s.child SELECT seq, (((seq + 1) DIV 2) * 7) %% 23, (seq + 1) DIV 2 FROM %s.seq_1_to_80'
        % (db, db),
    ])


def family_args(server, db, order=('parent', 'child'), **extra):
    return dict(server.login_args(), tables=['%s.%s' % (db, name) for name in order], key_column='account_no',
                modulus=2, owned_residues=[0], chunk_size=7, **extra)


def test_foreign_keys_children_first_whatever_the_list_order(ansible, servers, waiter):
    """A RESTRICT foreign key, parent listed first: the purge deletes the children first (it failed with
    error 1451 after the parent's first chunk)."""
    a = servers.a
    with scratch_database(servers, waiter, 'fk') as db:
        create_family(a, db)
        foreign_parents = count(a, 'SELECT COUNT(*) FROM %s.parent WHERE account_no %% 2 = 1' % db)
        foreign_children = count(a, 'SELECT COUNT(*) FROM %s.child WHERE account_no %% 2 = 1' % db)
        assert foreign_parents and foreign_children

        checked = ansible(MODULE, family_args(a, db), check=True)
        assert checked.get('failed') is not True, checked.get('msg')
        assert checked['delete_order'] == ['%s.child' % db, '%s.parent' % db]
        assert [(fk['name'], fk['child'], fk['parent'], fk['on_delete']) for fk in checked['foreign_keys']] == [
            ('fk_child_parent', '%s.child' % db, '%s.parent' % db, 'RESTRICT')]

        done = ansible(MODULE, family_args(a, db))
        assert done.get('failed') is not True, done.get('msg')
        assert done['deleted'] == foreign_parents + foreign_children
        assert done['delete_order'] == ['%s.child' % db, '%s.parent' % db]
        assert count(a, 'SELECT COUNT(*) FROM %s.parent WHERE account_no %% 2 = 1' % db) == 0
        assert count(a, 'SELECT COUNT(*) FROM %s.child WHERE account_no %% 2 = 1' % db) == 0
        assert count(a, 'SELECT COUNT(*) FROM %s.child' % db) == 80 - foreign_children


def test_foreign_keys_and_triggers_that_would_change_other_rows_are_refused(ansible, servers, waiter):
    a = servers.a
    with scratch_database(servers, waiter, 'fk') as db:
        # An unlisted child with ON DELETE CASCADE: purging the parent would delete its rows unchecked.
        create_family(a, db, on_delete='CASCADE')
        a.setup_sql(['CREATE TABLE %s.counter (name VARCHAR(8) PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB' % db,
                     "INSERT INTO %s.counter VALUES ('parents', 40)" % db,
                     "CREATE TRIGGER %s.parent_gone AFTER DELETE ON %s.parent FOR EACH ROW "
                     "UPDATE %s.counter SET n = n - 1 WHERE name = 'parents'" % (db, db, db)])
        for check in (True, False):
            refused = ansible(MODULE, family_args(a, db, order=('parent',)), check=check)
            assert refused['failed'] is True
            msg = refused['msg']
            assert msg.startswith('Refusing to purge on 127.0.0.1:%d, nothing was deleted. 2 problem(s):' % a.port), msg
            assert ('foreign key fk_child_parent of %s.child (account_no, parent_id) references %s.parent '
                    '(account_no, id) ON DELETE CASCADE: a table that is not among the sharded tables references a '
                    'sharded table; deleting the rows of %s.parent deletes the referencing rows there too, without '
                    'checking that they exist on their owner' % (db, db, db)) in msg
            assert 'trigger parent_gone runs AFTER DELETE on %s.parent' % db in msg
            assert refused['deleted'] == 0
        assert count(a, 'SELECT COUNT(*) FROM %s.child' % db) == 80
        assert count(a, 'SELECT COUNT(*) FROM %s.parent' % db) == 40

        # Listing the child too takes care of the foreign key; the trigger needs the operator's word.
        both = family_args(a, db)
        refused = ansible(MODULE, both)
        assert refused['failed'] is True and '1 problem(s)' in refused['msg']
        assert 'allow_delete_triggers' in refused['msg']
        assert [(t['name'], t['verdict']) for t in refused['triggers']] == [
            ('parent_gone', 'refused: runs for every purged row')]
        foreign_parents = count(a, 'SELECT COUNT(*) FROM %s.parent WHERE account_no %% 2 = 1' % db)
        allowed = ansible(MODULE, dict(both, allow_delete_triggers=True))
        assert allowed.get('failed') is not True, allowed.get('msg')
        assert count(a, "SELECT n FROM %s.counter WHERE name = 'parents'" % db) == 40 - foreign_parents


def test_foreign_key_that_does_not_carry_the_shard_key_is_refused(ansible, servers, waiter):
    a = servers.a
    with scratch_database(servers, waiter, 'fk') as db:
        create_family(a, db)
        # The child is sharded by its own id: a child row can live on another shard than its parent.
        refused = ansible(MODULE, dict(family_args(a, db, order=('child', 'parent')),
                                       tables=[{'name': '%s.child' % db, 'key': 'id'}, '%s.parent' % db]),
                          check=True)
        assert refused['failed'] is True
        assert ('does not map the shard key id of %s.child onto the shard key account_no of %s.parent: a child row '
                'can live on another shard than its parent' % (db, db)) in refused['msg']
        assert count(a, 'SELECT COUNT(*) FROM %s.child' % db) == 80


def test_an_account_without_delete_is_refused_in_check_mode_as_in_the_real_run(ansible, servers, shard_db):
    """Check mode used to pass for an account that may only read: the real run then failed at its first
    DELETE, after the cleanup mark. EXPLAIN DELETE proves the privilege without deleting."""
    a = servers.a
    db = shard_db
    a.setup_sql(["CREATE USER IF NOT EXISTS 'purge_ro'@'%' IDENTIFIED BY 'ro-Secret-1'",
                 "GRANT SELECT ON %s.* TO 'purge_ro'@'%%'" % db,
                 "GRANT DELETE ON %s.items TO 'purge_ro'@'%%'" % db,
                 "GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, REPLICATION MASTER ADMIN ON *.* TO 'purge_ro'@'%'"])
    try:
        args = purge_args(a, db, login_user='purge_ro', login_password='ro-Secret-1')
        for check in (True, False):
            refused = ansible(MODULE, args, check=check)
            assert refused['failed'] is True, refused
            assert 'the login account may not delete from %s.orders: (1142) DELETE command denied' % db \
                in refused['msg'], refused['msg']
            assert 'may not delete from %s.accounts' % db in refused['msg']
            assert 'may not delete from %s.items' % db not in refused['msg']
        assert count(a, 'SELECT COUNT(*) FROM %s.orders' % db) == 200
    finally:
        a.setup_sql(["DROP USER IF EXISTS 'purge_ro'@'%'"])


def test_a_partner_login_that_reads_everything_but_lacks_process_is_refused(ansible, servers, shard_db, waiter):
    """The interlock asks whether its login sees every thread (PROCESS). information_schema.USER_PRIVILEGES
    shows every account's privileges to a login with SELECT on mysql.*: the check used to find root's PROCESS
    there and pass for a login without it, which sees only its own binlog dump threads (measured with the
    node-to-node admin login of expand_2n.yml, which has global SELECT). It must ask about its own account."""
    a, b = servers.a, servers.b
    db = shard_db
    replicate(b, a, 'from_a')
    waiter(lambda: running(b, 'from_a'), what='b replicating from a')
    b.setup_sql(["CREATE USER IF NOT EXISTS 'peer_noproc'@'%' IDENTIFIED BY 'np-Secret-1'",
                 "GRANT SELECT, SLAVE MONITOR, REPLICATION MASTER ADMIN ON *.* TO 'peer_noproc'@'%'"])
    try:
        partner = dict(login_host=b.host, login_port=b.port, login_user='peer_noproc', login_password='np-Secret-1')
        refused = ansible(MODULE, purge_args(a, db, partner=partner), check=True)
        assert refused['failed'] is True, refused
        assert 'the login account on partner %s:%d lacks the PROCESS privilege' % (b.host, b.port) in refused['msg'], \
            refused['msg']
        b.setup_sql(["GRANT PROCESS ON *.* TO 'peer_noproc'@'%'"])
        granted = ansible(MODULE, purge_args(a, db, partner=partner), check=True)
        assert granted.get('failed') is not True, granted.get('msg')
        assert count(a, 'SELECT COUNT(*) FROM %s.orders' % db) == 200
    finally:
        b.setup_sql(["DROP USER IF EXISTS 'peer_noproc'@'%'"])


def test_a_purge_whose_run_lost_the_lock_stops_within_seconds_and_frees_the_work_lock(
        ansible, servers, shard_db, waiter, tmp_path):
    """What a purge left running by a killed ansible-playbook does (issue 11): it holds the node's work lock
    while it works, and once another run took the lock over (the lock file names another run), it stops at
    its next look - here while it pauses for a partner that lags, with 60 s of max_pause left - and lets the
    work lock go, which is what the run that took over waits for. Before, nothing stopped it."""
    a, b = servers.a, servers.b
    db = shard_db
    replicate(b, a, 'from_a')
    waiter(lambda: running(b, 'from_a'), what='b replicating from a')
    lock = tmp_path / 'run.lock'
    args = purge_args(a, db, tables=['%s.accounts' % db], key_column='id', chunk_size=5,
                      partner=dict(login_host=b.host, login_port=b.port), max_lag=0, max_pause=60)
    blocker = b.root_connection()
    try:
        # B's SQL thread waits on a row lock: the purge commits a chunk, then pauses for B.
        with blocker.cursor() as cursor:
            cursor.execute('BEGIN')
            cursor.execute('SELECT COUNT(*) FROM %s.accounts FOR UPDATE' % db)
        stopped, took = run_until_the_lock_moves(
            ansible, MODULE, args, lock, lambda: count(a, 'SELECT COUNT(*) FROM %s.accounts' % db) == 145,
            'the first chunk committed on a')
    finally:
        blocker.rollback()
        blocker.close()
    print('\nFIGURE purge of a run that lost the lock: stopped %.1f s after the lock named another run' % took)
    assert stopped['failed'] is True
    assert ('stopped: the run lock %s names run new-run, not run dead-run that started this purge' % lock
            in stopped['msg']), stopped['msg']
    assert '5 row(s) deleted so far in 1 chunk(s) are committed; a rerun continues' in stopped['msg']
    assert took < 10, 'it paused on (max_pause 60 s) instead of reading the lock'
    assert count(a, 'SELECT COUNT(*) FROM %s.accounts' % db) == 145
