#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: shard_binlog_check
short_description: Find writes to rows a node no longer owns in its binary log since the split
version_added: 0.1.0
description:
  - After the split of an expansion a node owns only its residues. Any write since then to a row of another
    residue - an insert, an update or a delete, by any client - comes from a writer that still routes by the old
    shard map, and its only copy is on this node and its partner. This module reads the node's binary log from
    the GTID position of the split (O(since)) to its end and finds every such write to the listed tables.
  - O(mode=cleanup) (before the cleanup deletes anything) - every such write fails the module, except the purge's
    own deletes (M(smooth.mariadb.shard_purge) marks its statements; an interrupted purge leaves some) and writes
    that reached the row's owner. The cleanup would delete these rows, or keep an older copy of them on their owner.
    With O(owners), each row written is read on this node and on the owner of its residue. The writes count as
    carried over (by the operator) when the owner holds the same values in the columns they changed (every column
    after an insert; the other columns may have moved on there), or, after a delete, does not hold the row either.
    That is how an operator settles what the check found.
  - O(mode=rollback) (before a rollback joins the old pair again) - every delete of such a row fails the module, the
    purge's included, since joining the pair again would replicate it into the shard that owns the row. Inserts
    and updates do not count, since joining the pair again hands them to their owner.
  - The binary log is read over the replication protocol with the C(mysql-replication) Python package, as a
    replica that does not register (no C(SHOW SLAVE HOSTS) entry), up to the end the log had when the module
    started (C(SHOW MASTER STATUS)); the module waits until the server has ended the dump thread that served it. Row events
    (C(binlog_format=ROW)) and MariaDB's annotate events (the statement, and the purge's mark) are used; the
    connection id comes from the transaction's C(BEGIN).
  - O(mode=owner_deletes) (run on the owner of the residues a node gives away, before the cleanup) - the rows of
    the owner's own residues (O(owned_residues)) that were deleted there since its split and not written again,
    returned as RV(deleted_rows) and never a failure. M(smooth.mariadb.shard_purge) with
    O(smooth.mariadb.shard_purge#module:allow_missing_on_owner) deletes a row its owner lacks only when it is among
    them (O(smooth.mariadb.shard_purge#module:deleted_on_owner)).
  - Reads only; never changes anything.
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes
  - smooth.mariadb.mariadb
attributes:
  check_mode:
    support: full
    details:
      - The module only reads; check mode reads too.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  split_version:
    description:
      - Read from the position the split of the expansion to this shard map version recorded on the node
        (table C(smooth_mariadb.split_point), written by C(smooth.mariadb.expand_2n)). The module fails when
        there is none. Give this or O(since).
    type: int
  since:
    description:
      - GTID position to read from, for example the node's C(gtid_binlog_pos) when its pair stopped replicating.
        Give this or O(split_version). Events after it, in every domain it names, are read; domains it does not name are
        read from the start of the binary log files the server sends. An empty position (a node that had written
        nothing to its binary log at the split) reads the whole binary log.
    type: str
  mode:
    description: What counts as a problem, see the description.
    type: str
    choices: [cleanup, rollback, owner_deletes]
    required: true
  tables:
    description: The sharded tables, as for M(smooth.mariadb.shard_purge) (C(database.table) or C({name, key})).
    type: list
    elements: raw
    required: true
  key_column:
    description: Shard key column of the tables that do not name their own.
    type: str
  modulus:
    description: Number of shards after the expansion (2N).
    type: int
    required: true
  owned_residues:
    description:
      - Residues the node owns after the expansion; writes to rows of every other residue are found.
      - With O(mode=owner_deletes), the owner's residues, whose deleted rows are found.
    type: list
    elements: int
    required: true
  owners:
    description:
      - O(mode=cleanup) - the servers that own the residues this node gives away, each with its residues, as for
        M(smooth.mariadb.shard_purge). Credentials, option file, timeout and TLS options not set here are taken from
        the module's own login options. Without them no write counts as carried over.
    type: list
    elements: dict
    suboptions:
      residues:
        description: Residues of O(modulus) the owner holds.
        type: list
        elements: int
        required: true
      login_host:
        description: Host name or address of the owner.
        type: str
      login_port:
        description: TCP port of the owner.
        type: int
        default: 3306
      login_user:
        description: Account on the owner; defaults to O(login_user).
        type: str
      login_password:
        description: Password of the account on the owner; when the entry sets no login_user, defaults to O(login_password).
        type: str
      login_unix_socket:
        description: Unix socket of the owner.
        type: str
  ignore_server_ids:
    description:
      - Pass over the transactions that originated on these servers (by C(server_id)) - the old partner, whose
        writes replicated to this node until the split. Writes made on this node, or on its new partner, count.
    type: list
    elements: int
    default: []
  reader_server_id:
    description:
      - C(server_id) the reader uses towards the node. It must differ from the server_id of every replica of the
        node (a source ends the older of two connections with the same server_id).
    type: int
    default: 4294967000
  timeout:
    description: Most seconds the read may take; the module fails when they are used up.
    type: float
    default: 600
notes:
  - Needs the Python package C(mysql-replication) (1.0 or later) where the module runs - usually the controller
    (with C(delegate_to) C(localhost)), connecting to the node over TCP. The login account needs C(REPLICATION SLAVE)
    and C(SELECT) on the tables (the reader reads their column names from C(information_schema)).
  - Needs C(binlog_format=ROW). O(mode=cleanup) needs C(binlog_annotate_row_events=ON) (the default), which keeps the
    statement - and the purge's mark - beside its row events; the module refuses without it. Writes in a binary log that was purged (C(expire_logs_days),
    C(PURGE BINARY LOGS)) cannot be read; the module then fails with the server's message.
  - A write made after the read (between this check and the purge) is not seen by it; the purge's owner check still
    stops at a row the owner lacks. Run the check again after the purge (as C(smooth.mariadb.expand_2n) does) - a
    row the purge deleted keeps the stray writes made to it before, and is compared with its owner as the purge
    deleted it (the delete's row image), so such a write is found and its values are given.
seealso:
  - module: smooth.mariadb.shard_purge
'''

EXAMPLES = r'''
- name: Find writes since the split to rows this node gave away (fails naming them)
  smooth.mariadb.shard_binlog_check:
    login_host: 10.0.0.11
    login_user: smooth_admin
    login_password: "{{ vault_admin_password }}"
    since: "11-11-5310,12-12-4471"
    mode: cleanup
    tables:
      - name: shop.orders
        key: customer_id
    modulus: 4
    owned_residues: [0]
  delegate_to: localhost
'''

RETURN = r'''
foreign_writes:
  description: Writes found that are problems in this O(mode) (writes to rows settled on their owner left out).
  returned: always
  type: int
foreign_rows:
  description: Rows those writes went to.
  returned: always
  type: int
settled_rows:
  description: Rows written since the split whose writes the owner holds too (see O(mode=cleanup)).
  returned: always
  type: int
counts:
  description: The writes found by kind - C(insert), C(update), C(delete), settled ones included.
  returned: always
  type: dict
purge_deletes:
  description: Deletes of foreign rows made by the purge (marked statements).
  returned: always
  type: int
writes:
  description:
    - The first rows in question (at most 10), each with its last write - C(kind), C(table), C(key) (primary key
      values), C(residue), C(gtid), C(time) (UTC), C(thread_id) (connection id, when the binary log has it),
      C(statement) (when annotated), C(by_purge), C(writes) (how many writes the row had) and C(shard_key); a row
      the purge deleted since also has C(purged_gtid) and C(purged_image) (its values as deleted).
  returned: always
  type: list
  elements: dict
deleted_rows:
  description:
    - O(mode=owner_deletes) - the rows of O(owned_residues) deleted since the split and not written again, in the order
      of their deletes, each with C(table), C(key) (primary key values) and C(shard_key).
  returned: success, with O(mode=owner_deletes)
  type: list
  elements: dict
events:
  description: Events read.
  returned: always
  type: int
last_gtid:
  description: GTID of the last transaction read (null when none).
  returned: always
  type: str
since:
  description: The GTID position the binary log was read from.
  returned: success
  type: str
until:
  description: The binary log file and offset it was read to (the end of the binary log when the module started).
  returned: success
  type: str
end_gtid_pos:
  description:
    - The node's C(gtid_binlog_pos) read just before that end - a later check with O(since) set to it reads
      everything this one did not (C(expand_2n.yml) checks the purge's window so).
  returned: success
  type: str
elapsed:
  description: Seconds the read of the binary log took.
  returned: success
  type: float
'''

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.smooth.mariadb.plugins.module_utils.binlog import (
    BinlogReadError,
    WriteCollector,
    deleted_rows,
    describe_write,
    carried_over,
    read_foreign_writes,
    row_values,
    wait_reader_gone,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    server_params,
    MariaDBConnectError,
    SqlSession,
    connect_kwargs,
    describe_target,
    format_db_error,
    mariadb_common_argument_spec,
    mariadb_connect,
    mask_secrets,
    to_int,
    to_text,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.schema import read_tables
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import (
    ShardingError,
    connect_server,
    owners_argument_spec,
    ownership_problems,
    parse_gtid,
    parse_owners,
    parse_tables,
    pk_values,
    rows_statement,
)

ROWS_BATCH = 500

try:
    import pymysqlreplication  # noqa: F401  pylint: disable=unused-import
    HAS_REPLICATION = True
    REPLICATION_IMPORT_ERROR = None
except ImportError:
    HAS_REPLICATION = False
    REPLICATION_IMPORT_ERROR = traceback.format_exc()


def argument_spec():
    spec = mariadb_common_argument_spec()
    spec.update(
        since=dict(type='str'),
        split_version=dict(type='int'),
        mode=dict(type='str', required=True, choices=['cleanup', 'rollback', 'owner_deletes']),
        tables=dict(type='list', elements='raw', required=True),
        key_column=dict(type='str', no_log=False),
        modulus=dict(type='int', required=True),
        owned_residues=dict(type='list', elements='int', required=True),
        owners=owners_argument_spec(),
        ignore_server_ids=dict(type='list', elements='int', default=[]),
        reader_server_id=dict(type='int', default=4294967000),
        timeout=dict(type='float', default=600),
    )
    return spec


def since_problems(since):
    """The GTID position must be a comma-separated list of domain-server-sequence triples."""
    parts = [part for part in to_text(since).split(',') if part.strip()]
    if any(parse_gtid(part) is None for part in parts) or (not parts and to_text(since).strip()):
        return ['since must be a GTID position such as 0-1-100,1-2-50, got %r' % (since,)]
    return []


def read_split_point(module, session, version, target, result):
    """The GTID position the split to shard map ``version`` recorded on the node; fails when there is none."""
    found = session.fetch_all("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'smooth_mariadb' "
                              "AND TABLE_NAME = 'split_point'")
    row = None
    if found:
        row = session.fetch_one('SELECT gtid_binlog_pos FROM smooth_mariadb.split_point WHERE version = %s',
                                (version,))
    if row is None:
        module.fail_json(msg='No split point of the expansion to shard map version %s is recorded on %s '
                             '(smooth_mariadb.split_point): its split was made by an older version of '
                             'smooth.mariadb, or the record was lost. Without it the binary log cannot be '
                             'searched for writes since the split; give the position with since (in '
                             'expand_2n.yml and rollback_2n.yml: smooth_binlog_check=false skips this check, at your risk).'
                             % (version, target), **result)
    return to_text(row['gtid_binlog_pos'])


def read_rows(session, spec, info, idents):
    """``{(table, key): row dict or None}`` for the rows with these keys, read in batches."""
    pk = info['primary_key']
    columns = [column['name'] for column in info['columns']]
    keys = [key for table, key in idents if table == spec.name]
    found = dict(((spec.name, key), None) for key in keys)
    for start in range(0, len(keys), ROWS_BATCH):
        sql, sql_params = rows_statement(spec, pk, columns, keys[start:start + ROWS_BATCH])
        for row in session.fetch_all(sql, sql_params):
            found[(spec.name, pk_values(row, pk))] = row
    return found


def settle(module, session, specs, infos, collector):
    """The rows written since the split whose writes are on their owner too (see carried_over)."""
    params = module.params
    owner_of_residue, problems = parse_owners(params['owners'], params['modulus'], params['owned_residues'])
    if problems:
        module.fail_json(msg='owners: %s' % '; '.join(problems))
    settled = set()
    for spec in specs:
        idents = [ident for ident in collector.rows if ident[0] == spec.name]
        if not idents:
            continue
        node_rows = read_rows(session, spec, infos[spec.name], idents)
        by_owner = {}
        for ident in idents:
            owner = owner_of_residue.get(collector.rows[ident]['residue'])
            if owner is not None:
                by_owner.setdefault(owner, []).append(ident)
        for owner, owned_idents in by_owner.items():
            owner_params = server_params(params['owners'][owner], params)
            try:
                connection = connect_server(owner_params)
            except ShardingError as exc:
                module.fail_json(msg='owner %s: %s' % (describe_target(owner_params), exc))
            try:
                owner_rows = read_rows(SqlSession(connection, read_only=True), spec, infos[spec.name], owned_idents)
            finally:
                connection.close()
            for ident in owned_idents:
                entry = collector.rows[ident]
                if carried_over(entry, row_values(entry, node_rows[ident]), owner_rows[ident], spec.key):
                    settled.add(ident)
    return frozenset(settled)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[('since', 'split_version')],
                           mutually_exclusive=[('since', 'split_version')])
    params = module.params
    if not HAS_REPLICATION:
        module.fail_json(msg=missing_required_lib('mysql-replication'), exception=REPLICATION_IMPORT_ERROR)
    target = describe_target(params)
    specs, problems = parse_tables(params['tables'], params['key_column'])
    problems.extend(ownership_problems(params['modulus'], params['owned_residues']))
    if params['since'] is not None:
        problems.extend(since_problems(params['since']))
    result = dict(changed=False, foreign_writes=0, foreign_rows=0, settled_rows=0,
                  counts=dict(insert=0, update=0, delete=0), purge_deletes=0, writes=[], events=0, last_gtid=None)
    connection = mariadb_connect(module)
    session = SqlSession(connection, read_only=True)
    try:
        found, infos, dummy = read_tables(session, specs)
        problems.extend(found)
        if problems:
            listed = ' '.join('(%d) %s.' % (i + 1, p.rstrip('.')) for i, p in enumerate(problems))
            module.fail_json(msg='Cannot read the binary log of %s for writes since the split. %d problem(s): %s'
                             % (target, len(problems), listed), **result)
        if params['split_version'] is not None:
            params['since'] = read_split_point(module, session, params['split_version'], target, result)
        primary_keys = dict((spec.name, infos[spec.name]['primary_key']) for spec in specs)
        try:
            kwargs, dummy = connect_kwargs(params)
        except MariaDBConnectError as exc:
            module.fail_json(msg=str(exc), **result)
        collector = WriteCollector(params['mode'])
        settings = session.fetch_one('SELECT @@GLOBAL.gtid_binlog_pos AS pos, '
                                     '@@GLOBAL.binlog_annotate_row_events AS annotate')
        if params['mode'] == 'cleanup' and not to_int(settings['annotate']):
            module.fail_json(msg='binlog_annotate_row_events is OFF on %s: the purge marks its deletes in the '
                                 'statement that the binary log keeps only with it ON, so they could not be told '
                                 'apart from a forgotten writer\'s. Set it ON (SET GLOBAL '
                                 'binlog_annotate_row_events = ON, and in the server configuration) before the '
                                 'cleanup. Nothing was deleted.' % target, **result)
        # Read before the end position below: a check from end_gtid_pos leaves no gap after this one.
        result['end_gtid_pos'] = to_text(settings['pos'])
        status = session.fetch_one('SHOW MASTER STATUS')
        if status is None:
            module.fail_json(msg='Binary logging is off on %s: there is no binary log to read' % target, **result)
        end = (to_text(status['File']), int(status['Position']))
        started = time.monotonic()
        try:
            column_counts = dict((spec.name, len(infos[spec.name]['columns'])) for spec in specs)
            owned = frozenset(params['owned_residues'])
            if params['mode'] == 'owner_deletes':
                # The owner's own rows are the ones looked for.
                owned = frozenset(range(params['modulus'])) - owned
            events, last_gtid, reader_thread = read_foreign_writes(
                kwargs, params['reader_server_id'], to_text(params['since']).strip(), specs, primary_keys,
                params['modulus'], owned, collector, params['timeout'], end,
                column_counts=column_counts, ignore_server_ids=frozenset(params['ignore_server_ids']))
        except (TimeoutError, BinlogReadError) as exc:
            module.fail_json(msg='Reading the binary log of %s: %s' % (target, exc), **result)
        except Exception as exc:  # pylint: disable=broad-except
            message = format_db_error(exc)
            if kwargs.get('password'):
                message = mask_secrets(message, [to_text(kwargs['password'])])
            module.fail_json(msg='Reading the binary log of %s since %s failed: %s'
                             % (target, params['since'], message), **result)
        if collector.overflow and params['mode'] == 'owner_deletes':
            module.fail_json(msg='More than %d rows of its own were deleted on %s since the split: too many to '
                                 'list for the purge. Run the cleanup without allow_missing_on_owner.'
                             % (collector.limit, target), **result)
        if collector.overflow:
            module.fail_json(msg='Refusing on %s: more than %d rows this node no longer owns were written since the '
                                 'split; a writer still routes by the old shard map. Find and stop it first.'
                             % (target, collector.limit), **result)
        if not wait_reader_gone(session, reader_thread):
            module.warn('the server has not yet ended the binlog dump thread %s that served this check' % reader_thread)
        settled = settle(module, session, specs, infos, collector) if params['mode'] == 'cleanup' else ()
    finally:
        connection.close()
    result.update(collector.summary(settled), events=events, last_gtid=last_gtid, since=params['since'],
                  until='%s:%d' % end,
                  elapsed=round(time.monotonic() - started, 3))
    if params['mode'] == 'owner_deletes':
        module.exit_json(deleted_rows=deleted_rows(collector), **result)
    if result['foreign_writes']:
        shown = '; '.join(describe_write(write, primary_keys[write['table']]) for write in result['writes'][:3])
        if result['foreign_rows'] > 3:
            shown += ' (and %d more row(s); the first 10 are in the result as writes)' % (result['foreign_rows'] - 3)
        if params['mode'] == 'cleanup':
            message = ('Refusing the cleanup on %s: %d row(s) it no longer owns were written since the split (%d '
                       'write(s)) and their owner does not hold what was written: a writer that still routes by the '
                       'old shard map wrote them, and the cleanup would delete them or keep an older copy on their '
                       'owner. First: %s. Find and stop that writer, carry each write over to the shard that owns the '
                       'row (the values it changed, every column of an inserted row, or the delete), then run again: '
                       'a write its owner holds too counts as carried over.'
                       % (target, result['foreign_rows'], result['foreign_writes'], shown))
            purged = sum(1 for ident, entry in collector.rows.items()
                         if ident not in settled and entry.get('purged_image') is not None)
            if purged:
                message += (' %d of these rows were deleted by the purge already (written here after the check before '
                            'it): the values given are the only copy of what was written - write them to the owner.'
                            % purged)
        else:
            message = ('Refusing the rollback on %s: %d row(s) it no longer owns were deleted here since the split '
                       '(%d by the purge); joining the old pair again would replicate these deletes into the shard '
                       'that owns those rows. First: %s. The way is forward (expand_2n.yml).'
                       % (target, result['foreign_rows'],
                          sum(1 for entry in collector.rows.values() if entry['by_purge']), shown))
        module.fail_json(msg=message, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
