# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Seed decisions, client commands, the coordinate scanner and the stream (with stand-in programs)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import render_statement
from ansible_collections.smooth.mariadb.plugins.module_utils.seed import (
    CoordinateScanner,
    SeedError,
    StreamResult,
    choose_method,
    exact_row_count,
    progress_text,
    write_progress,
    describe_stream_failure,
    dump_command,
    format_bytes,
    needs_compression,
    option_file_text,
    plan_seed,
    quote_option_value,
    record_databases,
    record_done_statement,
    record_failed_statement,
    source_size_query,
    record_setup_statements,
    record_start_statement,
    restore_command,
    select_databases,
    stream_dump,
    user_databases,
    write_option_file,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.seed_backup import (
    NullScanner,
    aside_path,
    describe_backup_stream_failure,
    extract_command,
    move_back_command,
    parse_binlog_info,
    prepare_command,
    work_dir_problem,
)

SOURCE = dict(server_id=11, hostname='db0a', port=3306, version='10.11.6-MariaDB-log')
HEADER = (b"-- MariaDB dump 10.19\n"
          b"-- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;\n\n"
          b"-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000042', MASTER_LOG_POS=1337;\n\n"
          b"CREATE DATABASE `shop`;\n")
FOOTER = b"\n-- Preferably use GTID to start replication from GTID position:\n\n-- SET GLOBAL gtid_slave_pos='1-11-4711,2-12-815';\n"
# Values in a dump have their newlines escaped, so data never starts a line with "-- ".
DATA = (b"INSERT INTO `t` VALUES (1,'x\\n-- SET GLOBAL gtid_slave_pos=\\'9-9-9\\';\\n'),"
        b"(2,'-- CHANGE MASTER TO MASTER_LOG_FILE=\\'evil\\', MASTER_LOG_POS=4;');\n")
DUMP = HEADER + DATA * 50 + FOOTER


class TestSelectDatabases(object):
    schemas = ['information_schema', 'mysql', 'performance_schema', 'sys', 'smooth_mariadb', 'shop', 'crm', 'Sys2']

    def test_every_user_schema_by_default(self):
        assert select_databases(self.schemas) == ['Sys2', 'crm', 'shop']

    def test_requested_in_order_once(self):
        assert select_databases(self.schemas, ['shop', 'crm', 'shop']) == ['shop', 'crm']

    @pytest.mark.parametrize('name', ['mysql', 'sys', 'information_schema', 'performance_schema', 'smooth_mariadb'])
    def test_refuses_excluded(self, name):
        with pytest.raises(SeedError, match='must not name system schemas or the smooth_mariadb metadata schema: '
                           + name):
            select_databases(self.schemas, ['shop', name])

    def test_unknown(self):
        with pytest.raises(SeedError, match='the source has no database nope, other'):
            select_databases(self.schemas, ['nope', 'shop', 'other'])

    def test_dash(self):
        with pytest.raises(SeedError, match='starting with "-"'):
            select_databases(['-x'], None)


def test_user_databases_are_every_database_but_the_system_ones_and_ours():
    # With tables or without: an empty database counts (the preflight's rule and the seed's are this one).
    names = ['shop', 'empty', 'mysql', 'smooth_mariadb', 'a', 'sys', 'information_schema', 'performance_schema']
    assert user_databases(names) == ['a', 'empty', 'shop']
    # lost+found of a datadir mounted on its own file system, as the server lists it: no database.
    assert user_databases(['#mysql50#lost+found', 'shop']) == ['shop']


def record(state='seeded', **extra):
    row = dict(state=state, source_server_id=11, source_hostname='db0a', source_port=3306,
               source_address='10.0.0.11:3306', started_at='2024-01-01 00:00:00', databases='shop\ncrm')
    row.update(extra)
    return row


class TestPlanSeed(object):
    def test_fresh_target(self):
        plan = plan_seed(None, SOURCE, [])
        assert plan.action == 'seed' and plan.warnings == []

    def test_already_seeded_from_this_source(self):
        plan = plan_seed(record(), SOURCE, ['shop', 'crm'])
        assert plan.action == 'unchanged'
        # force does not seed a seeded node again
        assert plan_seed(record(), SOURCE, ['shop'], force=True).action == 'unchanged'
        # nor does running replication matter then
        assert plan_seed(record(), SOURCE, ['shop'], active_connections=['peer']).action == 'unchanged'

    def test_refuses_user_data_naming_schemas(self):
        with pytest.raises(SeedError) as caught:
            plan_seed(None, SOURCE, ['crm', 'legacy'])
        assert str(caught.value) == ('the target already holds user data in crm, legacy. Refusing to seed it; '
                                     'set force: true to replace the copied schemas anyway.')

    def test_refusal_names_a_seed_from_another_source(self):
        with pytest.raises(SeedError) as caught:
            plan_seed(record(source_server_id=12), SOURCE, ['shop'])
        assert ' It holds a seeded seed from server_id 12 (10.0.0.11:3306, db0a:3306) started 2024-01-01 00:00:00.' \
            in str(caught.value)

    def test_force(self):
        plan = plan_seed(None, SOURCE, ['legacy'], force=True)
        assert plan.action == 'seed'
        assert plan.warnings == ['force: the target holds user data in legacy; the copied schemas are replaced and '
                                 'the others left as they are']

    @pytest.mark.parametrize('state', ['running', 'failed'])
    def test_retry_of_own_failed_attempt(self, state):
        plan = plan_seed(record(state=state), SOURCE, ['shop'])
        assert plan.action == 'seed' and plan.warnings[0].startswith('resuming a %s seed from server_id 11' % state)

    def test_no_retry_with_foreign_data_or_source(self):
        with pytest.raises(SeedError):
            plan_seed(record(state='failed'), SOURCE, ['shop', 'legacy'])
        with pytest.raises(SeedError):
            plan_seed(record(state='failed', source_port=3307), SOURCE, ['shop'])

    def test_running_replication(self):
        with pytest.raises(SeedError) as caught:
            plan_seed(None, SOURCE, [], active_connections=['peer', 'x'])
        assert str(caught.value) == ("replication runs on the target ('peer', 'x'): gtid_slave_pos can only be set "
                                     "with every connection stopped. Stop them first.")


def test_record_databases():
    assert record_databases(record()) == ['shop', 'crm']
    assert record_databases({'databases': ['a']}) == ['a']
    assert record_databases(None) == []


class TestRecordStatements(object):
    def test_setup(self):
        statements = record_setup_statements()
        assert statements[0] == ('CREATE DATABASE IF NOT EXISTS `smooth_mariadb`', None)
        assert statements[1][0].startswith('CREATE TABLE IF NOT EXISTS `smooth_mariadb`.`seed` (\n  `id` TINYINT')
        assert '`databases` TEXT NOT NULL' in statements[1][0]

    def test_start_done_failed(self):
        sql, params = record_start_statement('dump', '10.0.0.11:3306', SOURCE, ['shop', 'crm'])
        assert render_statement(sql, params).endswith(
            "VALUES (1, 'running', 'dump', '10.0.0.11:3306', 11, 'db0a', 3306, '10.11.6-MariaDB-log', "
            "'shop\\ncrm', UTC_TIMESTAMP(6))")
        sql, params = record_done_statement('1-11-5', 'mysql-bin.000001', 4, 10, 2000, 1.23456)
        assert params == ('seeded', '1-11-5', 'mysql-bin.000001', 4, 10, 2000, 1.235, 1)
        sql, params = record_failed_statement('boom')
        assert params == ('failed', 'boom', 1) and sql.startswith('UPDATE `smooth_mariadb`.`seed` SET `state` = %s')


class TestOptionFile(object):
    @pytest.mark.parametrize('value, quoted', [
        ('plain', '"plain"'),
        ('we"ird', '"we\\"ird"'),
        ('back\\slash', '"back\\\\slash"'),
        ("it's # not a comment", '"it\'s # not a comment"'),
        ('new\nline\ttab', '"new\\nline\\ttab"'),
    ])
    def test_quote(self, value, quoted):
        assert quote_option_value(value) == quoted

    def test_nul_refused(self):
        with pytest.raises(ValueError):
            quote_option_value('a\x00b')

    def test_tcp(self):
        text = option_file_text(dict(host='localhost', port=3307, user='admin', password='pw', connect_timeout=30))
        assert text == '[client]\nhost="localhost"\nport=3307\nprotocol=TCP\nuser="admin"\npassword="pw"\n'

    def test_socket_and_tls(self):
        text = option_file_text(dict(unix_socket='/run/mysqld/mysqld.sock', user='root',
                                     ssl=dict(ca='/ca.pem', cert='/c.pem', key='/k.pem')))
        assert text == ('[client]\nsocket="/run/mysqld/mysqld.sock"\nprotocol=SOCKET\nuser="root"\n'
                        'ssl-ca="/ca.pem"\nssl-cert="/c.pem"\nssl-key="/k.pem"\nssl\nssl-verify-server-cert\n')
        assert 'ssl-verify-server-cert' not in option_file_text(dict(host='h', ssl=dict(ca='/ca', check_hostname=False)))

    def test_written_private(self, tmp_path):
        path = write_option_file(str(tmp_path), 'x.cnf', dict(host='h', password='pw'))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with pytest.raises(OSError):
            write_option_file(str(tmp_path), 'x.cnf', dict(host='h'))

    @pytest.mark.skipif(not shutil.which('my_print_defaults'), reason='my_print_defaults (MariaDB) not installed')
    def test_the_client_library_reads_back_the_password(self, tmp_path):
        password = 'we"ird\\pa ss#\'x$`\n'
        path = write_option_file(str(tmp_path), 'x.cnf', dict(host='db', port=3306, user='u', password=password))
        done = subprocess.run(['my_print_defaults', '--defaults-file=%s' % path, 'client'], capture_output=True,
                              check=True)
        expected = '--host=db\n--port=3306\n--protocol=TCP\n--user=u\n--password=%s\n' % password
        assert done.stdout.decode('utf-8') == expected


def test_commands():
    assert dump_command('/usr/bin/mariadb-dump', '/t/s.cnf', ['shop', 'crm']) == [
        '/usr/bin/mariadb-dump', '--defaults-file=/t/s.cnf', '--single-transaction', '--gtid', '--master-data=2',
        '--routines', '--triggers', '--events', '--hex-blob', '--add-drop-database', '--max-allowed-packet=1G',
        '--compress', '--databases', 'shop', 'crm']
    assert '--compress' not in dump_command('d', 'f', ['x'], compress=False)
    assert restore_command('/usr/bin/mariadb', '/t/t.cnf') == [
        '/usr/bin/mariadb', '--defaults-file=/t/t.cnf', '--init-command=SET SESSION sql_log_bin = 0', '--batch',
        '--skip-reconnect', '--max-allowed-packet=1G']


class TestCoordinateScanner(object):
    @pytest.mark.parametrize('size', [1, 3, 7, 64, 1000, len(DUMP)])
    def test_any_chunking(self, size):
        scanner = CoordinateScanner()
        for start in range(0, len(DUMP), size):
            scanner.feed(DUMP[start:start + size])
        assert scanner.result() == ('1-11-4711,2-12-815', 'mysql-bin.000042', 1337)

    def test_empty_gtid(self):
        scanner = CoordinateScanner()
        scanner.feed(HEADER + b"-- SET GLOBAL gtid_slave_pos='';\n")
        assert scanner.result() == ('', 'mysql-bin.000042', 1337)

    def test_missing(self):
        scanner = CoordinateScanner()
        scanner.feed(HEADER + DATA)
        with pytest.raises(SeedError, match=r"found GTID none, binlog \[\('mysql-bin.000042', 1337\)\]"):
            scanner.result()

    def test_conflicting(self):
        scanner = CoordinateScanner()
        scanner.feed(DUMP + b"-- SET GLOBAL gtid_slave_pos='1-11-1';\n")
        with pytest.raises(SeedError, match='exactly one snapshot position'):
            scanner.result()

    def test_long_lines_are_not_kept_nor_mistaken_for_line_starts(self):
        scanner = CoordinateScanner()
        scanner.feed(HEADER)
        scanner.feed(b'x' * 100000)
        assert len(scanner._tail) == 0
        # continues the long line: not at a line start, must not count
        scanner.feed(b"-- SET GLOBAL gtid_slave_pos='9-9-9';")
        scanner.feed(b'\n' + FOOTER)
        assert scanner.result()[0] == '1-11-4711,2-12-815'


def python(code):
    return [sys.executable, '-c', code]


DUMPER = ("import sys\nout = sys.stdout.buffer\nout.write(open(sys.argv[1], 'rb').read())\nout.flush()\n"
          "sys.stderr.write('dump done\\n')\nsys.exit(int(sys.argv[2]))")
RESTORER = "import sys, shutil\nshutil.copyfileobj(sys.stdin.buffer, open(sys.argv[1], 'wb'))\nsys.exit(0)"


class TestStream(object):
    @pytest.fixture
    def work(self, tmp_path):
        dump_file = tmp_path / 'dump.sql'
        dump_file.write_bytes(DUMP * 200)
        return tmp_path, str(dump_file)

    def test_pipes_counts_and_scans(self, work):
        tmp, dump_file = work
        out = str(tmp / 'restored.sql')
        result = stream_dump(python(DUMPER) + [dump_file, '0'], python(RESTORER) + [out], str(tmp), timeout=60,
                             chunk=4096)
        assert (result.dump_rc, result.restore_rc, result.timed_out) == (0, 0, False)
        assert result.bytes == len(DUMP) * 200
        with open(out, 'rb') as handle:
            assert handle.read() == DUMP * 200
        assert result.dump_stderr == 'dump done'
        # 200 copies of the same coordinates are still one position
        assert result.coordinates == ('1-11-4711,2-12-815', 'mysql-bin.000042', 1337)
        assert describe_stream_failure(result) is None

    @pytest.mark.parametrize('splice', ['kernel', 'refused'])
    def test_passthrough_moves_every_byte_unscanned(self, work, monkeypatch, splice):
        # A backup stream: the kernel moves it pipe to pipe (os.splice); where splice is refused, this process
        # copies it as before. Either way every byte arrives, counted, and nothing is scanned.
        tmp, dump_file = work
        if splice == 'refused':
            def refuse(*args):
                raise OSError(errno.EINVAL, 'Invalid argument')
            monkeypatch.setattr(os, 'splice', refuse, raising=False)
        elif not hasattr(os, 'splice'):
            pytest.skip('os.splice needs Linux and Python 3.10 or later')
        out = str(tmp / 'restored.xb')
        result = stream_dump(python(DUMPER) + [dump_file, '0'], python(RESTORER) + [out], str(tmp), timeout=60,
                             scanner=NullScanner(), passthrough=True)
        assert (result.dump_rc, result.restore_rc, result.timed_out) == (0, 0, False)
        assert result.bytes == len(DUMP) * 200 and result.coordinates is None
        with open(out, 'rb') as handle:
            assert handle.read() == DUMP * 200

    def test_passthrough_restore_that_fails_stops_the_dump(self, work):
        tmp, dump_file = work
        restorer = "import sys\nsys.stdin.buffer.read(10)\nsys.stderr.write('mbstream: bad header\\n')\nsys.exit(1)"
        big = tmp / 'big.xb'
        big.write_bytes(b'x' * (8 << 20))
        result = stream_dump(python(DUMPER) + [str(big), '0'], python(restorer), str(tmp), timeout=60,
                             scanner=NullScanner(), passthrough=True)
        assert result.restore_rc == 1 and result.dump_rc != 0 and not result.timed_out
        assert describe_backup_stream_failure(result) is not None

    def test_failed_dump_kills_the_restore_before_its_input_ends(self, work):
        tmp, dump_file = work
        marker = str(tmp / 'restore-finished')
        restorer = ("import sys\nsys.stdin.buffer.read()\nopen(sys.argv[1], 'w').write('saw EOF')")
        result = stream_dump(python(DUMPER) + [dump_file, '2'], python(restorer) + [marker], str(tmp), timeout=60)
        assert result.dump_rc == 2 and result.restore_rc != 0
        assert not os.path.exists(marker)
        message = describe_stream_failure(result)
        assert message == 'mariadb-dump failed with exit code 2: dump done'

    def test_restore_failure_is_reported(self, work):
        tmp, dump_file = work
        restorer = "import sys\nsys.stderr.write('ERROR 1045 (28000): Access denied, password s3cret\\n')\nsys.exit(1)"
        result = stream_dump(python(DUMPER) + [dump_file, '0'], python(restorer), str(tmp), timeout=60)
        assert result.restore_rc == 1
        message = describe_stream_failure(result, secrets=['s3cret', None])
        assert message.startswith('mariadb (restore) failed with exit code 1 after ')
        assert message.endswith('ERROR 1045 (28000): Access denied, password ********')

    def test_timeout_kills_both(self, tmp_path):
        sleeper = python('import time\ntime.sleep(30)')
        result = stream_dump(sleeper, python(RESTORER) + [str(tmp_path / 'o')], str(tmp_path), timeout=0.5)
        assert result.timed_out and result.seconds < 20
        assert describe_stream_failure(result) == ('the copy did not finish within the timeout; both programs were '
                                                   'killed after 0 bytes')

    def test_stop_check_kills_both_and_says_why(self, tmp_path):
        # The run that started the seed is gone: the module's check answers with the reason.
        sleeper = python('import sys, time\nsys.stdout.write("-- x\\n")\nsys.stdout.flush()\ntime.sleep(30)')
        asked = []

        def stop_check():
            asked.append(1)
            return 'the run lock no longer names run r1' if len(asked) >= 2 else None
        restored = tmp_path / 'o'
        result = stream_dump(sleeper, python(RESTORER) + [str(restored)], str(tmp_path), timeout=60,
                             stop_check=stop_check, stop_interval=0.2)
        assert result.stopped == 'the run lock no longer names run r1' and not result.timed_out
        assert result.seconds < 20 and len(asked) == 2
        assert describe_stream_failure(result) == ('the copy was stopped (the run lock no longer names run r1); both '
                                                   'programs were killed after 5 bytes')
        assert describe_backup_stream_failure(result).startswith('the backup stream was stopped (the run lock')

    def test_stop_check_that_never_answers_leaves_the_copy_alone(self, work):
        tmp, dump_file = work
        result = stream_dump(python(DUMPER) + [dump_file, '0'], python(RESTORER) + [str(tmp / 'o')],
                             str(tmp), timeout=60, stop_check=lambda: None, stop_interval=0.05)
        assert result.stopped == '' and describe_stream_failure(result) is None
        assert result.bytes == len(DUMP) * 200

    def test_progress_is_reported_while_the_copy_runs(self, tmp_path):
        # Writes 5 bytes, then 5 more a second later: the progress calls see the count grow, with the seconds.
        writer = python('import sys, time\nfor _ in range(2):\n    sys.stdout.write("-- x\\n")\n'
                        '    sys.stdout.flush()\n    time.sleep(0.6)')
        seen = []
        result = stream_dump(writer, python(RESTORER) + [str(tmp_path / 'o')], str(tmp_path), timeout=60,
                             stop_interval=0.2, progress=lambda moved, seconds: seen.append((moved, seconds)))
        assert result.bytes == 10 and not result.stopped
        assert len(seen) >= 3 and seen[0][0] in (0, 5) and seen[-1][0] == 10
        assert all(later[1] > earlier[1] for earlier, later in zip(seen, seen[1:]))

    def test_missing_program(self, tmp_path):
        with pytest.raises(OSError):
            stream_dump([str(tmp_path / 'nope')], python(RESTORER) + [str(tmp_path / 'o')], str(tmp_path), timeout=5)

    def test_no_coordinates(self):
        result = StreamResult(10, 0.1, 0, 0, '', '', False, 'the dump does not hold exactly one snapshot position')
        assert describe_stream_failure(result) == 'the dump does not hold exactly one snapshot position'


# -- method mariabackup --------------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('mysql-bin.000003\t1234\t1-11-600\n', ('1-11-600', 'mysql-bin.000003', 1234)),
    ('mysql-bin.000003\t1234\t0-1-5,1-11-600\n', ('0-1-5,1-11-600', 'mysql-bin.000003', 1234)),
    ('\nbin.000001\t4\n\n', ('', 'bin.000001', 4)),
    ('mysql-bin.000003\t1234\t\n', ('', 'mysql-bin.000003', 1234)),
])
def test_parse_binlog_info(text, expected):
    assert parse_binlog_info(text) == expected


@pytest.mark.parametrize('text, message', [
    ('', 'holds 0 lines'),
    ('a\t1\t1-1-1\nb\t2\t1-1-2\n', 'holds 2 lines'),
    ('mysql-bin.000003 1234 1-11-600', 'expected "file<TAB>offset<TAB>gtid"'),
    ('mysql-bin.000003\tx\t1-11-600', 'expected "file<TAB>offset<TAB>gtid"'),
    ('mysql-bin.000003\t12\t1-11', "invalid GTID position '1-11'"),
    ('mysql-bin.000003\t12\t1-11-6\textra', 'expected "file<TAB>offset<TAB>gtid"'),
])
def test_parse_binlog_info_refuses(text, message):
    with pytest.raises(SeedError, match=message.replace('(', '\\(')):
        parse_binlog_info(text)


@pytest.mark.parametrize('path, entries, problem', [
    ('/var/lib/smooth-mariadb-seed', None, None),
    ('/var/lib/smooth-mariadb-seed', [], None),
    ('/var/lib/smooth-mariadb-seed', ['.smooth-mariadb-seed', 'backup'], None),
    ('/var/lib/smooth-mariadb-seed', ['backup', 'notes'],
     'work_dir /var/lib/smooth-mariadb-seed exists and is not empty (backup, notes); it is not a leftover'),
    ('/var/lib/mysql/seed', None, 'must not be inside the datadir /var/lib/mysql nor contain it'),
    ('/var/lib/mysql/', None, 'must not be inside the datadir'),
    ('/var/lib', None, 'must not be inside the datadir /var/lib/mysql nor contain it'),
    ('/var/lib/mysql-seed', None, None),
])
def test_work_dir_problem(path, entries, problem):
    found = work_dir_problem(path, entries, '/var/lib/mysql')
    if problem is None:
        assert found is None
    else:
        assert problem in found


def test_backup_commands_and_paths():
    assert extract_command('/usr/bin/mbstream', '/w/backup') == ['/usr/bin/mbstream', '-x', '-C', '/w/backup']
    assert prepare_command('/usr/bin/mariabackup', '/w/backup') == ['/usr/bin/mariabackup', '--prepare',
                                                                    '--target-dir=/w/backup']
    assert move_back_command('mariabackup', '/w/backup', '/var/lib/mysql') == [
        'mariabackup', '--move-back', '--target-dir=/w/backup', '--datadir=/var/lib/mysql']
    assert aside_path('/var/lib/mysql/', '.smooth-before-seed-', '20260101120000') == \
        '/var/lib/mysql.smooth-before-seed-20260101120000'
    scanner = NullScanner()
    scanner.feed(b'anything')
    assert scanner.result() is None


@pytest.mark.parametrize('fields, message', [
    ((10, 1.0, 0, 0, '', '', False), None),
    ((10, 1.0, -9, -9, '', '', True), 'the backup stream did not finish within the timeout; backup_command and '
                                      'mbstream were killed after 10 bytes'),
    ((10, 1.0, -9, 1, '', 'mbstream: bad header', False), 'mbstream (extract) failed with exit code 1 after 10 '
                                                          'bytes: mbstream: bad header'),
    ((0, 1.0, 255, 0, 'Permission denied (publickey) for Secret-1', '', False),
     'backup_command failed with exit code 255 after 0 bytes: Permission denied (publickey) for ********'),
    ((0, 1.0, 0, 0, '', '', False), 'backup_command wrote nothing to its standard output'),
])
def test_describe_backup_stream_failure(fields, message):
    found = describe_backup_stream_failure(StreamResult(*(fields + (None,))), secrets=['Secret-1'])
    if message is None:
        assert found is None
    else:
        assert found.startswith(message)


def test_plan_seed_force_warning_of_a_whole_instance_seed():
    plan = plan_seed(None, SOURCE, ['legacy'], force=True, whole_instance=True)
    assert plan.action == 'seed'
    assert plan.warnings == ['force: the target holds user data in legacy; its whole datadir is replaced (the old '
                             'one is kept, renamed)']


@pytest.mark.parametrize('requested, size, command, databases, chosen, reason', [
    ('dump', 10 ** 12, ['ssh'], None, 'dump', 'asked for (method=dump); the source holds 931.3 GiB'),
    ('mariabackup', 0, ['ssh'], None, 'mariabackup', 'asked for (method=mariabackup); the source holds 0 bytes'),
    ('auto', 1023, ['ssh'], None, 'dump', 'auto: the source holds 1023 bytes, less than 1.0 KiB'),
    ('auto', 1024, ['ssh'], None, 'mariabackup', 'auto: the source holds 1.0 KiB, 1.0 KiB or more'),
    ('auto', 1024, None, None, 'dump',
     'auto: the source holds 1.0 KiB, but no backup_command streams its backup; mariabackup would be faster '
     'from 1.0 KiB on'),
    ('auto', 1024, [], None, 'dump',
     'auto: the source holds 1.0 KiB, but no backup_command streams its backup; mariabackup would be faster '
     'from 1.0 KiB on'),
    ('auto', 4096, ['ssh'], ['shop'], 'dump',
     'auto: the source holds 4.0 KiB, but only some databases are to be copied (databases), which a physical '
     'backup cannot do'),
])
def test_choose_method(requested, size, command, databases, chosen, reason):
    assert choose_method(requested, size, 1024, command, databases) == (chosen, reason)


@pytest.mark.parametrize('count, text', [
    (0, '0 bytes'), (None, '0 bytes'), (1536, '1.5 KiB'), (256 * 1024 * 1024, '256.0 MiB'),
    (5 * 1024 ** 4, '5.0 TiB'), (3 * 1024 ** 5, '3072.0 TiB'),
])
def test_format_bytes(count, text):
    assert format_bytes(count) == text


@pytest.mark.parametrize('route, compress, reason', [
    # What ip -o route get printed on a lab host (iproute2 6.1).
    ('10.214.0.12 dev eth0 src 10.214.0.11 uid 0 \\    cache ', False,
     'the source is on a network of this host (no router between): not compressed'),
    ('local 10.214.0.11 dev lo src 10.214.0.11 uid 0 \\    cache <local> ', False,
     'the source is on this host: not compressed'),
    ('127.0.0.1 dev lo src 127.0.0.1 uid 0', False, 'the source is on this host: not compressed'),
    ('192.0.2.7 via 10.214.0.1 dev eth0 src 10.214.0.11 uid 0 \\    cache ', True,
     'the source is reached through the router 10.214.0.1: compressed'),
    ('192.0.2.7 via', True, 'the source is reached through the router ?: compressed'),
    ('', True, 'no route to the source was found (ip route get): compressed, to be safe on a slow link'),
    (None, True, 'no route to the source was found (ip route get): compressed, to be safe on a slow link'),
])
def test_needs_compression(route, compress, reason):
    assert needs_compression(route) == (compress, reason)


def test_source_size_query_binds_every_name():
    sql, params = source_size_query(['shop', "o'hare`s"])
    assert params == ['shop', "o'hare`s"] and sql.count('%s') == 2 and "o'hare" not in sql


@pytest.mark.parametrize('requested, method, exact', [
    ('exact', 'dump', True), ('exact', 'mariabackup', True),
    ('estimate', 'dump', False), ('estimate', 'mariabackup', False),
    ('auto', 'dump', True), ('auto', 'mariabackup', False),
])
def test_rows_are_counted_after_a_dump_and_estimated_after_a_physical_copy_with_auto(requested, method, exact):
    assert exact_row_count(requested, method) is exact


def test_progress_text_gives_the_stream_beside_the_source_size():
    assert progress_text(dict(state='copying', method='mariabackup', bytes=3 * 1024 ** 3, seconds=40,
                              source_bytes=10 * 1024 ** 3)) == (
        'copying by mariabackup: 3.0 GiB streamed in 40 s (76.8 MiB/s); the source holds 10.0 GiB of data')
    assert progress_text(dict(state='preparing', method='mariabackup', bytes=0, seconds=0)) == (
        'preparing by mariabackup: 0 bytes streamed in 0 s')


def test_write_progress_replaces_the_record_whole(tmp_path):
    path = str(tmp_path / 'seed.progress')
    write_progress(path, dict(state='copying', bytes=1))
    write_progress(path, dict(state='done', bytes=2))
    with open(path) as handle:
        assert json.load(handle) == dict(state='done', bytes=2)
    assert os.listdir(str(tmp_path)) == ['seed.progress']
