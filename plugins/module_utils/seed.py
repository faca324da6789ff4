# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Seeding a new node from a source: decisions, client commands, the dump stream.

Used by ``smooth.mariadb.seed``. The decisions (which schemas to copy, whether
the target may be seeded, what the seed record says) are pure functions. The
client programs get their connection settings from a temporary option file
(mode 0600, ``--defaults-file``) so that no password is ever on a command line,
and :func:`stream_dump` pipes ``mariadb-dump`` into ``mariadb`` through this
process, counting the bytes and reading the snapshot's coordinates from the
dump's comments on the way, without a copy on disk.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import namedtuple

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    MASK,
    Secret,
    mask_secrets,
    quote_identifier,
    to_text,
)

SYSTEM_SCHEMAS = ('information_schema', 'mysql', 'performance_schema', 'sys')
METADATA_SCHEMA = 'smooth_mariadb'
METADATA_TABLE = 'seed'
EXCLUDED_SCHEMAS = SYSTEM_SCHEMAS + (METADATA_SCHEMA,)
RECORD_ID = 1
LOCK_NAME = 'smooth_mariadb.seed'

STATE_RUNNING = 'running'
STATE_SEEDED = 'seeded'
STATE_FAILED = 'failed'


class SeedError(Exception):
    """The seed must not or cannot go on; the message says why and what to do."""


# ---------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------

def excluded_schema(name):
    """System schemas and the collection's metadata schema (names as the server reports them)."""
    return name in EXCLUDED_SCHEMAS


def select_databases(source_schemas, requested=None):
    """The schemas to copy (pure).

    :param source_schemas: every schema name of the source
    :param requested: the ``databases`` option, or None for every user schema
    :raises SeedError: for a requested schema that is a system schema, the
        collection's metadata schema, missing on the source, or starting with '-'
    """
    if requested is None:
        chosen = sorted(name for name in source_schemas if not excluded_schema(name))
    else:
        refused = [name for name in requested if excluded_schema(name)]
        if refused:
            raise SeedError('databases must not name system schemas or the %s metadata schema: %s'
                            % (METADATA_SCHEMA, ', '.join(refused)))
        known = set(source_schemas)
        unknown = [name for name in requested if name not in known]
        if unknown:
            raise SeedError('the source has no database %s' % ', '.join(unknown))
        chosen = []
        for name in requested:
            if name not in chosen:
                chosen.append(name)
    dashed = [name for name in chosen if name.startswith('-')]
    if dashed:
        raise SeedError('database names starting with "-" cannot be passed to mariadb-dump: %s' % ', '.join(dashed))
    return chosen


def user_databases(names):
    """The user databases among schema names, sorted: all but the system schemas and the collection's own (pure).

    The collection's one rule of a server "holding data": any user database
    counts, with tables or without (a schema without tables can still hold
    views, routines or events, and it would stay beside the copied ones).
    The seed refuses such a target, and server_identity and expansion_info
    (read by site.yml's identity check and the expansion's preflight) count it.
    A directory of the datadir whose name is no database name (``lost+found``
    of a datadir that is a file system of its own) is listed by the server as
    ``#mysql50#<name>``; it holds no data and does not count.
    """
    return sorted(name for name in names if not excluded_schema(name) and not name.startswith(INVALID_DIR_PREFIX))


# How the server lists a directory of the datadir that is not a valid database name.
INVALID_DIR_PREFIX = '#mysql50#'
SCHEMATA_QUERY = 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME'


# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------

SeedPlan = namedtuple('SeedPlan', ['action', 'reason', 'warnings'])
# action: 'unchanged' (already seeded from this source) or 'seed'.


def same_source(record, identity):
    """Whether a seed record names the server described by ``identity``."""
    if not record:
        return False
    return (record.get('source_server_id') == identity['server_id']
            and to_text(record.get('source_hostname')) == identity['hostname']
            and record.get('source_port') == identity['port'])


def describe_record(record):
    if not record:
        return 'no seed record'
    return ("a %s seed from server_id %s (%s, %s:%s) started %s"
            % (record.get('state'), record.get('source_server_id'), record.get('source_address'),
               record.get('source_hostname'), record.get('source_port'), record.get('started_at')))


def plan_seed(record, identity, data_schemas, force=False, active_connections=(), whole_instance=False):
    """Decide whether to seed the target (pure).

    :param record: the target's seed record (dict) or None
    :param identity: the source's ``server_id``, ``hostname``, ``port``
    :param data_schemas: the target's user databases (see :func:`user_databases`)
    :param force: seed over existing user data
    :param active_connections: names of the target's running replication connections
    :param whole_instance: the seed replaces the whole datadir (method mariabackup)
    :returns: :class:`SeedPlan`
    :raises SeedError: when the target must not be seeded
    """
    warnings = []
    if record and record.get('state') == STATE_SEEDED and same_source(record, identity):
        return SeedPlan('unchanged', 'already seeded from this source (%s)' % describe_record(record), warnings)
    if data_schemas:
        retry = (record and record.get('state') in (STATE_RUNNING, STATE_FAILED) and same_source(record, identity)
                 and set(data_schemas) <= set(record_databases(record)))
        if retry:
            warnings.append('resuming %s: its partly restored schemas (%s) are replaced'
                            % (describe_record(record), ', '.join(data_schemas)))
        elif force and whole_instance:
            warnings.append('force: the target holds user data in %s; its whole datadir is replaced (the old one '
                            'is kept, renamed)' % ', '.join(data_schemas))
        elif force:
            warnings.append('force: the target holds user data in %s; the copied schemas are replaced and the '
                            'others left as they are' % ', '.join(data_schemas))
        else:
            detail = ''
            if record:
                detail = ' It holds %s.' % describe_record(record)
            raise SeedError('the target already holds user data in %s.%s Refusing to seed it; set force: true to '
                            'replace the copied schemas anyway.' % (', '.join(data_schemas), detail))
    if active_connections:
        raise SeedError('replication runs on the target (%s): gtid_slave_pos can only be set with every '
                        'connection stopped. Stop them first.' % ', '.join("'%s'" % name for name in active_connections))
    return SeedPlan('seed', 'the target is not seeded from this source', warnings)


def record_databases(record):
    """The databases of a seed record, stored one per line (a list is returned as is)."""
    value = (record or {}).get('databases')
    if isinstance(value, (list, tuple)):
        return list(value)
    return [name for name in to_text(value).split('\n') if name]


# ---------------------------------------------------------------------------
# The seed record (a table on the target, written with sql_log_bin=0)
# ---------------------------------------------------------------------------

def _table():
    return '%s.%s' % (quote_identifier(METADATA_SCHEMA), quote_identifier(METADATA_TABLE))


RECORD_COLUMNS = (
    ('id', 'TINYINT UNSIGNED NOT NULL'),
    ('state', 'VARCHAR(16) NOT NULL'),
    ('method', 'VARCHAR(16) NOT NULL'),
    ('source_address', 'VARCHAR(300) NOT NULL'),
    ('source_server_id', 'INT UNSIGNED NOT NULL'),
    ('source_hostname', 'VARCHAR(255) NOT NULL'),
    ('source_port', 'INT UNSIGNED NOT NULL'),
    ('source_version', 'VARCHAR(100) NOT NULL'),
    ('databases', 'TEXT NOT NULL'),
    ('gtid_pos', 'TEXT NULL'),
    ('log_file', 'VARCHAR(255) NULL'),
    ('log_pos', 'BIGINT UNSIGNED NULL'),
    ('rows_copied', 'BIGINT UNSIGNED NULL'),
    ('bytes_streamed', 'BIGINT UNSIGNED NULL'),
    ('seconds', 'DOUBLE NULL'),
    ('started_at', 'DATETIME(6) NOT NULL'),
    ('finished_at', 'DATETIME(6) NULL'),
    ('error', 'TEXT NULL'),
)


def record_exists_query():
    return ('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s',
            (METADATA_SCHEMA, METADATA_TABLE))


def read_record_query():
    columns = ', '.join(quote_identifier(name) for name, dummy in RECORD_COLUMNS)
    return 'SELECT %s FROM %s WHERE `id` = %%s' % (columns, _table()), (RECORD_ID,)


def record_setup_statements():
    """Create the metadata schema and table (idempotent)."""
    columns = ',\n  '.join('%s %s' % (quote_identifier(name), kind) for name, kind in RECORD_COLUMNS)
    return [
        ('CREATE DATABASE IF NOT EXISTS %s' % quote_identifier(METADATA_SCHEMA), None),
        ("CREATE TABLE IF NOT EXISTS %s (\n  %s,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB "
         "COMMENT='smooth.mariadb.seed: where this node was seeded from'" % (_table(), columns), None),
    ]


def record_start_statement(method, source_address, identity, databases):
    return ('REPLACE INTO %s (`id`, `state`, `method`, `source_address`, `source_server_id`, `source_hostname`, '
            '`source_port`, `source_version`, `databases`, `started_at`) '
            'VALUES (%%s, %%s, %%s, %%s, %%s, %%s, %%s, %%s, %%s, UTC_TIMESTAMP(6))' % _table(),
            (RECORD_ID, STATE_RUNNING, method, source_address, identity['server_id'], identity['hostname'],
             identity['port'], identity['version'], '\n'.join(databases)))


def record_done_statement(gtid_pos, log_file, log_pos, rows, streamed, seconds):
    return ('UPDATE %s SET `state` = %%s, `gtid_pos` = %%s, `log_file` = %%s, `log_pos` = %%s, `rows_copied` = %%s, '
            '`bytes_streamed` = %%s, `seconds` = %%s, `finished_at` = UTC_TIMESTAMP(6), `error` = NULL '
            'WHERE `id` = %%s' % _table(),
            (STATE_SEEDED, gtid_pos, log_file, log_pos, rows, streamed, round(seconds, 3), RECORD_ID))


def record_failed_statement(error):
    return ('UPDATE %s SET `state` = %%s, `finished_at` = UTC_TIMESTAMP(6), `error` = %%s WHERE `id` = %%s' % _table(),
            (STATE_FAILED, to_text(error)[:60000], RECORD_ID))


# ---------------------------------------------------------------------------
# Client programs
# ---------------------------------------------------------------------------

def quote_option_value(value):
    """Quote a value for a MariaDB option file (double quotes, backslash escapes)."""
    text = to_text(value)
    if '\x00' in text:
        raise ValueError('option values must not contain a NUL character')
    for plain, escaped in (('\\', '\\\\'), ('"', '\\"'), ('\n', '\\n'), ('\r', '\\r'), ('\t', '\\t')):
        text = text.replace(plain, escaped)
    return '"%s"' % text


def option_file_text(kwargs):
    """A ``[client]`` option file for the PyMySQL ``connect()`` arguments (pure).

    ``kwargs`` is what ``build_connect_kwargs`` returns, so the client
    programs connect exactly where, as whom and how the module does. Only
    options every client program knows go into ``[client]`` (mariadb-dump
    refuses ``connect-timeout``, for one).
    """
    lines = ['[client]']
    if kwargs.get('unix_socket'):
        lines.append('socket=%s' % quote_option_value(kwargs['unix_socket']))
        lines.append('protocol=SOCKET')
    else:
        lines.append('host=%s' % quote_option_value(kwargs.get('host') or 'localhost'))
        lines.append('port=%d' % int(kwargs.get('port') or 3306))
        # The clients take host=localhost as "use the socket"; PyMySQL uses TCP.
        lines.append('protocol=TCP')
    if kwargs.get('user') is not None:
        lines.append('user=%s' % quote_option_value(kwargs['user']))
    if kwargs.get('password') is not None:
        lines.append('password=%s' % quote_option_value(kwargs['password']))
    ssl = kwargs.get('ssl') or {}
    for key, option in (('ca', 'ssl-ca'), ('cert', 'ssl-cert'), ('key', 'ssl-key')):
        if ssl.get(key):
            lines.append('%s=%s' % (option, quote_option_value(ssl[key])))
    if ssl:
        lines.append('ssl')
        if ssl.get('ca') and ssl.get('check_hostname') is not False:
            lines.append('ssl-verify-server-cert')
    return '\n'.join(lines) + '\n'


def write_option_file(directory, name, kwargs):
    """Write :func:`option_file_text` to a new file, mode 0600 from its creation."""
    path = os.path.join(directory, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, 'w') as handle:
        handle.write(option_file_text(kwargs))
    return path


def dump_command(binary, defaults_file, databases, compress=True):
    """mariadb-dump arguments: one consistent snapshot with its coordinates (pure)."""
    command = [
        binary,
        '--defaults-file=%s' % defaults_file,   # first, or the client ignores it
        '--single-transaction',                 # InnoDB snapshot, no table locks
        '--gtid',                               # with --master-data: the GTID of the snapshot
        '--master-data=2',                      # coordinates as comments, nothing executed
        '--routines', '--triggers', '--events',
        '--hex-blob',
        '--add-drop-database',
        '--max-allowed-packet=1G',
    ]
    if compress:
        command.append('--compress')
    command.append('--databases')
    command.extend(databases)
    return command


RESTORE_INIT = 'SET SESSION sql_log_bin = 0'


def restore_command(binary, defaults_file):
    """mariadb arguments: apply the dump without writing the target's binary log (pure)."""
    return [
        binary,
        '--defaults-file=%s' % defaults_file,
        '--init-command=%s' % RESTORE_INIT,
        '--batch',
        '--skip-reconnect',
        '--max-allowed-packet=1G',
    ]


# ---------------------------------------------------------------------------
# The coordinates in the dump's comments
# ---------------------------------------------------------------------------

# mariadb-dump --master-data=2 --gtid writes, as comment lines (the GTID one
# near the end of the dump, the file/offset one before the data):
#   -- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=2085;
#   -- SET GLOBAL gtid_slave_pos='1-11-5,2-12-3';
# Data cannot fake such a line: the dump escapes newlines inside values, so a
# real newline followed by "-- " only starts a comment.
_GTID_LINE = re.compile(rb"^-- SET GLOBAL gtid_slave_pos='([0-9,\- ]*)';", re.M)
_FILE_LINE = re.compile(rb"^-- CHANGE MASTER TO MASTER_LOG_FILE='([^'\n]+)', MASTER_LOG_POS=(\d+);", re.M)
_TAIL = 8192


class CoordinateScanner(object):
    """Find the snapshot's coordinates in a dump fed chunk by chunk.

    Keeps the unfinished last line of each chunk (up to 8 KiB; longer lines
    are data, never one of the comments) so a comment split over two chunks
    is seen whole, and matches a comment only at a real line start.
    """

    def __init__(self):
        self.gtids = {}
        self.files = {}
        self._tail = b''
        self._offset = 0          # stream offset of self._tail[0]
        self._mid_line = False    # self._tail[0] is not the start of a line

    def _scan(self, buffer, needle, regex, found, convert):
        if needle not in buffer:
            return
        for match in regex.finditer(buffer):
            if match.start() == 0 and self._mid_line:
                continue
            found[self._offset + match.start()] = convert(match)

    def feed(self, chunk):
        buffer = self._tail + chunk
        self._scan(buffer, b'-- SET GLOBAL gtid_slave_pos=', _GTID_LINE, self.gtids,
                   lambda match: match.group(1).decode('ascii').replace(' ', ''))
        self._scan(buffer, b'-- CHANGE MASTER TO MASTER_LOG_FILE=', _FILE_LINE, self.files,
                   lambda match: (match.group(1).decode('utf-8', 'replace'), int(match.group(2))))
        cut = buffer.rfind(b'\n')
        rest = buffer[cut + 1:] if cut >= 0 else buffer
        mid_line = self._mid_line if cut < 0 else False
        if len(rest) > _TAIL:
            rest, mid_line = b'', True
        self._offset += len(buffer) - len(rest)
        self._tail = rest
        self._mid_line = mid_line

    def result(self):
        """``(gtid_pos, log_file, log_pos)``; raises SeedError when absent or ambiguous."""
        gtids = set(self.gtids.values())
        files = set(self.files.values())
        if len(gtids) != 1 or len(files) != 1:
            raise SeedError('the dump does not hold exactly one snapshot position (found GTID %s, binlog %s); '
                            'is binary logging on at the source?'
                            % (sorted(gtids) or 'none', sorted(files) or 'none'))
        log_file, log_pos = files.pop()
        return gtids.pop(), log_file, log_pos


# ---------------------------------------------------------------------------
# The stream
# ---------------------------------------------------------------------------

StreamResult = namedtuple('StreamResult', [
    'bytes', 'seconds', 'dump_rc', 'restore_rc', 'dump_stderr', 'restore_stderr', 'timed_out', 'coordinates',
    'stopped',
])
# stopped: why stop_check ended the copy ('' when it did not).
StreamResult.__new__.__defaults__ = ('',)

# How often stream_dump asks its stop_check.
STOP_CHECK_INTERVAL = 1.0

CHUNK = 1 << 20


def _read_text(path, limit=20000):
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except OSError:
        return ''
    text = data.decode('utf-8', 'replace').strip()
    return text if len(text) <= limit else '...' + text[-limit:]


def _stop(process):
    if process is not None and process.poll() is None:
        try:
            process.send_signal(signal.SIGKILL)
        except OSError:
            pass


def stream_dump(dump_cmd, restore_cmd, workdir, timeout, scanner=None, chunk=CHUNK, clock=time.monotonic,
                stop_check=None, stop_interval=STOP_CHECK_INTERVAL):
    """Pipe ``dump_cmd``'s output into ``restore_cmd``, through this process.

    Counts the bytes, feeds them to ``scanner`` (a :class:`CoordinateScanner`),
    kills both programs after ``timeout`` seconds, and never lets the restore
    run the tail of a failed dump: when the dump fails, the restore is killed
    before its input is closed. ``stop_check``, when given, is called every
    ``stop_interval`` seconds; a non-empty answer (the reason) kills both
    programs as the timeout does and is returned as ``stopped``. Standard
    errors go to files in ``workdir``. Returns a :class:`StreamResult` (the
    coordinates are the scanner's result, or the SeedError text when it has
    none).
    """
    scanner = scanner or CoordinateScanner()
    dump_err_path = os.path.join(workdir, 'dump.stderr')
    restore_err_path = os.path.join(workdir, 'restore.stderr')
    started = clock()
    total = 0
    timed_out = threading.Event()
    dump = restore = None
    with open(dump_err_path, 'wb') as dump_err, open(restore_err_path, 'wb') as restore_err:
        restore = subprocess.Popen(restore_cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=restore_err,
                                   close_fds=True)
        try:
            dump = subprocess.Popen(dump_cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=dump_err,
                                    close_fds=True)
        except OSError:
            _stop(restore)
            restore.wait()
            raise

        def expire():
            timed_out.set()
            _stop(dump)
            _stop(restore)

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
        finished = threading.Event()
        stopped = []

        def watch():
            # Bounded: ends with the copy (finished) or at the first reason to stop.
            while not finished.wait(stop_interval):
                reason = stop_check()
                if reason:
                    stopped.append(reason)
                    timed_out.set()
                    _stop(dump)
                    _stop(restore)
                    return

        watcher = None
        if stop_check is not None:
            watcher = threading.Thread(target=watch)
            watcher.daemon = True
            watcher.start()
        restore_gone = False
        try:
            while True:
                data = dump.stdout.read1(chunk)
                if not data:
                    break
                total += len(data)
                scanner.feed(data)
                try:
                    restore.stdin.write(data)
                except (BrokenPipeError, ValueError):
                    restore_gone = True
                    break
            if restore_gone:
                _stop(dump)
            dump_rc = dump.wait()
            if dump_rc != 0 or timed_out.is_set():
                _stop(restore)  # never apply the tail of a broken dump
            try:
                restore.stdin.close()
            except BrokenPipeError:
                pass
            restore_rc = restore.wait()
        finally:
            timer.cancel()
            finished.set()
            if watcher is not None:
                watcher.join()
            for process in (dump, restore):
                _stop(process)
                if process is not None:
                    process.wait()
            if dump is not None and dump.stdout is not None:
                dump.stdout.close()
    try:
        coordinates = scanner.result()
    except SeedError as exc:
        coordinates = str(exc)
    return StreamResult(total, clock() - started, dump_rc, restore_rc, _read_text(dump_err_path),
                        _read_text(restore_err_path), timed_out.is_set() and not stopped, coordinates,
                        stopped[0] if stopped else '')


def describe_stream_failure(result, secrets=()):
    """The failure message of a stream, or None when both programs succeeded (pure).

    A restore that fails first makes the module kill the dump (exit code
    -9): that is reported as the restore's failure.
    """
    killed = -signal.SIGKILL
    if result.stopped:
        message = 'the copy was stopped (%s); both programs were killed after %d bytes' % (result.stopped, result.bytes)
    elif result.timed_out:
        message = 'the copy did not finish within the timeout; both programs were killed after %d bytes' % result.bytes
    elif result.restore_rc != 0 and result.dump_rc in (0, killed):
        message = ('mariadb (restore) failed with exit code %s after %d bytes: %s'
                   % (result.restore_rc, result.bytes, result.restore_stderr or '(no output)'))
    elif result.dump_rc != 0:
        message = 'mariadb-dump failed with exit code %s: %s' % (result.dump_rc, result.dump_stderr or '(no output)')
        if result.restore_rc not in (0, None, killed):
            message += '; mariadb (restore) exit code %s: %s' % (result.restore_rc, result.restore_stderr)
    elif isinstance(result.coordinates, str):
        message = result.coordinates
    else:
        return None
    return mask_secrets(message, [to_text(secret) for secret in secrets if secret])


# ---------------------------------------------------------------------------
# Method mariabackup: pure helpers (the module runs the programs)
# ---------------------------------------------------------------------------

# mariabackup writes the binary log coordinates of the backup into this file of
# the backup directory: "<file>\t<offset>\t<gtid_pos>" on one line (the GTID
# part is missing when the source has written no GTID yet). MariaDB 10.11 calls
# it xtrabackup_binlog_info; later versions mariadb_backup_binlog_info.
BINLOG_INFO_FILES = ('mariadb_backup_binlog_info', 'xtrabackup_binlog_info')
WORK_DIR_MARKER = '.smooth-mariadb-seed'
OLD_DATADIR_SUFFIX = '.smooth-before-seed-'
FAILED_DATADIR_SUFFIX = '.smooth-failed-seed-'
_GTID_POS = re.compile(r'^(\d+-\d+-\d+)(,\d+-\d+-\d+)*$')


def parse_binlog_info(text):
    """``(gtid_pos, log_file, log_pos)`` from a mariadb_backup_binlog_info text (pure).

    :raises SeedError: when the text is not one line of file, offset and optional GTID position
    """
    lines = [line for line in to_text(text).splitlines() if line.strip()]
    if len(lines) != 1:
        raise SeedError('the backup binlog info holds %d lines, expected one "file<TAB>offset<TAB>gtid" line '
                        '(is binary logging on at the source?): %r' % (len(lines), to_text(text)[:300]))
    fields = lines[0].strip().split('\t')
    if len(fields) not in (2, 3) or not fields[1].isdigit() or not fields[0]:
        raise SeedError('cannot read the backup binlog info %r: expected "file<TAB>offset<TAB>gtid"' % lines[0][:300])
    gtid_pos = fields[2].replace(' ', '') if len(fields) == 3 else ''
    if gtid_pos and not _GTID_POS.match(gtid_pos):
        raise SeedError('the backup binlog info has an invalid GTID position %r' % gtid_pos)
    return gtid_pos, fields[0], int(fields[1])


def work_dir_problem(path, entries, datadir):
    """Why ``path`` cannot be the work directory, or None (pure).

    :param entries: names in the directory, or None when it does not exist
    """
    real, data = os.path.normpath(path), os.path.normpath(datadir)
    if real == data or real.startswith(data + os.sep) or data.startswith(real + os.sep):
        return 'work_dir %s must not be inside the datadir %s nor contain it' % (path, datadir)
    if entries and WORK_DIR_MARKER not in entries:
        return ('work_dir %s exists and is not empty (%s); it is not a leftover of this module (no %s file). '
                'Remove it or choose another work_dir' % (path, ', '.join(sorted(entries)[:5]), WORK_DIR_MARKER))
    return None


def move_contents(source, destination):
    """Move every entry of directory ``source`` into the new directory
    ``destination`` (same mode and owner as ``source``), leaving ``source``
    itself in place, empty.

    A datadir is often a mount point (its own disk) and, in containers, an
    overlay directory: renaming it fails (EXDEV/EBUSY), moving its entries
    does not (shutil.move copies across filesystems and removes an entry
    only once it is fully copied).
    """
    info = os.stat(source)
    os.mkdir(destination, info.st_mode & 0o7777)
    os.chown(destination, info.st_uid, info.st_gid)
    for name in sorted(os.listdir(source)):
        shutil.move(os.path.join(source, name), os.path.join(destination, name))


def aside_path(datadir, suffix, stamp):
    """``<datadir><suffix><stamp>`` for a datadir moved aside (pure; no trailing slash kept)."""
    return os.path.normpath(datadir) + suffix + stamp


def extract_command(mbstream, work_dir):
    return [mbstream, '-x', '-C', work_dir]


def prepare_command(mariabackup, work_dir):
    return [mariabackup, '--prepare', '--target-dir=%s' % work_dir]


def move_back_command(mariabackup, work_dir, datadir):
    return [mariabackup, '--move-back', '--target-dir=%s' % work_dir, '--datadir=%s' % datadir]


class NullScanner(object):
    """A stream scanner that looks for nothing (the backup's coordinates are in a file)."""

    def feed(self, chunk):
        pass

    def result(self):
        return None


def describe_backup_stream_failure(result, secrets=()):
    """The failure message of backup_command piped into mbstream, or None (pure)."""
    killed = -signal.SIGKILL
    if result.stopped:
        message = ('the backup stream was stopped (%s); backup_command and mbstream were killed after %d bytes'
                   % (result.stopped, result.bytes))
    elif result.timed_out:
        message = ('the backup stream did not finish within the timeout; backup_command and mbstream were killed '
                   'after %d bytes' % result.bytes)
    elif result.restore_rc != 0 and result.dump_rc in (0, killed):
        message = ('mbstream (extract) failed with exit code %s after %d bytes: %s'
                   % (result.restore_rc, result.bytes, result.restore_stderr or '(no output)'))
    elif result.dump_rc != 0:
        message = ('backup_command failed with exit code %s after %d bytes: %s'
                   % (result.dump_rc, result.bytes, result.dump_stderr or '(no output)'))
    elif result.bytes == 0:
        message = 'backup_command wrote nothing to its standard output (it must stream mariabackup --stream=xbstream)'
    else:
        return None
    return mask_secrets(message, [to_text(secret) for secret in secrets if secret])


# ---------------------------------------------------------------------------
# Accounts (option ``accounts``): named accounts copied from the source
# ---------------------------------------------------------------------------
#
# The source's SHOW CREATE USER and SHOW GRANTS output is server-generated SQL.
# It is read into tokens (identifiers, strings, words, punctuation) so that it
# can be compared with the target's whatever the column order of a grant or the
# quoting of identifiers (ANSI_QUOTES), have its authentication strings (password
# hashes) masked for display and bound as parameters for execution, and be
# re-assembled into the statements that make the target equal: the server's own
# text with identifiers re-quoted with backticks, never text built from user input.

RESERVED_ACCOUNT_NAMES = ('root', 'mariadb.sys', 'mysql')
RESOURCE_LIMITS = ('MAX_QUERIES_PER_HOUR', 'MAX_UPDATES_PER_HOUR', 'MAX_CONNECTIONS_PER_HOUR',
                   'MAX_USER_CONNECTIONS', 'MAX_STATEMENT_TIME')
ACCOUNT_CREATED = 'created'
ACCOUNT_UPDATED = 'updated'
ACCOUNT_UNCHANGED = 'unchanged'


def check_account_names(names, login_users=()):
    """The account names to copy, each once, in the given order (pure).

    :param names: the ``accounts`` option (user names, without host)
    :param login_users: the user names the module logs in with (target and source)
    :raises SeedError: naming every refused name: empty, with the ``%`` wildcard,
        a system account (root, mariadb.sys, mysql) or a login user of the module
    """
    chosen, refused = [], []
    logins = set(name for name in login_users if name)
    for name in names or ():
        name = '' if name is None else to_text(name)
        if name.strip() == '':
            refused.append("'%s' (an empty name)" % name)
        elif '%' in name:
            refused.append("'%s' (contains the wildcard %%)" % name)
        elif name in RESERVED_ACCOUNT_NAMES:
            refused.append("'%s' (a system account)" % name)
        elif name in logins:
            refused.append("'%s' (an account this module logs in with)" % name)
        elif name not in chosen:
            chosen.append(name)
    if refused:
        raise SeedError('accounts: refusing to copy %s; nothing was changed' % ', '.join(refused))
    return chosen


def missing_account_names(names, source_accounts):
    """The names that have no (user, host) among ``source_accounts`` (pure)."""
    present = set(user for user, dummy in source_accounts)
    return [name for name in names if name not in present]


SqlToken = namedtuple('SqlToken', ['kind', 'value', 'text', 'gap'])
# kind: ident (value: the name), string (value: unescaped), word (value: upper case), punct.
# gap: whitespace before the token.

_SQL_TOKEN = re.compile(r"""(?P<space>\s+)
  |(?P<ident>`(?:[^`]|``)*`)
  |(?P<dident>"(?:[^"]|"")*")
  |(?P<string>'(?:[^'\\]|\\.|'')*')
  |(?P<punct>[(),@.])
  |(?P<word>[^\s`'"(),@.]+)""", re.S | re.X)
_STRING_ESCAPES = {'0': '\x00', 'b': '\b', 'n': '\n', 'r': '\r', 't': '\t', 'Z': '\x1a'}


def _unescape_string(body):
    """The value of a single-quoted SQL string's body (backslash escapes, doubled quotes)."""
    out = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == '\\' and index + 1 < len(body):
            following = body[index + 1]
            out.append('\\' + following if following in '%_' else _STRING_ESCAPES.get(following, following))
            index += 2
        elif char == "'" and body[index + 1:index + 2] == "'":
            out.append("'")
            index += 2
        else:
            out.append(char)
            index += 1
    return ''.join(out)


def sql_tokens(text):
    """Split a server-generated statement into :class:`SqlToken` (pure).

    Double-quoted names are identifiers (the server writes them only with
    ANSI_QUOTES). Raises SeedError on an unterminated quote, without the text
    (it may hold a password hash).
    """
    text = to_text(text)
    tokens = []
    position = 0
    gap = False
    while position < len(text):
        match = _SQL_TOKEN.match(text, position)
        if not match:
            raise SeedError('cannot read a statement of the server: unterminated quote at offset %d' % position)
        kind, raw = match.lastgroup, match.group()
        position = match.end()
        if kind == 'space':
            gap = True
            continue
        if kind == 'ident':
            value = raw[1:-1].replace('``', '`')
        elif kind == 'dident':
            kind, value = 'ident', raw[1:-1].replace('""', '"')
        elif kind == 'string':
            value = _unescape_string(raw[1:-1])
        elif kind == 'word':
            value = raw.upper()
        else:
            value = raw
        tokens.append(SqlToken(kind, value, raw, gap and bool(tokens)))
        gap = False
    return tokens


def _is_secret(tokens, index):
    """An authentication string: after PASSWORD (hash), USING (plugin data) or IDENTIFIED BY."""
    if tokens[index].kind != 'string' or index == 0:
        return False
    before = tokens[index - 1]
    if before.kind != 'word':
        return False
    if before.value in ('PASSWORD', 'USING'):
        return True
    return before.value == 'BY' and index >= 2 and tokens[index - 2].value == 'IDENTIFIED'


def _ident_text(name):
    return '`%s`' % name.replace('`', '``')


def _join(tokens, text_of):
    parts = []
    for index, token in enumerate(tokens):
        if index and token.gap:
            parts.append(' ')
        parts.append(text_of(index, token))
    return ''.join(parts)


def canonical_text(tokens):
    """The statement with identifiers in backticks; strings as the server wrote them (secrets included)."""
    return _join(tokens, lambda index, token: _ident_text(token.value) if token.kind == 'ident' else token.text)


def masked_text(tokens):
    """:func:`canonical_text` with every authentication string shown as the mask."""
    def text_of(index, token):
        if _is_secret(tokens, index):
            return "'%s'" % MASK
        return _ident_text(token.value) if token.kind == 'ident' else token.text
    return _join(tokens, text_of)


def mask_account_statement(text):
    """A SHOW CREATE USER / SHOW GRANTS statement with its password hashes masked (pure)."""
    try:
        return masked_text(sql_tokens(text))
    except SeedError:
        return '(a statement that cannot be read; not shown, it may hold a password hash)'


def statement_template(tokens):
    """``(sql, params)`` to execute the tokens: every authentication string becomes a bound
    :class:`Secret` (masked in results and errors), every other ``%`` is doubled for the driver."""
    params = []

    def text_of(index, token):
        if _is_secret(tokens, index):
            params.append(Secret(token.value))
            return '%s'
        text = _ident_text(token.value) if token.kind == 'ident' else token.text
        return text.replace('%', '%%')
    sql = _join(tokens, text_of)
    return sql, tuple(params)


def _spaced(tokens):
    """tokens with a gap before the first one (for splicing)."""
    tokens = list(tokens)
    if tokens:
        tokens[0] = tokens[0]._replace(gap=True)
    return tokens


def _account_at(tokens, index):
    """``((user, host), next index)`` for ``name@host`` at index; ``((name, None), index + 1)`` for a role."""
    if index >= len(tokens) or tokens[index].kind not in ('ident', 'string'):
        raise SeedError('cannot read a statement of the server: no account name at token %d' % index)
    if index + 1 < len(tokens) and tokens[index + 1].text == '@':
        if index + 2 >= len(tokens) or tokens[index + 2].kind not in ('ident', 'string'):
            raise SeedError('cannot read a statement of the server: incomplete account name')
        return (tokens[index].value, tokens[index + 2].value), index + 3
    return (tokens[index].value, None), index + 1


def account_display(user, host):
    return '%s@%s' % (_ident_text(user), _ident_text(host))


# -- SHOW CREATE USER ---------------------------------------------------------

def parse_create_user(rows, user, host):
    """Token lists of the SHOW CREATE USER rows of ``user@host`` (pure).

    The first row is ``CREATE USER <account> ...``; MariaDB adds an
    ``ALTER USER <account> PASSWORD EXPIRE ...`` row when both an expired
    password and a lifetime must be expressed.
    :raises SeedError: when a row is not a CREATE/ALTER USER of that account
    """
    parsed = []
    for number, row in enumerate(rows):
        tokens = sql_tokens(row)
        verb = 'CREATE' if number == 0 else 'ALTER'
        if len(tokens) < 3 or [token.value for token in tokens[:2]] != [verb, 'USER']:
            raise SeedError('SHOW CREATE USER for %s returned an unexpected statement (row %d does not start with '
                            '%s USER)' % (account_display(user, host), number + 1, verb))
        account, dummy = _account_at(tokens, 2)
        if account != (user, host):
            raise SeedError('SHOW CREATE USER for %s returned a statement for another account'
                            % account_display(user, host))
        parsed.append(tokens)
    if not parsed:
        raise SeedError('SHOW CREATE USER for %s returned nothing' % account_display(user, host))
    return parsed


def _clauses(tokens):
    """The clauses after the account of a CREATE USER row: {auth, require, limits, lock, expire: tokens}."""
    dummy, index = _account_at(tokens, 2)
    clauses = {}
    current = None
    for position in range(index, len(tokens)):
        token = tokens[position]
        name = None
        if token.kind == 'word':
            following = tokens[position + 1] if position + 1 < len(tokens) else None
            if token.value == 'IDENTIFIED':
                name = 'auth'
            elif token.value == 'REQUIRE':
                name = 'require'
            elif token.value == 'WITH':
                name = 'limits'
            elif token.value == 'ACCOUNT':
                name = 'lock'
            elif token.value == 'PASSWORD' and following is not None and following.value == 'EXPIRE' \
                    and following.kind == 'word':
                name = 'expire'
        if name is not None:
            if name in clauses:
                raise SeedError('cannot read a CREATE USER statement of the server: two %s clauses' % name)
            current = name
            clauses[name] = []
        if current is None:
            raise SeedError('cannot read a CREATE USER statement of the server: unexpected %s after the account'
                            % ('a string' if token.kind == 'string' else repr(token.text[:40])))
        clauses[current].append(token)
    return clauses


# What the ALTER USER of an existing account states for a clause the source's
# CREATE USER leaves out: ALTER USER keeps every clause it does not mention, so
# leaving one out would keep the target's old value.
NEUTRAL_CLAUSES = (
    ('auth', "IDENTIFIED VIA mysql_native_password USING ''"),   # no password, as CREATE USER without one
    ('require', 'REQUIRE NONE'),
    ('limits', None),                                              # every missing limit set to 0
    ('lock', 'ACCOUNT UNLOCK'),
    ('expire', 'PASSWORD EXPIRE DEFAULT'),
)


def _bare_expire(clause):
    """``PASSWORD EXPIRE`` alone: the password is expired (not a lifetime)."""
    return clause is not None and len(clause) == 2


def alter_user_tokens(create_rows):
    """Token lists of the ALTER USER statements that make an existing account equal to
    ``create_rows`` (the source's parsed SHOW CREATE USER) (pure).

    The first row's clauses are kept as the server wrote them (the authentication
    exactly as given: a password hash, never a clear password); each clause it
    lacks is stated with its neutral value. The other rows are turned into
    nothing new: they are ALTER USER statements already.
    """
    first = create_rows[0]
    dummy, index = _account_at(first, 2)
    account = first[2:index]
    clauses = _clauses(first)
    tokens = sql_tokens('ALTER USER') + _spaced(account)
    for name, neutral in NEUTRAL_CLAUSES:
        clause = clauses.get(name)
        if name == 'limits':
            present = set(token.value for token in clause or () if token.kind == 'word')
            missing = ' '.join('%s 0' % limit for limit in RESOURCE_LIMITS if limit not in present)
            if clause:
                clause = clause + (_spaced(sql_tokens(missing)) if missing else [])
            else:
                clause = sql_tokens('WITH ' + missing)
        elif clause is None:
            clause = sql_tokens(neutral)
        tokens.extend(_spaced(clause))
    statements = [tokens]
    lifetime_set = any(_clauses(row).get('expire') for row in create_rows[1:])
    if _bare_expire(clauses.get('expire')) and not lifetime_set:
        statements.insert(0, sql_tokens('ALTER USER') + _spaced(account) + _spaced(sql_tokens('PASSWORD EXPIRE DEFAULT')))
    statements.extend(create_rows[1:])
    return statements


# -- SHOW GRANTS --------------------------------------------------------------

GrantEntry = namedtuple('GrantEntry', ['key', 'kind', 'target', 'items', 'option'])
# kind: privileges (target: the object, items: ((privilege, column or None), ...), option: WITH GRANT OPTION),
#       role (target: the role, option: WITH ADMIN OPTION), default_role (target: the role).


def _top_level_word(tokens, word, start=0):
    depth = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.kind == 'punct' and token.text == '(':
            depth += 1
        elif token.kind == 'punct' and token.text == ')':
            depth -= 1
        elif depth == 0 and token.kind == 'word' and token.value == word:
            return index
    return None


def _privilege_items(tokens):
    """((privilege, column or None), ...) of a privilege list, USAGE left out."""
    items = []
    parts, current, depth = [], [], 0
    for token in tokens:
        if token.kind == 'punct' and token.text == '(':
            depth += 1
        elif token.kind == 'punct' and token.text == ')':
            depth -= 1
        if depth == 0 and token.kind == 'punct' and token.text == ',':
            parts.append(current)
            current = []
        else:
            current.append(token)
    parts.append(current)
    for part in parts:
        words = []
        columns = None
        for token in part:
            if token.kind == 'word' and columns is None:
                words.append(token.value)
            elif token.kind == 'punct' and token.text == '(':
                columns = []
            elif token.kind == 'ident' and columns is not None:
                columns.append(token.value)
        if not words:
            raise SeedError('cannot read a GRANT statement of the server: empty privilege')
        name = ' '.join(words)
        if name == 'USAGE':
            continue
        if columns is None:
            items.append((name, None))
        else:
            items.extend((name, column) for column in columns)
    return tuple(items)


def _option_after(tokens, start, words):
    """Whether ``WITH ... <words>`` (GRANT OPTION, ADMIN OPTION) is among tokens[start:]."""
    values = [token.value if token.kind == 'word' else None for token in tokens[start:]]
    for index in range(len(values) - len(words) + 1):
        if values[index:index + len(words)] == list(words) and 'WITH' in values[:index + 1]:
            return True
    return False


def parse_grant(line, user, host):
    """A :class:`GrantEntry` for one SHOW GRANTS line of ``user@host``, or None for a
    line about another grantee (pure).

    The authentication, TLS and resource limits that MariaDB repeats on the
    ``*.*`` line are left out: they are the account's (SHOW CREATE USER).
    """
    tokens = sql_tokens(line)
    words = [token.value if token.kind == 'word' else None for token in tokens]
    if words[:3] == ['SET', 'DEFAULT', 'ROLE']:
        at = _top_level_word(tokens, 'FOR', 3)
        if at is None:
            raise SeedError('cannot read a SET DEFAULT ROLE statement of the server')
        grantee, dummy = _account_at(tokens, at + 1)
        if grantee != (user, host):
            return None
        role = canonical_text(tokens[3:at])
        return GrantEntry(('default_role',), 'default_role', role, (), False)
    if words[:1] != ['GRANT']:
        raise SeedError('cannot read a SHOW GRANTS line of the server: it does not start with GRANT')
    to = _top_level_word(tokens, 'TO', 1)
    if to is None:
        raise SeedError('cannot read a GRANT statement of the server: no TO')
    on = _top_level_word(tokens[:to], 'ON', 1)
    grantee, after = _account_at(tokens, to + 1)
    if grantee != (user, host):
        return None
    if on is None:
        role = canonical_text(tokens[1:to])
        return GrantEntry(('role', role), 'role', role, (), _option_after(tokens, after, ('ADMIN', 'OPTION')))
    target = canonical_text(tokens[on + 1:to])
    items = _privilege_items(tokens[1:on])
    return GrantEntry(('on', target), 'privileges', target, items, _option_after(tokens, after, ('GRANT', 'OPTION')))


def parse_grants(lines, user, host):
    """{key: GrantEntry} of SHOW GRANTS lines (pure); lines about other grantees are left out."""
    entries = {}
    for line in lines:
        entry = parse_grant(line, user, host)
        if entry is not None:
            entries[entry.key] = entry
    return entries


def _same_entry(first, second):
    if first is None or second is None:
        return first is second
    return (first.kind == second.kind and first.target == second.target
            and set(first.items) == set(second.items) and first.option == second.option)


def privilege_text(items):
    """``SELECT, INSERT, UPDATE (`a`, `b`)``: table-wide privileges, then column lists (sorted)."""
    order, columns = [], {}
    for name, column in items:
        key = (name, column is not None)
        if key not in columns:
            order.append(key)
            columns[key] = []
        if column is not None and column not in columns[key]:
            columns[key].append(column)
    parts = []
    for key in order:
        name, per_column = key
        if per_column:
            parts.append('%s (%s)' % (name, ', '.join(_ident_text(column) for column in sorted(columns[key]))))
        else:
            parts.append(name)
    return ', '.join(parts) or 'USAGE'


def grant_line(entry, user, host):
    """The canonical text of an entry (for diffs; never holds a password hash)."""
    account = account_display(user, host)
    if entry.kind == 'default_role':
        return 'SET DEFAULT ROLE %s FOR %s' % (entry.target, account)
    if entry.kind == 'role':
        return 'GRANT %s TO %s%s' % (entry.target, account, ' WITH ADMIN OPTION' if entry.option else '')
    return 'GRANT %s ON %s TO %s%s' % (privilege_text(entry.items), entry.target, account,
                                       ' WITH GRANT OPTION' if entry.option else '')


def _sql(text):
    return text.replace('%', '%%')


ALL_PRIVILEGES = ('ALL PRIVILEGES', None)


def grant_statements(source, target, user, host):
    """``(sql, params)`` that make the target's grant entries equal to the source's (pure).

    A precise difference, object by object, not REVOKE ALL + GRANT: privileges
    that stay are never revoked, so an application using the account on a live
    target never loses one, even for a moment. New privileges are granted before
    old ones are revoked. Exception: an object where the target holds ALL
    PRIVILEGES and the source a list; its privileges are revoked and granted again.
    The account is bound as a value (``%s@%s``).
    """
    account = (user, host)
    grants, revokes, roles_added, roles_removed, defaults = [], [], [], [], []
    keys = list(source) + [key for key in target if key not in source]
    for key in keys:
        wanted, present = source.get(key), target.get(key)
        if _same_entry(wanted, present):
            continue
        kind = (wanted or present).kind
        if kind == 'default_role':
            role = wanted.target if wanted else 'NONE'
            defaults.append(('SET DEFAULT ROLE %s FOR %%s@%%s' % _sql(role), account))
        elif kind == 'role':
            role = _sql((wanted or present).target)
            if wanted is None:
                roles_removed.append(('REVOKE %s FROM %%s@%%s' % role, account))
            elif present is None or (wanted.option and not present.option):
                roles_added.append(('GRANT %s TO %%s@%%s%s' % (role, ' WITH ADMIN OPTION' if wanted.option else ''),
                                    account))
            else:
                roles_removed.append(('REVOKE ADMIN OPTION FOR %s FROM %%s@%%s' % role, account))
        else:
            _privilege_changes(wanted, present, account, grants, revokes)
    return grants + roles_added + revokes + roles_removed + defaults


def _privilege_changes(wanted, present, account, grants, revokes):
    target = _sql((wanted or present).target)
    want = set(wanted.items) if wanted else set()
    have = set(present.items) if present else set()
    want_option = bool(wanted and wanted.option)
    have_option = bool(present and present.option)
    if ('PROXY', None) in want | have:
        # PROXY is one privilege with its own grant option: replace it whole.
        if present is not None:
            revokes.append(('REVOKE PROXY ON %s FROM %%s@%%s' % target, account))
        if wanted is not None:
            grants.append(('GRANT PROXY ON %s TO %%s@%%s%s' % (target, ' WITH GRANT OPTION' if want_option else ''),
                           account))
        return
    if wanted is None:
        # An object only the target grants on: everything on it goes.
        if have:
            revokes.append(('REVOKE ALL PRIVILEGES ON %s FROM %%s@%%s' % target, account))
        if have_option:
            revokes.append(('REVOKE GRANT OPTION ON %s FROM %%s@%%s' % target, account))
        return
    if ALL_PRIVILEGES in have and ALL_PRIVILEGES not in want:
        # The privileges ALL stands for are not listed: revoke it, then grant the source's list.
        grants.append(('REVOKE ALL PRIVILEGES ON %s FROM %%s@%%s' % target, account))
        have = set()
    missing = [item for item in wanted.items if item not in have]
    if want_option and not have_option:
        missing = list(wanted.items)   # WITH GRANT OPTION applies to the privileges granted with it
    if missing or (want_option and not have_option):
        grants.append(('GRANT %s ON %s TO %%s@%%s%s' % (_sql(privilege_text(missing)), target,
                                                        ' WITH GRANT OPTION' if want_option else ''), account))
    extra = [item for item in present.items if item in have and item not in want] if present else []
    if ALL_PRIVILEGES in want:
        extra = [item for item in extra if item[1] is not None]   # ALL covers every table-wide privilege
    if extra:
        revokes.append(('REVOKE %s ON %s FROM %%s@%%s' % (_sql(privilege_text(extra)), target), account))
    if have_option and not want_option:
        revokes.append(('REVOKE GRANT OPTION ON %s FROM %%s@%%s' % target, account))


# -- One account --------------------------------------------------------------

AccountPlan = namedtuple('AccountPlan', ['user', 'host', 'action', 'statements', 'before', 'after'])

# The grant entry every existing account has (what CREATE USER leaves).
_USAGE_KEY = ('on', '*.*')


def account_view(create_rows, entries, user, host):
    """What the diff shows of an account: its CREATE USER rows masked, its grants (pure)."""
    if create_rows is None:
        return {}
    lines = sorted(grant_line(entry, user, host) for entry in entries.values())
    return dict(create_user=[masked_text(tokens) for tokens in create_rows], grants=lines)


def plan_account(user, host, source, target):
    """How to make ``user@host`` on the target equal to the source (pure).

    :param source: ``{'create': [SHOW CREATE USER rows], 'grants': [SHOW GRANTS lines]}`` of the source
    :param target: the same of the target, or None when the account does not exist there
    :returns: :class:`AccountPlan`; ``statements`` empty when unchanged
    :raises SeedError: when the server output cannot be read
    """
    source_rows = parse_create_user(source['create'], user, host)
    source_grants = parse_grants(source['grants'], user, host)
    after = account_view(source_rows, source_grants, user, host)
    if target is None:
        # The source's SHOW CREATE USER rows are run as the server returned them: they are
        # server-generated SQL (every name quoted by the server; re-quoted here with backticks,
        # in case the source writes ANSI_QUOTES), never text built from the task's input. Only
        # the authentication string is taken out and bound, as a Secret, so that it is masked.
        statements = [statement_template(tokens) for tokens in source_rows]
        usage = {_USAGE_KEY: GrantEntry(_USAGE_KEY, 'privileges', '*.*', (), False)}
        statements.extend(grant_statements(source_grants, usage, user, host))
        return AccountPlan(user, host, ACCOUNT_CREATED, statements, {}, after)
    target_rows = parse_create_user(target['create'], user, host)
    target_grants = parse_grants(target['grants'], user, host)
    before = account_view(target_rows, target_grants, user, host)
    statements = []
    if [canonical_text(tokens) for tokens in source_rows] != [canonical_text(tokens) for tokens in target_rows]:
        statements.extend(statement_template(tokens) for tokens in alter_user_tokens(source_rows))
    statements.extend(grant_statements(source_grants, target_grants, user, host))
    return AccountPlan(user, host, ACCOUNT_UPDATED if statements else ACCOUNT_UNCHANGED, statements, before, after)


def account_differences(source, target, user, host):
    """What still differs between the source's and the target's account (pure; masked), [] when equal."""
    source_rows = parse_create_user(source['create'], user, host)
    target_rows = parse_create_user(target['create'], user, host)
    problems = []
    if [canonical_text(tokens) for tokens in source_rows] != [canonical_text(tokens) for tokens in target_rows]:
        problems.append('SHOW CREATE USER is %s on the target, %s on the source'
                        % (' / '.join(masked_text(tokens) for tokens in target_rows),
                           ' / '.join(masked_text(tokens) for tokens in source_rows)))
    source_grants = parse_grants(source['grants'], user, host)
    target_grants = parse_grants(target['grants'], user, host)
    for key in list(source_grants) + [key for key in target_grants if key not in source_grants]:
        wanted, present = source_grants.get(key), target_grants.get(key)
        if not _same_entry(wanted, present):
            problems.append('grant %s on the target, %s on the source'
                            % (grant_line(present, user, host) if present else 'missing',
                               grant_line(wanted, user, host) if wanted else 'missing'))
    return problems
