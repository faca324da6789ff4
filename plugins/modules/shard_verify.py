#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: shard_verify
short_description: Prove that modulo shards hold exactly their rows, mirrors agree, and nothing was lost
version_added: 0.1.0
description:
  - Reads a set of servers (O(servers)) and sharded tables (O(tables)) and asserts
    three things, failing with the full report when any of them does not hold -
  - (1) B(ownership) - each server holds only the rows of its own residues
    (C(key MOD modulus) in its O(servers[].owned_residues)); per server and table the
    rows it does not own are counted (0 expected) and the first few primary keys named.
  - (2) B(mirrors) - servers that should hold the same rows (O(mirrors)) hold the same
    rows. Per table each server's row count and a checksum of all its rows are
    compared; when they differ the table is walked in chunks of O(chunk_size) rows
    along the primary key (bounds taken from the first server of the group) and the
    first differing chunk is named with its primary key range, row counts and
    checksums. The row checksum is the C(BIT_XOR) of a 64-bit hash (C(MD5)) of every
    column, each written as its length and value so that NULLs cannot be confused
    with empty strings.
  - (3) B(union) - the shards together hold the rows of a recorded baseline. Per
    server only the rows it owns are counted, one server per ownership (the first
    listed), and per table the row count and a checksum of the primary keys, the SUM
    modulo 2**64 of a 64-bit hash of each primary key, are added over the shards and
    compared with the baseline. The SUM is order-independent and, unlike an XOR, does
    not cancel a row present twice - a primary key owned by two shards (possible when
    the shard key is not part of the primary key) adds its hash twice and fails. A
    copy of a row on a shard that does not own it is a foreign row, caught by (1).
  - O(mode=record) computes the baseline (the union of the shards, usually taken
    before the expansion while every server still owns everything), returns it, and
    writes it to O(baseline_file) when given. Ownership and mirrors are asserted in
    this mode too; the baseline file is not written when they fail.
  - O(mode=verify) asserts all three against O(baseline) or O(baseline_file).
  - Read-only. Each server is read inside one C(START TRANSACTION WITH CONSISTENT
    SNAPSHOT, READ ONLY) at C(REPEATABLE READ), so its figures are consistent with each
    other. The snapshots of different servers are not taken at the same instant;
    compare mirrors and shards while they are quiet and replication has caught up
    (for example after M(smooth.mariadb.replication_wait)).
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes
  - smooth.mariadb.mariadb
attributes:
  check_mode:
    support: full
    details:
      - Servers are only read; in check mode O(baseline_file) is not written.
  diff_mode:
    support: full
    details:
      - The old and new content of O(baseline_file).
  idempotent:
    support: full
    details:
      - Only writing O(baseline_file) with different content is a change.
options:
  servers:
    description:
      - The servers to read. Credentials, option file, timeout and TLS options not set
        in an entry are taken from the module's own login options; the address is not.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the server in the report and in O(mirrors); unique.
        type: str
        required: true
      login_host:
        description: Host name or address of the server.
        type: str
      login_port:
        description: TCP port of the server.
        type: int
        default: 3306
      login_user:
        description: Account on the server; defaults to O(login_user).
        type: str
      login_password:
        description: Password of the account; when the entry sets no login_user, defaults to O(login_password).
        type: str
      login_unix_socket:
        description: Unix socket of the server, when it runs on the host running the module.
        type: str
      modulus:
        description: Modulus of the server's shard; defaults to O(modulus).
        type: int
      owned_residues:
        description:
          - Residues of the server's shard (0 to modulus - 1).
          - Without it (and without a modulus) the server owns every row, as before an expansion.
        type: list
        elements: int
  tables:
    description:
      - The sharded tables, each as C(database.table) (split at the first dot) or as a dict
        with C(name) and C(key) (the shard key column); C(key) defaults to O(key_column).
    type: list
    elements: raw
    required: true
  key_column:
    description: Shard key column of the tables that do not name their own.
    type: str
  modulus:
    description: Default O(servers[].modulus).
    type: int
  mode:
    description:
      - V(record) computes and returns the baseline (and writes O(baseline_file));
        V(verify) compares with O(baseline) or O(baseline_file).
    type: str
    choices: [record, verify]
    default: verify
  baseline:
    description: A baseline returned by an earlier O(mode=record) run (RV(baseline)).
    type: dict
  baseline_file:
    description:
      - JSON file on the host running the module. O(mode=record) writes the baseline there
        (reporting a change only when the content changes); O(mode=verify) reads it.
    type: path
  mirrors:
    description:
      - Groups of server names that must hold the same rows, for example the two nodes of a pair.
      - By default, servers with the same ownership form a group. V([]) compares no servers.
    type: list
    elements: list
  chunk_size:
    description: Rows per chunk when looking for the first chunk where mirrors differ.
    type: int
    default: 10000
  foreign_examples:
    description: How many primary keys of foreign rows to name per server and table.
    type: int
    default: 5
notes:
  - Needs MariaDB 10.6 or later and C(SELECT) on the tables. Compare servers of the same
    MariaDB version and column definitions; the checksums hash the text form of the values.
  - A row with a NULL or negative key belongs to no shard and is counted as foreign everywhere.
  - Servers are read one after the other inside their snapshots; the checksums cost one full
    scan of each table per server, plus, only for mirrors that differ, a chunk walk.
seealso:
  - module: smooth.mariadb.shard_purge
'''

EXAMPLES = r'''
- name: Before the expansion - record the baseline (A and A' hold everything)
  smooth.mariadb.shard_verify:
    mode: record
    login_user: admin
    login_password: "{{ vault_admin_password }}"
    servers:
      - {name: a, login_host: 10.0.0.11}
      - {name: a2, login_host: 10.0.0.12}
    tables: [shop.orders, shop.order_items]
    key_column: customer_id
    baseline_file: /var/lib/smooth/baseline-shop.json

- name: After the cleanup - every shard owns its residue, pairs agree, nothing lost
  smooth.mariadb.shard_verify:
    mode: verify
    login_user: admin
    login_password: "{{ vault_admin_password }}"
    modulus: 2
    servers:
      - {name: a, login_host: 10.0.0.11, owned_residues: [0]}
      - {name: a-new, login_host: 10.0.0.21, owned_residues: [0]}
      - {name: a2, login_host: 10.0.0.12, owned_residues: [1]}
      - {name: a2-new, login_host: 10.0.0.22, owned_residues: [1]}
    tables: [shop.orders, shop.order_items]
    key_column: customer_id
    baseline_file: /var/lib/smooth/baseline-shop.json
'''

RETURN = r'''
changed:
  description: Whether O(baseline_file) was (or in check mode would be) written with new content.
  returned: always
  type: bool
failures:
  description: Every failed assertion, one message each; empty when all hold.
  returned: always
  type: list
  elements: str
reason:
  description:
    - Why the module failed, a stable token to branch on (the message may be reworded) -
      V(cannot_run) - nothing was compared - bad options, a server that cannot be logged in to or runs an
      unsupported version, a table missing or unusable, an unreadable or invalid baseline;
      V(assertions_failed) - the servers were read and an assertion failed (RV(failed_checks), RV(failures));
      V(query_failed) - a statement failed while reading;
      V(baseline_file) - O(baseline_file) cannot be written.
  returned: when the module fails, except on options Ansible itself rejects
  type: str
  sample: assertions_failed
  version_added: 0.2.0
retryable:
  description:
    - Whether the same call may pass when run again after a short wait, with nothing fixed - V(true) when
      the only failed check is C(mirrors) (the servers are read one after the other, so a write between
      two reads shows as a difference), for V(query_failed) after a lock wait timeout, a deadlock or a
      lost connection (errors 1205, 1213, 2006, 2013), and for V(cannot_run) when every problem is a server
      that did not answer (errors 1053, 1927, 2002, 2003, 2006, 2013; it may be restarting, after a crash or a
      failover); V(false) otherwise.
  returned: when the module fails, except on options Ansible itself rejects
  type: bool
  version_added: 0.2.0
failed_checks:
  description:
    - With RV(reason=assertions_failed), the checks that failed, sorted - C(ownership) (a server holds rows
      it does not own), C(mirrors) (servers of a mirror group hold different rows), C(schema) (they define a
      table differently), C(union) (the shards together differ from the baseline).
  returned: when RV(reason) is V(assertions_failed)
  type: list
  elements: str
  sample: [mirrors]
  version_added: 0.2.0
baseline:
  description: The union of the shards as a baseline (pass it back as O(baseline) or keep the file).
  returned: always
  type: dict
  sample:
    format: smooth.mariadb.shard_verify/1
    tables:
      shop.orders:
        rows: 1000000
        pk_checksum: 9a3c11f0b2d4e871
        primary_key: [id]
report:
  description: Everything measured.
  returned: always
  type: dict
  contains:
    servers:
      description: Per server - target, ownership, binlog snapshot position, and per table
        rows, owned_rows, foreign_rows, foreign_examples, pk_checksum (of owned rows) and row_checksum.
      type: dict
    ownership:
      description: The common modulus and the ownership classes (servers with the same residues).
      type: dict
    mirrors:
      description: Per mirror group and table - equal, rows, checksums, chunks compared, first_difference.
      type: list
    union:
      description: Per table - rows, pk_checksum, and the baseline's when verifying.
      type: dict
diff:
  description: Old and new content of O(baseline_file).
  returned: when diff mode is on and O(baseline_file) is written
  type: dict
'''

import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    server_login_options,
    server_params,
    MariaDBQueryError,
    SqlSession,
    check_server_version,
    describe_target,
    mariadb_common_argument_spec,
    to_int,
    to_text,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import (
    ShardingError,
    TRANSIENT_ERRNOS,
    UNANSWERED_ERRNOS,
    baseline_document,
    baseline_problems,
    chunk_bound_statement,
    chunk_checksum_statement,
    compare_schema,
    compare_with_baseline,
    connect_server,
    describe_pk,
    describe_range,
    foreign_examples_statement,
    format_checksum,
    hash_total,
    json_value,
    non_transactional_warning,
    normalise_ownership,
    owned_condition,
    ownership_layout,
    ownership_problems,
    parse_tables,
    pk_values,
    read_table_info,
    table_problems,
    table_stats_statement,
)


def argument_spec():
    spec = mariadb_common_argument_spec()
    spec.update(
        servers=dict(type='list', elements='dict', required=True, options=dict(
            server_login_options(),
            name=dict(type='str', required=True),
            modulus=dict(type='int'),
            owned_residues=dict(type='list', elements='int'),
        )),
        tables=dict(type='list', elements='raw', required=True),
        key_column=dict(type='str', no_log=False),
        modulus=dict(type='int'),
        mode=dict(type='str', default='verify', choices=['record', 'verify']),
        baseline=dict(type='dict'),
        baseline_file=dict(type='path'),
        mirrors=dict(type='list', elements='list'),
        chunk_size=dict(type='int', default=10000),
        foreign_examples=dict(type='int', default=5),
    )
    return spec


def assertions_retryable(failed_checks):
    """Whether failed assertions may pass when read again (pure): only mirrors that differ may - the servers
    are read one after the other, so a write between two reads shows as a difference. Foreign rows, table
    definitions that differ and a union that differs from the baseline do not change by waiting."""
    return list(failed_checks) == ['mirrors']


def server_ownership(entry, default_modulus):
    """(modulus, residues, problems) of one server entry."""
    residues = entry.get('owned_residues')
    modulus = entry.get('modulus') if entry.get('modulus') is not None else default_modulus
    if not residues:
        if entry.get('owned_residues') is not None:
            return None, None, ['server %s: owned_residues is empty' % entry['name']]
        if entry.get('modulus') is not None:
            return None, None, ['server %s: modulus given without owned_residues' % entry['name']]
        modulus, residues = normalise_ownership(None, None)
        return modulus, list(residues), []
    if modulus is None:
        return None, None, ['server %s: owned_residues given without a modulus (set modulus for the server or for all)'
                            % entry['name']]
    problems = ['server %s: %s' % (entry['name'], text)
                for text in ownership_problems(modulus, residues)]
    modulus, residues = normalise_ownership(modulus, residues)
    return modulus, list(residues), problems


def plan_mirrors(mirrors, names, classes):
    """Mirror groups to compare: explicit, or by default the classes with several servers.

    ``classes`` maps a server name to its ownership class index. Returns
    ``(groups, problems)``.
    """
    problems = []
    if mirrors is None:
        by_class = {}
        for name in names:
            by_class.setdefault(classes[name], []).append(name)
        return [group for group in by_class.values() if len(group) > 1], problems
    groups = []
    for index, group in enumerate(mirrors):
        members = [to_text(member) for member in (group or [])]
        unknown = [member for member in members if member not in names]
        if unknown:
            problems.append('mirrors[%d]: unknown server(s) %s' % (index, ', '.join(unknown)))
            continue
        if len(members) < 2 or len(set(members)) != len(members):
            problems.append('mirrors[%d]: a group needs two or more different servers, got %s'
                            % (index, ', '.join(members) or 'none'))
            continue
        if len(set(classes[member] for member in members)) > 1:
            problems.append('mirrors[%d]: %s do not own the same residues, so they cannot hold the same rows'
                            % (index, ', '.join(members)))
            continue
        groups.append(members)
    return groups, problems


def load_baseline(params):
    if params['baseline'] is not None:
        return params['baseline'], None
    path = params['baseline_file']
    try:
        with open(path) as handle:
            return json.load(handle), None
    except (OSError, IOError, ValueError) as exc:
        return None, 'cannot read the baseline file %s: %s' % (path, to_native(exc))


class Verify(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.sessions = {}
        self.targets = {}
        # Names of the servers whose connection failed with an UNANSWERED_ERRNOS error.
        self.unanswered = []
        self.ownership = {}
        self.infos = {}
        self.failures = []
        self.report = dict(servers={}, ownership={}, mirrors=[], union={})
        self.baseline = None
        self.expected = None
        self.current = None
        self.specs = []
        self.groups = []
        self.layout = None

    def result(self, changed=False, **extra):
        result = dict(changed=changed, failures=[text for dummy, text in self.failures], baseline=self.baseline or {},
                      report=self.report)
        result.update(extra)
        return result

    def fail(self, msg, reason, retryable=False, **extra):
        """End the module with msg, RV reason and RV retryable."""
        self.module.fail_json(msg=msg, reason=reason, retryable=retryable, **self.result(**extra))

    def refuse(self, problems):
        # Retryable when every problem is a server that did not answer (restarting after a crash or a failover).
        unanswered = bool(problems) and len(self.unanswered) == len(problems)
        self.fail('shard_verify cannot run: %s%s'
                  % (' '.join('(%d) %s.' % (index + 1, text.rstrip('.')) for index, text in enumerate(problems)),
                     ' The server(s) %s did not answer: if they are restarting, the same call may pass once they '
                     'run again.' % ', '.join(self.unanswered) if unanswered else ''),
                  'cannot_run', retryable=unanswered)

    # -- input ---------------------------------------------------------------

    def check_input(self):
        params = self.params
        specs, problems = parse_tables(params['tables'], params['key_column'])
        names = []
        owners = []
        for entry in params['servers']:
            name = entry['name']
            if name in names:
                problems.append('server name %s is used twice' % name)
                continue
            if not (entry.get('login_host') or entry.get('login_unix_socket')):
                problems.append('server %s: give login_host (and login_port) or login_unix_socket' % name)
            names.append(name)
            modulus, residues, found = server_ownership(entry, params['modulus'])
            problems.extend(found)
            if not found:
                self.ownership[name] = (modulus, residues)
                owners.append((name, modulus, residues))
        if params['chunk_size'] < 1:
            problems.append('chunk_size must be at least 1, got %d' % params['chunk_size'])
        if params['foreign_examples'] < 0:
            problems.append('foreign_examples must not be negative, got %d' % params['foreign_examples'])
        if params['mode'] == 'verify':
            if params['baseline'] is None and not params['baseline_file']:
                problems.append('mode=verify needs baseline or baseline_file')
            elif params['baseline'] is not None and params['baseline_file']:
                problems.append('give baseline or baseline_file, not both')
            else:
                baseline, problem = load_baseline(params)
                if problem:
                    problems.append(problem)
                else:
                    problems.extend(baseline_problems(baseline))
                    self.expected = baseline
        layout = ownership_layout(owners) if owners else None
        groups = []
        if layout is not None:
            problems.extend(layout['overlaps'])
            if layout['uncovered']:
                problems.append('no server owns residue(s) %s of modulus %d: the shards cannot hold every row'
                                % (', '.join(str(r) for r in layout['uncovered'][:20]), layout['modulus']))
            self.report['ownership'] = dict(modulus=layout['modulus'], classes=layout['classes'])
            classes = {}
            for index, entry in enumerate(layout['classes']):
                for server in entry['servers']:
                    classes[server] = index
            if len(classes) == len(names):
                groups, found = plan_mirrors(params['mirrors'], names, classes)
                problems.extend(found)
        self.specs = specs
        self.groups = groups
        self.layout = layout
        return problems

    # -- servers -------------------------------------------------------------

    def connect(self):
        problems = []
        for entry in self.params['servers']:
            params = server_params(entry, self.params)
            self.targets[entry['name']] = describe_target(params)
            try:
                connection = connect_server(params)
            except ShardingError as exc:
                problems.append('server %s: %s' % (entry['name'], exc))
                if exc.errno in UNANSWERED_ERRNOS:
                    self.unanswered.append(entry['name'])
                continue
            session = SqlSession(connection, read_only=True)
            self.sessions[entry['name']] = session
            version = session.fetch_one('SELECT VERSION() AS version')['version']
            problem = check_server_version(version)
            if problem:
                problems.append('server %s (%s): %s' % (entry['name'], self.targets[entry['name']], problem))
        return problems

    def check_tables(self):
        problems = []
        warned = set()
        for server, session in self.sessions.items():
            self.infos[server] = {}
            for spec in self.specs:
                info = read_table_info(session, spec.schema, spec.table)
                self.infos[server][spec.name] = info
                for text in table_problems(spec, info):
                    problems.append('server %s (%s): %s' % (server, self.targets[server], text))
                warning = non_transactional_warning(spec, info)
                if warning and spec.name not in warned:
                    warned.add(spec.name)
                    self.module.warn(warning)
        if problems:
            return problems
        for spec in self.specs:
            keys = set(tuple(self.infos[server][spec.name]['primary_key']) for server in self.sessions)
            if len(keys) > 1:
                problems.append('table %s has different primary keys on the servers: %s'
                                % (spec.name, '; '.join('(%s)' % ', '.join(key) for key in sorted(keys))))
        return problems

    def open_snapshots(self):
        for server, session in self.sessions.items():
            session.fetch_all('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')
            session.fetch_all('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
            snapshot = {}
            for row in session.fetch_all("SHOW STATUS LIKE 'binlog_snapshot_%'"):
                snapshot[to_text(row['Variable_name']).lower()] = to_text(row['Value'])
            modulus, residues = self.ownership[server]
            self.report['servers'][server] = dict(
                target=self.targets[server], modulus=modulus, owned_residues=residues,
                snapshot=dict(binlog_file=snapshot.get('binlog_snapshot_file', ''),
                              binlog_position=to_int(snapshot.get('binlog_snapshot_position')) or 0),
                tables={})

    def close_snapshots(self):
        for session in self.sessions.values():
            try:
                session.fetch_all('ROLLBACK')
            except MariaDBQueryError:
                pass
            session.connection.close()

    # -- measurements ----------------------------------------------------------

    def in_mirror_group(self, server):
        return any(server in group for group in self.groups)

    def table_stats(self, server, spec):
        session = self.sessions[server]
        info = self.infos[server][spec.name]
        pk = info['primary_key']
        modulus, residues = self.ownership[server]
        owned = owned_condition(spec.key, modulus, residues)
        columns = [col['name'] for col in info['columns']] if self.in_mirror_group(server) else None
        sql, sql_params = table_stats_statement(spec, pk, owned, columns)
        row = session.fetch_one(sql, sql_params)
        total = to_int(row['total_rows'])
        owned_rows = to_int(row['owned_rows'])
        stats = dict(rows=total, owned_rows=owned_rows, foreign_rows=total - owned_rows,
                     pk_sum=int(row['owned_pk_sum']), pk_checksum=format_checksum(row['owned_pk_sum']))
        if columns:
            stats['row_checksum'] = format_checksum(row['row_checksum'])
        if stats['foreign_rows'] and self.params['foreign_examples']:
            sql, sql_params = foreign_examples_statement(spec, pk, owned, self.params['foreign_examples'])
            examples = [pk_values(found, pk) for found in session.fetch_all(sql, sql_params)]
            stats['foreign_examples'] = [describe_pk(pk, values) for values in examples]
        else:
            stats['foreign_examples'] = []
        return stats

    def check_ownership(self, server, spec, stats):
        if stats['foreign_rows']:
            modulus, residues = self.ownership[server]
            self.failures.append((
                'ownership',
                'server %s (%s) holds %d row(s) of %s it does not own (modulus %d, owned residues %s): %s'
                % (server, self.targets[server], stats['foreign_rows'], spec.name, modulus,
                   ', '.join(str(r) for r in residues), ', '.join(stats['foreign_examples'])
                   + (', ...' if stats['foreign_rows'] > len(stats['foreign_examples']) else ''))))

    def chunk_walk(self, group, spec, reference_rows):
        """Find the first chunk where the members of a group differ."""
        reference = group[0]
        info = self.infos[reference][spec.name]
        pk = info['primary_key']
        columns = [col['name'] for col in info['columns']]
        chunk_size = self.params['chunk_size']
        lower = None
        compared = 0
        for dummy in range(reference_rows // chunk_size + 2):
            sql, sql_params = chunk_bound_statement(spec, pk, lower, chunk_size)
            row = self.sessions[reference].fetch_one(sql, sql_params)
            upper = pk_values(row, pk) if row else None
            sql, sql_params = chunk_checksum_statement(spec, pk, columns, lower, upper)
            counts = {}
            checksums = {}
            for member in group:
                found = self.sessions[member].fetch_one(sql, sql_params)
                counts[member] = to_int(found['row_count'])
                checksums[member] = format_checksum(found['checksum'])
            compared += 1
            if len(set(counts.values())) > 1 or len(set(checksums.values())) > 1:
                return compared, dict(
                    range=describe_range(pk, lower, upper),
                    lower=None if lower is None else [json_value(value) for value in lower],
                    upper=None if upper is None else [json_value(value) for value in upper],
                    rows=counts, checksums=checksums)
            if upper is None:
                break
            lower = upper
        return compared, None

    def check_mirrors(self, stats):
        for group in self.groups:
            entry = dict(servers=list(group), tables={})
            self.report['mirrors'].append(entry)
            for spec in self.specs:
                schema = compare_schema(group, spec.name, self.infos)
                if schema:
                    entry['tables'][spec.name] = dict(equal=False, schema_differs=True)
                    self.failures.append(('schema', schema))
                    continue
                rows = dict((member, stats[member][spec.name]['rows']) for member in group)
                checksums = dict((member, stats[member][spec.name]['row_checksum']) for member in group)
                equal = len(set(rows.values())) == 1 and len(set(checksums.values())) == 1
                table = dict(equal=equal, rows=rows, checksums=checksums, chunks_compared=0, first_difference=None)
                entry['tables'][spec.name] = table
                if equal:
                    continue
                compared, difference = self.chunk_walk(group, spec, rows[group[0]])
                table['chunks_compared'] = compared
                table['first_difference'] = difference
                if difference is None:
                    detail = 'no chunk differs in a second pass (rows changed between the two reads?)'
                else:
                    detail = 'first differing chunk %s: rows %s, checksums %s' % (
                        difference['range'],
                        ', '.join('%s=%s' % (member, difference['rows'][member]) for member in group),
                        ', '.join('%s=%s' % (member, difference['checksums'][member]) for member in group))
                self.failures.append(('mirrors', 'mirrors %s differ in %s (rows %s); %s'
                                      % (', '.join(group), spec.name,
                                         ', '.join('%s=%s' % (member, rows[member]) for member in group), detail)))

    def union(self, stats):
        tables = {}
        representatives = [entry['representative'] for entry in self.layout['classes']]
        for spec in self.specs:
            pk = self.infos[representatives[0]][spec.name]['primary_key']
            rows = sum(stats[server][spec.name]['owned_rows'] for server in representatives)
            checksum = format_checksum(hash_total(stats[server][spec.name]['pk_sum'] for server in representatives))
            tables[spec.name] = dict(rows=rows, pk_checksum=checksum, primary_key=list(pk))
        return tables

    def write_baseline(self, document):
        path = self.params['baseline_file']
        content = json.dumps(document, indent=2, sort_keys=True) + '\n'
        try:
            with open(path) as handle:
                old = handle.read()
        except (OSError, IOError):
            old = None
        changed = old != content
        diff = dict(before=old or '', after=content, before_header=path, after_header=path)
        if changed and not self.module.check_mode:
            directory = os.path.dirname(os.path.abspath(path))
            try:
                handle, temp = tempfile.mkstemp(prefix='.baseline-', dir=directory)
                with os.fdopen(handle, 'w') as out:
                    out.write(content)
            except (OSError, IOError) as exc:
                self.fail('cannot write the baseline file %s: %s' % (path, to_native(exc)), 'baseline_file')
            self.module.atomic_move(temp, path)
        return changed, diff

    def run(self):
        started = time.monotonic()
        problems = self.check_input()
        problems.extend(self.connect())
        if not problems:
            problems.extend(self.check_tables())
        if problems:
            self.refuse(problems)
        self.open_snapshots()
        stats = {}
        for server in self.sessions:
            self.current = server
            stats[server] = {}
            for spec in self.specs:
                table_stats = self.table_stats(server, spec)
                stats[server][spec.name] = table_stats
                self.check_ownership(server, spec, table_stats)
                shown = dict(table_stats)
                shown.pop('pk_sum')
                self.report['servers'][server]['tables'][spec.name] = shown
        self.current = None
        self.check_mirrors(stats)
        union = self.union(stats)
        self.baseline = baseline_document(union)
        self.report['union'] = dict((name, dict(entry)) for name, entry in union.items())
        if self.params['mode'] == 'verify':
            expected = self.expected['tables']
            for name, entry in union.items():
                baseline_entry = expected.get(name)
                self.report['union'][name].update(
                    baseline_rows=None if baseline_entry is None else to_int(baseline_entry.get('rows')),
                    baseline_pk_checksum=None if baseline_entry is None else to_text(baseline_entry.get('pk_checksum')))
                found = compare_with_baseline(name, entry, baseline_entry)
                self.report['union'][name]['equal'] = not found
                self.failures.extend(('union', text) for text in found)
            self.report['baseline_tables_not_checked'] = sorted(set(expected) - set(union))
        self.report['elapsed'] = round(time.monotonic() - started, 3)
        if self.failures:
            failed_checks = sorted(set(check for check, dummy in self.failures))
            self.fail('%d assertion(s) failed: %s'
                      % (len(self.failures), ' '.join('(%d) %s.' % (index + 1, text.rstrip('.'))
                                                      for index, (dummy, text) in enumerate(self.failures))),
                      'assertions_failed', retryable=assertions_retryable(failed_checks), failed_checks=failed_checks)
        changed = False
        extra = {}
        if self.params['mode'] == 'record' and self.params['baseline_file']:
            changed, diff = self.write_baseline(self.baseline)
            if self.module._diff:
                extra['diff'] = diff
        return self.result(changed=changed, **extra)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    verify = Verify(module)
    try:
        result = verify.run()
    except MariaDBQueryError as exc:
        where = ''
        if verify.current is not None:
            where = ' on server %s (%s)' % (verify.current, verify.targets.get(verify.current))
        verify.fail('shard_verify%s: %s failed: %s' % (where, exc.statement, exc.message), 'query_failed',
                    retryable=exc.errno in TRANSIENT_ERRNOS)
    finally:
        verify.close_snapshots()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
