# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Modulo-sharded tables: introspection, ownership, chunking, checksums, interlock.

Shared by ``smooth.mariadb.shard_purge`` and ``smooth.mariadb.shard_verify``.

A row with shard key ``k`` belongs to residue ``k mod modulus`` (the
mathematical residue, 0 <= r < modulus). A node *owns* a set of residues; a row
whose residue is not in that set is *foreign* on that node. Rows with a NULL
or negative key are owned by no node: the modulo of a negative number differs
between languages (``-3 % 2`` is ``-1`` in SQL and Java, ``1`` in Python), so
rather than guess the application's convention they are refused by the purge
and reported as foreign by the verification.

Everything here is pure (statement builders, validators, planners) except the
``read_*`` functions, which only run SELECT/SHOW through a
:class:`~ansible_collections.smooth.mariadb.plugins.module_utils.mariadb.SqlSession`,
and :func:`connect_server`, which opens a connection to a server other than
the module's own (partner, verified servers).

Chunks walk the primary key: a chunk is a range ``(lower, upper]`` of primary
key tuples, and its bounds are written as expanded lexicographic comparisons
(``a > x OR (a = x AND b > y)``), which MariaDB's range optimizer turns into an
index range scan of PRIMARY (row constructors such as ``(a, b) > (x, y)`` are
not always range-optimised).

Checksums:

* row checksum (mirrors): ``BIT_XOR`` over rows of a 64-bit hash (first 16 hex
  digits of ``MD5``) of every column, each column written as its length and
  its text so that NULL, empty strings and separators cannot be confused.
  Rows are unique within a server (primary key), so XOR is safe there.
* primary-key checksum (union against the baseline): the SUM, modulo 2**64, of
  a 64-bit hash of the primary key of every row a server owns, added over the
  servers. A SUM is a multiset hash: a row present in two shards adds its hash
  twice and changes the total. An XOR would cancel it (``h ^ h == 0``): a
  duplicated row would look like a missing one, and a duplicate plus a
  missing row could compensate each other's count. The row count is compared
  too.
"""

from __future__ import annotations

import json
import re
from collections import namedtuple
from decimal import Decimal

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    server_login_options,
    MariaDBConnectError,
    connect_with_params,
    describe_target,
    sql_identifier,
    to_int,
    to_text,
)

# Ends every DELETE of the purge. MariaDB keeps the statement, comment
# included, in the binary log's annotate events, so that the purge's own deletes
# can be told apart from a writer's there (module_utils/binlog.py).
PURGE_MARK = '/* smooth.mariadb.shard_purge */'

INTEGER_TYPES = frozenset(('tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint'))
HASH_MODULUS = 2 ** 64

# Server errors after which the same statement may succeed when run again, with
# nothing fixed (the ``retryable`` of shard_purge and shard_verify): lock wait
# timeout, deadlock, server gone away, connection lost during the statement.
TRANSIENT_ERRNOS = frozenset((1205, 1213, 2006, 2013))

# Connection errors of a server that may answer again soon, with nothing fixed:
# it is restarting (systemd after a crash or a kill, a failover) or shutting
# down: can't connect through the socket or TCP, gone away, lost, shutdown in
# progress, connection killed. Access denied, an unknown host or a bad option
# are not among them.
UNANSWERED_ERRNOS = frozenset((1053, 1927, 2002, 2003, 2006, 2013))


class ShardingError(Exception):
    """A request that cannot be carried out; the message is for the user. ``errno``: the server's or driver's
    error number when a connection failed, else None."""

    def __init__(self, message, errno=None):
        super(ShardingError, self).__init__(message)
        self.errno = errno


# ---------------------------------------------------------------------------
# Options: tables and ownership
# ---------------------------------------------------------------------------

TableSpec = namedtuple('TableSpec', ['name', 'schema', 'table', 'key'])


def parse_tables(tables, default_key=None, names=('tables', 'key_column')):
    """Turn the ``tables`` option into TableSpecs.

    Each element is ``"db.table"`` (key column from ``default_key``) or a dict
    ``{name: "db.table", key: column}``. The name is split at its first dot.
    ``names`` are the names of the two settings as the user wrote them (module
    options, or inventory variables). Returns ``(specs, problems)``; problems
    is a list of messages.
    """
    specs = []
    problems = []
    seen = set()
    tables_name, key_name = names
    if not tables:
        return specs, ['no table given: list at least one table in %s' % tables_name]
    if isinstance(tables, (str, dict)):
        return specs, ['%s must be a list of "db.table" or {name: db.table, key: column}, got %r'
                       % (tables_name, tables)]
    for index, item in enumerate(tables):
        label = '%s[%d]' % (tables_name, index)
        if isinstance(item, dict):
            unknown = sorted(set(item) - set(('name', 'key')))
            if unknown:
                problems.append('%s: unknown key(s) %s; use name and key' % (label, ', '.join(unknown)))
                continue
            name = item.get('name')
            key = item.get('key') if item.get('key') is not None else default_key
        elif isinstance(item, str):
            name = item
            key = default_key
        else:
            problems.append('%s: expected "db.table" or a dict with name and key, got %r' % (label, item))
            continue
        if not isinstance(name, str) or '.' not in name:
            problems.append('%s: table name %r must be written as database.table' % (label, name))
            continue
        schema, table = name.split('.', 1)
        if not schema or not table:
            problems.append('%s: table name %r must be written as database.table' % (label, name))
            continue
        if not key or not isinstance(key, str):
            problems.append('table %s: no key column; give key for the table or %s for all' % (name, key_name))
            continue
        if name in seen:
            problems.append('table %s is listed twice' % name)
            continue
        seen.add(name)
        specs.append(TableSpec(name, schema, table, key))
    return specs, problems


# Bounds of the purge's settings. A chunk is one transaction: its row locks are
# held, and its replication is applied by the partner, as one piece.
CHUNK_SIZE_MAX = 100000
MAX_LAG_MAX = 3600


def purge_setting_problems(chunk_size, max_lag, names=('chunk_size', 'max_lag')):
    """Messages about purge settings out of bounds; ``names`` as the user wrote them."""
    problems = []
    chunk_name, lag_name = names
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or not 1 <= chunk_size <= CHUNK_SIZE_MAX:
        problems.append('%s must be a whole number of rows from 1 to %d, got %r (one chunk is one transaction; '
                        '500 to 5000 is usual)' % (chunk_name, CHUNK_SIZE_MAX, chunk_size))
    if isinstance(max_lag, bool) or not isinstance(max_lag, (int, float)) or not 0 <= max_lag <= MAX_LAG_MAX:
        problems.append('%s must be a number of seconds from 0 to %d, got %r'
                        % (lag_name, MAX_LAG_MAX, max_lag))
    return problems


# The inventory variables of the cleanup, with their defaults.
CLEANUP_DEFAULTS = (
    ('smooth_sharded_tables', None),
    ('smooth_shard_key_column', None),
    ('smooth_purge_chunk_size', 1000),
    ('smooth_purge_max_lag', 5),
    ('smooth_purge_allow_missing_on_owner', False),
    ('smooth_purge_allow_delete_triggers', False),
    ('smooth_binlog_check', True),
)


def _number(value, kind):
    """An int or float from a number or from its text (extra vars given as key=value are text)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        try:
            return kind(value.strip())
        except ValueError:
            return value
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _flag(value):
    """A bool from a bool or from yes/no/true/false text; None when it is neither."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('1', 'true', 'yes', 'on'):
        return True
    if text in ('0', 'false', 'no', 'off'):
        return False
    return None


def cleanup_settings(variables):
    """Check and complete the inventory's cleanup settings before anything changes.

    ``variables`` maps the names of :data:`CLEANUP_DEFAULTS` to their values
    (None or missing: the default). Returns ``(settings, problems)``:
    settings has ``tables`` (a list of ``{name, key}`` with every key filled
    in), ``chunk_size``, ``max_lag``, ``allow_missing_on_owner``,
    ``allow_delete_triggers`` and ``binlog_check``; problems name the inventory variables.
    """
    values = dict(CLEANUP_DEFAULTS)
    values.update((name, value) for name, value in (variables or {}).items() if value is not None)
    problems = []
    specs, table_problems_found = parse_tables(values['smooth_sharded_tables'], values['smooth_shard_key_column'],
                                               names=('smooth_sharded_tables', 'smooth_shard_key_column'))
    problems.extend(table_problems_found)
    chunk_size = _number(values['smooth_purge_chunk_size'], int)
    max_lag = _number(values['smooth_purge_max_lag'], float)
    problems.extend(purge_setting_problems(chunk_size, max_lag,
                                           names=('smooth_purge_chunk_size', 'smooth_purge_max_lag')))
    flags = {}
    for name in ('smooth_purge_allow_missing_on_owner', 'smooth_purge_allow_delete_triggers', 'smooth_binlog_check'):
        flags[name] = _flag(values[name])
        if flags[name] is None:
            problems.append('%s must be true or false, got %r' % (name, values[name]))
    if flags['smooth_purge_allow_missing_on_owner'] and flags['smooth_binlog_check'] is False:
        problems.append('smooth_purge_allow_missing_on_owner=true needs smooth_binlog_check=true: it deletes only rows '
                        'the owner deleted since the split, read from its binary log')
    settings = dict(
        tables=[dict(name=spec.name, key=spec.key) for spec in specs],
        chunk_size=chunk_size,
        max_lag=float(max_lag) if isinstance(max_lag, (int, float)) and not isinstance(max_lag, bool) else max_lag,
        allow_missing_on_owner=flags['smooth_purge_allow_missing_on_owner'],
        allow_delete_triggers=flags['smooth_purge_allow_delete_triggers'],
        binlog_check=flags['smooth_binlog_check'],
    )
    return settings, problems


def ownership_problems(modulus, residues, label='owned_residues'):
    """Messages about an invalid (modulus, residues) pair; empty when valid."""
    problems = []
    if modulus is None or not isinstance(modulus, int) or isinstance(modulus, bool) or modulus < 1:
        return ['modulus must be an integer of at least 1, got %r' % (modulus,)]
    if not residues:
        return ['%s is empty: a node must own at least one residue of modulus %d' % (label, modulus)]
    bad = [r for r in residues if not isinstance(r, int) or isinstance(r, bool) or not 0 <= r < modulus]
    if bad:
        problems.append('%s %s out of range: residues of modulus %d are 0 to %d'
                        % (label, ', '.join(str(r) for r in bad), modulus, modulus - 1))
    duplicates = sorted(set(r for r in residues if residues.count(r) > 1 and isinstance(r, int)))
    if duplicates:
        problems.append('%s lists %s more than once' % (label, ', '.join(str(r) for r in duplicates)))
    return problems


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def lcm(a, b):
    return a * b // _gcd(a, b)


def expand_residues(modulus, residues, target):
    """Residues of ``target`` (a multiple of modulus) congruent to the given ones."""
    if target % modulus:
        raise ValueError('%d is not a multiple of %d' % (target, modulus))
    return frozenset(r + modulus * i for r in residues for i in range(target // modulus))


def normalise_ownership(modulus, residues):
    """Canonical ownership: ``(modulus, sorted tuple of residues)``; None/None means all rows."""
    if modulus is None and not residues:
        return 1, (0,)
    return modulus, tuple(sorted(set(residues)))


def ownership_layout(owners):
    """Check how a set of servers splits the residues.

    ``owners`` is a list of ``(name, modulus, residues)``. Servers with the
    same ownership (on the common modulus) form a class; the first one listed
    represents it in the union. Returns a dict with ``modulus`` (common
    modulus), ``classes`` (list of dicts: residues, servers, representative),
    ``overlaps`` (messages: two classes owning a common residue) and
    ``uncovered`` (residues of the common modulus nobody owns).
    """
    common = 1
    for dummy, modulus, dummy2 in owners:
        common = lcm(common, modulus)
    classes = []
    for name, modulus, residues in owners:
        expanded = expand_residues(modulus, residues, common)
        for entry in classes:
            if entry['expanded'] == expanded:
                entry['servers'].append(name)
                break
        else:
            classes.append(dict(expanded=expanded, servers=[name], representative=name,
                                modulus=modulus, residues=sorted(residues)))
    overlaps = []
    for index, first in enumerate(classes):
        for second in classes[index + 1:]:
            common_residues = sorted(first['expanded'] & second['expanded'])
            if common_residues:
                overlaps.append('%s and %s both own residue(s) %s of modulus %d'
                                % (first['representative'], second['representative'],
                                   _short_list(common_residues), common))
    covered = set()
    for entry in classes:
        covered |= entry['expanded']
    uncovered = sorted(set(range(common)) - covered)
    return dict(
        modulus=common,
        classes=[dict(servers=list(entry['servers']), representative=entry['representative'],
                      modulus=entry['modulus'], residues=entry['residues']) for entry in classes],
        overlaps=overlaps,
        uncovered=uncovered,
    )


def _short_list(values, limit=10):
    text = ', '.join(str(value) for value in values[:limit])
    if len(values) > limit:
        text += ', ... (%d in all)' % len(values)
    return text


# ---------------------------------------------------------------------------
# Table introspection
# ---------------------------------------------------------------------------

def read_table_info(session, schema, table):
    """What the purge and the verification need to know about one table.

    Returns None when the table does not exist, else a dict with ``type``
    (BASE TABLE/VIEW/...), ``engine``, ``columns`` (list of dicts: name,
    data_type, column_type, nullable, unsigned) in table order and
    ``primary_key`` (column names in index order, empty without one).
    Names are compared exactly, as on a case-sensitive file system: a table
    that only differs in letter case is reported as missing.
    """
    rows = session.fetch_all(
        'SELECT TABLE_NAME AS name, TABLE_TYPE AS type, ENGINE AS engine FROM information_schema.TABLES '
        'WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s', (schema, table))
    row = None
    for candidate in rows:
        if to_text(candidate['name']) == table:
            row = candidate
    if row is None:
        return None
    columns = []
    for col in session.fetch_all(
            'SELECT COLUMN_NAME AS name, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type, '
            'IS_NULLABLE AS nullable FROM information_schema.COLUMNS '
            'WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION', (schema, table)):
        column_type = to_text(col['column_type']).lower()
        columns.append(dict(
            name=to_text(col['name']),
            data_type=to_text(col['data_type']).lower(),
            column_type=column_type,
            nullable=to_text(col['nullable']).upper() == 'YES',
            unsigned='unsigned' in column_type,
        ))
    primary_key = [to_text(col['name']) for col in session.fetch_all(
        "SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
        (schema, table))]
    return dict(type=to_text(row['type']), engine=to_text(row['engine']), columns=columns, primary_key=primary_key)


def find_column(info, name):
    """The column dict named ``name`` (exact, then case-insensitive), or None."""
    for column in info['columns']:
        if column['name'] == name:
            return column
    for column in info['columns']:
        if column['name'].lower() == name.lower():
            return column
    return None


def table_problems(spec, info):
    """Why a table cannot be purged or verified (list of messages, empty if fine)."""
    if info is None:
        return ['table %s does not exist' % spec.name]
    problems = []
    if info['type'] != 'BASE TABLE':
        problems.append('%s is not a base table (%s)' % (spec.name, info['type']))
        return problems
    if not info['primary_key']:
        problems.append('table %s has no primary key: rows cannot be walked in key order '
                        'nor compared; add a primary key first' % spec.name)
    column = find_column(info, spec.key)
    if column is None:
        problems.append('table %s has no key column %s (columns: %s)'
                        % (spec.name, spec.key, ', '.join(col['name'] for col in info['columns'])))
    elif column['data_type'] not in INTEGER_TYPES:
        problems.append('key column %s of table %s is %s, not an integer type: the shard of a row is '
                        'key %% modulus, which needs TINYINT, SMALLINT, MEDIUMINT, INT or BIGINT'
                        % (column['name'], spec.name, column['column_type']))
    return problems


def compare_schema(group, name, infos):
    """Message when the servers of a group define a table differently, else None.

    ``infos`` maps a server name to ``{table name: read_table_info result}``.
    """
    reference = group[0]
    ref = infos[reference][name]
    for member in group[1:]:
        other = infos[member][name]
        ref_cols = [(col['name'], col['column_type']) for col in ref['columns']]
        other_cols = [(col['name'], col['column_type']) for col in other['columns']]
        if ref_cols != other_cols or ref['primary_key'] != other['primary_key']:
            return ('mirrors %s and %s define table %s differently (columns or primary key), so their rows '
                    'cannot be compared' % (reference, member, name))
    return None


def user_tables_statement(excluded):
    """SELECT the schema and name of every base table outside the schemas ``excluded`` (at least one)."""
    return ("SELECT TABLE_SCHEMA AS table_schema, TABLE_NAME AS table_name FROM information_schema.TABLES "
            "WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN (%s) ORDER BY TABLE_SCHEMA, TABLE_NAME"
            % ', '.join(['%s'] * len(excluded)), tuple(excluded))


def non_transactional_warning(spec, info):
    if info and info.get('engine') and info['engine'].lower() not in ('innodb',):
        return ('table %s uses the %s engine: chunks are not transactions and a consistent snapshot '
                'does not cover it' % (spec.name, info['engine']))
    return None


# ---------------------------------------------------------------------------
# SQL builders (pure). Identifiers quoted, values bound.
# ---------------------------------------------------------------------------

def qualified(spec):
    return '%s.%s' % (sql_identifier(spec.schema), sql_identifier(spec.table))


def delete_privilege_statement(spec):
    """A statement the server refuses unless the session may DELETE from the table; it deletes nothing.

    ``EXPLAIN DELETE`` is checked for privileges like the DELETE itself, but only
    plans it: the dry run proves that the real run may delete.
    """
    return 'EXPLAIN DELETE FROM %s WHERE FALSE' % qualified(spec), ()


def owned_condition(key, modulus, residues):
    """``(sql, params)`` true for rows owned by (modulus, residues); never NULL.

    A NULL or negative key is never owned (see the module docstring).
    """
    column = sql_identifier(key)
    if modulus == 1:
        return '(%s IS NOT NULL AND %s >= 0)' % (column, column), ()
    placeholders = ', '.join(['%s'] * len(residues))
    return ('(%s IS NOT NULL AND %s >= 0 AND MOD(%s, %%s) IN (%s))' % (column, column, column, placeholders),
            (modulus,) + tuple(residues))


def foreign_condition(key, modulus, residues):
    """``(sql, params)`` true for rows not owned (including NULL/negative keys)."""
    sql, params = owned_condition(key, modulus, residues)
    return 'NOT %s' % sql, params


def purge_condition(key, modulus, residues):
    """``(sql, params)`` for the rows the purge deletes: non-negative keys of other residues.

    NULL and negative keys never match (they are refused before the purge).
    """
    column = sql_identifier(key)
    placeholders = ', '.join(['%s'] * len(residues))
    return ('(%s >= 0 AND MOD(%s, %%s) NOT IN (%s))' % (column, column, placeholders),
            (modulus,) + tuple(residues))


def invalid_key_condition(key, column_info):
    """``(sql, params)`` for rows with a NULL or negative key, or None when the type excludes both."""
    column = sql_identifier(key)
    parts = []
    if column_info is None or column_info.get('nullable', True):
        parts.append('%s IS NULL' % column)
    if column_info is None or not column_info.get('unsigned', False):
        parts.append('%s < 0' % column)
    if not parts:
        return None
    return '(%s)' % ' OR '.join(parts), ()


def _lexicographic(columns, values, strict_op, final_op):
    """Expanded tuple comparison ``(columns) OP (values)`` for OP in >, >=, <, <=."""
    if len(columns) != len(values):
        raise ValueError('%d key columns but %d values' % (len(columns), len(values)))
    quoted = [sql_identifier(column) for column in columns]
    sql = None
    params = []
    # Build from the last column outwards: c_n OP v_n, then
    # c_i strict v_i OR (c_i = v_i AND <rest>).
    for index in range(len(columns) - 1, -1, -1):
        if sql is None:
            sql = '%s %s %%s' % (quoted[index], final_op)
            params = [values[index]]
        else:
            sql = '%s %s %%s OR (%s = %%s AND (%s))' % (quoted[index], strict_op, quoted[index], sql)
            params = [values[index], values[index]] + params
    return '(%s)' % sql, tuple(params)


def pk_after(columns, values):
    """``(sql, params)``: primary key strictly after ``values``."""
    return _lexicographic(columns, values, '>', '>')


def pk_at_most(columns, values):
    """``(sql, params)``: primary key at most ``values``."""
    return _lexicographic(columns, values, '<', '<=')


class AtMostAny(tuple):
    """An upper bound given as several primary keys: at most the greatest of them, as the server orders them.

    Python cannot order keys as the server's collations do; the server can:
    ``pk <= k1 OR pk <= k2`` is ``pk <= max(k1, k2)``.
    """


def pk_range_condition(columns, lower=None, upper=None):
    """``(sql, params)`` for ``lower < pk <= upper``; a None bound is open. '1' when both are.

    ``upper`` may be an :class:`AtMostAny` of keys (at least one).
    """
    parts = []
    params = ()
    if lower is not None:
        sql, more = pk_after(columns, lower)
        parts.append(sql)
        params += more
    if isinstance(upper, AtMostAny):
        alternatives = [pk_at_most(columns, key) for key in upper]
        parts.append('(%s)' % ' OR '.join(sql for sql, more in alternatives))
        for sql, more in alternatives:
            params += more
    elif upper is not None:
        sql, more = pk_at_most(columns, upper)
        parts.append(sql)
        params += more
    if not parts:
        return '1', ()
    return ' AND '.join(parts), params


def _and(*conditions):
    parts = []
    params = ()
    for sql, more in conditions:
        if sql and sql != '1':
            parts.append(sql)
            params += tuple(more)
    if not parts:
        return '1', ()
    return ' AND '.join(parts), params


def _pk_list(columns):
    return ', '.join(sql_identifier(column) for column in columns)


def purge_bound_statement(spec, pk, predicate, lower, chunk_size):
    """SELECT the primary key of the last row of the next purge chunk.

    The chunk is the next ``chunk_size`` rows matching ``predicate`` after
    ``lower`` in primary key order; the statement returns the greatest of
    them (fewer at the end of the table), or no row when none is left.
    """
    where, params = _and(pk_range_condition(pk, lower=lower), predicate)
    pk_list = _pk_list(pk)
    order_desc = ', '.join('%s DESC' % sql_identifier(column) for column in pk)
    sql = ('SELECT %s FROM (SELECT %s FROM %s FORCE INDEX (PRIMARY) WHERE %s ORDER BY %s LIMIT %%s) AS chunk '
           'ORDER BY %s LIMIT 1' % (pk_list, pk_list, qualified(spec), where, pk_list, order_desc))
    return sql, params + (int(chunk_size),)


def purge_delete_statement(spec, pk, predicate, lower, upper):
    """DELETE the rows matching predicate in the primary key range (lower, upper]."""
    where, params = _and(pk_range_condition(pk, lower=lower, upper=upper), predicate)
    return 'DELETE FROM %s WHERE %s %s' % (qualified(spec), where, PURGE_MARK), params


def purge_rows_statement(spec, pk, predicate, lower, chunk_size):
    """SELECT the primary key and shard key of the next ``chunk_size`` rows to purge after ``lower``.

    In primary key order, along PRIMARY; no row when none is left.
    """
    where, params = _and(pk_range_condition(pk, lower=lower), predicate)
    sql = ('SELECT %s FROM %s FORCE INDEX (PRIMARY) WHERE %s ORDER BY %s LIMIT %%s'
           % (_pk_list(_with_key(pk, spec.key)), qualified(spec), where, _pk_list(pk)))
    return sql, params + (int(chunk_size),)


def owner_keys_statement(spec, pk, owned, lower, upper):
    """SELECT primary key and shard key of the owner's rows (``owned``) in the primary key range (lower, upper]."""
    where, params = _and(pk_range_condition(pk, lower=lower, upper=upper), owned)
    return 'SELECT %s FROM %s WHERE %s' % (_pk_list(_with_key(pk, spec.key)), qualified(spec), where), params


def _with_key(pk, key):
    """The primary key columns and the shard key column, once."""
    return list(pk) + ([key] if key not in pk else [])


def row_identity(row, pk, key):
    """What makes two copies of a row the same row: its primary key and its shard key.

    After a doubling both new pairs hand out the same auto-increment ids, so a
    primary key alone may name another row (another account) on the owner.
    """
    return pk_values(row, pk), int(row[key])


def pk_in_condition(pk, keys):
    """``(sql, params)`` true for the rows whose primary key is one of ``keys`` (tuples, at least one)."""
    if len(pk) == 1:
        return ('%s IN (%s)' % (sql_identifier(pk[0]), ', '.join(['%s'] * len(keys))),
                tuple(key[0] for key in keys))
    row = '(%s)' % ', '.join(['%s'] * len(pk))
    return ('(%s) IN (%s)' % (_pk_list(pk), ', '.join([row] * len(keys))),
            tuple(value for key in keys for value in key))


def purge_rows_delete_statement(spec, pk, predicate, keys):
    """DELETE exactly the rows with these primary keys that still match the purge predicate."""
    where, params = _and(pk_in_condition(pk, keys), predicate)
    return 'DELETE FROM %s WHERE %s %s' % (qualified(spec), where, PURGE_MARK), params


def purge_range_rows_statement(spec, pk, predicate, lower, upper, lock=False):
    """SELECT primary key and shard key of the rows to purge in the primary key range (lower, upper], in key order.

    With ``lock`` a locking read (``FOR UPDATE``): the rows read stay as read
    until the transaction ends.
    """
    where, params = _and(pk_range_condition(pk, lower=lower, upper=upper), predicate)
    sql = ('SELECT %s FROM %s FORCE INDEX (PRIMARY) WHERE %s ORDER BY %s%s'
           % (_pk_list(_with_key(pk, spec.key)), qualified(spec), where, _pk_list(pk), ' FOR UPDATE' if lock else ''))
    return sql, params


def identity_hash_expression(pk, key):
    """SQL for the 64-bit hash of a row's identity (primary key and shard key, see :func:`row_identity`)."""
    return _hash64(_encoded_columns(_with_key(pk, key)))


def chunk_digest_statement(spec, pk, condition, lower, upper, modulus, lock=False):
    """Per residue of ``modulus``, the digest of the rows matching ``condition`` in the primary key range (lower, upper].

    A digest is the row count and the SUM of the 64-bit hashes of the rows'
    identities (primary key and shard key, hashed as shard_verify hashes
    primary keys), one hash per row. One row per residue that has rows, none
    when the range has none. ``condition`` must exclude NULL and negative keys.
    With ``lock`` a locking read (``FOR UPDATE``) of the rows.
    """
    where, params = _and(pk_range_condition(pk, lower=lower, upper=upper), condition)
    sql = ('SELECT MOD(%s, %%s) AS residue, COUNT(*) AS row_count, SUM(%s) AS hash_sum '
           'FROM %s FORCE INDEX (PRIMARY) WHERE %s GROUP BY residue%s'
           % (sql_identifier(spec.key), identity_hash_expression(pk, spec.key), qualified(spec), where,
              ' FOR UPDATE' if lock else ''))
    return sql, (int(modulus),) + params


def chunk_digests(rows):
    """``{residue: (row count, hash sum modulo 2**64)}`` from the rows of :func:`chunk_digest_statement`."""
    return dict((int(row['residue']), (int(row['row_count']), int(row['hash_sum'] or 0) % HASH_MODULUS))
                for row in rows)


def digests_prove_chunk(node, by_owner, owner_of_residue):
    """Whether the owners' digests prove every row of a chunk of the node.

    ``node`` is the node's :func:`chunk_digests` of the chunk, ``by_owner`` maps
    an owner index to its digests of the same range (its residues only),
    ``owner_of_residue`` a residue to an owner index. True when every residue
    of the node's chunk has an owner whose rows of that residue in the range
    have the same count and hash sum: then the owner holds exactly these rows
    (same primary key and shard key), barring a collision of 64-bit hash sums
    (as for shard_verify's table sums). Rows the owner holds beyond them, or a
    residue nobody owns, make it False: the caller then compares row by row.
    """
    for residue, digest in node.items():
        owner = owner_of_residue.get(residue)
        if owner is None or by_owner.get(owner, {}).get(residue) != digest:
            return False
    return True


def owners_argument_spec():
    """The argument spec of the ``owners`` option (shard_purge, shard_binlog_check)."""
    options = server_login_options()
    options.update(residues=dict(type='list', elements='int', required=True))
    return dict(type='list', elements='dict', options=options)


def parse_owners(owners, modulus, owned_residues):
    """Check the owners of the residues a purge deletes. Returns ``(residue -> owner index, problems)``.

    Each owner lists the residues it holds; a residue may have one owner only, and
    an owner may not claim a residue the purged node keeps.
    """
    by_residue = {}
    problems = []
    for index, owner in enumerate(owners or []):
        label = 'owners[%d]' % index
        residues = owner.get('residues') or []
        if not residues:
            problems.append('%s: give the residues it owns' % label)
        if not (owner.get('login_host') or owner.get('login_unix_socket')):
            problems.append('%s: give login_host (and login_port) or login_unix_socket' % label)
        for residue in residues:
            if modulus >= 1 and not 0 <= residue < modulus:
                problems.append('%s: residue %d is not within 0..%d' % (label, residue, modulus - 1))
            elif residue in owned_residues:
                problems.append('%s: residue %d is kept by this node, it has no other owner' % (label, residue))
            elif residue in by_residue:
                problems.append('%s: residue %d is already owned by owners[%d]'
                                % (label, residue, by_residue[residue]))
            else:
                by_residue[residue] = index
    return by_residue, problems


def keys_missing_on_owners(rows, pk, key, modulus, owner_of_residue, held_by_owner):
    """The rows of ``rows`` (dicts with the pk and key columns) that their owner does not hold.

    ``owner_of_residue`` maps a residue to an owner index; ``held_by_owner`` maps
    an owner index to ``{primary key tuple: shard key}`` of the rows it holds in
    the rows' range (see :func:`row_identity`). The owner holds a row only when
    it has the same primary key with the same shard key. A row of a residue
    without an owner is missing (nothing proves it is kept).
    Returns a list of ``(pk tuple, residue, owner index or None, owner's shard key)``;
    the owner's shard key is None when the owner has no row with that primary
    key, and differs from the row's when the owner's row of that primary key
    is another row (ids handed out twice after a split).
    """
    missing = []
    for row in rows:
        values, shard_key = row_identity(row, pk, key)
        residue = shard_key % modulus
        owner = owner_of_residue.get(residue)
        held = held_by_owner.get(owner, {}) if owner is not None else {}
        if owner is None or held.get(values) != shard_key:
            missing.append((values, residue, owner, held.get(values)))
    return missing


def parse_deleted_rows(rows):
    """The rows owners deleted since the split (shard_binlog_check mode=owner_deletes), for the purge.

    ``rows`` is a list of ``{table, key, shard_key}`` (or None). Returns ``(identities, problems)``:
    a frozenset of ``(table, primary key values as JSON data, shard key)``.
    """
    identities = set()
    problems = []
    for index, row in enumerate(rows or []):
        key = row.get('key') if isinstance(row, dict) else None
        shard_key = row.get('shard_key') if isinstance(row, dict) else None
        if (not isinstance(row, dict) or not isinstance(row.get('table'), str) or not isinstance(key, list) or not key
                or not isinstance(shard_key, int) or isinstance(shard_key, bool)):
            problems.append('deleted_on_owner[%d] must be {table, key (a list of primary key values), shard_key (an '
                            'integer)}, got %r' % (index, row))
            continue
        identities.add((row['table'], tuple(json_value(value) for value in key), shard_key))
    return frozenset(identities), problems


def count_statement(spec, owned):
    """COUNT all rows and, in the same scan, those not owned."""
    sql, params = owned
    return ('SELECT COUNT(*) AS total_rows, COALESCE(SUM(NOT %s), 0) AS foreign_rows FROM %s'
            % (sql, qualified(spec)), tuple(params))


def ownership_scan_statement(spec, invalid, owned):
    """One read of a table: all rows, rows of no shard (``invalid``, or None) and rows not ``owned``.

    Rows of no shard are counted among the rows not owned too.
    """
    invalid_sql, invalid_params = invalid if invalid is not None else ('FALSE', ())
    owned_sql, owned_params = owned
    return ('SELECT COUNT(*) AS total_rows, COUNT(CASE WHEN %s THEN 1 END) AS no_shard_rows, '
            'COUNT(CASE WHEN NOT %s THEN 1 END) AS foreign_rows FROM %s'
            % (invalid_sql, owned_sql, qualified(spec)), tuple(invalid_params) + tuple(owned_params))


def invalid_key_count_statement(spec, condition):
    sql, params = condition
    return 'SELECT COUNT(*) AS invalid_rows FROM %s WHERE %s' % (qualified(spec), sql), tuple(params)


def _hash64(expression):
    """SQL for a 64-bit unsigned hash of a string expression (first half of its MD5)."""
    return 'CAST(CONV(LEFT(MD5(%s), 16), 16, 10) AS UNSIGNED)' % expression


def _encoded_columns(columns):
    """One string encoding the values of columns, unambiguous for NULLs and separators.

    Each column becomes ``LENGTH#value`` (CONCAT_WS skips a NULL value, so a
    NULL becomes an empty field while an empty string becomes ``0#``); fields
    are joined with ``|``. Because every field starts with its length a
    separator inside a value cannot shift the fields.
    """
    fields = []
    for column in columns:
        quoted = sql_identifier(column)
        fields.append("CONCAT_WS('#', LENGTH(%s), %s)" % (quoted, quoted))
    return "CONCAT_WS('|', %s)" % ', '.join(fields)


def pk_hash_expression(pk):
    return _hash64(_encoded_columns(pk))


def row_hash_expression(columns):
    return _hash64(_encoded_columns(columns))


def table_stats_statement(spec, pk, owned, columns=None):
    """One scan of a table for the verification.

    Returns total rows, owned rows, the SUM of the primary key hashes of the
    owned rows (a DECIMAL, reduced modulo 2**64 by the caller) and, when
    ``columns`` is given, the BIT_XOR of the row hashes of all rows.
    """
    owned_sql, owned_params = owned
    select = [
        'COUNT(*) AS total_rows',
        'COALESCE(SUM(%s), 0) AS owned_rows' % owned_sql,
        'COALESCE(SUM(IF(%s, %s, 0)), 0) AS owned_pk_sum' % (owned_sql, pk_hash_expression(pk)),
    ]
    params = tuple(owned_params) * 2
    if columns:
        select.append('BIT_XOR(%s) AS row_checksum' % row_hash_expression(columns))
    return 'SELECT %s FROM %s' % (', '.join(select), qualified(spec)), params


def foreign_examples_statement(spec, pk, owned, limit):
    owned_sql, owned_params = owned
    pk_list = _pk_list(pk)
    return ('SELECT %s FROM %s WHERE NOT %s ORDER BY %s LIMIT %%s'
            % (pk_list, qualified(spec), owned_sql, pk_list), tuple(owned_params) + (int(limit),))


def rows_statement(spec, pk, columns, keys):
    """Every column of the rows with these primary keys."""
    where, params = pk_in_condition(pk, keys)
    return 'SELECT %s FROM %s WHERE %s' % (_pk_list(columns), qualified(spec), where), params


def chunk_bound_statement(spec, pk, lower, chunk_size, upper=None):
    """SELECT the primary key ending the next chunk of ``chunk_size`` rows after ``lower`` (and at most ``upper``)."""
    where, params = pk_range_condition(pk, lower=lower, upper=upper)
    pk_list = _pk_list(pk)
    return ('SELECT %s FROM %s FORCE INDEX (PRIMARY) WHERE %s ORDER BY %s LIMIT 1 OFFSET %%s'
            % (pk_list, qualified(spec), where, pk_list), params + (int(chunk_size) - 1,))


def last_key_statement(spec, pk):
    """SELECT the greatest primary key of the table (no row when it is empty)."""
    return ('SELECT %s FROM %s FORCE INDEX (PRIMARY) ORDER BY %s LIMIT 1'
            % (_pk_list(pk), qualified(spec), ', '.join('%s DESC' % sql_identifier(column) for column in pk)), ())


def chunk_row_hashes_statement(spec, pk, columns, lower, upper):
    """The primary key and the row hash (as in :func:`chunk_checksum_statement`) of every row in (lower, upper]."""
    where, params = pk_range_condition(pk, lower=lower, upper=upper)
    return ('SELECT %s, %s AS row_hash FROM %s WHERE %s ORDER BY %s'
            % (_pk_list(pk), row_hash_expression(columns), qualified(spec), where, _pk_list(pk)), params)


def chunk_checksum_statement(spec, pk, columns, lower, upper, lock=False):
    """Row count and BIT_XOR of row hashes in the primary key range (lower, upper].

    With ``lock`` a locking read (``LOCK IN SHARE MODE``): until the transaction
    ends nobody changes, deletes or inserts rows of the range.
    """
    where, params = pk_range_condition(pk, lower=lower, upper=upper)
    return ('SELECT COUNT(*) AS row_count, BIT_XOR(%s) AS checksum FROM %s WHERE %s%s'
            % (row_hash_expression(columns), qualified(spec), where, ' LOCK IN SHARE MODE' if lock else ''), params)


def pk_values(row, pk):
    """The primary key tuple of a result row (a dict)."""
    return tuple(row[column] for column in pk)


def json_value(value):
    """A database value as JSON-friendly data (for reports)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, bytes):
        try:
            return value.decode('utf-8')
        except UnicodeDecodeError:
            return '0x' + value.hex()
    return to_text(str(value))


def describe_pk(pk, values):
    """``(a, b) = (1, 'x')`` style text for messages."""
    if values is None:
        return 'open'
    shown = [json.dumps(json_value(value)) for value in values]
    if len(pk) == 1:
        return '%s = %s' % (pk[0], shown[0])
    return '(%s) = (%s)' % (', '.join(pk), ', '.join(shown))


def describe_range(pk, lower, upper):
    low = 'the start' if lower is None else 'after %s' % describe_pk(pk, lower)
    high = 'up to the end' if upper is None else 'up to %s' % describe_pk(pk, upper)
    return 'from %s %s' % (low, high)


def hash_total(values):
    """Sum of SQL SUM() results modulo 2**64."""
    total = 0
    for value in values:
        total = (total + int(value or 0)) % HASH_MODULUS
    return total


def format_checksum(value):
    return '%016x' % (int(value or 0) % HASH_MODULUS)


# ---------------------------------------------------------------------------
# Connections to other servers
# ---------------------------------------------------------------------------

def connect_server(params, autocommit=True):
    """Open a DictCursor connection for ``params`` (common connection options).

    Raises ShardingError naming the server (host:port or socket) with the
    server's message; the password is never part of it.
    """
    try:
        return connect_with_params(params, autocommit=autocommit)
    except MariaDBConnectError as exc:
        raise ShardingError(str(exc), errno=exc.errno)


def target_of(params):
    return describe_target(params)


# ---------------------------------------------------------------------------
# Safety interlock: who replicates to and from a node
# ---------------------------------------------------------------------------

Peer = namedtuple('Peer', ['host', 'port', 'server_id', 'label'])


def normalise_host(host):
    if host is None:
        return None
    text = to_text(host).strip().lower()
    if text.startswith('[') and text.endswith(']'):
        text = text[1:-1]
    return text


def parse_peers(entries):
    """allowed_peers entries ({host, port, server_id}) -> (peers, problems)."""
    peers = []
    problems = []
    for index, entry in enumerate(entries or []):
        host = normalise_host(entry.get('host')) or None
        port = entry.get('port')
        server_id = entry.get('server_id')
        if host is None and server_id is None:
            problems.append('allowed_peers[%d]: give host (and port) and/or server_id' % index)
            continue
        if host is not None and port is None:
            port = 3306
        parts = []
        if host is not None:
            parts.append('%s:%s' % (host, port))
        if server_id is not None:
            parts.append('server_id %s' % server_id)
        peers.append(Peer(host, port, server_id, ' / '.join(parts)))
    return peers, problems


def read_replicas(session):
    """Replicas registered with this server (SHOW SLAVE HOSTS)."""
    replicas = []
    for row in session.fetch_all('SHOW SLAVE HOSTS'):
        replicas.append(dict(server_id=to_int(row.get('Server_id')), host=to_text(row.get('Host')),
                             port=to_int(row.get('Port'))))
    return replicas


def read_dump_threads(session):
    """Threads sending the binary log to a client (replicas, binlog readers)."""
    threads = []
    for row in session.fetch_all(
            "SELECT ID AS id, USER AS user, HOST AS host, COMMAND AS command FROM information_schema.PROCESSLIST "
            "WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID') ORDER BY ID"):
        threads.append(dict(id=to_int(row['id']), user=to_text(row['user']), host=to_text(row['host']),
                            command=to_text(row['command'])))
    return threads


def grantee_of(current_user):
    """The GRANTEE of information_schema.USER_PRIVILEGES for a CURRENT_USER() value (pure):
    'smooth_admin@10.0.0.1' -> "'smooth_admin'@'10.0.0.1'" (the host is after the last @)."""
    user, _sep, host = to_text(current_user).rpartition('@')
    return "'%s'@'%s'" % (user, host)


def holds_process_privilege(rows, current_user):
    """Whether rows of USER_PRIVILEGES (grantee, privilege) give the account CURRENT_USER() PROCESS
    (pure); only PROCESS shows the threads of other accounts (MariaDB: SHOW PROCESSLIST).
    The view lists every account's privileges to a login that may read mysql.*, so the rows of
    other accounts (root's) prove nothing about this one."""
    grantee = grantee_of(current_user)
    return any(to_text(row['grantee']) == grantee and to_text(row['privilege']).upper() == 'PROCESS'
               for row in rows)


def read_process_privilege(session):
    """Whether the login account sees every thread (PROCESS privilege, granted directly to it)."""
    current_user = session.fetch_one('SELECT CURRENT_USER() AS user')['user']
    rows = session.fetch_all(
        "SELECT GRANTEE AS grantee, PRIVILEGE_TYPE AS privilege FROM information_schema.USER_PRIVILEGES "
        "WHERE PRIVILEGE_TYPE = 'PROCESS'")
    return holds_process_privilege(rows, current_user)


def read_wsrep_on(session):
    rows = session.fetch_all("SHOW GLOBAL VARIABLES LIKE 'wsrep_on'")
    return bool(rows) and to_text(rows[0].get('Value')).upper() == 'ON'


def _connection_label(name):
    return "'%s'" % name if name else "'' (the default connection)"


def check_interlock(node, statuses, replicas, dump_threads, peers, sees_all_threads=True, wsrep_on=False, tagged=False):
    """Prove that a node only replicates with allowed peers (pure).

    :param node: label of the node for messages (e.g. '10.0.0.11:3306')
    :param statuses: ``{connection_name: normalised SHOW ALL SLAVES STATUS}``
    :param replicas: rows of SHOW SLAVE HOSTS (server_id, host, port)
    :param dump_threads: binlog dump threads of the node (id, user, host)
    :param peers: list of :class:`Peer` allowed to replicate with the node
    :param tagged: return each problem as ``(kind, text)``: kind ``replica_registered`` for a
        registered replica that is not a peer (one that stopped a moment ago stays registered
        until its dump thread notices), ``interlock`` for every other problem
    :returns: ``(problems, report)``

    A replication connection, running or not, is allowed when it points at
    the host and port of a peer (compared as text, lower-cased) whose
    server_id, if given, matches the Master_Server_Id the running connection
    reports; or, for a peer given by server_id only, when the connection's IO
    thread runs and reports that server_id (a stopped connection's
    Master_Server_Id is the last one seen, so it proves nothing). A registered
    replica is allowed when its server_id is a peer's, or, for a peer without
    server_id, when its reported host and port are the peer's. Binlog dump
    threads beyond the number of registered replicas are unidentified readers
    of the binary log and refused.
    """
    problems = []
    report = dict(connections=[], replicas=[], dump_threads=len(dump_threads))

    def add(kind, text):
        problems.append((kind, text))

    if wsrep_on:
        add('interlock', '%s is a Galera cluster member (wsrep_on=ON): every member applies its deletes' % node)
    if not sees_all_threads:
        add('interlock', 'the login account on %s lacks the PROCESS privilege, so replicas reading its binary '
                         'log cannot all be seen; grant PROCESS (directly, not through a role)' % node)

    for name in sorted(statuses):
        status = statuses[name]
        host = normalise_host(status.get('source_host'))
        port = status.get('source_port')
        server_id = status.get('source_server_id') or None
        io_running = status.get('io_running_state') == 'Yes'
        where = '%s:%s' % (host, port)
        verdict = None
        mismatch = None
        for peer in peers:
            if peer.host is not None:
                if peer.host == host and peer.port == port:
                    if peer.server_id is not None and io_running and server_id is not None \
                            and server_id != peer.server_id:
                        mismatch = ('replication connection %s on %s replicates from %s, allowed as peer %s, '
                                    'but that server reports server_id %s'
                                    % (_connection_label(name), node, where, peer.label, server_id))
                        continue
                    verdict = peer.label
                    break
            elif io_running and server_id is not None and server_id == peer.server_id:
                verdict = peer.label
                break
        entry = dict(connection=name, source='%s:%s' % (host, port), source_server_id=server_id,
                     io_running=status.get('io_running_state'), sql_running=status.get('sql_running_state'),
                     allowed_as=verdict)
        report['connections'].append(entry)
        if verdict is not None:
            continue
        if mismatch:
            add('interlock', mismatch)
            continue
        seen = (' (server_id %s)' % server_id) if server_id else ''
        hint = ''
        if not io_running and any(peer.host is None for peer in peers):
            hint = ('; its IO thread does not run, so its source cannot be identified by server_id: '
                    'list the peer with its host and port')
        add('interlock', 'replication connection %s on %s replicates from %s%s, which is not an allowed peer '
                         '(IO thread %s, SQL thread %s)%s'
                         % (_connection_label(name), node, where, seen, status.get('io_running_state'),
                            status.get('sql_running_state'), hint))

    for replica in replicas:
        verdict = None
        for peer in peers:
            if peer.server_id is not None:
                if replica['server_id'] == peer.server_id:
                    verdict = peer.label
                    break
            elif peer.host == normalise_host(replica['host']) and peer.port == replica['port']:
                verdict = peer.label
                break
        report['replicas'].append(dict(replica, allowed_as=verdict))
        if verdict is None:
            add('replica_registered',
                'replica server_id %s (reported as %s:%s) replicates from %s, and is not an allowed peer; '
                'a replica that stopped recently stays registered until its binlog dump thread '
                'notices (next event or heartbeat)'
                % (replica['server_id'], replica['host'] or '?', replica['port'], node))
    if len(dump_threads) > len(replicas):
        add('interlock', '%d binlog dump thread(s) on %s but only %d registered replica(s): unidentified readers '
                         'of the binary log: %s'
                         % (len(dump_threads), node, len(replicas),
                            ', '.join('thread %s (user %s from %s)' % (t['id'], t['user'], t['host'])
                                      for t in dump_threads)))
    return (problems if tagged else [text for dummy, text in problems]), report


def find_partner_connection(statuses, node_server_id, node_host=None, node_port=None, name=None):
    """The connection of the partner that replicates from the node.

    Returns ``(name, status, problem)``. With ``name`` given, that connection
    (case-insensitive); otherwise the one whose Master_Server_Id is the node's,
    or whose source host:port is the node's login address.
    """
    if name is not None:
        for conn, status in statuses.items():
            if conn.lower() == name.lower():
                return conn, status, None
        return None, None, 'has no replication connection %s' % _connection_label(name)
    matches = []
    for conn, status in sorted(statuses.items()):
        if node_server_id is not None and status.get('source_server_id') == node_server_id:
            matches.append(conn)
        elif node_host is not None and normalise_host(status.get('source_host')) == normalise_host(node_host) \
                and status.get('source_port') == node_port:
            matches.append(conn)
    if len(matches) == 1:
        return matches[0], statuses[matches[0]], None
    if not matches:
        return None, None, ('has no replication connection from this node (server_id %s); name it with '
                            'partner.connection_name' % node_server_id)
    return None, None, ('has several connections from this node (%s); name one with partner.connection_name'
                        % ', '.join(_connection_label(conn) for conn in matches))


# ---------------------------------------------------------------------------
# Replication lag of the partner
# ---------------------------------------------------------------------------

def parse_gtid(text):
    """``'1-11-42'`` -> (1, 11, 42), or None."""
    match = re.match(r'^\s*(\d+)-(\d+)-(\d+)\s*$', to_text(text))
    if not match:
        return None
    return tuple(int(group) for group in match.groups())


def gtid_positions(text):
    """``'1-11-42,2-12-7'`` -> ``{domain: seq_no}`` (malformed parts ignored)."""
    positions = {}
    for part in to_text(text).split(','):
        gtid = parse_gtid(part)
        if gtid:
            positions[gtid[0]] = gtid[2]
    return positions


class LagTracker(object):
    """Measure how far the partner is behind the chunks this node committed.

    Each committed chunk is remembered with its GTID and the (monotonic) time
    of its commit. The partner has applied a chunk when its gtid_slave_pos
    reaches the chunk's sequence number in the chunk's domain; the lag is the
    age of the oldest chunk not applied yet, to the millisecond. The chunks
    travel in the same replication stream as the application's writes, so a
    backlog of those delays them too and shows in that age.

    Until a chunk with a GTID has been committed (before the first chunk, or
    when the deletes are not binary-logged) the partner's
    Seconds_Behind_Master is the lag instead; it only counts whole seconds
    and reads 1 whenever an event of the previous second is being applied,
    which is why it is not used once chunks can be followed. It is
    remembered for the report either way. A partner connection whose threads
    do not both run has an unknown lag (None).
    """

    def __init__(self):
        self.pending = []
        self.tracking = False
        self.max_seen = None
        self.max_behind = None

    def committed(self, gtid_text, when):
        gtid = parse_gtid(gtid_text)
        if gtid is not None:
            self.pending.append((gtid[0], gtid[2], when))
            self.tracking = True

    def measure(self, applied_text, status, now):
        """Return ``(lag_seconds_or_None, reason)`` and remember the maximum."""
        applied = gtid_positions(applied_text)
        self.pending = [item for item in self.pending if applied.get(item[0], -1) < item[1]]
        gtid_lag = (now - self.pending[0][2]) if self.pending else 0.0
        if status is None:
            return None, 'the partner connection no longer exists'
        if status.get('io_running_state') != 'Yes' or status.get('sql_running_state') != 'Yes':
            error = status.get('last_sql_error') or status.get('last_io_error')
            reason = 'the partner connection is not replicating: IO thread %s, SQL thread %s%s; %s' % (
                status.get('io_running_state'), status.get('sql_running_state'),
                ' (%s)' % error if error else '', self._pending_text(gtid_lag))
            if self.tracking:
                self._seen(gtid_lag)
            return None, reason
        behind = status.get('seconds_behind_master')
        if behind is not None and (self.max_behind is None or behind > self.max_behind):
            self.max_behind = behind
        if self.tracking:
            lag = gtid_lag
            reason = '%s; Seconds_Behind_Master %s' % (self._pending_text(gtid_lag), behind)
        else:
            lag = float(behind or 0)
            reason = 'Seconds_Behind_Master %s' % behind
        self._seen(lag)
        return lag, reason

    def bound(self, now):
        """The most the lag can be now, without asking the partner: the age of the oldest chunk not yet seen applied."""
        return (now - self.pending[0][2]) if self.pending else 0.0

    def _pending_text(self, gtid_lag):
        if not self.tracking:
            return 'no chunk of this run committed yet'
        if not self.pending:
            return 'every chunk committed here has been applied there'
        return '%d chunk(s) not applied there yet, the oldest committed %.1f s ago' % (len(self.pending), gtid_lag)

    def _seen(self, lag):
        if lag is not None and (self.max_seen is None or lag > self.max_seen):
            self.max_seen = lag


# ---------------------------------------------------------------------------
# Result helpers
# ---------------------------------------------------------------------------

STATEMENT_SHOWN = 300


def shorten_statement(text, limit=STATEMENT_SHOWN):
    """A statement for a result or a message: at most ``limit`` characters and a note of its length.

    A chunk deleted by primary key lists up to chunk_size keys; shown whole,
    a failed purge printed every one of them.
    """
    if len(text) <= limit:
        return text
    return '%s ... (%d characters in all)' % (text[:limit], len(text))


class QueryLog(object):
    """Keep a few example statements per table (shortened) and a count, not every statement."""

    def __init__(self, head=2):
        self.head = head
        self.total = 0
        self.general = []
        self.by_table = {}
        self.last = {}

    def add(self, statement, table=None):
        self.total += 1
        statement = shorten_statement(statement)
        if table is None:
            self.general.append(statement)
            return
        shown = self.by_table.setdefault(table, [])
        if len(shown) < self.head:
            shown.append(statement)
        else:
            self.last[table] = (statement, self.last.get(table, (None, 0))[1] + 1)

    def summary(self):
        lines = list(self.general)
        for table in self.by_table:
            lines.extend(self.by_table[table])
            if table in self.last:
                statement, skipped = self.last[table]
                if skipped > 1:
                    lines.append('-- %d more chunk statement(s) on %s, the last one:' % (skipped - 1, table))
                lines.append(statement)
        return lines


def baseline_document(tables):
    """The baseline as saved: deterministic content (no time stamp), sorted keys."""
    return dict(format='smooth.mariadb.shard_verify/1', tables=tables)


def baseline_problems(baseline):
    """Messages about a baseline that cannot be compared (empty when usable)."""
    if not isinstance(baseline, dict) or not isinstance(baseline.get('tables'), dict):
        return ['the baseline is not a shard_verify baseline (a dict with format and tables)']
    if baseline.get('format') != 'smooth.mariadb.shard_verify/1':
        return ['the baseline format %r is not smooth.mariadb.shard_verify/1' % (baseline.get('format'),)]
    problems = []
    for name, entry in baseline['tables'].items():
        if not isinstance(entry, dict) or 'rows' not in entry or 'pk_checksum' not in entry:
            problems.append('baseline entry of table %s lacks rows or pk_checksum' % name)
    return problems


def compare_with_baseline(name, union, baseline_entry):
    """Failure messages comparing one table's union with its baseline entry."""
    if baseline_entry is None:
        return ['%s: not in the baseline' % name]
    failures = []
    if baseline_entry.get('primary_key') and baseline_entry['primary_key'] != union['primary_key']:
        failures.append('%s: primary key is (%s) but was (%s) when the baseline was recorded'
                        % (name, ', '.join(union['primary_key']), ', '.join(baseline_entry['primary_key'])))
        return failures
    rows = int(baseline_entry['rows'])
    if union['rows'] != rows:
        delta = union['rows'] - rows
        failures.append('%s: the shards together hold %d rows, the baseline %d (%s%d: %s)'
                        % (name, union['rows'], rows, '+' if delta > 0 else '', delta,
                           'rows duplicated across shards or written since' if delta > 0 else 'rows lost'))
    if union['pk_checksum'] != to_text(baseline_entry['pk_checksum']):
        extra = ''
        if union['rows'] == rows:
            extra = (' with the same row count: some primary keys differ (rows lost and others added '
                     'or duplicated across shards)')
        failures.append('%s: primary key checksum of the union is %s, the baseline %s%s'
                        % (name, union['pk_checksum'], baseline_entry['pk_checksum'], extra))
    return failures
