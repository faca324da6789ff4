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
dump's comments on the way, without a copy on disk. The method mariabackup's
helpers are in seed_backup.py, the copy of accounts in seed_accounts.py.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import namedtuple

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
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
# Method and compression
# ---------------------------------------------------------------------------

# Method auto copies with mariabackup from this size of the copied schemas on
# (data and indexes, from the table statistics). Below it the dump's fixed costs
# are lower: mariabackup stops and starts the target and prepares the backup,
# about 15 s on the lab hosts, which the dump's lower rate (8 to 10 MB/s
# against 60 to 70 MB/s, tests/bench/bench_seed.py) makes up from about 150 MB.
AUTO_MARIABACKUP_BYTES = 256 * 1024 * 1024


def choose_method(requested, source_bytes, threshold, backup_command, databases):
    """The method a seed uses and why (pure): ``(method, reason)``.

    :param requested: ``dump``, ``mariabackup`` or ``auto``
    :param source_bytes: data and index bytes of the schemas to copy (table statistics)
    :param threshold: with ``auto``, mariabackup from this many bytes on
    :param backup_command: the command streaming the source's backup, or ``True`` where one is always given
        (``None`` or empty: none given)
    :param databases: the databases asked for (``None``: the whole instance)
    """
    size = format_bytes(source_bytes)
    if requested != 'auto':
        return requested, 'asked for (method=%s); the source holds %s' % (requested, size)
    if source_bytes < threshold:
        return 'dump', 'auto: the source holds %s, less than %s' % (size, format_bytes(threshold))
    if databases is not None:
        return 'dump', ('auto: the source holds %s, but only some databases are to be copied (databases), which '
                        'a physical backup cannot do' % size)
    if not backup_command:
        return 'dump', ('auto: the source holds %s, but no backup_command streams its backup; mariabackup would '
                        'be faster from %s on' % (size, format_bytes(threshold)))
    return 'mariabackup', 'auto: the source holds %s, %s or more' % (size, format_bytes(threshold))


def exact_row_count(requested, method):
    """Whether the rows of the copy are counted (``SELECT COUNT(*)``) or taken from the table statistics (pure).

    ``auto`` counts after a dump and estimates after a physical copy: auto picks
    mariabackup for large data, where counting reads every table once more (a
    full scan per table, hours on a shard of a terabyte) only to report a number.
    """
    if requested == 'auto':
        return method != 'mariabackup'
    return requested == 'exact'


def format_bytes(count):
    """1536 -> '1.5 KiB' (pure)."""
    value = float(count or 0)
    for unit in ('bytes', 'KiB', 'MiB', 'GiB', 'TiB'):
        if value < 1024 or unit == 'TiB':
            return '%d bytes' % value if unit == 'bytes' else '%.1f %s' % (value, unit)
        value /= 1024
    return '%d bytes' % count  # pragma: no cover


def source_size_query(databases):
    """The data and index bytes of ``databases`` from the table statistics: ``(sql, params)`` (pure)."""
    placeholders = ', '.join(['%s'] * len(databases))
    return ('SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS bytes FROM information_schema.TABLES '
            'WHERE TABLE_SCHEMA IN (%s)' % placeholders, list(databases))


def needs_compression(route_text):
    """Whether a dump should travel compressed, from ``ip route get <source>`` (pure): ``(bool, reason)``.

    Compression costs CPU on both ends (on a LAN it cut the copy's rate by a third,
    tests/bench/bench_seed.py); it pays on a link behind a router, which is slower
    than the hosts' CPUs. So: compressed when the route names a gateway (``via``),
    not when the source is on a network of this host or on this host.
    """
    words = (route_text or '').split()
    if not words:
        return True, 'no route to the source was found (ip route get): compressed, to be safe on a slow link'
    if words[0] == 'local' or ' dev lo ' in ' %s ' % ' '.join(words):
        return False, 'the source is on this host: not compressed'
    if 'via' in words:
        gateway = words[words.index('via') + 1] if words.index('via') + 1 < len(words) else '?'
        return True, 'the source is reached through the router %s: compressed' % gateway
    return False, 'the source is on a network of this host (no router between): not compressed'


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


def progress_text(progress):
    """One line for a copy's progress record (pure).

    ``progress`` is what :func:`write_progress` wrote: ``state`` (copying,
    preparing, restarting, counting, done), ``method``, ``bytes`` moved so far,
    ``seconds`` since the copy began and ``source_bytes`` (the data and index
    bytes of the source, table statistics). The stream's bytes are not the
    data's (a dump is SQL text, a backup carries InnoDB's system files), so
    the source's size is given beside them, not as a percentage.
    """
    moved = progress.get('bytes') or 0
    seconds = float(progress.get('seconds') or 0)
    rate = ' (%s/s)' % format_bytes(moved / seconds) if seconds > 0 else ''
    text = '%s by %s: %s streamed in %d s%s' % (
        progress.get('state') or 'copying', progress.get('method') or '?', format_bytes(moved), seconds, rate)
    if progress.get('source_bytes'):
        text += '; the source holds %s of data' % format_bytes(progress['source_bytes'])
    return text


def _progress_temporary(path):
    return '%s.tmp' % path


def write_progress(path, progress):
    """Write a copy's progress record to ``path`` (JSON, replaced in one rename so a reader never sees half)."""
    temporary = _progress_temporary(path)
    with open(temporary, 'w') as handle:
        json.dump(progress, handle, sort_keys=True)
    os.rename(temporary, path)


def remove_progress(path):
    """Remove the progress record at ``path`` and a half-written one beside it, if any."""
    for leftover in (path, _progress_temporary(path)):
        try:
            os.unlink(leftover)
        except OSError:
            pass


def _set_pipe_size(handle, size):
    """Ask Linux for a larger pipe buffer (fewer wake-ups per MB); leave the pipe as it is where it cannot."""
    try:
        fcntl.fcntl(handle.fileno(), getattr(fcntl, 'F_SETPIPE_SZ', 1031), size)
    except (OSError, ValueError):
        pass


def _splice_all(source_fd, target_fd, chunk, counted):
    """Move what source_fd gives into target_fd with os.splice (Linux: pipe to pipe in the kernel, no copy
    through this process) until the source ends: 'done', 'restore_gone' (the target's reader exited) or
    'unsupported' (splice is refused here: the caller copies the rest itself). Counts into counted[0]."""
    while True:
        try:
            moved = os.splice(source_fd, target_fd, chunk)
        except BrokenPipeError:
            return 'restore_gone'
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOSYS):
                return 'unsupported'
            raise
        if not moved:
            return 'done'
        counted[0] += moved


def stream_dump(dump_cmd, restore_cmd, workdir, timeout, scanner=None, chunk=CHUNK, clock=time.monotonic,
                stop_check=None, stop_interval=STOP_CHECK_INTERVAL, progress=None, passthrough=False):
    """Pipe ``dump_cmd``'s output into ``restore_cmd``, through this process.

    With ``passthrough`` the bytes are not looked at (no scanner: a physical
    backup's coordinates are in a file of the backup) and, where Linux and
    Python (3.10 on) allow it, the kernel moves them from one pipe to the
    other (os.splice), not this process: the stream step of a backup ran at
    82% of the plain shell pipe with the copy through Python
    (tests/bench/bench_seed.py).

    Counts the bytes, feeds them to ``scanner`` (a :class:`CoordinateScanner`),
    kills both programs after ``timeout`` seconds, and never lets the restore
    run the tail of a failed dump: when the dump fails, the restore is killed
    before its input is closed. ``stop_check``, when given, is called every
    ``stop_interval`` seconds; a non-empty answer (the reason) kills both
    programs as the timeout does and is returned as ``stopped``. ``progress``,
    when given, is called as often with the bytes moved so far and the seconds
    since the start. Standard errors go to files in ``workdir``. Returns a :class:`StreamResult` (the
    coordinates are the scanner's result, or the SeedError text when it has
    none).
    """
    scanner = scanner or CoordinateScanner()
    dump_err_path = os.path.join(workdir, 'dump.stderr')
    restore_err_path = os.path.join(workdir, 'restore.stderr')
    started = clock()
    counted = [0]  # the bytes moved; a list, so that the watcher reads the count as it grows
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
                if progress is not None:
                    progress(counted[0], clock() - started)
                reason = stop_check() if stop_check is not None else ''
                if reason:
                    stopped.append(reason)
                    timed_out.set()
                    _stop(dump)
                    _stop(restore)
                    return

        watcher = None
        if stop_check is not None or progress is not None:
            watcher = threading.Thread(target=watch)
            watcher.daemon = True
            watcher.start()
        restore_gone = False
        try:
            outcome = 'unsupported'
            if passthrough and hasattr(os, 'splice'):
                for pipe in (dump.stdout, restore.stdin):
                    _set_pipe_size(pipe, chunk)
                outcome = _splice_all(dump.stdout.fileno(), restore.stdin.fileno(), chunk, counted)
                restore_gone = outcome == 'restore_gone'
            while outcome == 'unsupported':
                data = dump.stdout.read1(chunk)
                if not data:
                    break
                counted[0] += len(data)
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
    return StreamResult(counted[0], clock() - started, dump_rc, restore_rc, _read_text(dump_err_path),
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
