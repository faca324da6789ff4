#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pair_compare
short_description: Find rows on which the two nodes of a dual-master pair diverged, while the application writes
version_added: 0.1.0
description:
  - Compares the two nodes of a dual-master pair (O(servers)) table by table and chunk by chunk, while they
    keep taking writes, and fails naming the table and the primary key range of every chunk whose rows differ
    for good. Replication alone does not find such a difference - with a primary key it overwrites a row
    without comparing it, so after a partition in which both nodes took writes, or a write made with
    C(sql_log_bin=0) on one node, both replication threads keep running without error while the rows differ.
  - B(Tables.) Every table of O(tables) and, with O(other_tables), every other base table of the schemas a
    seed copies (all but the system schemas, the collection's C(smooth_mariadb) and O(exclude_schemas)).
    Both nodes must define each table alike (columns and primary key); a table one node lacks, or defines
    otherwise, is a difference too.
  - B(Chunks.) Each table is walked along its primary key in chunks of O(chunk_size) rows (bounds read on the
    first server); per chunk both nodes return the row count and the checksum of the rows (C(BIT_XOR) of a
    64-bit hash of every column, as M(smooth.mariadb.shard_verify) compares mirrors). A table without a primary
    key is one chunk.
  - B(Under writes.) A chunk whose figures differ may only be behind on one node. It is read again (only that
    chunk, never the table again) in at most O(tries) attempts. Each attempt lets both nodes apply everything
    the other had when the last reading ended (C(MASTER_GTID_WAIT) on the other node's C(@@gtid_binlog_pos),
    at most O(wait_timeout) seconds per direction) and reads the chunk on both. If it still differs and
    O(lock_rows) is on, the chunk is read B(locked) - one node reads its rows with C(LOCK IN SHARE MODE), so
    nobody changes them there; the other node applies everything the first had and reads its rows locked
    too; the first node applies everything the other had (each catch-up at most O(lock_timeout) seconds);
    then both locks are released. The attempts alternate the node that locks first, so rows are frozen on
    the node that writes them.
  - B(Verdicts.) A chunk is B(settled) as soon as both nodes agree (replication lag). It is B(diverged) when a
    locked reading whose two catch-ups completed still differs - both readings then reflect every write
    either node made to those rows and none is on its way - or, with O(lock_rows=false), when three readings
    in a row, each of the last two after a successful catch-up, show the same two different figures. A chunk
    that is neither after O(tries) attempts is B(unsettled) - both nodes kept writing its rows (a locked
    reading cannot complete while the other node's writes to them wait for the lock), or replication did not
    catch up in time - and is reported, never passed silently; O(unsettled) says whether it fails the module.
  - For a diverged or unsettled chunk both nodes' rows of the range are hashed one by one and the first
    O(examples) differing primary keys are named (values differ, only on one node).
  - Reads only (C(SELECT), C(SHOW), C(MASTER_GTID_WAIT), locking reads that are rolled back); never changes
    anything, in check mode or not.
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes
  - smooth.mariadb.mariadb
attributes:
  check_mode:
    support: full
    details:
      - The module only reads; check mode compares exactly as a normal run does.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Always reports C(changed=false).
options:
  servers:
    description:
      - The two nodes of the pair, each replicating from the other with GTID. Credentials, option file,
        timeout and TLS options not set in an entry are taken from the module's own login options; the
        address is not.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the node in messages and results (for example its inventory name); unique.
        type: str
        required: true
      login_host:
        description: Host name or address of the node.
        type: str
      login_port:
        description: TCP port of the node.
        type: int
        default: 3306
      login_user:
        description: Account on the node; defaults to O(login_user).
        type: str
      login_password:
        description: Password of the account; when the entry sets no login_user, defaults to O(login_password).
        type: str
      login_unix_socket:
        description: Unix socket of the node, when it runs on the host running the module.
        type: str
  tables:
    description:
      - Tables to compare, each as C(database.table) (split at the first dot) or a dict with C(name) (and
        C(key), accepted and not used, so that the sharded tables of M(smooth.mariadb.shard_purge) can be
        passed as they are). Names are used exactly as written.
    type: list
    elements: raw
    default: []
  other_tables:
    description:
      - Also compare every other base table of the user schemas (those a seed copies), for example the
        unsharded tables each shard holds.
    type: bool
    default: false
  exclude_schemas:
    description:
      - Schemas O(other_tables) leaves out besides the system schemas and C(smooth_mariadb) (tables a node
        keeps to itself on purpose).
    type: list
    elements: str
    default: []
  chunk_size:
    description: Rows per chunk (1 to 100000); a difference is named with the key range of its chunk.
    type: int
    default: 1000
  tries:
    description: How many attempts (1 to 20) a chunk that differs gets to settle or to prove a difference.
    type: int
    default: 5
  wait_timeout:
    description: Seconds one catch-up may take per direction (0 to 3600) before the rereading goes on without it.
    type: float
    default: 10
  lock_rows:
    description:
      - Read a chunk that still differs after a catch-up with its rows locked (see B(Under writes)). Writers of
        those rows wait while the locks are held, at most twice O(lock_timeout) per attempt, a few milliseconds
        when replication keeps up.
      - V(false) never locks; a difference is then only proven by readings that repeat it, and a chunk with hot
        rows can only settle or stay unsettled.
    type: bool
    default: true
  lock_timeout:
    description:
      - Seconds (0 to 60) each catch-up may take while the rows are locked; the session's
        C(innodb_lock_wait_timeout) too (rounded up, at least 1), so that the locking read itself gives up
        rather than queue behind a long transaction.
    type: float
    default: 2
  timeout:
    description:
      - Seconds the whole comparison may take (1 to 86400). When it runs out the module stops, fails with
        RV(reason=incomplete) and names the table it stopped in.
    type: float
    default: 3600
  unsettled:
    description:
      - What a chunk that stayed unsettled does. V(fail) fails the module (RV(reason) V(unsettled),
        RV(retryable)); V(warn) passes with a warning that names it.
    type: str
    choices: [fail, warn]
    default: fail
  examples:
    description: How many differing primary keys to name per chunk (0 to 100).
    type: int
    default: 5
notes:
  - Needs MariaDB 10.6 or later on both nodes, C(SELECT) on the tables and the C(SLAVE MONITOR) (or
    C(REPLICATION CLIENT)) privilege to read the replication connections; both nodes must be reachable from
    the host running the module.
  - Each node must replicate from the other (GTID, one connection each way); the comparison refuses a pair
    that does not.
  - Cost - per chunk one primary key range read on each node (and the bound on the first); a chunk that
    differs is read again with a catch-up before each rereading, and locked as described. Run it while the pair
    replicates both ways.
  - A chunk whose rows both nodes write at the same moment (rows of both residues after the application
    loaded a doubled shard map, interleaved in one chunk) can stay unsettled under heavy writes; smaller
    chunks help.
  - The row hash uses the text form of the values; compare nodes of the same MariaDB version.
seealso:
  - module: smooth.mariadb.shard_verify
  - module: smooth.mariadb.replication_wait
'''

EXAMPLES = r'''
- name: Compare the two nodes of the pair under writes; a divergence fails the task
  smooth.mariadb.pair_compare:
    login_user: smooth_admin
    login_password: "{{ vault_admin_password }}"
    servers:
      - {name: db0a, login_host: 10.0.0.11}
      - {name: db0b, login_host: 10.0.0.12}
    tables:
      - {name: shop.orders, key: customer_id}
    other_tables: true
  delegate_to: localhost

- name: Compare, accepting chunks that keep changing under heavy writes (with a warning)
  smooth.mariadb.pair_compare:
    login_user: smooth_admin
    login_password: "{{ vault_admin_password }}"
    servers:
      - {name: db0a, login_host: 10.0.0.11}
      - {name: db0b, login_host: 10.0.0.12}
    tables: [shop.orders]
    chunk_size: 200
    unsettled: warn
  register: compared

- name: Show what was compared
  ansible.builtin.debug:
    msg: "{{ compared.counts.compared }} chunks compared, {{ compared.counts.rechecked }} read again"
'''

RETURN = r'''
changed:
  description: Always false; the module only reads.
  returned: always
  type: bool
reason:
  description:
    - V(equal) - no difference (chunks that differed at first settled);
      V(diverged) - rows or table definitions differ for good;
      V(unsettled) - some chunk kept changing (fails unless O(unsettled=warn));
      V(incomplete) - O(timeout) ran out; V(cannot_run) - bad input, a node unreachable, or the pair does
      not replicate both ways.
  returned: always
  type: str
  sample: diverged
refused:
  description: Whether the outcome refuses (the module failed, or would have without O(unsettled=warn)).
  returned: always
  type: bool
retryable:
  description:
    - Whether running again, with nothing fixed, may give another answer - V(unsettled), V(incomplete), and
      V(cannot_run) when a statement failed on a lock wait timeout, a deadlock or a lost connection (as
      M(smooth.mariadb.shard_verify) decides it).
    - False for the other V(cannot_run) - bad input, a node that cannot be logged in to, a pair that does not
      replicate both ways - which need a fix first.
  returned: always
  type: bool
counts:
  description:
    - C(tables) compared; C(compared) chunks; C(rechecked) chunks read more than once and C(rereads) the
      readings after the first; per verdict C(equal), C(settled), C(diverged), C(unsettled).
  returned: always
  type: dict
  sample: {tables: 2, compared: 40, rechecked: 3, rereads: 4, equal: 37, settled: 3, diverged: 0, unsettled: 0}
tables:
  description: Per table - C(primary_key), C(chunks), the rows each node had (C(rows), summed over the chunks as read) and the counts per verdict.
  returned: always
  type: dict
differences:
  description:
    - Every chunk that did not settle - C(table), C(verdict) (V(diverged), V(unsettled)), C(cause), C(range)
      (text), C(lower) and C(upper) (primary key values, V(null) for open), C(primary_key), C(rows) and
      C(checksums) per node at the last reading, C(readings), C(rows_differing) (up to O(examples) of
      C({key, where})), C(rows_differing_total) and C(select), a statement that reads the chunk on either node.
  returned: always
  type: list
  elements: dict
schema_differences:
  description: Tables one node lacks or defines differently (columns, primary key).
  returned: always
  type: list
  elements: str
queries:
  description: Examples of the statements run (one or two per table and the last one; values inlined).
  returned: always
  type: list
  elements: str
elapsed:
  description: Seconds the comparison took.
  returned: always
  type: float
'''

import math
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.smooth.mariadb.plugins.module_utils.divergence import (
    DIVERGED,
    UNSETTLED,
    chunk_verdict,
    locked,
    outcome,
    plain,
    refusal_message,
    row_differences,
    tally,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.gtid import (
    Server,
    WaitFailed,
    pick,
    refuse_broken,
    wait_direction,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    server_login_options,
    server_params,
    MariaDBQueryError,
    SqlSession,
    check_server_version,
    describe_target,
    mariadb_common_argument_spec,
    render_statement,
    sql_identifier,
    to_int,
    to_text,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.seed import EXCLUDED_SCHEMAS
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import (
    CHUNK_SIZE_MAX,
    TRANSIENT_ERRNOS,
    AtMostAny,
    QueryLog,
    ShardingError,
    TableSpec,
    chunk_bound_statement,
    chunk_checksum_statement,
    chunk_row_hashes_statement,
    compare_schema,
    connect_server,
    describe_pk,
    describe_range,
    format_checksum,
    json_value,
    last_key_statement,
    non_transactional_warning,
    pk_range_condition,
    pk_values,
    qualified,
    read_table_info,
    user_tables_statement,
)

# Bound of the chunk walk of one table, besides the time limit.
MAX_CHUNKS = 10 ** 7
BOUNDS = dict(chunk_size=(1, CHUNK_SIZE_MAX), tries=(1, 20), wait_timeout=(0, 3600), lock_timeout=(0, 60),
              timeout=(1, 86400), examples=(0, 100))
# A locking read that waits too long for a writer, or a deadlock with one: the locked reading is incomplete.
LOCK_ERRNOS = (1205, 1213)


class CannotRun(Exception):
    """The comparison cannot be made (input, login, replication); the message says why. Not retryable:
    each needs a fix first (as shard_verify's cannot_run)."""


def argument_spec():
    spec = mariadb_common_argument_spec()
    options = server_login_options()
    options.update(name=dict(type='str', required=True))
    spec.update(
        servers=dict(type='list', elements='dict', required=True, options=options),
        tables=dict(type='list', elements='raw', default=[]),
        other_tables=dict(type='bool', default=False),
        exclude_schemas=dict(type='list', elements='str', default=[]),
        chunk_size=dict(type='int', default=1000),
        tries=dict(type='int', default=5),
        wait_timeout=dict(type='float', default=10),
        timeout=dict(type='float', default=3600),
        lock_rows=dict(type='bool', default=True),
        lock_timeout=dict(type='float', default=2),
        unsettled=dict(type='str', default='fail', choices=['fail', 'warn']),
        examples=dict(type='int', default=5),
    )
    return spec


def input_problems(params):
    """Messages about the options (pure); empty when the comparison can start."""
    problems = []
    names = [entry['name'] for entry in params['servers']]
    if len(names) != 2 or names[0] == names[1]:
        problems.append('servers must list the two nodes of the pair under two different names, got %s'
                        % (', '.join(names) or 'none'))
    for entry in params['servers']:
        if not (entry.get('login_host') or entry.get('login_unix_socket')):
            problems.append('server %s: give login_host (and login_port) or login_unix_socket' % entry['name'])
    for name, (low, high) in sorted(BOUNDS.items()):
        if not low <= params[name] <= high:
            problems.append('%s must be from %s to %s, got %s' % (name, low, high, params[name]))
    if not params['tables'] and not params['other_tables']:
        problems.append('nothing to compare: list tables or set other_tables')
    return problems


def listed_tables(tables):
    """``(specs, problems)`` from the ``tables`` option; the shard key of a dict entry is not needed here."""
    specs = []
    problems = []
    for index, item in enumerate(tables):
        name = item.get('name') if isinstance(item, dict) else item
        if not isinstance(name, str) or '.' not in name or name.startswith('.') or name.endswith('.'):
            problems.append('tables[%d]: %r must be written as database.table' % (index, name))
            continue
        schema, table = name.split('.', 1)
        specs.append(TableSpec(name, schema, table, None))
    return specs, problems


def range_text(pk, lower, upper):
    """The key range of a chunk for messages; the last chunk ends at the last key either node held."""
    if not pk:
        return 'the whole table (it has no primary key)'
    if isinstance(upper, AtMostAny):
        keys = []
        for key in upper:
            if describe_pk(pk, key) not in keys:
                keys.append(describe_pk(pk, key))
        return '%s (the last key on either node when the walk of the table began: %s)' % (
            describe_range(pk, lower, None), ' or '.join(keys))
    return describe_range(pk, lower, upper)


class Node(object):
    """One node of the pair: its session, its replication view (a gtid.Server) and its name."""

    def __init__(self, name, session, target):
        self.name = name
        self.session = session
        self.target = target
        self.server = Server(session, '%s (%s)' % (name, target))
        self.link = None


class Compare(object):
    def __init__(self, module, clock=time.monotonic):
        self.module = module
        self.params = module.params
        self.clock = clock
        self.nodes = []
        self.names = [entry['name'] for entry in self.params['servers']]
        self.queries = QueryLog()
        self.chunks = []
        self.tables = {}
        self.differences = []
        self.schema_differences = []
        self.incomplete = None
        self.locked_rows = None
        self.started = clock()
        self.deadline = self.started + self.params['timeout']
        self.current = None

    # -- setup -----------------------------------------------------------------

    def connect(self):
        for entry in self.params['servers']:
            params = server_params(entry, self.params)
            target = describe_target(params)
            try:
                connection = connect_server(params)
            except ShardingError as exc:
                raise CannotRun('server %s: %s' % (entry['name'], exc))
            node = Node(entry['name'], SqlSession(connection, read_only=True), target)
            self.nodes.append(node)
            # A locked reading waits this long for a writer's row lock, then gives up (incomplete), and
            # locks the rows it reads only.
            node.session.fetch_all('SET SESSION innodb_lock_wait_timeout = %s',
                                   (max(1, int(math.ceil(self.params['lock_timeout']))),))
            node.session.fetch_all('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED')
            node.server.read_position()
            problem = check_server_version(node.server.version)
            if problem:
                raise CannotRun('server %s (%s): %s' % (node.name, target, problem))
        first, second = self.nodes
        if first.server.server_id == second.server.server_id:
            raise CannotRun('servers %s and %s both report server_id %s: give the two nodes of the pair'
                            % (first.name, second.name, first.server.server_id))
        for node, other in ((first, second), (second, first)):
            try:
                node.link, status = pick(node.server, node.server.statuses(), None, other.server, what='node')
                refuse_broken(node.server, other.server, node.link, status)
            except WaitFailed as exc:
                raise CannotRun('%s; the comparison needs the pair replicating both ways' % exc.message)

    def table_list(self):
        specs, problems = listed_tables(self.params['tables'])
        if problems:
            raise CannotRun('; '.join(problems))
        if self.params['other_tables']:
            excluded = tuple(EXCLUDED_SCHEMAS) + tuple(self.params['exclude_schemas'])
            sql, args = user_tables_statement(excluded)
            found = {}
            for node in self.nodes:
                for row in node.session.fetch_all(sql, args):
                    schema, table = to_text(row['table_schema']), to_text(row['table_name'])
                    found.setdefault('%s.%s' % (schema, table), (schema, table))
            known = set(spec.name for spec in specs)
            specs.extend(TableSpec(name, schema, table, None) for name, (schema, table) in sorted(found.items())
                         if name not in known)
        return specs

    # -- reading -----------------------------------------------------------------

    def fetch(self, node, sql, args, table):
        self.current = node
        self.queries.add(render_statement(sql, args), table)
        return node.session.fetch_all(sql, args)

    def figures(self, node, spec, pk, columns, lower, upper, lock=False):
        sql, args = chunk_checksum_statement(spec, pk, columns, lower, upper, lock=lock)
        row = self.fetch(node, sql, args, spec.name)[0]
        return to_int(row['row_count']), format_checksum(row['checksum'])

    def read(self, spec, pk, columns, lower, upper, caught_up):
        """A plain reading: the chunk on the first node, then on the second."""
        return plain(*[self.figures(node, spec, pk, columns, lower, upper) for node in self.nodes],
                     caught_up=caught_up)

    def wait_for(self, replica, source, timeout):
        """``replica`` applies everything ``source`` has now, within ``timeout`` seconds (raises WaitFailed)."""
        source_pos = source.server.binlog_pos()
        replica_pos = replica.server.binlog_pos()
        wait_direction(replica.server, source.server.label, replica.link, source_pos, replica_pos,
                       self.clock() + timeout, clock=self.clock)

    def catch_up(self):
        """Let each node apply everything the other has now (bounded); whether both did."""
        first, second = self.nodes
        try:
            self.wait_for(second, first, self.params['wait_timeout'])
            self.wait_for(first, second, self.params['wait_timeout'])
        except WaitFailed:
            return False
        return True

    def read_locked(self, spec, pk, columns, lower, upper, order):
        """A locked reading (see module_utils/divergence.py); ``order`` is the node that locks first.

        Each node's rows of the chunk are read with LOCK IN SHARE MODE; the
        locks are held until both catch-ups are done, each at most
        lock_timeout seconds, and released whatever happens.
        """
        holder, other = order
        timeout = self.params['lock_timeout']
        found = {}
        complete = False
        try:
            for node in (holder, other):
                self.fetch(node, 'BEGIN', None, spec.name)
            found[holder.name] = self.figures(holder, spec, pk, columns, lower, upper, lock=True)
            self.wait_for(other, holder, timeout)
            found[other.name] = self.figures(other, spec, pk, columns, lower, upper, lock=True)
            self.wait_for(holder, other, timeout)
            # READ COMMITTED locks the rows read, not the gaps between them (a hot neighbour of the
            # range stays free): a row inserted into the range meanwhile shows in a second read.
            complete = all(self.figures(node, spec, pk, columns, lower, upper, lock=True) == found[node.name]
                           for node in (holder, other))
            if complete and found[holder.name] != found[other.name] and pk:
                # A divergence: name its rows while nothing can change them.
                self.locked_rows = self.row_hashes(spec, pk, columns, lower, upper)
        except WaitFailed:
            pass
        except MariaDBQueryError as exc:
            if exc.errno not in LOCK_ERRNOS:
                raise
        finally:
            for node in (holder, other):
                node.session.fetch_all('ROLLBACK')
        for node in self.nodes:
            if node.name not in found:
                found[node.name] = self.figures(node, spec, pk, columns, lower, upper)
        return locked(found[self.names[0]], found[self.names[1]], complete)

    def row_hashes(self, spec, pk, columns, lower, upper):
        """``(first_rows, second_rows)``: primary key -> row hash of the chunk on each node."""
        sql, args = chunk_row_hashes_statement(spec, pk, columns, lower, upper)
        hashed = []
        for node in self.nodes:
            rows = self.fetch(node, sql, args, spec.name)
            hashed.append(dict((tuple(json_value(value) for value in pk_values(row, pk)), to_text(row['row_hash']))
                               for row in rows))
        return tuple(hashed)

    def differing_rows(self, spec, pk, columns, lower, upper, reading):
        """The rows that differ, from the locked reading's read, or from two reads around a catch-up."""
        if not pk or max(reading.first[0], reading.second[0]) > self.params['chunk_size'] * 10:
            return [], 0
        reads = [self.locked_rows] if self.locked_rows is not None else []
        if not reads:
            reads.append(self.row_hashes(spec, pk, columns, lower, upper))
            self.catch_up()
            reads.append(self.row_hashes(spec, pk, columns, lower, upper))
        return row_differences(reads, self.params['examples'])

    # -- the walk ----------------------------------------------------------------

    def compare_table(self, spec):
        infos = {}
        for node in self.nodes:
            self.current = node
            infos[node.name] = {spec.name: read_table_info(node.session, spec.schema, spec.table)}
        missing = [node.name for node in self.nodes if infos[node.name][spec.name] is None]
        if len(missing) == 2:
            raise CannotRun('table %s exists on neither node' % spec.name)
        if missing:
            self.schema_differences.append('table %s exists on %s only'
                                           % (spec.name, [name for name in self.names if name not in missing][0]))
            return
        found = compare_schema(self.names, spec.name, infos)
        if found:
            self.schema_differences.append(found)
            return
        info = infos[self.names[0]][spec.name]
        warning = non_transactional_warning(spec, info)
        if warning:
            self.module.warn(warning)
        pk = info['primary_key']
        columns = [column['name'] for column in info['columns']]
        entry = dict(primary_key=list(pk), chunks=0, rows=dict((name, 0) for name in self.names),
                     equal=0, settled=0, diverged=0, unsettled=0)
        self.tables[spec.name] = entry
        # The walk ends at the last key either node holds now: rows appended while it runs are younger than
        # the comparison (and would keep the last chunk changing).
        tail = None
        if pk:
            sql, args = last_key_statement(spec, pk)
            keys = [pk_values(row, pk) for node in self.nodes for row in self.fetch(node, sql, args, spec.name)]
            tail = AtMostAny(keys) if keys else None
            entry['last_keys'] = [[json_value(value) for value in key] for key in keys]
        lower = None
        for dummy in range(MAX_CHUNKS):
            if self.clock() > self.deadline:
                self.incomplete = 'table %s %s' % (spec.name, describe_range(pk, lower, None))
                return
            upper = tail
            if pk:
                sql, args = chunk_bound_statement(spec, pk, lower, self.params['chunk_size'], upper=tail)
                bound = self.fetch(self.nodes[0], sql, args, spec.name)
                upper = pk_values(bound[0], pk) if bound else tail
            self.compare_chunk(spec, pk, columns, lower, upper, entry)
            if upper is tail:
                return
            lower = upper

    def compare_chunk(self, spec, pk, columns, lower, upper, entry):
        self.locked_rows = None
        readings = [self.read(spec, pk, columns, lower, upper, False)]
        tries = self.params['tries']
        verdict, cause = chunk_verdict(readings, False)
        for attempt in range(tries):
            if verdict is not None:
                break
            readings.append(self.read(spec, pk, columns, lower, upper, self.catch_up()))
            last_attempt = attempt == tries - 1
            verdict, cause = chunk_verdict(readings, last_attempt and not self.params['lock_rows'])
            if verdict is None and self.params['lock_rows']:
                # Alternate the node that locks first: rows are frozen where they are written.
                order = self.nodes if attempt % 2 == 0 else self.nodes[::-1]
                readings.append(self.read_locked(spec, pk, columns, lower, upper, order))
                verdict, cause = chunk_verdict(readings, last_attempt)
        last = readings[-1]
        self.chunks.append((verdict, readings))
        entry['chunks'] += 1
        entry[verdict] += 1
        for name, figures in zip(self.names, (last.first, last.second)):
            entry['rows'][name] += figures[0]
        if verdict not in (DIVERGED, UNSETTLED):
            return
        rows, total = self.differing_rows(spec, pk, columns, lower, upper, last)
        where, args = pk_range_condition(pk, lower=lower, upper=upper)
        select = render_statement('SELECT * FROM %s WHERE %s%s' % (
            qualified(spec), where, (' ORDER BY %s' % ', '.join(sql_identifier(column) for column in pk)) if pk else ''),
            args)
        self.differences.append(dict(
            table=spec.name, verdict=verdict, cause=cause,
            range=range_text(pk, lower, upper),
            lower=None if lower is None else [json_value(value) for value in lower],
            upper=None if upper is None or isinstance(upper, AtMostAny) else [json_value(value) for value in upper],
            primary_key=list(pk), readings=len(readings),
            rows=dict(zip(self.names, (last.first[0], last.second[0]))),
            checksums=dict(zip(self.names, (last.first[1], last.second[1]))),
            rows_differing=rows, rows_differing_total=total, select=select))

    def run(self):
        self.connect()
        specs = self.table_list()
        for spec in specs:
            if self.incomplete:
                break
            self.compare_table(spec)
        self.current = None
        return self.result()

    def result(self, reason=None, msg=None, retryable=False):
        counts = tally(self.chunks)
        counts['tables'] = len(self.tables)
        if reason is None:
            reason, refused, retryable = outcome(counts, self.schema_differences, self.incomplete,
                                                 self.params['unsettled'] == 'warn')
        else:
            refused = True
        if msg is None and reason != 'equal':
            msg = refusal_message(self.names, reason, self.differences, self.schema_differences, counts,
                                  self.incomplete)
        elif msg is None:
            msg = ('%s and %s hold the same rows: %d chunk(s) of %d table(s) compared, %d read again after both '
                   'nodes applied what the other had, all settled' % (self.names[0], self.names[1], counts['compared'],
                                                                      counts['tables'], counts['rechecked']))
        return dict(changed=False, reason=reason, refused=refused, retryable=retryable, msg=msg, counts=counts,
                    tables=self.tables, differences=self.differences, schema_differences=self.schema_differences,
                    queries=self.queries.summary(), elapsed=round(self.clock() - self.started, 3))

    def close(self):
        for node in self.nodes:
            node.session.connection.close()

    def outcome(self):
        """Run the comparison and close the connections; a failure becomes a result with reason cannot_run,
        retryable only when a statement failed on a transient error (as shard_verify decides it)."""
        try:
            return self.run()
        except CannotRun as exc:
            return self.result('cannot_run', 'pair_compare cannot run: %s. Nothing was changed.' % exc)
        except MariaDBQueryError as exc:
            where = '' if self.current is None else ' on %s (%s)' % (self.current.name, self.current.target)
            return self.result('cannot_run', 'pair_compare%s: %s failed: %s. Nothing was changed.'
                               % (where, exc.statement, exc.message), retryable=exc.errno in TRANSIENT_ERRNOS)
        finally:
            self.close()


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    compare = Compare(module)
    problems = input_problems(module.params)
    if problems:
        module.fail_json(**compare.result('cannot_run', 'pair_compare cannot run: %s. Nothing was changed.'
                                          % '; '.join(problems)))
    result = compare.outcome()
    if result['refused']:
        module.fail_json(**result)
    if result['reason'] == UNSETTLED:
        module.warn(result['msg'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
