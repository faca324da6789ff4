# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real MariaDB servers on loopback and a way to run modules through Ansible.

Shared by the integration tests (through conftest.py's fixtures) and the
benchmarks in tests/bench: ``MariaDBServer`` is one throw-away mariadbd with
its own datadir, socket and free TCP port on 127.0.0.1; ``running_servers``
starts several with the test accounts and always stops them; ``AnsibleRunner``
runs one module task through ansible-playbook. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pymysql
import pymysql.cursors

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.path.dirname(sys.executable)
# Interpreter the modules run with (ansible_python_interpreter). Defaults to
# the one running the tests; set SMOOTH_MARIADB_TARGET_PYTHON=/usr/bin/python3
# to run them as on a Debian target (python3-pymysql 1.0.2).
TARGET_PYTHON = os.environ.get('SMOOTH_MARIADB_TARGET_PYTHON') or sys.executable

ADMIN_USER = 'admin'
ADMIN_PASSWORD = 'Adm1n-Pw-4b1d'
REPL_USER = 'repl'
REPL_PASSWORD = 'R3pl-S3cret-9f7e'

START_TIMEOUT = 30.0      # seconds for one server to accept connections
STOP_TIMEOUT = 20.0       # seconds for one server to shut down before SIGKILL
ANSIBLE_TIMEOUT = 120.0   # seconds for one ansible-playbook run


def _find_binary(*names):
    for name in names:
        for directory in os.environ.get('PATH', '').split(os.pathsep) + ['/usr/sbin', '/usr/bin']:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    return None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _collections_root():
    """A directory holding ansible_collections/smooth/mariadb -> this checkout."""
    parts = REPO_ROOT.split(os.sep)
    if parts[-3:] == ['ansible_collections', 'smooth', 'mariadb']:
        return os.sep.join(parts[:-3]), None
    link_root = os.path.join(REPO_ROOT, '.collections')
    if os.path.isdir(os.path.join(link_root, 'ansible_collections', 'smooth', 'mariadb', 'plugins')):
        return link_root, None
    temp_root = tempfile.mkdtemp(prefix='smooth-mariadb-collections-')
    os.makedirs(os.path.join(temp_root, 'ansible_collections', 'smooth'))
    os.symlink(REPO_ROOT, os.path.join(temp_root, 'ansible_collections', 'smooth', 'mariadb'))
    return temp_root, temp_root


class MariaDBServer(object):
    """One mariadbd process with its own datadir, socket and port."""

    def __init__(self, name, base_dir, server_id, domain_id, increment_offset):
        self.name = name
        self.dir = os.path.join(base_dir, name)
        self.datadir = os.path.join(self.dir, 'data')
        self.socket = os.path.join(self.dir, 'mysqld.sock')
        self.pid_file = os.path.join(self.dir, 'mysqld.pid')
        self.error_log = os.path.join(self.dir, 'error.log')
        self.host = '127.0.0.1'
        self.port = _free_port()
        self.server_id = server_id
        self.domain_id = domain_id
        self.increment_offset = increment_offset
        self.process = None

    # -- lifecycle ---------------------------------------------------------

    def _run_as(self):
        return ['--user=mysql'] if os.geteuid() == 0 else []

    def install(self, install_db):
        os.makedirs(os.path.join(self.dir, 'tmp'))
        if os.geteuid() == 0:
            shutil.chown(self.dir, 'mysql', 'mysql')
            shutil.chown(os.path.join(self.dir, 'tmp'), 'mysql', 'mysql')
        command = [install_db, '--no-defaults', '--datadir=%s' % self.datadir, '--skip-test-db',
                   '--auth-root-authentication-method=normal', '--skip-name-resolve'] + self._run_as()
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError('mariadb-install-db for %s failed (%d):\n%s'
                               % (self.name, done.returncode, done.stdout.decode('utf-8', 'replace')[-3000:]))

    def start(self, mariadbd):
        command = self.start_argv(mariadbd)
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        self._wait_started()

    def start_argv(self, mariadbd):
        """The mariadbd command line of this server (what start() runs)."""
        return [
            mariadbd, '--no-defaults',
            '--datadir=%s' % self.datadir,
            '--socket=%s' % self.socket,
            '--port=%d' % self.port,
            '--bind-address=127.0.0.1',
            '--pid-file=%s' % self.pid_file,
            '--log-error=%s' % self.error_log,
            '--tmpdir=%s' % os.path.join(self.dir, 'tmp'),
            '--log-bin=%s' % os.path.join(self.datadir, 'mysql-bin'),
            '--relay-log=%s' % os.path.join(self.datadir, 'relay-bin'),
            '--binlog-format=ROW',
            '--log-slave-updates',
            '--server-id=%d' % self.server_id,
            '--gtid-domain-id=%d' % self.domain_id,
            '--auto-increment-increment=2',
            '--auto-increment-offset=%d' % self.increment_offset,
            '--skip-name-resolve',
            '--innodb-buffer-pool-size=%s' % os.environ.get('SMOOTH_MARIADB_LAB_BUFFER_POOL', '32M'),
            '--innodb-flush-log-at-trx-commit=2',
            '--sync-binlog=0',
            '--performance-schema=OFF',
            '--max-connections=40',
        ] + self._run_as()

    def _wait_started(self):
        deadline = time.monotonic() + START_TIMEOUT
        last_error = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError('mariadbd %s exited with %s:\n%s'
                                   % (self.name, self.process.returncode, self.error_log_tail()))
            if os.path.exists(self.socket):
                try:
                    self.root_connection().close()
                    return
                except pymysql.err.MySQLError as exc:
                    last_error = exc
            time.sleep(0.1)
        raise RuntimeError('mariadbd %s did not accept connections within %.0f s (%s):\n%s'
                           % (self.name, START_TIMEOUT, last_error, self.error_log_tail()))

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def error_log_tail(self, size=3000):
        try:
            with open(self.error_log, 'rb') as handle:
                return handle.read().decode('utf-8', 'replace')[-size:]
        except OSError:
            return '(no error log)'

    # -- SQL helpers for the tests (not through the modules) -----------------

    def root_connection(self):
        return pymysql.connect(unix_socket=self.socket, user='root', autocommit=True, connect_timeout=5,
                               cursorclass=pymysql.cursors.DictCursor)

    def query(self, sql, params=None):
        connection = self.root_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall()) if cursor.description else []
        finally:
            connection.close()

    def setup_sql(self, statements):
        """Run statements with sql_log_bin=0: local to this server, never replicated."""
        connection = self.root_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute('SET SESSION sql_log_bin = 0')
                for sql in statements:
                    cursor.execute(sql)
        finally:
            connection.close()

    def slaves(self):
        return dict((row['Connection_name'], row) for row in self.query('SHOW ALL SLAVES STATUS'))

    def reset_replication(self):
        for name in self.slaves():
            self.query('STOP SLAVE %s', (name,))
            self.query('RESET SLAVE %s ALL', (name,))

    def login_args(self, **overrides):
        args = dict(login_host=self.host, login_port=self.port, login_user=ADMIN_USER,
                    login_password=ADMIN_PASSWORD, config_file='')
        args.update(overrides)
        return args

    def source_args(self, **overrides):
        """Options that make another server replicate from this one."""
        args = dict(source_host=self.host, source_port=self.port, source_user=REPL_USER,
                    source_password=REPL_PASSWORD)
        args.update(overrides)
        return args

    def __repr__(self):
        return 'MariaDBServer(%s, %s:%d)' % (self.name, self.host, self.port)


class Servers(object):
    def __init__(self, a, b):
        self.a = a
        self.b = b

    def __iter__(self):
        return iter((self.a, self.b))


def find_server_binaries():
    """(mariadbd, mariadb-install-db) paths, or None for a missing one."""
    return _find_binary('mariadbd', 'mysqld'), _find_binary('mariadb-install-db', 'mysql_install_db')


TEST_ACCOUNTS_SQL = [
    "CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'" % (ADMIN_USER, ADMIN_PASSWORD),
    "GRANT ALL PRIVILEGES ON *.* TO '%s'@'127.0.0.1' WITH GRANT OPTION" % ADMIN_USER,
    "CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'" % (REPL_USER, REPL_PASSWORD),
    "GRANT REPLICATION SLAVE ON *.* TO '%s'@'127.0.0.1'" % REPL_USER,
]


@contextlib.contextmanager
def running_servers(specs, extra_sql=()):
    """Start one server per (name, server_id, domain_id, increment_offset) in
    specs, each with the admin and repl accounts and then extra_sql; yield the
    list; stop them all and remove their directories, whatever happens."""
    mariadbd, install_db = find_server_binaries()
    if not (mariadbd and install_db):
        raise RuntimeError('mariadbd and mariadb-install-db are needed '
                           '(apt-get install mariadb-server mariadb-client)')
    base_dir = tempfile.mkdtemp(prefix='smooth-mariadb-it-')
    os.chmod(base_dir, 0o755)
    started = []
    try:
        for name, server_id, domain_id, offset in specs:
            server = MariaDBServer(name, base_dir, server_id=server_id, domain_id=domain_id,
                                   increment_offset=offset)
            server.install(install_db)
            started.append(server)
            server.start(mariadbd)
            server.setup_sql(TEST_ACCOUNTS_SQL + list(extra_sql))
        yield started
    finally:
        for server in started:
            try:
                server.stop()
            except Exception as exc:  # keep tearing down the others
                sys.stderr.write('stopping %r failed: %s\n' % (server, exc))
        shutil.rmtree(base_dir, ignore_errors=True)


class AnsibleResult(object):
    def __init__(self, result, stdout, stderr, returncode):
        self.result = result
        self.stdout = stdout
        self.stderr = stderr
        self.returncode = returncode

    @property
    def output(self):
        return self.stdout + self.stderr

    def __getitem__(self, key):
        return self.result[key]

    def get(self, key, default=None):
        return self.result.get(key, default)


class AnsibleRunner(object):
    """Run one module task through ansible-playbook and return its result."""

    def __init__(self, work_dir, collections_root):
        self.work_dir = work_dir
        self.collections_root = collections_root
        self.runs = 0

    def __call__(self, module, args, check=False, diff=False, verbosity=0, timeout=None, task_vars=None):
        """task_vars: vars of the task (a role's tasks run through ansible.builtin.include_role)."""
        self.runs += 1
        run_dir = os.path.join(self.work_dir, 'run%03d' % self.runs)
        os.makedirs(run_dir)
        result_file = os.path.join(run_dir, 'result.json')
        playbook = [{
            'name': 'smooth.mariadb integration',
            'hosts': 'localhost',
            'connection': 'local',
            'gather_facts': False,
            'vars': {'ansible_python_interpreter': TARGET_PYTHON},
            'tasks': [
                {
                    'name': 'Run %s' % module,
                    module: args,
                    'register': 'module_result',
                    'ignore_errors': True,
                },
                {
                    'name': 'Save the result',
                    'ansible.builtin.copy': {'content': '{{ module_result | to_json }}', 'dest': result_file},
                    'check_mode': False,
                    'diff': False,
                },
            ],
        }]
        if task_vars:
            playbook[0]['tasks'][0]['vars'] = task_vars
        playbook_file = os.path.join(run_dir, 'playbook.yml')
        with open(playbook_file, 'w') as handle:
            json.dump(playbook, handle)  # JSON is YAML
        env = dict(os.environ)
        env.pop('ANSIBLE_CONFIG', None)
        env.update(
            ANSIBLE_COLLECTIONS_PATH=self.collections_root,
            ANSIBLE_LOCAL_TEMP=os.path.join(run_dir, 'tmp'),
            ANSIBLE_NOCOLOR='1',
            ANSIBLE_RETRY_FILES_ENABLED='0',
            ANSIBLE_STDOUT_CALLBACK='default',
        )
        command = [os.path.join(BIN_DIR, 'ansible-playbook'), '-i', 'localhost,', playbook_file]
        if check:
            command.append('--check')
        if diff:
            command.append('--diff')
        if verbosity:
            command.append('-' + 'v' * verbosity)
        done = subprocess.run(command, cwd=run_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout or ANSIBLE_TIMEOUT, check=False)
        stdout = done.stdout.decode('utf-8', 'replace')
        stderr = done.stderr.decode('utf-8', 'replace')
        if not os.path.exists(result_file):
            raise AssertionError('ansible-playbook did not produce a result (rc=%d)\nstdout:\n%s\nstderr:\n%s'
                                 % (done.returncode, stdout[-4000:], stderr[-4000:]))
        with open(result_file) as handle:
            result = json.load(handle)
        return AnsibleResult(result, stdout, stderr, done.returncode)


def wait_for(predicate, timeout=20.0, interval=0.2, what='condition'):
    """Poll predicate until it returns a truthy value; bounded in time and count."""
    deadline = time.monotonic() + timeout
    for dummy in range(int(timeout / interval) + 2):
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise AssertionError('%s not reached within %.0f s' % (what, timeout))


# -- Helpers added for the seed and replication_wait tests (plain SQL, not the modules) --

SYSTEM_SCHEMAS = ('mysql', 'sys', 'information_schema', 'performance_schema')


def start_replication(replica, source, name='peer', timeout=20.0):
    """Make replica replicate from source over GTID (connection name), and wait until it runs."""
    replica.query("CHANGE MASTER %s TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, "
                  "MASTER_PASSWORD = %s, MASTER_USE_GTID = slave_pos",
                  (name, source.host, source.port, REPL_USER, REPL_PASSWORD))
    replica.query('START SLAVE %s', (name,))

    def running():
        row = replica.slaves().get(name) or {}
        return row.get('Slave_IO_Running') == 'Yes' and row.get('Slave_SQL_Running') == 'Yes'
    wait_for(running, timeout=timeout, what='replication %s <- %s running' % (replica.name, source.name))


def catch_up(replica, source, timeout=30.0):
    """Let replica apply everything of source's binary log through a temporary
    connection, then remove that connection. Leaves other connections alone."""
    name = 'catch_up_%s' % source.name
    start_replication(replica, source, name=name, timeout=timeout)
    try:
        position = source.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')[0]['pos']
        waited = replica.query('SELECT MASTER_GTID_WAIT(%s, %s) AS waited', (position, timeout))[0]['waited']
        if waited != 0:
            raise AssertionError('%s did not catch up with %s (%s) within %.0f s: %r'
                                 % (replica.name, source.name, position, timeout, replica.slaves().get(name)))
    finally:
        replica.query('STOP SLAVE %s', (name,))
        replica.query('RESET SLAVE %s ALL', (name,))


def wipe_server(server, keep=()):
    """Bring a server back to freshly installed: no user schema (except keep),
    no replication connection, empty binary log and gtid_slave_pos. Local only."""
    server.reset_replication()
    schemas = [row['name'] for row in server.query('SELECT schema_name AS name FROM information_schema.SCHEMATA')]
    statements = ['DROP DATABASE %s' % ('`%s`' % name.replace('`', '``'))
                  for name in schemas if name not in SYSTEM_SCHEMAS and name not in keep]
    server.setup_sql(statements)
    server.query('RESET MASTER')
    server.query("SET GLOBAL gtid_slave_pos = ''")


def checksum_tables(server, tables):
    """{table: (COUNT(*), CHECKSUM TABLE)} for 'db.table' names."""
    found = {}
    for table in tables:
        schema, name = table.split('.', 1)
        quoted = '`%s`.`%s`' % (schema.replace('`', '``'), name.replace('`', '``'))
        count = server.query('SELECT COUNT(*) AS n FROM %s' % quoted)[0]['n']
        checksum = server.query('CHECKSUM TABLE %s EXTENDED' % quoted)[0]['Checksum']
        found[table] = (count, checksum)
    return found


class BackgroundWriter(threading.Thread):
    """Write to a server in a thread until stopped, at most ``limit`` writes.

    ``statement(step)`` returns the (sql, params) of write number ``step``.
    Every acknowledged write is remembered as (monotonic time, lastrowid), so
    a test can ask which writes were acknowledged before a given moment.
    """

    def __init__(self, server, statement, limit=3000, pause=0.005):
        super(BackgroundWriter, self).__init__(daemon=True)
        self.server = server
        self.statement = statement
        self.limit = limit
        self.pause = pause
        self.stop_event = threading.Event()
        self.acked = []
        self.error = None

    @property
    def written(self):
        return len(self.acked)

    def run(self):
        connection = self.server.root_connection()
        try:
            with connection.cursor() as cursor:
                for step in range(self.limit):
                    if self.stop_event.is_set():
                        break
                    cursor.execute(*self.statement(step))
                    self.acked.append((time.monotonic(), cursor.lastrowid))
                    time.sleep(self.pause)
        except Exception as exc:  # reported by the test
            self.error = exc
        finally:
            connection.close()

    def acked_before(self, moment):
        return [row_id for when, row_id in self.acked if when < moment]

    def stop(self):
        self.stop_event.set()
        self.join(timeout=30)


# -- Helpers for the seed tests of method mariabackup (a server stopped and started by scripts) --

STOP_SCRIPT = """#!/bin/sh
# Stop the test server {name}: SIGTERM to the pid of its pid file, then wait
# (at most {seconds} s) until the process is gone or a zombie of the test run.
[ -f {pid_file} ] || exit 0
pid=$(cat {pid_file})
kill -TERM "$pid" 2>/dev/null || exit 0
i=0
while [ $i -lt {tries} ]; do
  if [ ! -e /proc/$pid ] || grep -q '^State:[[:space:]]*Z' /proc/$pid/status 2>/dev/null; then exit 0; fi
  sleep 0.1
  i=$((i + 1))
done
echo "mariadbd $pid ({name}) did not stop within {seconds} s" >&2
exit 1
"""

START_SCRIPT = """#!/bin/sh
# Start the test server {name} detached, with the command line MariaDBServer.start uses.
# When {fail_once} exists, remove it and fail instead (to test the module's rescue).
if [ -e {fail_once} ]; then rm -f {fail_once}; echo "start refused once by the test" >&2; exit 3; fi
setsid {argv} </dev/null >/dev/null 2>&1 &
exit 0
"""


def write_service_scripts(server, mariadbd, directory):
    """Write stop/start scripts for server; returns (stop, start, fail_once flag path)."""
    paths = dict((name, os.path.join(directory, name)) for name in ('stop.sh', 'start.sh', 'fail-once'))
    values = dict(name=server.name, pid_file=shlex.quote(server.pid_file), seconds=int(STOP_TIMEOUT),
                  tries=int(STOP_TIMEOUT * 10), fail_once=shlex.quote(paths['fail-once']),
                  argv=' '.join(shlex.quote(arg) for arg in server.start_argv(mariadbd)))
    for name, text in (('stop.sh', STOP_SCRIPT), ('start.sh', START_SCRIPT)):
        with open(paths[name], 'w') as handle:
            handle.write(text.format(**values))
        os.chmod(paths[name], 0o755)
    return paths['stop.sh'], paths['start.sh'], paths['fail-once']


def take_back(server, mariadbd, stop_script):
    """After scripts restarted server outside this process: stop it and start it as start() does again."""
    subprocess.run([stop_script], timeout=STOP_TIMEOUT + 10, check=True)
    if server.process is not None:
        server.process.poll()   # reap the first process if the scripts stopped it
    server.start(mariadbd)


def collection_module(name):
    """A module of the collection under test, imported in this process ('plugins.module_utils.runlock');
    the tree of _collections_root() goes on sys.path when the collection is not importable yet."""
    full_name = 'ansible_collections.smooth.mariadb.' + name
    try:
        return importlib.import_module(full_name)
    except ImportError:
        sys.path.append(_collections_root()[0])
        return importlib.import_module(full_name)


def run_until_the_lock_moves(ansible, module, args, lock_path, started, what, timeout=30):
    """Run a module whose args name run 'dead-run' and the run lock at lock_path (written here) in a thread,
    as a killed ansible-playbook leaves it running; once started() is true, check that it holds the work
    lock, point the run lock at 'new-run' (what a run that takes the lock over does first) and wait, at
    most timeout s, for the module to end. Returns (its result, seconds from the lock's move to its end)."""
    runlock = collection_module('plugins.module_utils.runlock')
    lock_path.write_text(json.dumps(runlock.lock_record('dead-run', {})))
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(result=ansible(
        module, dict(args, run_id='dead-run', run_lock_path=str(lock_path)))))
    worker.start()
    try:
        wait_for(started, timeout=60, what=what)
        assert runlock.work_lock_active(), '%s does not hold the work lock while it works' % module
    finally:
        moved = time.monotonic()
        lock_path.write_text(json.dumps(runlock.lock_record('new-run', {})))
        worker.join(timeout)
    took = time.monotonic() - moved
    assert not worker.is_alive(), '%s still runs %d s after its run lost the lock' % (module, timeout)
    assert not runlock.work_lock_active(), '%s ended and still holds the work lock' % module
    return outcome['result'], took
