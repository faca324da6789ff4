# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Writes to rows a node no longer owns, found in its binary log since the split.

After the split a node owns only its residue; every write since then to a row
of another residue (an insert, an update or a delete, by any client) was made
by a writer that still routes by the old shard map, and its only copy is on
this node (and its partner). The cleanup must not delete such rows, and a
rollback must not replicate their deletes into the shard that owns them.

The binary log is read with the ``mysql-replication`` package (a maintained
reader of the replication protocol, which understands MariaDB GTIDs and
annotate events); everything here except :func:`read_foreign_writes` is pure.

The purge marks its own statements with :data:`PURGE_MARK` (a comment, kept in
the binary log's annotate events), so that its deletes are told apart from a
writer's: the cleanup may find its own deletes of an earlier, interrupted run;
a rollback refuses any delete of a row the node no longer owns, marked or not.
"""

from __future__ import annotations

import datetime
import json
import time
from decimal import Decimal

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import to_text
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import PURGE_MARK, describe_pk, json_value

WRITES_SHOWN = 10
ROWS_KEPT = 100000


def key_owned(value, modulus, residues):
    """Whether a shard key value belongs to the residues (NULL and negative keys belong to no shard)."""
    if value is None or isinstance(value, bool):
        return False
    try:
        number = int(value)
    except (TypeError, ValueError):
        return False
    return number >= 0 and number % modulus in residues


def column_value(image, column):
    """The value of a column in a row image (column names compared without letter case, as MariaDB does)."""
    if column in image:
        return image[column]
    for name, value in image.items():
        if to_text(name).lower() == column.lower():
            return value
    return None


def foreign_images(kind, row, key):
    """The shard key values of a row change that matter: what was there and what is there now."""
    if kind == 'update':
        return [column_value(row['before_values'], key), column_value(row['after_values'], key)]
    return [column_value(row['values'], key)]


def is_foreign_change(kind, row, key, modulus, residues):
    """Whether a row change (insert, update or delete) touches a row the node does not own.

    An update counts when the row was not owned before it or is not owned after it.
    """
    return any(not key_owned(value, modulus, residues) for value in foreign_images(kind, row, key))


def is_purge_statement(statement):
    """Whether an annotated statement is one of the purge's own (marked) deletes."""
    return statement is not None and PURGE_MARK in statement


class WriteCollector(object):
    """Collect the foreign writes found, one entry per row (pure bookkeeping).

    ``mode`` is ``cleanup`` (the purge's own marked deletes are expected),
    ``rollback`` (every delete of a foreign row is a problem, the purge's
    included, unless the row was inserted here since the split; inserts and
    updates of foreign rows are not, since rejoining the old pair gives them
    to the shard that owned them) or ``owner_deletes`` (read on the owner, whose
    rows are given as foreign: the rows it deleted since the split and did not
    write again are kept, none is a problem - see :func:`deleted_rows`). Every row written keeps
    its last write, the number of its writes and the residue of its shard key,
    so that the cleanup can ask its owner whether the write was carried over.
    At most ``limit`` rows are kept; ``overflow`` tells that more were found.
    """

    def __init__(self, mode, limit=ROWS_KEPT):
        self.mode = mode
        self.limit = limit
        self.rows = {}
        self.counts = dict(insert=0, update=0, delete=0)
        self.purge_deletes = 0
        self.overflow = False
        self.inserted = set()
        self.deleted = {}

    def add(self, kind, table, keys, residue, gtid, when, thread_id, statement, changed=None, shard_key=None,
            image=None):
        """One row change. ``changed`` names the columns an update changed (None: every column);
        ``shard_key`` is the row's shard key value (after the change), ``image`` the row's values (a delete's
        before image)."""
        purge = kind == 'delete' and is_purge_statement(statement)
        ident = (table, tuple(keys))
        if self.mode == 'owner_deletes':
            if residue is None:
                return  # a row of no shard (NULL or negative key) is no row of the owner
            self.deleted.pop(ident, None)
            if kind == 'insert':
                self.inserted.add(ident)
            if kind == 'delete':
                self.counts[kind] += 1
                if ident in self.inserted:
                    # Born on the owner since the split: this node cannot hold it, unless a stray writer
                    # inserted the same identity here - never a row to delete for the owner's sake.
                    return
                if ident not in self.deleted and len(self.deleted) >= self.limit:
                    self.overflow = True
                    return
                self.deleted[ident] = shard_key
            return
        if purge:
            self.purge_deletes += 1
        if self.mode == 'rollback' and kind == 'insert':
            # Inserted here since the split: deleting it again takes nothing from the other half.
            self.inserted.add(ident)
            return
        if self.mode == 'rollback' and kind == 'delete' and ident in self.inserted:
            self.inserted.discard(ident)
            return
        problem = (not purge) if self.mode == 'cleanup' else kind == 'delete'
        if not problem:
            # The purge found the row on its owner (primary key and shard key) and deleted it. What a stray
            # writer wrote to it before is still in question: keep the row as it was deleted, for settle.
            if ident in self.rows:
                self.rows[ident].update(purged_image=image, purged_gtid=gtid, by_purge=True)
            return
        self.counts[kind] += 1
        if ident not in self.rows and len(self.rows) >= self.limit:
            self.overflow = True
            return
        previous = self.rows.get(ident)
        writes = previous['writes'] + 1 if previous else 1
        # The columns whose values the owner must hold: all of them once the row was inserted (or
        # written by other means than an update), else the union of what the updates changed.
        columns = None
        if kind == 'update' and changed is not None and (previous is None or previous['columns'] is not None):
            columns = sorted(set(changed) | set(previous['columns'] if previous else ()))
        self.rows[ident] = dict(kind=kind, table=table, key=list(keys), residue=residue, gtid=gtid, time=when,
                                thread_id=thread_id, statement=statement, by_purge=purge, writes=writes,
                                columns=columns, shard_key=shard_key)

    def summary(self, settled=()):
        """Counts and the first rows still in question; ``settled`` rows (table, key tuple) are left out."""
        open_rows = [entry for ident, entry in self.rows.items() if ident not in settled]
        return dict(foreign_writes=sum(entry['writes'] for entry in open_rows), foreign_rows=len(open_rows),
                    settled_rows=len(self.rows) - len(open_rows), counts=dict(self.counts),
                    purge_deletes=self.purge_deletes, writes=[shown(entry) for entry in open_rows[:WRITES_SHOWN]])


def shown(entry):
    """An entry for the module's result: values of a purged row as JSON can carry them."""
    entry = dict(entry, key=[json_value(value) for value in entry['key']])
    if entry.get('purged_image') is None:
        return entry
    return dict(entry, purged_image=dict((to_text(name), json_value(value))
                                         for name, value in entry['purged_image'].items()))


def deleted_rows(collector):
    """The rows an ``owner_deletes`` collector found deleted: ``[{table, key, shard_key}]`` in the order seen."""
    return [dict(table=table, key=list(keys), shard_key=shard_key)
            for (table, keys), shard_key in collector.deleted.items()]


def changed_columns(row):
    """The columns an update changed (names as in the row images)."""
    before, after = row['before_values'], row['after_values']
    return [name for name in after if before.get(name) != after.get(name)]


def carried_over(entry, node_row, owner_row, key_column=None):
    """Whether what was written to a row here since the split is on its owner too.

    ``entry`` is the collector's entry for the row (its last write, the columns
    the owner must hold and its shard key value), the rows are dicts of the
    current values here and on the owner, read by primary key (None when no row
    has it). After a delete the owner must not hold the row: a row of the owner
    under the same primary key with another shard key (``key_column``) is
    another row (both shards hand out the same auto-increment ids since the
    split). Otherwise the owner must hold the same values in the columns the
    writes changed (every column after an insert) - the other columns may have
    moved on there since the split.
    """
    if entry['kind'] == 'delete' or node_row is None:
        return owner_row is None or (
            key_column is not None and entry.get('shard_key') is not None
            and column_value(owner_row, key_column) != entry['shard_key'])
    if owner_row is None:
        return False
    names = entry['columns'] if entry['columns'] is not None else list(node_row)
    return all(comparable(column_value(node_row, name)) == comparable(column_value(owner_row, name)) for name in names)


def comparable(value):
    """A column value in one form whichever driver read it: the binary log reader (mysql-replication: bytes
    for BLOB and TEXT, a set for SET, parsed JSON, single-precision floats) or PyMySQL (str, 'a,b', text)."""
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode('utf-8')
        except UnicodeDecodeError:
            return '0x' + bytes(value).hex()
    if isinstance(value, (set, frozenset)):
        return ','.join(sorted(to_text(item) for item in value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, str) and value[:1] in ('{', '['):
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    if isinstance(value, float):
        return float('%.6g' % value)
    if isinstance(value, Decimal):
        return format(value.normalize(), 'f')
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time, datetime.timedelta)):
        return str(value)
    return value


def row_values(entry, node_row):
    """The row a write went to as it is here now or, once the purge deleted it, as the purge deleted it."""
    if node_row is None and entry.get('purged_image') is not None:
        return entry['purged_image']
    return node_row


def describe_write(write, pk):
    """One line for a message: kind, table, key, GTID, time and, where the binary log has it, the client."""
    key = describe_pk(pk, write['key'])
    client = ''
    if write.get('thread_id') is not None:
        client += ', connection id %s' % write['thread_id']
    if write.get('statement'):
        statement = write['statement']
        client += ', statement "%s"' % (statement if len(statement) <= 120 else statement[:120] + '...')
    more = ' (the last of %d writes to the row)' % write['writes'] if write.get('writes', 1) > 1 else ''
    if write.get('purged_image') is not None:
        # The only copy of what was written is in the binary log now: say it.
        more += ', then deleted by the purge in GTID %s with the values %s' % (
            write['purged_gtid'], ', '.join('%s=%s' % (to_text(name), to_text(value))
                                            for name, value in write['purged_image'].items()))
    return '%s of %s %s in GTID %s at %s%s%s' % (
        write['kind'], write['table'], key, write['gtid'], write['time'], client, more)


def utc_text(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%SZ')


class BinlogReadError(Exception):
    """The binary log cannot be read as the check needs; the message is for the user."""


def check_image_columns(row, spec, pk, column_count):
    """Refuse a row image whose columns cannot be named: the check would read the wrong values.

    Without the columns' names in the binary log (binlog_row_metadata=FULL) they are
    taken from information_schema, which is only right while the table has the
    same columns as when the row was written.
    """
    images = [row['before_values'], row['after_values']] if 'before_values' in row else [row['values']]
    for image in images:
        names = [to_text(name) for name in image]
        if (column_count is not None and len(names) != column_count) or any(
                name.startswith('UNKNOWN_COL') for name in names) or any(
                column_value(image, column) is None and not any(n.lower() == column.lower() for n in names)
                for column in list(pk) + [spec.key]):
            raise BinlogReadError(
                'a row event of %s has %d column(s) (%s) that cannot be matched with the table as it is now '
                '(%s column(s)); was it altered since the split? Set binlog_row_metadata=FULL so that the '
                'binary log names the columns itself' % (spec.name, len(names), ', '.join(names[:8]),
                                                         column_count if column_count is not None else '?'))


def reached(position, end):
    """Whether a (binlog file, offset) position is at or past the end position (same file name pattern)."""
    return position[0] is not None and position[1] is not None and (position[0], position[1]) >= end


def read_foreign_writes(connection_settings, reader_server_id, since, specs, primary_keys, modulus, residues,
                        collector, timeout, end, clock=time.monotonic, column_counts=None, ignore_server_ids=()):
    """Read the binary log from the GTID position ``since`` to its end and collect the foreign writes.

    The stream is read as a replica does (blocking, with a heartbeat every second)
    up to ``end``, the ``(file, offset)`` of SHOW MASTER STATUS taken before:
    MariaDB resets a non-blocking dump that runs while the server is being
    written to, and a blocking one would never end by itself.

    ``specs`` are the listed tables (TableSpec), ``primary_keys`` their primary key
    columns by name. Transactions that originated on a server of
    ``ignore_server_ids`` (the old partner: they replicated here before the
    split) are passed over. Raises TimeoutError when the read takes longer than
    ``timeout`` seconds; the server's errors (for example a position whose
    binary log is gone) come through as raised by PyMySQL. Returns the number
    of events read and the last GTID seen.
    """
    from pymysqlreplication import BinLogStreamReader
    from pymysqlreplication.event import (
        HeartbeatLogEvent, MariadbAnnotateRowsEvent, MariadbGtidEvent, QueryEvent, XidEvent,
    )
    from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

    kinds = {WriteRowsEvent: 'insert', UpdateRowsEvent: 'update', DeleteRowsEvent: 'delete'}
    column_counts = column_counts or {}
    listed = dict(((spec.schema, spec.table), spec) for spec in specs)
    stream = BinLogStreamReader(
        connection_settings=dict(connection_settings), server_id=reader_server_id, blocking=True, slave_heartbeat=1,
        is_mariadb=True, auto_position=since, annotate_rows_event=True, resume_stream=True,
        only_events=[MariadbGtidEvent, MariadbAnnotateRowsEvent, QueryEvent, WriteRowsEvent, UpdateRowsEvent,
                     DeleteRowsEvent, XidEvent, HeartbeatLogEvent],
        enable_logging=False,
        # Column names: from the events when binlog_row_metadata=FULL, else from information_schema.
        use_column_name_cache=True)
    started = clock()
    events = 0
    gtid = None
    thread_id = None
    statement = None
    skipped = False
    try:
        for event in stream:
            events += 1
            if clock() - started > timeout:
                raise TimeoutError('reading the binary log took more than %s s (%d events read, at GTID %s)'
                                   % (timeout, events, gtid))
            if isinstance(event, (XidEvent, HeartbeatLogEvent)):
                if reached((stream.log_file, stream.log_pos), end):
                    break
                continue
            if isinstance(event, MariadbGtidEvent):
                gtid, thread_id, statement = event.gtid, None, None
                skipped = event.server_id in ignore_server_ids
            elif skipped:
                continue
            elif isinstance(event, QueryEvent):
                thread_id = event.slave_proxy_id
            elif isinstance(event, MariadbAnnotateRowsEvent):
                statement = to_text(event.sql_statement)
            else:
                spec = listed.get((to_text(event.schema), to_text(event.table)))
                if spec is None:
                    continue
                kind = kinds[type(event)]
                pk = primary_keys[spec.name]
                for row in event.rows:
                    check_image_columns(row, spec, pk, column_counts.get(spec.name))
                    if not is_foreign_change(kind, row, spec.key, modulus, residues):
                        continue
                    image = row['after_values'] if kind == 'update' else row['values']
                    key = column_value(image, spec.key)
                    residue = int(key) % modulus if key_owned(key, modulus, range(modulus)) else None
                    collector.add(kind, spec.name, [column_value(image, column) for column in pk], residue, gtid,
                                  utc_text(event.timestamp), thread_id, statement,
                                  changed=changed_columns(row) if kind == 'update' else None, shard_key=key,
                                  image=row['values'] if kind == 'delete' else None)
    finally:
        connection = getattr(stream, '_stream_connection', None)
        reader_thread = connection.thread_id() if connection is not None and connection.open else None
        stream.close()
    return events, gtid, reader_thread


def wait_reader_gone(session, thread_id, timeout=10.0, interval=0.1, clock=time.monotonic, sleep=time.sleep):
    """Wait, bounded, until the server has ended the dump thread that served the reader.

    The purge's interlock counts binlog dump threads; the reader's must not be
    taken for an unknown replica. Returns whether it is gone.
    """
    if thread_id is None:
        return True
    deadline = clock() + timeout
    while True:
        if not session.fetch_all('SELECT ID FROM information_schema.PROCESSLIST WHERE ID = %s', (thread_id,)):
            return True
        if clock() >= deadline:
            return False
        sleep(interval)
