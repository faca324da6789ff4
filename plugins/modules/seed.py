#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: seed
short_description: Make a new MariaDB node a consistent copy of a source and return the coordinates to replicate from
version_added: 0.2.0
description:
  - Copies the user databases of a source server into a new (target) server and sets
    the target's C(@@GLOBAL.gtid_slave_pos) to the position of the copy, so that
    replication from the source can start exactly where the copy ends (for example
    with M(smooth.mariadb.replication) and RV(gtid_slave_pos)).
  - Runs where the C(mariadb-dump) and C(mariadb) client programs are, usually the
    target host, and connects to the target with the C(login_*) options and to the
    source with the C(source_*) options.
  - "Method V(dump): C(mariadb-dump --single-transaction --gtid --master-data=2) takes
    one consistent InnoDB snapshot without locking tables and writes, as comments,
    the binary log file and offset of that snapshot and its GTID position
    (C(BINLOG_GTID_POS()) of the snapshot's file/offset). Routines, triggers and events
    are included. The dump travels compressed from the source (C(--compress), the
    client protocol compression) and is piped through the module straight into the
    C(mariadb) client on the target: nothing is written to disk. The module counts
    the bytes and reads the coordinates from the comments on the way."
  - The restore runs with C(sql_log_bin=0) (the client's C(--init-command)), so
    nothing of it enters the target's binary log; otherwise it would replicate back
    to the source once the two replicate both ways. The module checks that the
    target's C(@@gtid_binlog_pos) did not move during the restore and fails if it did.
  - Copies every schema except C(mysql), C(sys), C(information_schema),
    C(performance_schema) and C(smooth_mariadb) (this collection's metadata), or the
    O(databases) given. Accounts and grants are not copied.
  - Refuses a target that holds user data (a schema, other than the excluded ones,
    with tables), naming the schemas, unless O(force=true). Refuses while a replication
    connection runs on the target (C(gtid_slave_pos) cannot be set then).
  - Records the seed in the table C(smooth_mariadb.seed) on the target (written with
    C(sql_log_bin=0), never dumped), with the source's C(server_id), host name and port,
    the coordinates, rows, bytes and times. A target already seeded from the same
    source (same C(server_id), C(@@hostname) and C(@@port)) is left alone and the
    recorded coordinates are returned with C(changed=false), also with O(force=true).
  - When the dump or the restore fails, the module fails with the program's error
    output (passwords masked) and exit code, and the record says C(failed), so the
    target counts as not seeded. Running the task again replaces the partly restored schemas of
    that attempt without needing O(force).
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.mariadb
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - Connects to both servers, checks the client programs, the target's emptiness and
        its replication, and reports what would be copied (row estimates of the source);
        nothing is written anywhere.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
options:
  method:
    description:
      - V(dump) copies with C(mariadb-dump) piped into C(mariadb).
      - V(mariabackup) is not implemented yet; the task fails at once saying so.
    type: str
    choices: [dump, mariabackup]
    default: dump
  source_host:
    description:
      - Host name or address of the source server to copy.
    type: str
    required: true
  source_port:
    description:
      - TCP port of the source server.
    type: int
    default: 3306
  source_user:
    description:
      - Account on the source. It needs C(SELECT), C(SHOW VIEW), C(TRIGGER), C(EVENT),
        C(LOCK TABLES) on the copied databases and C(BINLOG MONITOR) (or C(REPLICATION CLIENT)).
      - Defaults to O(login_user).
    type: str
  source_password:
    description:
      - Password of O(source_user). When O(source_user) is not set, defaults to O(login_password).
      - The option file (O(config_file)) and the TLS options apply to the source too.
    type: str
  databases:
    description:
      - Databases to copy. Default is every database of the source except the system
        ones and C(smooth_mariadb).
      - System databases and C(smooth_mariadb) are refused.
    type: list
    elements: str
  force:
    description:
      - Seed a target that already holds user data. The copied databases are dropped and
        restored (C(--add-drop-database)); other databases are left as they are.
      - Does not seed again a target already seeded from the same source.
    type: bool
    default: false
  compress:
    description:
      - Compress the dump's traffic between the source and the host running the module.
    type: bool
    default: true
  row_count:
    description:
      - V(exact) counts the rows of every copied table on the target after the restore
        (C(SELECT COUNT(*))); V(estimate) reports the table statistics instead (fast
        for large tables).
    type: str
    choices: [exact, estimate]
    default: exact
  timeout:
    description:
      - Seconds the copy may take; both client programs are killed after that and the
        task fails.
    type: int
    default: 3600
  dump_binary:
    description:
      - Path of C(mariadb-dump). Default is C(mariadb-dump), else C(mysqldump), from the C(PATH).
    type: path
  client_binary:
    description:
      - Path of the C(mariadb) client. Default is C(mariadb), else C(mysql), from the C(PATH).
    type: path
notes:
  - Needs MariaDB 10.6 or later on both servers and binary logging on the source.
  - Passwords reach the client programs through a temporary option file created with
    mode 0600 and passed with C(--defaults-file) (only that file is read, so a
    C(~/.my.cnf) cannot redirect the clients), removed at the end; they are never on
    a command line and never in results.
  - Events are restored as the dump defines them, enabled; with C(event_scheduler) on,
    they then run on both nodes of a pair.
  - "Only InnoDB tables are copied consistently: C(--single-transaction) does not
    protect other engines, nor DDL run on the source during the copy."
  - The target's login account needs the privileges to create the copied objects and
    C(BINLOG ADMIN) (or C(SUPER)) for C(sql_log_bin), and C(REPLICATION SLAVE ADMIN) for
    C(gtid_slave_pos).
  - "Method V(mariabackup) (not implemented): the backup needs the source's datadir,
    so it has to run on the source host and stream to the target (for example
    C(mariabackup --backup --stream=xbstream) through a transport command into
    C(mbstream -x) on the target, then C(--prepare), a stopped target server,
    C(--move-back) and the coordinates from C(mariadb_backup_binlog_info))."
seealso:
  - module: smooth.mariadb.replication
  - module: smooth.mariadb.replication_wait
  - name: mariadb-dump
    description: MariaDB reference of the dump program.
    link: https://mariadb.com/kb/en/mariadb-dump/
'''

EXAMPLES = r'''
- name: Seed the new node from its future partner
  smooth.mariadb.seed:
    source_host: 10.0.0.11
    login_unix_socket: /run/mysqld/mysqld.sock
    source_user: smooth_admin
    source_password: "{{ vault_admin_password }}"
  register: seeded

- name: Replicate from the source, starting exactly after the copy
  smooth.mariadb.replication:
    connection_name: partner
    state: started
    source_host: 10.0.0.11
    source_user: smooth_repl
    source_password: "{{ vault_repl_password }}"
    gtid_slave_pos: "{{ seeded.gtid_slave_pos }}"
    login_unix_socket: /run/mysqld/mysqld.sock

- name: Copy two databases only, counting rows from the statistics
  smooth.mariadb.seed:
    source_host: 10.0.0.11
    databases: [shop, billing]
    row_count: estimate
    login_host: 10.0.0.21
    login_user: smooth_admin
    login_password: "{{ vault_admin_password }}"
'''

RETURN = r'''
changed:
  description: Whether the target was seeded (in check mode, would be).
  returned: always
  type: bool
method:
  description: The method used.
  returned: always
  type: str
  sample: dump
source:
  description: The source as it identifies itself.
  returned: always
  type: dict
  sample: {address: "10.0.0.11:3306", server_id: 11, hostname: db0a, port: 3306, version: 10.11.6-MariaDB-0+deb12u1-log}
databases:
  description: The databases copied (or to copy, in check mode; as recorded when unchanged).
  returned: always
  type: list
  elements: str
  sample: [shop]
gtid_slave_pos:
  description:
    - GTID position of the copy; the target's C(@@gtid_slave_pos) is set to it.
    - Empty in check mode, and when the source's binary log holds no GTID yet.
  returned: always
  type: str
  sample: 1-11-4711,2-12-815
source_log_file:
  description: Source binary log file of the copy (for replication without GTID).
  returned: always
  type: str
  sample: mysql-bin.000042
source_log_pos:
  description: Offset in source_log_file of the copy.
  returned: always
  type: int
  sample: 1337
tables:
  description:
    - Rows per copied table (C(db.table)), exact or estimated (see O(row_count)); in
      check mode the source's estimates.
  returned: always
  type: dict
  sample: {shop.orders: 1000000}
rows:
  description: Sum of RV(tables).
  returned: always
  type: int
bytes:
  description: Bytes of SQL streamed from mariadb-dump into mariadb (uncompressed).
  returned: always
  type: int
seconds:
  description: Seconds the seed took (as recorded when unchanged).
  returned: always
  type: float
record:
  description: The target's seed record (C(smooth_mariadb.seed)) after the task; empty in check mode before any seed.
  returned: always
  type: dict
commands:
  description: The client command lines (no secrets; they read an option file).
  returned: always
  type: list
  elements: str
queries:
  description: Statements run on the target through the module's own connection, in order.
  returned: always
  type: list
  elements: str
'''

import os
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.smooth.mariadb.plugins.module_utils.gtid import (
    connect_params,
    read_config_file,
    source_argument_spec,
    source_login_params,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    MariaDBQueryError,
    SqlSession,
    build_connect_kwargs,
    check_server_version,
    describe_target,
    mariadb_common_argument_spec,
    mariadb_connect,
    quote_identifier,
    to_int,
    to_text,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.replication import (
    active_connections,
    read_all_slaves_status,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.seed import (
    EXCLUDED_SCHEMAS,
    LOCK_NAME,
    TABLE_COUNTS_QUERY,
    CoordinateScanner,
    SeedError,
    describe_stream_failure,
    dump_command,
    plan_seed,
    read_record_query,
    record_databases,
    record_done_statement,
    record_exists_query,
    record_failed_statement,
    record_setup_statements,
    record_start_statement,
    restore_command,
    select_databases,
    stream_dump,
    user_data_schemas,
    write_option_file,
)

IDENTITY_QUERY = ('SELECT @@GLOBAL.server_id AS server_id, @@hostname AS hostname, @@GLOBAL.port AS port, '
                  'VERSION() AS version, @@GLOBAL.log_bin AS log_bin, @@GLOBAL.gtid_binlog_pos AS gtid_binlog_pos')


def argument_spec():
    spec = mariadb_common_argument_spec()
    spec.update(source_argument_spec(required_host=True))
    spec.update(
        method=dict(type='str', default='dump', choices=['dump', 'mariabackup']),
        databases=dict(type='list', elements='str'),
        force=dict(type='bool', default=False),
        compress=dict(type='bool', default=True),
        row_count=dict(type='str', default='exact', choices=['exact', 'estimate']),
        timeout=dict(type='int', default=3600),
        dump_binary=dict(type='path'),
        client_binary=dict(type='path'),
    )
    return spec


class SeedFailed(Exception):
    """Ends the module with ``message``; ``extra`` goes into the result."""

    def __init__(self, message, **extra):
        super(SeedFailed, self).__init__(message)
        self.message = message
        self.extra = extra


def read_identity(session, label):
    row = session.fetch_one(IDENTITY_QUERY) or {}
    identity = dict(server_id=to_int(row.get('server_id')), hostname=to_text(row.get('hostname')),
                    port=to_int(row.get('port')), version=to_text(row.get('version')),
                    log_bin=to_int(row.get('log_bin')) == 1, gtid_binlog_pos=to_text(row.get('gtid_binlog_pos')))
    problem = check_server_version(identity['version'])
    if problem:
        raise SeedFailed('%s: %s' % (label, problem))
    return identity


def read_record(session):
    sql, params = record_exists_query()
    if not to_int(session.fetch_one(sql, params)['n']):
        return None
    sql, params = read_record_query()
    row = session.fetch_one(sql, params)
    if row is None:
        return None
    record = {}
    for key, value in row.items():
        if key in ('id', 'source_server_id', 'source_port', 'log_pos', 'rows_copied', 'bytes_streamed'):
            record[key] = to_int(value)
        elif key == 'seconds':
            record[key] = None if value is None else float(value)
        elif key in ('started_at', 'finished_at'):
            record[key] = None if value is None else str(value)
        elif key == 'databases':
            record[key] = record_databases(dict(databases=value))
        else:
            record[key] = to_text(value) if value is not None else None
    return record


def table_counts(session):
    return dict((to_text(row['schema']), to_int(row['tables'])) for row in session.fetch_all(TABLE_COUNTS_QUERY))


def list_tables(session, databases):
    if not databases:
        return []
    placeholders = ', '.join(['%s'] * len(databases))
    rows = session.fetch_all('SELECT TABLE_SCHEMA AS `schema`, TABLE_NAME AS `name`, TABLE_ROWS AS `estimate` '
                             'FROM information_schema.TABLES WHERE TABLE_TYPE = %%s AND TABLE_SCHEMA IN (%s) '
                             'ORDER BY TABLE_SCHEMA, TABLE_NAME' % placeholders, ['BASE TABLE'] + list(databases))
    return [(to_text(row['schema']), to_text(row['name']), to_int(row['estimate']) or 0) for row in rows]


def count_rows(session, databases, exact):
    counts = {}
    for schema, name, estimate in list_tables(session, databases):
        if exact:
            row = session.fetch_one('SELECT COUNT(*) AS n FROM %s.%s' % (quote_identifier(schema), quote_identifier(name)))
            counts['%s.%s' % (schema, name)] = to_int(row['n'])
        else:
            counts['%s.%s' % (schema, name)] = estimate
    return counts


def find_binary(module, option, names):
    if module.params[option]:
        path = module.params[option]
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise SeedFailed('%s %s is not an executable file' % (option, path))
        return path
    for name in names:
        path = module.get_bin_path(name)
        if path:
            return path
    raise SeedFailed('neither %s found in the PATH of the host running the module; install the MariaDB client '
                     '(Debian: mariadb-client) or set %s' % (' nor '.join(names), option))


def result_from_record(record, base):
    result = dict(base)
    result.update(
        databases=record_databases(record),
        gtid_slave_pos=record.get('gtid_pos') or '',
        source_log_file=record.get('log_file') or '',
        source_log_pos=record.get('log_pos'),
        rows=record.get('rows_copied') or 0,
        bytes=record.get('bytes_streamed') or 0,
        seconds=record.get('seconds') or 0.0,
        record=record,
    )
    return result


def run_seed(module, target, source, target_label, source_label):
    params = module.params
    secrets = [params.get('login_password'), params.get('source_password')]
    result = dict(changed=False, method=params['method'], source={}, databases=[], gtid_slave_pos='',
                  source_log_file='', source_log_pos=None, tables={}, rows=0, bytes=0, seconds=0.0, record={},
                  commands=[], queries=target.queries)

    source_identity = read_identity(source, source_label)
    result['source'] = dict(address=source_label, server_id=source_identity['server_id'],
                            hostname=source_identity['hostname'], port=source_identity['port'],
                            version=source_identity['version'])
    if not source_identity['log_bin']:
        raise SeedFailed('binary logging is off on the source %s: a copy without coordinates cannot be '
                         'replicated from' % source_label, **result)
    target_identity = read_identity(target, target_label)
    if target_identity['server_id'] == source_identity['server_id']:
        raise SeedFailed('the target %s and the source %s have the same server_id %d; refusing to seed a server '
                         'from itself or from a server with its id' % (target_label, source_label,
                                                                       source_identity['server_id']), **result)

    record = read_record(target)
    result['record'] = record or {}
    statuses = read_all_slaves_status(target)
    try:
        plan = plan_seed(record, source_identity, user_data_schemas(table_counts(target)), force=params['force'],
                         active_connections=active_connections(statuses))
    except SeedError as exc:
        raise SeedFailed('Target %s: %s' % (target_label, exc), **result)
    if plan.action == 'unchanged':
        return result_from_record(record, result)
    for warning in plan.warnings:
        module.warn(warning)

    schemas = [to_text(row['name']) for row in source.fetch_all(
        'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME')]
    try:
        databases = select_databases(schemas, params['databases'])
    except SeedError as exc:
        raise SeedFailed('Source %s: %s' % (source_label, exc), **result)
    result['databases'] = databases
    dump_bin = find_binary(module, 'dump_binary', ('mariadb-dump', 'mysqldump'))
    client_bin = find_binary(module, 'client_binary', ('mariadb', 'mysql'))
    result['commands'] = [' '.join(dump_command(dump_bin, '<source option file>', databases, params['compress'])),
                          ' '.join(restore_command(client_bin, '<target option file>'))]
    result['changed'] = True

    if module.check_mode:
        result['tables'] = dict(('%s.%s' % (schema, name), estimate)
                                for schema, name, estimate in list_tables(source, databases))
        result['rows'] = sum(result['tables'].values())
        return result

    return apply_seed(module, target, source, source_identity, source_label, databases, dump_bin, client_bin,
                      secrets, result)


def apply_seed(module, target, source, source_identity, source_label, databases, dump_bin, client_bin, secrets,
               result):
    params = module.params
    started = time.monotonic()
    if to_int(target.fetch_one('SELECT GET_LOCK(%s, 0) AS got', (LOCK_NAME,))['got']) != 1:
        raise SeedFailed('another seed of this target is running (lock %s is held)' % LOCK_NAME, **result)
    target.execute('SET SESSION sql_log_bin = 0')
    target.execute_all(record_setup_statements())
    target.execute(*record_start_statement(params['method'], source_label, source_identity, databases))
    binlog_before = target.fetch_one('SELECT @@GLOBAL.gtid_binlog_pos AS pos')['pos']

    try:
        if databases:
            streamed, gtid_pos, log_file, log_pos = copy_with_dump(module, databases, dump_bin, client_bin, secrets)
        else:
            streamed, (gtid_pos, log_file, log_pos) = 0, position_without_data(source, source_label)
        binlog_after = target.fetch_one('SELECT @@GLOBAL.gtid_binlog_pos AS pos')['pos']
        if binlog_after != binlog_before:
            raise SeedFailed("the target's binary log moved during the restore (gtid_binlog_pos %r -> %r): something "
                             "wrote to the target, or the restore was logged; it would replicate back to the "
                             "source" % (binlog_before, binlog_after))
        running = active_connections(read_all_slaves_status(target))
        if running:
            raise SeedFailed('replication was started on the target during the seed (%s); gtid_slave_pos not set'
                             % ', '.join(running))
        target.execute('SET GLOBAL gtid_slave_pos = %s', (gtid_pos,))
        tables = count_rows(target, databases, params['row_count'] == 'exact')
        seconds = time.monotonic() - started
        target.execute(*record_done_statement(gtid_pos, log_file, log_pos, sum(tables.values()), streamed, seconds))
    except (SeedFailed, MariaDBQueryError, OSError) as exc:
        message = exc.message if isinstance(exc, SeedFailed) else (
            '%s failed: %s' % (exc.statement, exc.message) if isinstance(exc, MariaDBQueryError) else to_native(exc))
        try:
            target.execute(*record_failed_statement(message))
        except MariaDBQueryError as record_exc:
            message += ' (and marking the seed as failed failed too: %s)' % record_exc.message
        result['record'] = read_record(target) or {}
        raise SeedFailed(message, **result)
    finally:
        target.fetch_one('SELECT RELEASE_LOCK(%s) AS released', (LOCK_NAME,))

    result.update(gtid_slave_pos=gtid_pos, source_log_file=log_file, source_log_pos=log_pos, tables=tables,
                  rows=sum(tables.values()), bytes=streamed, seconds=round(seconds, 3),
                  record=read_record(target) or {})
    return result


def copy_with_dump(module, databases, dump_bin, client_bin, secrets):
    """Stream the dump into the target; returns (bytes, gtid, log_file, log_pos)."""
    params = module.params
    option_file = read_config_file(module)
    source_kwargs, dummy = build_connect_kwargs(source_login_params(params), option_file)
    target_kwargs, dummy = build_connect_kwargs(params, option_file)
    secrets = secrets + [source_kwargs.get('password'), target_kwargs.get('password')]
    workdir = tempfile.mkdtemp(prefix='smooth-mariadb-seed-', dir=getattr(module, 'tmpdir', None))
    try:
        source_file = write_option_file(workdir, 'source.cnf', source_kwargs)
        target_file = write_option_file(workdir, 'target.cnf', target_kwargs)
        stream = stream_dump(dump_command(dump_bin, source_file, databases, params['compress']),
                             restore_command(client_bin, target_file), workdir, params['timeout'],
                             scanner=CoordinateScanner())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    failure = describe_stream_failure(stream, secrets)
    if failure:
        raise SeedFailed(failure)
    gtid_pos, log_file, log_pos = stream.coordinates
    return stream.bytes, gtid_pos, log_file, log_pos


def position_without_data(source, source_label):
    """Coordinates when there is nothing to copy: read them, then make sure that is still so."""
    gtid_pos = to_text(source.fetch_one('SELECT @@GLOBAL.gtid_binlog_pos AS pos')['pos'])
    status = source.fetch_one('SHOW MASTER STATUS') or {}
    schemas = [to_text(row['name']) for row in source.fetch_all(
        'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA')]
    if [name for name in schemas if name not in EXCLUDED_SCHEMAS]:
        raise SeedFailed('a database was created on the source %s during the seed; run it again' % source_label)
    return gtid_pos, to_text(status.get('File')), to_int(status.get('Position'))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if params['method'] == 'mariabackup':
        module.fail_json(msg='method=mariabackup is not implemented yet; use method=dump')
    if params['timeout'] < 1:
        module.fail_json(msg='timeout must be at least 1 second, got %d' % params['timeout'])

    target_label = describe_target(params)
    target_connection = mariadb_connect(module)
    source_connection, source_label = connect_params(module, source_login_params(params))
    target = SqlSession(target_connection, read_only=module.check_mode)
    source = SqlSession(source_connection, read_only=True)
    try:
        result = run_seed(module, target, source, target_label, source_label)
    except SeedFailed as exc:
        extra = dict(exc.extra)
        extra['queries'] = list(target.queries)
        extra['changed'] = bool(target.queries)
        module.fail_json(msg='Seeding %s from %s: %s' % (target_label, source_label, exc.message), **extra)
    except MariaDBQueryError as exc:
        module.fail_json(msg='Seeding %s from %s: %s failed: %s' % (target_label, source_label, exc.statement,
                                                                    exc.message),
                         queries=list(target.queries), changed=bool(target.queries))
    finally:
        target_connection.close()
        source_connection.close()
    result['queries'] = list(target.queries)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
