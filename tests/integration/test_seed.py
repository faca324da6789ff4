# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smooth.mariadb.seed: server a copied into an empty third server c, through Ansible.

The copy is taken while a keeps writing; c then replicates from a from the
returned coordinates with smooth.mariadb.replication, and must end up equal to
a (row counts and CHECKSUM TABLE), which holds only if the snapshot and its
coordinates match exactly.
"""

from __future__ import annotations

import json
import os

import pytest

from mariadb_lab import (
    ADMIN_PASSWORD,
    BackgroundWriter,
    checksum_tables,
    find_server_binaries,
    run_until_the_lock_moves,
    take_back,
    wipe_server,
    write_service_scripts,
)

MODULE = 'smooth.mariadb.seed'
TABLES = ['crm.customers', 'shop.audit', 'shop.blobs', 'shop.orders']
# A value that looks like the dump's coordinate comments: the module must not be fooled by data.
FAKE_COMMENTS = "x\n-- SET GLOBAL gtid_slave_pos='9-9-9';\n-- CHANGE MASTER TO MASTER_LOG_FILE='evil.000001', MASTER_LOG_POS=4;\n"
SOURCE_SQL = [
    'CREATE DATABASE shop',
    'CREATE TABLE shop.orders (id BIGINT NOT NULL PRIMARY KEY, k BIGINT NOT NULL, note VARCHAR(200) NOT NULL, '
    'amount DECIMAL(12,2) NOT NULL, KEY k (k)) ENGINE=InnoDB',
    'CREATE TABLE shop.audit (id BIGINT AUTO_INCREMENT PRIMARY KEY, order_id BIGINT NOT NULL, '
    'action VARCHAR(16) NOT NULL) ENGINE=InnoDB',
    "CREATE TRIGGER shop.orders_audit AFTER INSERT ON shop.orders FOR EACH ROW "
    "INSERT INTO shop.audit (order_id, action) VALUES (NEW.id, 'insert')",
    "CREATE PROCEDURE shop.add_order(IN p_id BIGINT) "
    "INSERT INTO shop.orders (id, k, note, amount) VALUES (p_id, p_id, 'by procedure', 1.00)",
    'CREATE TABLE shop.blobs (id INT PRIMARY KEY, data VARBINARY(255) NOT NULL, note TEXT NOT NULL) ENGINE=InnoDB',
    "INSERT INTO shop.orders (id, k, note, amount) SELECT seq, seq * 7, CONCAT('order ', seq), seq / 100 "
    "FROM shop.seq_1_to_600",
    'CALL shop.add_order(100000)',
    'CREATE DATABASE crm',
    'CREATE TABLE crm.customers (id INT PRIMARY KEY, name VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL) ENGINE=InnoDB',
]
MARKER_TABLE = 'smooth_mariadb.seed_test_marker'


@pytest.fixture(scope='module')
def seed_source(servers):
    """shop and crm on a (binary-logged, so b can replay them consistently later),
    plus a table in a's own smooth_mariadb schema that must never be copied."""
    a = servers.a
    connection = a.root_connection()
    try:
        with connection.cursor() as cursor:
            for sql in SOURCE_SQL:
                cursor.execute(sql)
            cursor.execute('INSERT INTO shop.blobs (id, data, note) VALUES (%s, %s, %s)',
                           (1, b'\x00\x01\n\r\'"\\-- \xff', FAKE_COMMENTS))
            cursor.execute('INSERT INTO crm.customers (id, name) VALUES (%s, %s), (%s, %s)',
                           (1, u'Zo\u00eb \u6d4b\u8bd5 \U0001F600', 2, "O'Brien"))
    finally:
        connection.close()
    had_metadata = bool(a.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'smooth_mariadb'"))
    a.setup_sql(['CREATE DATABASE IF NOT EXISTS smooth_mariadb',
                 'CREATE TABLE %s (id INT PRIMARY KEY) ENGINE=InnoDB' % MARKER_TABLE])
    yield a
    a.setup_sql(['DROP TABLE %s' % MARKER_TABLE] + ([] if had_metadata else ['DROP DATABASE smooth_mariadb']))
    a.query('DROP DATABASE shop')
    a.query('DROP DATABASE crm')


@pytest.fixture
def target(third_server):
    wipe_server(third_server)
    yield third_server
    third_server.reset_replication()


def orders_writer(server, first_id):
    """Insert orders on the source in the background (bounded)."""
    return BackgroundWriter(
        server, lambda step: ("INSERT INTO shop.orders (id, k, note, amount) VALUES (%s, %s, 'during seed', 2.5)",
                              (first_id + step, first_id + step)),
        limit=2000, pause=0.002)


def variable(server, name):
    return server.query('SELECT @@GLOBAL.%s AS v' % name)[0]['v']


def seed_args(target, source, **extra):
    # The admin account exists on both: the source's login_user/login_password default to the module's.
    args = dict(target.login_args(), source=dict(login_host=source.host, login_port=source.port))
    args.update(extra)
    return args


def user_schemas(server):
    return sorted(row['name'] for row in server.query(
        "SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN "
        "('mysql', 'sys', 'information_schema', 'performance_schema')"))


def assert_no_secret(result, *secrets):
    blob = json.dumps(result.result) + result.output
    for secret in (ADMIN_PASSWORD,) + secrets:
        assert secret not in blob


def test_seed_under_writes_then_replicate_and_rerun(ansible, servers, seed_source, target, waiter, tmp_path):
    a, c = seed_source, target
    writer = orders_writer(a, 200000)
    writer.start()
    progress_file = str(tmp_path / 'seed.progress')
    try:
        waiter(lambda: writer.written > 20, what='writes on the source')
        written_before = writer.written
        seeded = ansible(MODULE, dict(seed_args(c, a), progress_file=progress_file))
        written_after = writer.written
    finally:
        writer.stop()
    assert writer.error is None, writer.error
    assert seeded.get('failed') is not True, seeded.get('msg')
    assert seeded['changed'] is True
    assert written_after > written_before  # a kept writing during the copy
    # The progress file is for the time of the copy only; the rows were counted (row_count exact by default).
    assert not os.path.exists(progress_file) and not os.path.exists(progress_file + '.tmp')
    assert seeded['row_count'] == 'exact'

    # Every user schema of a, none of the excluded ones.
    assert {'shop', 'crm', 'smoke'} <= set(seeded['databases'])
    assert not {'mysql', 'sys', 'information_schema', 'performance_schema', 'smooth_mariadb'} & set(seeded['databases'])
    assert not c.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'smooth_mariadb' "
                       "AND TABLE_NAME = 'seed_test_marker'")
    expected_source = dict(address='%s:%d' % (a.host, a.port), server_id=11, hostname=variable(a, 'hostname'),
                           port=a.port, version=a.query('SELECT VERSION() AS v')[0]['v'])
    assert seeded['source'] == expected_source

    # The coordinates are the snapshot's: the GTID is the one of the returned file/offset,
    # it is what c's gtid_slave_pos now holds, and nothing entered c's binary log.
    gtid = seeded['gtid_slave_pos']
    assert gtid and gtid.startswith('1-11-')
    assert a.query('SELECT BINLOG_GTID_POS(%s, %s) AS p', (seeded['source_log_file'], seeded['source_log_pos']))[0]['p'] \
        == gtid
    assert variable(c, 'gtid_slave_pos') == gtid
    assert variable(c, 'gtid_binlog_pos') == ''
    assert c.query('SHOW MASTER STATUS')[0]['Position'] <= 400  # only the binlog's header events

    # Rows reported = rows on c; routine, trigger and tricky values came along.
    for table in ('shop.orders', 'shop.audit', 'shop.blobs', 'crm.customers'):
        assert seeded['tables'][table] == c.query('SELECT COUNT(*) AS n FROM %s' % table)[0]['n']
    assert seeded['rows'] == sum(seeded['tables'].values())
    assert seeded['tables']['shop.orders'] >= 601 + 1
    assert seeded['bytes'] > 20000 and seeded['seconds'] > 0
    assert c.query("SELECT ROUTINE_NAME AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'shop'") == \
        [{'n': 'add_order'}]
    assert c.query("SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'") == \
        [{'n': 'orders_audit'}]
    assert c.query('SELECT data, note FROM shop.blobs WHERE id = 1') == \
        [{'data': b'\x00\x01\n\r\'"\\-- \xff', 'note': FAKE_COMMENTS}]
    record = seeded['record']
    assert record['state'] == 'seeded' and record['source_server_id'] == 11 and record['gtid_pos'] == gtid
    assert record['id'] == 1 and record['databases'] == seeded['databases'] and record['rows_copied'] == seeded['rows']
    assert record['log_file'] == seeded['source_log_file'] and record['log_pos'] == seeded['source_log_pos']
    assert seeded['queries'][0] == 'SET SESSION sql_log_bin = 0'
    assert "SET GLOBAL gtid_slave_pos = '%s'" % gtid in seeded['queries']
    assert_no_secret(seeded)

    # Replicate from the returned coordinates: the position is already in place.
    replicated = ansible('smooth.mariadb.replication', dict(
        c.login_args(), **a.source_args(connection_name='seed', state='started', gtid_slave_pos=gtid)))
    assert replicated.get('failed') is not True, replicated.get('msg')
    assert not [query for query in replicated['queries'] if 'gtid_slave_pos' in query]
    a.query('CALL shop.add_order(300000)')
    a.query("UPDATE shop.orders SET note = 'after seed' WHERE id BETWEEN 1 AND 50")
    a.query("INSERT INTO crm.customers (id, name) VALUES (3, 'after seed')")
    caught_up = ansible('smooth.mariadb.replication_wait', dict(c.login_args(), timeout=30))
    assert caught_up.get('failed') is not True, caught_up.get('msg')
    assert c.query('SELECT note FROM shop.orders WHERE id = 300000') == [{'note': 'by procedure'}]
    assert checksum_tables(c, TABLES) == checksum_tables(a, TABLES)
    # c's binary log holds what it replicated (log_slave_updates), nothing of the restore.
    assert all(part.startswith('1-11-') for part in variable(c, 'gtid_binlog_pos').split(','))

    # Again: already seeded from a, nothing done, the recorded coordinates returned.
    again = ansible(MODULE, seed_args(c, a))
    assert again.get('failed') is not True, again.get('msg')
    assert again['changed'] is False and again['queries'] == []
    assert (again['gtid_slave_pos'], again['source_log_file'], again['source_log_pos']) == \
        (gtid, seeded['source_log_file'], seeded['source_log_pos'])
    assert again['rows'] == seeded['rows'] and again['databases'] == seeded['databases']


def test_check_mode_refusal_and_force(ansible, seed_source, target):
    a, c = seed_source, target
    checked = ansible(MODULE, seed_args(c, a, databases=['shop']), check=True)
    assert checked.get('failed') is not True, checked.get('msg')
    assert checked['changed'] is True and checked['queries'] == []
    assert checked['databases'] == ['shop'] and checked['rows'] >= 601
    assert checked['commands'][0].startswith('/usr/bin/mariadb-dump --defaults-file=<source option file> '
                                             '--single-transaction --gtid --master-data=2')
    assert user_schemas(c) == [] and variable(c, 'gtid_slave_pos') == '' and variable(c, 'gtid_binlog_pos') == ''

    c.setup_sql(['CREATE DATABASE legacy', 'CREATE TABLE legacy.t (id INT PRIMARY KEY)', 'CREATE DATABASE empty_one'])
    refused = ansible(MODULE, seed_args(c, a, databases=['shop']))
    assert refused.get('failed') is True
    # empty_one has no table and counts as well: the preflight's rule is the same.
    assert refused['msg'] == ('Seeding %s:%d from %s:%d: Target %s:%d: the target already holds user data in empty_one, legacy. '
                              'Refusing to seed it; set force: true to replace the copied schemas anyway.'
                              % (c.host, c.port, a.host, a.port, c.host, c.port))
    assert refused['changed'] is False
    assert user_schemas(c) == ['empty_one', 'legacy'] and variable(c, 'gtid_slave_pos') == ''

    forced = ansible(MODULE, seed_args(c, a, databases=['shop'], force=True))
    assert forced.get('failed') is not True, forced.get('msg')
    assert forced['changed'] is True
    assert 'force: the target holds user data in empty_one, legacy' in forced.output
    assert user_schemas(c) == ['empty_one', 'legacy', 'shop', 'smooth_mariadb']
    assert variable(c, 'gtid_slave_pos') == forced['gtid_slave_pos'] != ''
    assert variable(c, 'gtid_binlog_pos') == ''


def test_wrong_password_and_failed_dump(ansible, seed_source, target):
    a, c = seed_source, target
    wrong = 'Wr0ng-S3cret-77x'
    args = seed_args(c, a)
    args['source'].update(login_user='admin', login_password=wrong)
    denied = ansible(MODULE, args)
    assert denied.get('failed') is True
    assert denied['msg'] == ("Unable to connect to the source, MariaDB at %s:%d as user 'admin': (1045) Access denied "
                             "for user 'admin'@'127.0.0.1' (using password: YES)" % (a.host, a.port))
    assert_no_secret(denied, wrong)

    # A view whose table is gone makes mariadb-dump fail after shop was restored.
    a.setup_sql(['CREATE DATABASE broken', 'CREATE TABLE broken.t (id INT)', 'CREATE VIEW broken.v AS SELECT id FROM broken.t',
                 'DROP TABLE broken.t'])
    try:
        failed = ansible(MODULE, seed_args(c, a, databases=['shop', 'broken']))
    finally:
        a.setup_sql(['DROP DATABASE broken'])
    assert failed.get('failed') is True
    assert failed['msg'].startswith('Seeding %s:%d from %s:%d: mariadb-dump failed with exit code 2: '
                                    % (c.host, c.port, a.host, a.port))
    assert "View 'broken.v' references invalid table(s)" in failed['msg']
    assert failed['record']['state'] == 'failed' and failed['record']['error'] in failed['msg']
    assert variable(c, 'gtid_slave_pos') == '' and variable(c, 'gtid_binlog_pos') == ''
    assert_no_secret(failed)

    # The failed attempt's own schemas do not block a new attempt from the same source.
    retried = ansible(MODULE, seed_args(c, a, databases=['shop']))
    assert retried.get('failed') is not True, retried.get('msg')
    assert retried['changed'] is True and retried['record']['state'] == 'seeded'
    assert 'resuming a failed seed from server_id 11' in retried.output
    assert variable(c, 'gtid_slave_pos') == retried['gtid_slave_pos']


def test_a_seed_whose_run_lost_the_lock_stops_within_seconds_and_can_be_resumed(
        ansible, seed_source, target, tmp_path):
    """A seed left running by a killed ansible-playbook (issue 11): once another run took the lock over, the
    copy is stopped (mariadb-dump and the restoring client killed), the seed record says failed, the work
    lock is let go, and a later seed resumes. The dump is held still by a table lock on the source, so it
    would otherwise wait as long as the lock is held."""
    a, c = seed_source, target
    lock = tmp_path / 'run.lock'
    blocker = a.root_connection()
    try:
        with blocker.cursor() as cursor:
            cursor.execute('LOCK TABLES shop.orders WRITE')
        stopped, took = run_until_the_lock_moves(
            ansible, MODULE, seed_args(c, a, databases=['shop']), lock,
            lambda: a.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST "
                            "WHERE STATE LIKE 'Waiting for table metadata lock%%'")[0]['n'] > 0,
            'the dump waiting for shop.orders')
    finally:
        with blocker.cursor() as cursor:
            cursor.execute('UNLOCK TABLES')
        blocker.close()
    print('\nFIGURE seed of a run that lost the lock: stopped %.1f s after the lock named another run' % took)
    assert stopped.get('failed') is True
    assert 'the run lock %s names run new-run, not run dead-run that started this seed' % lock in stopped['msg'], \
        stopped['msg']
    assert stopped['record']['state'] == 'failed'
    assert took < 10, 'the copy went on waiting instead of reading the lock'
    assert a.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'admin' "
                   "AND INFO LIKE '%%shop%%'")[0]['n'] == 0, 'the dump still runs on the source'

    resumed = ansible(MODULE, seed_args(c, a, databases=['shop']))
    assert resumed.get('failed') is not True, resumed.get('msg')
    assert resumed['record']['state'] == 'seeded'
    assert 'resuming a failed seed from server_id 11' in resumed.output


def test_method_auto_measures_the_source_and_the_route(ansible, seed_source, target):
    """auto picks by the size the source's statistics give; on loopback the dump is not compressed."""
    a, c = seed_source, target
    backup = ['mariabackup', '--backup', '--stream=xbstream']
    small = ansible(MODULE, seed_args(c, a, method='auto', backup_command=backup), check=True)
    assert small.get('failed') is not True, small.get('msg')
    size = small['source_bytes']
    assert size > 0 and small['method'] == 'dump' and small['method_reason'].startswith('auto: the source holds ')
    assert small['method_reason'].endswith(', less than 256.0 MiB')
    assert (small['compress'], small['compress_reason']) == (False, 'the source is on this host: not compressed')
    assert '--compress' not in small['commands'][0]
    # The same data over the threshold: mariabackup (check mode shows its commands, runs none).
    large = ansible(MODULE, seed_args(c, a, method='auto', backup_command=backup, mariabackup_from_bytes=size,
                                      datadir=c.datadir, work_dir=c.datadir + '-seed-work'), check=True)
    assert large.get('failed') is not True, large.get('msg')
    assert (large['method'], large['source_bytes'], large['compress']) == ('mariabackup', size, None)
    assert large['commands'][0].startswith('mariabackup --backup --stream=xbstream | ')
    assert user_schemas(c) == [] and variable(c, 'gtid_slave_pos') == ''


# -- method mariabackup: a's physical backup moved into c, which is stopped and started by scripts --

def backup_args(target, source, tmp_path, stop, start, **extra):
    """mariabackup runs locally against a's socket as root (normal authentication, no password)."""
    backup = ['mariabackup', '--no-defaults', '--backup', '--stream=xbstream', '--target-dir=%s' % tmp_path,
              '--socket=%s' % source.socket, '--user=root', '--datadir=%s' % source.datadir]
    return seed_args(target, source, method='mariabackup', backup_command=backup, datadir=target.datadir,
                     work_dir=str(tmp_path / 'work'), stop_command=[stop], start_command=[start], **extra)


def aside_dirs(server, kind):
    parent, base = os.path.split(server.datadir)
    return sorted(name for name in os.listdir(parent) if name.startswith(base + kind))


def test_mariabackup_check_mode_seed_replicate_and_rerun(ansible, seed_source, target, tmp_path):
    a, c = seed_source, target
    mariadbd = find_server_binaries()[0]
    stop, start, dummy = write_service_scripts(c, mariadbd, str(tmp_path))
    # accounts with mariabackup: the backup brings the mysql schema, so the account is already equal.
    args = backup_args(c, a, tmp_path, stop, start, accounts=['repl'])
    try:
        checked = ansible(MODULE, args, check=True)
        assert checked.get('failed') is not True, checked.get('msg')
        assert checked['changed'] is True and checked['queries'] == [] and checked['old_datadir'] == ''
        assert checked['commands'][0].startswith('mariabackup --no-defaults --backup --stream=xbstream ')
        assert checked['commands'][0].endswith(' | /usr/bin/mbstream -x -C %s/backup' % args['work_dir'])
        assert checked['commands'][2:] == [stop, '/usr/bin/mariabackup --move-back --target-dir=%s/backup --datadir=%s'
                                           % (args['work_dir'], c.datadir), 'chown -R mysql %s' % c.datadir, start]
        assert c.process.poll() is None and user_schemas(c) == [] and variable(c, 'gtid_slave_pos') == ''
        assert not os.path.exists(args['work_dir'])

        expected = checksum_tables(a, TABLES)
        source_pos = variable(a, 'gtid_binlog_pos')
        seeded = ansible(MODULE, args)
        assert seeded.get('failed') is not True, seeded.get('msg')
        assert seeded['changed'] is True and seeded['method'] == 'mariabackup'
        assert seeded['accounts'] == [dict(user='repl', host='127.0.0.1', action='unchanged')]
        # c runs again (started by the script), holds a's rows, and its position is the backup's.
        assert checksum_tables(c, TABLES) == expected
        gtid = seeded['gtid_slave_pos']
        assert gtid == source_pos and gtid.startswith('1-11-')
        assert a.query('SELECT BINLOG_GTID_POS(%s, %s) AS p', (seeded['source_log_file'], seeded['source_log_pos'])
                       )[0]['p'] == gtid
        assert variable(c, 'gtid_slave_pos') == gtid and variable(c, 'gtid_binlog_pos') == ''
        assert variable(c, 'server_id') == 13
        assert seeded['bytes'] > 1000000 and seeded['seconds'] > 0
        assert seeded['tables']['shop.orders'] == c.query('SELECT COUNT(*) AS n FROM shop.orders')[0]['n'] >= 601
        assert seeded['rows'] == sum(seeded['tables'].values()) and seeded['row_count'] == 'exact'
        # The old datadir is kept, renamed; the work directory is gone.
        assert seeded['old_datadir'].startswith(c.datadir + '.smooth-before-seed-')
        assert os.path.isfile(os.path.join(seeded['old_datadir'], 'mysql', 'user.frm')) or \
            os.path.isdir(os.path.join(seeded['old_datadir'], 'mysql'))
        assert os.path.basename(seeded['old_datadir']) in aside_dirs(c, '.smooth-before-seed-')
        assert not os.path.exists(args['work_dir']) and not os.path.exists(os.path.join(c.datadir, '.smooth-mariadb-seed'))
        assert os.stat(os.path.join(c.datadir, 'ibdata1')).st_uid == os.stat(c.dir).st_uid
        record = seeded['record']
        assert record['state'] == 'seeded' and record['method'] == 'mariabackup' and record['gtid_pos'] == gtid
        assert record['bytes_streamed'] == seeded['bytes'] and record['log_pos'] == seeded['source_log_pos']
        assert seeded['queries'][:2] == ['SET SESSION sql_log_bin = 0', "SET GLOBAL gtid_slave_pos = '%s'" % gtid]
        assert_no_secret(seeded)

        # Replicate from the returned position: new rows of a arrive.
        replicated = ansible('smooth.mariadb.replication', dict(
            c.login_args(), **a.source_args(connection_name='seed', state='started', gtid_slave_pos=gtid)))
        assert replicated.get('failed') is not True, replicated.get('msg')
        a.query('CALL shop.add_order(400000)')
        a.query("INSERT INTO crm.customers (id, name) VALUES (4, 'after backup seed')")
        caught_up = ansible('smooth.mariadb.replication_wait', dict(c.login_args(), timeout=30))
        assert caught_up.get('failed') is not True, caught_up.get('msg')
        assert c.query('SELECT note FROM shop.orders WHERE id = 400000') == [{'note': 'by procedure'}]
        assert checksum_tables(c, TABLES) == checksum_tables(a, TABLES)

        again = ansible(MODULE, args)
        assert again.get('failed') is not True, again.get('msg')
        assert again['changed'] is False and again['queries'] == [] and again['gtid_slave_pos'] == gtid
        assert again['bytes'] == seeded['bytes']
    finally:
        take_back(c, mariadbd, stop)


def test_mariabackup_failed_start_restores_the_target(ansible, seed_source, target, tmp_path):
    a, c = seed_source, target
    mariadbd = find_server_binaries()[0]
    stop, start, fail_once = write_service_scripts(c, mariadbd, str(tmp_path))
    c.setup_sql(['CREATE DATABASE legacy', 'CREATE TABLE legacy.t (id INT PRIMARY KEY)', 'INSERT INTO legacy.t VALUES (7)'])
    args = backup_args(c, a, tmp_path, stop, start)
    kept_before = aside_dirs(c, '.smooth-before-seed-')   # other tests' leftovers
    failed_before = aside_dirs(c, '.smooth-failed-seed-')
    try:
        refused = ansible(MODULE, args)
        assert refused.get('failed') is True and 'the target already holds user data in legacy' in refused['msg']
        assert c.process.poll() is None

        os.makedirs(args['work_dir'])
        with open(os.path.join(args['work_dir'], 'precious'), 'w') as handle:
            handle.write('x')
        foreign = ansible(MODULE, dict(args, force=True))
        assert foreign.get('failed') is True
        assert 'work_dir %s exists and is not empty (precious)' % args['work_dir'] in foreign['msg']
        os.remove(os.path.join(args['work_dir'], 'precious'))

        open(fail_once, 'w').close()
        failed = ansible(MODULE, dict(args, force=True))
        assert failed.get('failed') is True
        assert 'force: the target holds user data in legacy; its whole datadir is replaced' in failed.output
        assert failed['msg'].startswith('Seeding %s:%d from %s:%d: step start: %s failed with exit code 3: '
                                        'start refused once by the test. The target was restored: the failed '
                                        'datadir was moved to %s.smooth-failed-seed-'
                                        % (c.host, c.port, a.host, a.port, start, c.datadir))
        assert failed['msg'].endswith('; the old datadir was put back; the target was started again')
        # c is back, as it was: its own data, no copy of a, no position.
        assert c.query('SELECT id FROM legacy.t') == [{'id': 7}]
        assert 'shop' not in user_schemas(c) and variable(c, 'gtid_slave_pos') == ''
        assert aside_dirs(c, '.smooth-before-seed-') == kept_before
        assert len(aside_dirs(c, '.smooth-failed-seed-')) == len(failed_before) + 1
        assert os.path.isfile(os.path.join(args['work_dir'], '.smooth-mariadb-seed'))
        assert_no_secret(failed)
    finally:
        take_back(c, mariadbd, stop)
