# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The seed module's read -> decide -> apply flow against scripted fake servers (no client programs)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import SqlSession
from ansible_collections.smooth.mariadb.plugins.modules import seed as mod

from .module_standin import ModuleStandIn

VERSION = '10.11.19-MariaDB-0+deb12u1-log'


class FakeModule(ModuleStandIn):
    ARGUMENT_SPEC = staticmethod(mod.argument_spec)
    DEFAULTS = dict(source=dict(login_host='10.0.0.11'), login_host='10.0.0.21', login_user='admin',
                    login_password='Secret-pw-1', config_file='')

    # What `ip -o route get` prints here: the source behind a router (the dump is compressed).
    ROUTE = '10.0.0.11 via 10.0.0.1 dev eth0 src 10.0.0.21 uid 0 \\    cache'

    def get_bin_path(self, name):
        return '/usr/bin/%s' % name

    def run_command(self, args, **kwargs):
        self.route_asked = list(args)
        return 0, self.ROUTE, ''


class FakeCursor(object):
    def __init__(self, server):
        self.server = server
        self.description = None
        self.rows = []

    def execute(self, sql, params=None):
        self.rows = self.server.answer(sql, params)
        self.description = [('x',)] if self.rows is not None else None

    def fetchall(self):
        return self.rows or []

    def close(self):
        pass


class FakeServer(object):
    """Answers the module's reads; records every statement, reads included."""

    def __init__(self, server_id, hostname='db0a', port=3306, log_bin=1, binlog_pos='', record=None,
                 schemas=(), slaves=(), estimates=(), binlog_after=None, size=4096):
        self.server_id = server_id
        self.hostname = hostname
        self.port = port
        self.log_bin = log_bin
        self.binlog_pos = binlog_pos
        self.binlog_after = binlog_after
        self.record = record
        self.schemas = list(schemas)
        self.slaves = list(slaves)
        self.estimates = list(estimates)
        self.size = size
        self.statements = []
        self.binlog_reads = 0

    def cursor(self):
        return FakeCursor(self)

    def close(self):
        pass

    def answer(self, sql, params):
        self.statements.append((sql, params))
        if sql == mod.IDENTITY_QUERY:
            return [dict(server_id=self.server_id, hostname=self.hostname, port=self.port, version=VERSION,
                         log_bin=self.log_bin, gtid_binlog_pos=self.binlog_pos)]
        if sql.startswith('SELECT COUNT(*) AS n FROM information_schema.TABLES'):
            return [dict(n=1 if self.record is not None else 0)]
        if sql.startswith('SELECT `id`, `state`'):
            return [dict(self.record)] if self.record else []
        if sql == 'SHOW ALL SLAVES STATUS':
            return list(self.slaves)
        if sql.startswith('SELECT SCHEMA_NAME'):
            return [dict(name=name) for name in self.schemas]
        if sql.startswith('SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS bytes'):
            return [dict(bytes=self.size)]
        if sql.startswith('SELECT TABLE_SCHEMA AS `schema`, TABLE_NAME'):
            return [dict(schema=s, name=n, estimate=e) for s, n, e in self.estimates]
        if sql.startswith('SELECT GET_LOCK') or sql.startswith('SELECT RELEASE_LOCK'):
            return [dict(got=1, released=1)]
        if sql == 'SELECT @@GLOBAL.gtid_binlog_pos AS pos':
            self.binlog_reads += 1
            if self.binlog_after is not None and self.binlog_reads > 1:
                return [dict(pos=self.binlog_after)]
            return [dict(pos=self.binlog_pos)]
        if sql.startswith('SELECT COUNT(*) AS n FROM `'):
            return [dict(n=42)]
        if sql.startswith('UPDATE `smooth_mariadb`.`seed` SET `state` = %s, `gtid_pos`'):
            self.record = dict(self.record or {}, id=1, state='seeded', gtid_pos=params[1], log_file=params[2],
                               log_pos=params[3], rows_copied=params[4], bytes_streamed=params[5])
            return None
        if sql.startswith('UPDATE `smooth_mariadb`.`seed` SET `state` = %s, `finished_at`'):
            self.record = dict(self.record or {}, id=1, state='failed', error=params[1])
            return None
        if sql.startswith('REPLACE INTO'):
            self.record = dict(id=1, state='running', source_server_id=params[4], databases=params[8])
            return None
        if sql.startswith(('SET ', 'CREATE ')):
            return None
        raise AssertionError('unexpected statement %s' % sql)

    def released_after_last_change(self):
        """The lock is released once, after the last statement that changed something."""
        sqls = [sql for sql, dummy in self.statements]
        releases = [index for index, sql in enumerate(sqls) if sql.startswith('SELECT RELEASE_LOCK')]
        changes = [index for index, sql in enumerate(sqls) if not sql.startswith(('SELECT', 'SHOW'))]
        return len(releases) == 1 and releases[0] > max(changes)

    def executed(self):
        return [sql for sql, dummy in self.statements if not sql.startswith(('SELECT', 'SHOW'))]


SEEDED = dict(id=1, state='seeded', method='dump', source_address='10.0.0.11:3306', source_server_id=11,
              source_hostname='db0a', source_port=3306, source_version=VERSION, databases='shop',
              gtid_pos='1-11-5', log_file='mysql-bin.000001', log_pos=900, rows_copied=7, bytes_streamed=1000,
              seconds=1.5, started_at='2024-01-01 00:00:00', finished_at='2024-01-01 00:00:02', error=None)


def run(module, source, target):
    return mod.run_seed(module, SqlSession(target, read_only=module.check_mode), SqlSession(source, read_only=True),
                        '10.0.0.21:3306', '10.0.0.11:3306')


def test_already_seeded_returns_the_record_unchanged():
    source = FakeServer(11)
    target = FakeServer(21, hostname='db0c', record=SEEDED, schemas=['mysql', 'shop'])
    result = run(FakeModule(), source, target)
    assert result['changed'] is False
    assert (result['gtid_slave_pos'], result['source_log_file'], result['source_log_pos']) == \
        ('1-11-5', 'mysql-bin.000001', 900)
    assert (result['databases'], result['rows'], result['bytes'], result['seconds']) == (['shop'], 7, 1000, 1.5)
    assert target.executed() == []


def test_refuses_user_data():
    # A database without tables counts too (it can hold views, routines, events), as in the preflight.
    target = FakeServer(21, schemas=['empty_one', 'legacy', 'mysql', 'smooth_mariadb', 'sys'])
    with pytest.raises(mod.SeedFailed) as caught:
        run(FakeModule(), FakeServer(11), target)
    assert caught.value.message == ('Target 10.0.0.21:3306: the target already holds user data in empty_one, legacy. Refusing '
                                    'to seed it; set force: true to replace the copied schemas anyway.')
    assert target.executed() == []


@pytest.mark.parametrize('source, message', [
    (FakeServer(11, log_bin=0), 'binary logging is off on the source 10.0.0.11:3306'),
    (FakeServer(21), 'have the same server_id 21'),
])
def test_refuses_unusable_source(source, message):
    with pytest.raises(mod.SeedFailed, match=message):
        run(FakeModule(), source, FakeServer(21))


def test_check_mode_reports_and_changes_nothing():
    source = FakeServer(11, schemas=['mysql', 'shop', 'sys', 'smooth_mariadb'], estimates=[('shop', 'orders', 990)])
    target = FakeServer(21)
    module = FakeModule(check_mode=True)
    result = run(module, source, target)
    assert result['changed'] is True and result['databases'] == ['shop']
    assert result['tables'] == {'shop.orders': 990} and result['rows'] == 990
    assert result['commands'][0].startswith('/usr/bin/mariadb-dump --defaults-file=<source option file> ')
    assert result['commands'][0].endswith('--compress --databases shop')
    assert target.executed() == [] and result['gtid_slave_pos'] == ''


def test_apply_order_lock_and_record(monkeypatch):
    source = FakeServer(11, schemas=['shop'])
    target = FakeServer(21, estimates=[('shop', 'orders', 0)])
    copies = []

    def fake_copy(module, databases, dump_bin, client_bin, secrets, compress, progress):
        copies.append((databases, dump_bin, client_bin, compress, progress))
        return 5000, '1-11-7', 'mysql-bin.000002', 400

    monkeypatch.setattr(mod, 'copy_with_dump', fake_copy)
    result = run(FakeModule(), source, target)
    assert copies == [(['shop'], '/usr/bin/mariadb-dump', '/usr/bin/mariadb', True, None)]
    executed = target.executed()
    assert executed[0] == 'SET SESSION sql_log_bin = 0'
    assert executed[1].startswith('CREATE DATABASE IF NOT EXISTS') and executed[3].startswith('REPLACE INTO')
    assert executed[4:] == ['SET GLOBAL gtid_slave_pos = %s', executed[5]] and executed[5].startswith('UPDATE')
    statements = [sql for sql, dummy in target.statements]
    assert statements.index('SELECT GET_LOCK(%s, 0) AS got') < statements.index('SET SESSION sql_log_bin = 0')
    assert target.released_after_last_change()
    assert (result['gtid_slave_pos'], result['source_log_file'], result['source_log_pos']) == \
        ('1-11-7', 'mysql-bin.000002', 400)
    assert result['tables'] == {'shop.orders': 42} and result['rows'] == 42 and result['bytes'] == 5000
    assert result['record']['state'] == 'seeded'


def test_the_copy_keeps_its_progress_in_progress_file(monkeypatch, tmp_path):
    source = FakeServer(11, schemas=['shop'])
    target = FakeServer(21, estimates=[('shop', 'orders', 0)])
    path = str(tmp_path / 'seed.progress')
    seen = []

    def fake_copy(module, databases, dump_bin, client_bin, secrets, compress, progress):
        progress(4096, 2.0)
        with open(path) as handle:
            seen.append(json.load(handle))
        return 5000, '1-11-7', 'mysql-bin.000002', 400

    monkeypatch.setattr(mod, 'copy_with_dump', fake_copy)
    run(FakeModule(progress_file=path), source, target)
    assert seen == [dict(state='copying', method='dump', bytes=4096, seconds=2.0, source_bytes=4096)]
    # Without progress_file, and in check mode, no hook.
    assert mod.progress_writer(FakeModule(), {}) is None
    assert mod.progress_writer(FakeModule(check_mode=True, progress_file=path), {}) is None


def test_failed_copy_marks_the_target_not_seeded(monkeypatch):
    target = FakeServer(21)

    def failing_copy(*args):
        raise mod.SeedFailed('mariadb-dump failed with exit code 2: boom')

    monkeypatch.setattr(mod, 'copy_with_dump', failing_copy)
    with pytest.raises(mod.SeedFailed) as caught:
        run(FakeModule(), FakeServer(11, schemas=['shop']), target)
    assert caught.value.message == 'mariadb-dump failed with exit code 2: boom'
    assert caught.value.extra['record']['state'] == 'failed'
    assert 'SET GLOBAL gtid_slave_pos = %s' not in target.executed()
    assert target.released_after_last_change()


def test_binlog_moving_during_the_restore_fails(monkeypatch):
    target = FakeServer(21, binlog_after='21-21-1')
    monkeypatch.setattr(mod, 'copy_with_dump', lambda *args: (10, '1-11-7', 'f', 4))
    with pytest.raises(mod.SeedFailed) as caught:
        run(FakeModule(), FakeServer(11, schemas=['shop']), target)
    assert caught.value.message.startswith("the target's binary log moved during the restore (gtid_binlog_pos '' -> "
                                           "'21-21-1')")
    assert 'SET GLOBAL gtid_slave_pos = %s' not in target.executed()


def test_nothing_to_copy_reads_the_position_directly():
    source = FakeServer(11, binlog_pos='1-11-3', schemas=['mysql', 'sys'])

    def answer(sql, params, original=source.answer):
        if sql == 'SHOW MASTER STATUS':
            return [dict(File='mysql-bin.000003', Position=777)]
        return original(sql, params)

    source.answer = answer
    result = run(FakeModule(), source, FakeServer(21))
    assert (result['gtid_slave_pos'], result['source_log_file'], result['source_log_pos']) == \
        ('1-11-3', 'mysql-bin.000003', 777)
    assert result['databases'] == [] and result['bytes'] == 0


# -- method mariabackup -------------------------------------------------------

FAKE_MARIABACKUP = """#!/bin/sh
# --prepare writes the binlog info into --target-dir; --move-back fails like a full disk.
for arg in "$@"; do case "$arg" in --target-dir=*) dir="${arg#--target-dir=}";; esac; done
case "$1" in
  --prepare) printf 'mysql-bin.000009\\t777\\t1-11-42\\n' > "$dir/xtrabackup_binlog_info";;
  --move-back) echo "[ERROR] cannot move: No space left on device (Secret-pw-1)" >&2; exit 1;;
esac
"""


def backup_module(tmp_path, check_mode=False, **extra):
    datadir = tmp_path / 'data'
    datadir.mkdir(exist_ok=True)
    (datadir / 'ibdata1').write_text('old')
    params = dict(method='mariabackup', datadir=str(datadir), work_dir=str(tmp_path / 'work'),
                  backup_command=['sh', '-c', 'printf xbstream-bytes; echo password=Secret-pw-1 >&2'],
                  stop_command=['true'], start_command=['true'], mysql_user='root')
    params.update(extra)
    return FakeModule(check_mode=check_mode, **params)


def test_mariabackup_check_mode_plans_and_touches_nothing(tmp_path):
    module = backup_module(tmp_path, check_mode=True,
                           backup_command=['ssh', 'root@db0a', 'mariabackup --backup --password=Secret-pw-1'])
    source = FakeServer(11, schemas=['mysql', 'shop'], estimates=[('shop', 'orders', 990)])
    target = FakeServer(21)
    result = run(module, source, target)
    work = str(tmp_path / 'work')
    assert result['changed'] is True and result['rows'] == 990 and result['old_datadir'] == ''
    assert result['commands'] == [
        "ssh root@db0a 'mariabackup --backup --password=********' | /usr/bin/mbstream -x -C %s/backup" % work,
        '/usr/bin/mariabackup --prepare --target-dir=%s/backup' % work,
        'true',
        '/usr/bin/mariabackup --move-back --target-dir=%s/backup --datadir=%s' % (work, tmp_path / 'data'),
        'chown -R root %s' % (tmp_path / 'data'),
        'true',
    ]
    assert target.executed() == [] and not os.path.exists(work)


@pytest.mark.parametrize('setup, message', [
    ('foreign', 'exists and is not empty (notes); it is not a leftover of this module'),
    ('inside', 'must not be inside the datadir'),
    ('nouser', 'mysql_user no-such-user-x is not an account of the target host'),
])
def test_mariabackup_refuses_work_dir_and_user(tmp_path, setup, message):
    extra = {}
    if setup == 'foreign':
        (tmp_path / 'work').mkdir()
        (tmp_path / 'work' / 'notes').write_text('x')
    elif setup == 'inside':
        extra['work_dir'] = str(tmp_path / 'data' / 'seed')
    else:
        extra['mysql_user'] = 'no-such-user-x'
    with pytest.raises(mod.SeedFailed, match=message.replace('(', '\\(').replace(')', '\\)')):
        run(backup_module(tmp_path, **extra), FakeServer(11, schemas=['shop']), FakeServer(21))


def test_mariabackup_failed_move_back_restores_the_old_datadir(tmp_path, monkeypatch):
    fake = tmp_path / 'mariabackup'
    fake.write_text(FAKE_MARIABACKUP)
    fake.chmod(0o755)
    module = backup_module(tmp_path)
    monkeypatch.setattr(module, 'get_bin_path', lambda name: str(fake) if name == 'mariabackup' else '/bin/' + name)
    monkeypatch.setattr(mod, 'extract_command', lambda binary, directory: ['sh', '-c', 'cat > "$0/stream"', directory])
    monkeypatch.setattr(mod, 'wait_stopped', lambda module, deadline: None)

    def stopped(params):
        raise mod.MariaDBConnectError('refused')

    restarted = []
    monkeypatch.setattr(mod, 'connect_with_params', stopped)
    monkeypatch.setattr(mod, 'reconnect', lambda module, deadline: restarted.append(1) or FakeServer(21))
    target = FakeServer(21)
    with pytest.raises(mod.SeedFailed) as caught:
        run(module, FakeServer(11, schemas=['shop']), target)
    message = caught.value.message
    assert message.startswith('step move-back: %s --move-back --target-dir=%s/backup --datadir=%s failed with exit '
                              'code 1: [ERROR] cannot move: No space left on device (********). The target was '
                              'restored: the old datadir was put back; the target was started again'
                              % (fake, tmp_path / 'work', tmp_path / 'data'))
    assert (tmp_path / 'data' / 'ibdata1').read_text() == 'old'
    assert sorted(os.listdir(str(tmp_path))) == ['data', 'mariabackup', 'work']
    assert (tmp_path / 'work' / 'backup' / 'stream').read_text() == 'xbstream-bytes'
    assert (tmp_path / 'work' / '.smooth-mariadb-seed').exists() and restarted == [1]
    assert target.executed() == [] and 'Secret-pw-1' not in repr(caught.value.extra)


def test_run_stop_check_reads_the_run_lock(tmp_path):
    lock = tmp_path / 'run.lock'
    params = {'run_id': 'r1', 'run_lock_path': str(lock)}
    check = mod.run_stop_check(params)
    assert check() == ('the run lock %s names no run, not run r1 that started this seed: that run is gone and another '
                       'took the lock over, or the lock was removed' % lock)
    lock.write_text('{"run_id": "r1"}\n')
    assert check() == ''
    lock.write_text('{"run_id": "r2"}\n')
    assert 'names run r2, not run r1' in check()
    assert mod.run_stop_check({'run_id': None, 'run_lock_path': str(lock)}) is None


@pytest.mark.parametrize('size, backup_command, chosen', [
    (mod.AUTO_MARIABACKUP_BYTES, ['ssh', 'root@db0a', 'mariabackup --backup'], 'mariabackup'),
    (mod.AUTO_MARIABACKUP_BYTES - 1, ['ssh', 'root@db0a', 'mariabackup --backup'], 'dump'),
    (mod.AUTO_MARIABACKUP_BYTES * 4, None, 'dump'),
])
def test_method_auto_chooses_by_the_size_of_the_source(tmp_path, size, backup_command, chosen):
    module = backup_module(tmp_path, check_mode=True, method='auto', backup_command=backup_command)
    source = FakeServer(11, schemas=['mysql', 'shop'], estimates=[('shop', 'orders', 990)], size=size)
    result = run(module, source, FakeServer(21))
    assert (result['method'], result['source_bytes']) == (chosen, size)
    assert result['method_reason'].startswith('auto: the source holds ')
    # The commands shown are the chosen method's: mbstream for the backup, mariadb-dump for the dump.
    assert ('mbstream' in result['commands'][0]) == (chosen == 'mariabackup')
    assert ('mariadb-dump' in result['commands'][0]) == (chosen == 'dump')
    if chosen == 'mariabackup':
        assert result['compress'] is None
    else:
        assert module.route_asked == ['/usr/bin/ip', '-o', 'route', 'get', '10.0.0.11']


def test_method_auto_counts_only_the_copied_schemas():
    source = FakeServer(11, schemas=['mysql', 'shop', 'billing'], size=10)
    run(FakeModule(check_mode=True, method='auto'), source, FakeServer(21))
    [params] = [params for sql, params in source.statements if sql.startswith('SELECT COALESCE(SUM(')]
    assert list(params) == ['billing', 'shop']


def test_compress_follows_the_route_unless_set():
    class DirectRoute(FakeModule):
        ROUTE = '10.0.0.11 dev eth0 src 10.0.0.21 uid 0 \\    cache'

    result = run(DirectRoute(check_mode=True), FakeServer(11, schemas=['shop']), FakeServer(21))
    assert result['compress'] is False and '--compress' not in result['commands'][0]
    assert result['compress_reason'] == 'the source is on a network of this host (no router between): not compressed'
    result = run(DirectRoute(check_mode=True, compress=True), FakeServer(11, schemas=['shop']), FakeServer(21))
    assert result['compress'] is True and result['commands'][0].endswith('--compress --databases shop')
    assert result['compress_reason'] == 'asked for (compress=True)'


def test_already_seeded_names_the_recorded_method():
    target = FakeServer(21, hostname='db0c', record=dict(SEEDED, method='mariabackup'), schemas=['mysql', 'shop'])
    result = run(FakeModule(method='auto'), FakeServer(11), target)
    assert (result['changed'], result['method'], result['method_reason']) == \
        (False, 'mariabackup', 'already seeded from this source')
