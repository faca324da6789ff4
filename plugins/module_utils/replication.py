# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""MariaDB replication: status readers and a pure change planner.

Readers (``read_*``) only run SHOW/SELECT statements through a
:class:`~ansible_collections.smooth.mariadb.plugins.module_utils.mariadb.SqlSession`.
Everything else here is pure: normalising ``SHOW ALL SLAVES STATUS`` rows,
turning module options into desired settings, planning the statements that
bring one named replication connection to the desired state, and judging
whether a started connection is healthy. The planner never sees a result of
its own statements; the module applies the plan and reads the state back.
"""

from __future__ import annotations

import re
from collections import namedtuple
from decimal import Decimal, InvalidOperation, ROUND_HALF_UP

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    Secret,
    to_bool,
    to_int,
    to_text,
)

# ---------------------------------------------------------------------------
# SHOW ALL SLAVES STATUS
# ---------------------------------------------------------------------------

# Column (lower case, MariaDB 10.6-11.x names) -> (key, converter).
# Converters: 'text', 'int', 'float', 'gtid_mode'. Slave_IO_Running,
# Slave_SQL_Running and Master_SSL_Allowed are handled separately because they
# produce a state string plus booleans.
_STATUS_COLUMNS = {
    'connection_name': ('connection_name', 'text'),
    'slave_io_state': ('io_state', 'text'),
    'slave_sql_state': ('sql_state', 'text'),
    'slave_sql_running_state': ('sql_state', 'text'),
    'master_host': ('source_host', 'text'),
    'master_user': ('source_user', 'text'),
    'master_port': ('source_port', 'int'),
    'connect_retry': ('connect_retry', 'int'),
    'master_log_file': ('source_log_file', 'text'),
    'read_master_log_pos': ('read_source_log_pos', 'int'),
    'relay_log_file': ('relay_log_file', 'text'),
    'relay_log_pos': ('relay_log_pos', 'int'),
    'relay_master_log_file': ('relay_source_log_file', 'text'),
    'last_errno': ('last_errno', 'int'),
    'last_error': ('last_error', 'text'),
    'skip_counter': ('skip_counter', 'int'),
    'exec_master_log_pos': ('exec_source_log_pos', 'int'),
    'relay_log_space': ('relay_log_space', 'int'),
    'until_condition': ('until_condition', 'text'),
    'until_log_file': ('until_log_file', 'text'),
    'until_log_pos': ('until_log_pos', 'int'),
    'master_ssl_ca_file': ('source_ssl_ca', 'text'),
    'master_ssl_ca_path': ('source_ssl_capath', 'text'),
    'master_ssl_cert': ('source_ssl_cert', 'text'),
    'master_ssl_cipher': ('source_ssl_cipher', 'text'),
    'master_ssl_key': ('source_ssl_key', 'text'),
    'master_ssl_crl': ('source_ssl_crl', 'text'),
    'master_ssl_crlpath': ('source_ssl_crlpath', 'text'),
    'master_ssl_verify_server_cert': ('source_ssl_verify_server_cert', 'bool'),
    'seconds_behind_master': ('seconds_behind_master', 'int'),
    'last_io_errno': ('last_io_errno', 'int'),
    'last_io_error': ('last_io_error', 'text'),
    'last_sql_errno': ('last_sql_errno', 'int'),
    'last_sql_error': ('last_sql_error', 'text'),
    'replicate_ignore_server_ids': ('replicate_ignore_server_ids', 'text'),
    'master_server_id': ('source_server_id', 'int'),
    'using_gtid': ('using_gtid', 'gtid_mode'),
    'gtid_io_pos': ('gtid_io_pos', 'text'),
    'replicate_do_domain_ids': ('replicate_do_domain_ids', 'text'),
    'replicate_ignore_domain_ids': ('replicate_ignore_domain_ids', 'text'),
    'parallel_mode': ('parallel_mode', 'text'),
    'sql_delay': ('sql_delay', 'int'),
    'sql_remaining_delay': ('sql_remaining_delay', 'int'),
    'slave_ddl_groups': ('ddl_groups', 'int'),
    'slave_non_transactional_groups': ('non_transactional_groups', 'int'),
    'slave_transactional_groups': ('transactional_groups', 'int'),
    'retried_transactions': ('retried_transactions', 'int'),
    'max_relay_log_size': ('max_relay_log_size', 'int'),
    'executed_log_entries': ('executed_log_entries', 'int'),
    'slave_received_heartbeats': ('received_heartbeats', 'int'),
    'slave_heartbeat_period': ('heartbeat_period', 'float'),
    'gtid_slave_pos': ('gtid_slave_pos', 'text'),
}

GTID_MODES = ('slave_pos', 'current_pos', 'no')

# Last_IO_Errno values meaning the source refuses the replication account:
# waiting for the IO thread is pointless, retrying will not change that.
FATAL_IO_ERRNOS = frozenset((
    1045,  # ER_ACCESS_DENIED_ERROR
    1227,  # ER_SPECIFIC_ACCESS_DENIED_ERROR
    1251,  # ER_NOT_SUPPORTED_AUTH_MODE
))
# Of those, the ones a different password can cure.
AUTH_IO_ERRNOS = frozenset((1045,))


def _column_alias(column):
    """Map a column name to the MariaDB 10.x spelling, lower case.

    Tolerates the Source/Replica spelling so that a server renaming its
    columns keeps producing the same keys.
    """
    name = column.strip().lower()
    name = name.replace('source', 'master').replace('replica', 'slave')
    return name


def _generic_key(column):
    return column.strip().lower().replace('master', 'source')


def normalise_gtid_mode(value):
    """``Slave_Pos``/``Current_Pos``/``No`` -> ``slave_pos``/``current_pos``/``no``."""
    word = to_text(value).strip().lower()
    return word if word in GTID_MODES else word or 'no'


def _thread_state(value):
    text = to_text(value).strip()
    return text or 'No'


def normalise_slave_status(row):
    """Normalise one ``SHOW ALL SLAVES STATUS`` row into a plain dict.

    Known columns get snake_case keys with ``source`` for ``master``; unknown
    columns are kept under their lower-cased name, so nothing a newer server
    adds is lost. Thread states are kept as the server's word
    (``io_running_state``: ``Yes``/``No``/``Connecting``) and as booleans
    (``io_running`` is True only for ``Yes``).
    """
    status = {}
    for column, value in row.items():
        alias = _column_alias(column)
        if alias == 'slave_io_running':
            state = _thread_state(value)
            status['io_running_state'] = state
            status['io_running'] = state.lower() == 'yes'
            status['io_connecting'] = state.lower() == 'connecting'
            continue
        if alias == 'slave_sql_running':
            state = _thread_state(value)
            status['sql_running_state'] = state
            status['sql_running'] = state.lower() == 'yes'
            continue
        if alias == 'master_ssl_allowed':
            text = to_text(value).strip()
            status['source_ssl_allowed'] = text
            # 'Ignored' means MASTER_SSL=1 on a server built without TLS.
            status['source_ssl'] = text.lower() in ('yes', 'ignored')
            continue
        key, kind = _STATUS_COLUMNS.get(alias, (None, None))
        if key is None:
            status[_generic_key(column)] = value
            continue
        if kind == 'text':
            status[key] = to_text(value)
        elif kind == 'int':
            status[key] = to_int(value)
        elif kind == 'float':
            status[key] = None if value is None or to_text(value) == '' else float(value)
        elif kind == 'bool':
            status[key] = to_bool(value)
        elif kind == 'gtid_mode':
            status[key] = normalise_gtid_mode(value)
    status.setdefault('connection_name', '')
    status.setdefault('io_running_state', 'No')
    status.setdefault('io_running', False)
    status.setdefault('io_connecting', False)
    status.setdefault('sql_running_state', 'No')
    status.setdefault('sql_running', False)
    status['running'] = bool(status['io_running'] and status['sql_running'])
    return status


def index_slave_status(rows):
    """Normalise rows and index them by connection name ('' = default)."""
    indexed = {}
    for row in rows:
        status = normalise_slave_status(row)
        indexed[status['connection_name']] = status
    return indexed


def find_connection(statuses, connection_name):
    """Return ``(name_as_on_server, status)`` or ``(None, None)``.

    MariaDB compares connection names case-insensitively (``'A'`` and ``'a'``
    are the same connection) but reports them as created.
    """
    wanted = connection_name.lower()
    for name, status in statuses.items():
        if name.lower() == wanted:
            return name, status
    return None, None


def active_connections(statuses, exclude=None):
    """Names of connections with at least one replication thread not stopped."""
    exclude = None if exclude is None else exclude.lower()
    names = []
    for name, status in sorted(statuses.items()):
        if exclude is not None and name.lower() == exclude:
            continue
        if status['io_running_state'] != 'No' or status['sql_running_state'] != 'No':
            names.append(name)
    return names


def read_all_slaves_status(session):
    """All replication connections of the server: ``{name: status}``."""
    return index_slave_status(session.fetch_all('SHOW ALL SLAVES STATUS'))


def read_connection_status(session, connection_name):
    """Status of one connection, or None when it does not exist."""
    return find_connection(read_all_slaves_status(session), connection_name)[1]


# ---------------------------------------------------------------------------
# Server variables
# ---------------------------------------------------------------------------

# (variable, converter); read in one SELECT of @@GLOBAL values.
SERVER_VARIABLES = (
    ('version', 'text'),
    ('hostname', 'text'),
    ('server_id', 'int'),
    ('gtid_domain_id', 'int'),
    ('gtid_binlog_pos', 'text'),
    ('gtid_binlog_state', 'text'),
    ('gtid_current_pos', 'text'),
    ('gtid_slave_pos', 'text'),
    ('gtid_strict_mode', 'bool'),
    ('gtid_ignore_duplicates', 'bool'),
    ('read_only', 'bool_or_text'),
    ('log_bin', 'bool'),
    ('binlog_format', 'text'),
    ('log_slave_updates', 'bool'),
    ('slave_skip_errors', 'text'),
    ('auto_increment_increment', 'int'),
    ('auto_increment_offset', 'int'),
)

_VARIABLE_NAME_RE = re.compile(r'^[a-z_]+$')


def server_variables_query(variables=SERVER_VARIABLES):
    """The SELECT that reads the server variables (names are fixed, not user input)."""
    columns = []
    for name, dummy in variables:
        if not _VARIABLE_NAME_RE.match(name):
            raise ValueError('invalid variable name %r' % name)
        columns.append('@@GLOBAL.%s AS %s' % (name, name))
    return 'SELECT ' + ', '.join(columns)


def normalise_server_variables(row, variables=SERVER_VARIABLES):
    """Convert the row read by :func:`server_variables_query`."""
    result = {}
    for name, kind in variables:
        value = row.get(name)
        if kind == 'int':
            result[name] = to_int(value)
        elif kind == 'bool':
            result[name] = to_bool(value)
        elif kind == 'bool_or_text':
            try:
                result[name] = to_bool(value)
            except ValueError:
                result[name] = to_text(value)
        else:
            result[name] = to_text(value)
    return result


def read_server_variables(session):
    """GTID, binlog and identity variables of the server."""
    return normalise_server_variables(session.fetch_one(server_variables_query()) or {})


# ---------------------------------------------------------------------------
# GTID lists
# ---------------------------------------------------------------------------

_GTID_RE = re.compile(r'^(\d+)-(\d+)-(\d+)$')


def parse_gtid_list(text):
    """Parse ``"1-11-5,2-12-7"`` into ``{domain: (server_id, seq_no)}``.

    Raises ValueError on a malformed element or a domain given twice.
    """
    result = {}
    for part in to_text(text).split(','):
        part = part.strip()
        if not part:
            continue
        match = _GTID_RE.match(part)
        if not match:
            raise ValueError("invalid GTID %r: expected domain-server_id-sequence, e.g. '0-1-100'" % part)
        domain, server_id, seq_no = (int(group) for group in match.groups())
        if domain in result:
            raise ValueError('GTID domain %d appears more than once in %r' % (domain, to_text(text)))
        result[domain] = (server_id, seq_no)
    return result


def format_gtid_list(gtids):
    """Inverse of :func:`parse_gtid_list`, sorted by domain."""
    return ','.join('%d-%d-%d' % (domain, gtids[domain][0], gtids[domain][1]) for domain in sorted(gtids))


def normalise_gtid_list(text):
    """Canonical form of a GTID list (sorted by domain, no blanks)."""
    return format_gtid_list(parse_gtid_list(text))


# ---------------------------------------------------------------------------
# Desired settings
# ---------------------------------------------------------------------------

# Settings compared with the server: option name -> (CHANGE MASTER option,
# kind). The order is the order of options in a generated CHANGE MASTER.
SETTINGS = (
    ('source_host', 'MASTER_HOST', 'text'),
    ('source_port', 'MASTER_PORT', 'int'),
    ('source_user', 'MASTER_USER', 'text'),
    ('use_gtid', 'MASTER_USE_GTID', 'gtid_mode'),
    ('connect_retry', 'MASTER_CONNECT_RETRY', 'int'),
    ('heartbeat_period', 'MASTER_HEARTBEAT_PERIOD', 'period'),
    ('source_ssl', 'MASTER_SSL', 'bool'),
    ('source_ssl_ca', 'MASTER_SSL_CA', 'text'),
    ('source_ssl_capath', 'MASTER_SSL_CAPATH', 'text'),
    ('source_ssl_cert', 'MASTER_SSL_CERT', 'text'),
    ('source_ssl_key', 'MASTER_SSL_KEY', 'text'),
    ('source_ssl_cipher', 'MASTER_SSL_CIPHER', 'text'),
    ('source_ssl_crl', 'MASTER_SSL_CRL', 'text'),
    ('source_ssl_crlpath', 'MASTER_SSL_CRLPATH', 'text'),
    ('source_ssl_verify_server_cert', 'MASTER_SSL_VERIFY_SERVER_CERT', 'bool'),
)
SETTING_NAMES = tuple(name for name, dummy, dummy2 in SETTINGS)
_SETTING_KIND = dict((name, kind) for name, dummy, kind in SETTINGS)
_SETTING_OPTION = dict((name, option) for name, option, dummy in SETTINGS)

# Settings whose change points the connection at another source (or another
# account on it): the password goes with them, binlog coordinates too.
SOURCE_IDENTITY = ('source_host', 'source_port', 'source_user')

DEFAULT_SOURCE_PORT = 3306
MAX_HEARTBEAT_PERIOD = Decimal('4294967')
_MILLI = Decimal('0.001')

# Status key holding the current value of each setting (same name unless listed).
_STATUS_KEY = {'use_gtid': 'using_gtid'}


class PlanError(ValueError):
    """The requested change cannot or must not be made; the message says why."""


def heartbeat_decimal(value):
    """Heartbeat period as a Decimal rounded to milliseconds (as the server keeps it)."""
    try:
        period = Decimal(str(value)).quantize(_MILLI, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise PlanError('heartbeat_period must be a number of seconds, got %r' % (value,))
    if period < 0 or period > MAX_HEARTBEAT_PERIOD:
        raise PlanError('heartbeat_period must be between 0 and %s seconds, got %s' % (MAX_HEARTBEAT_PERIOD, value))
    return period


def desired_settings(params):
    """Turn module options into the settings to enforce (pure).

    Only options that were given are enforced, plus two defaults that go with
    ``source_host``: ``source_port`` 3306 and ``use_gtid`` ``slave_pos`` (or
    ``no`` when binlog coordinates are given). Without ``source_host`` an
    existing connection keeps whatever it has for the options not given.
    """
    desired = {}
    for name in SETTING_NAMES:
        value = params.get(name)
        if value is not None:
            desired[name] = value

    log_file = params.get('source_log_file')
    log_pos = params.get('source_log_pos')
    if (log_file is None) != (log_pos is None):
        raise PlanError('source_log_file and source_log_pos must be given together')
    if log_file is not None:
        if log_file == '':
            raise PlanError('source_log_file must not be empty')
        if log_pos < 4:
            raise PlanError('source_log_pos must be 4 or more (the first event of a binary log), got %d' % log_pos)
        if desired.get('use_gtid', 'no') != 'no':
            raise PlanError('source_log_file/source_log_pos replicate from binlog coordinates; '
                            'they cannot be combined with use_gtid=%s (use use_gtid=no or omit it)'
                            % desired['use_gtid'])
        desired['use_gtid'] = 'no'

    if params.get('gtid_slave_pos') is not None:
        if desired.get('use_gtid') == 'no':
            raise PlanError('gtid_slave_pos only makes sense with use_gtid=slave_pos or current_pos, '
                            'not with binlog coordinates (use_gtid=no)')
        try:
            parse_gtid_list(params['gtid_slave_pos'])
        except ValueError as exc:
            raise PlanError('gtid_slave_pos: %s' % exc)

    if desired.get('source_host') is not None:
        if desired['source_host'] == '':
            raise PlanError('source_host must not be empty')
        desired.setdefault('source_port', DEFAULT_SOURCE_PORT)
        desired.setdefault('use_gtid', 'slave_pos')

    if 'source_port' in desired and not 0 < desired['source_port'] < 65536:
        raise PlanError('source_port must be between 1 and 65535, got %d' % desired['source_port'])
    if 'connect_retry' in desired and desired['connect_retry'] < 1:
        raise PlanError('connect_retry must be at least 1 second, got %d' % desired['connect_retry'])
    if 'heartbeat_period' in desired:
        desired['heartbeat_period'] = heartbeat_decimal(desired['heartbeat_period'])
    if 'use_gtid' in desired and desired['use_gtid'] not in GTID_MODES:
        raise PlanError('use_gtid must be one of %s, got %r' % (', '.join(GTID_MODES), desired['use_gtid']))
    return desired


def current_settings(status):
    """The comparable settings of an existing connection (no password: it cannot be read)."""
    if status is None:
        return None
    settings = {}
    for name in SETTING_NAMES:
        value = status.get(_STATUS_KEY.get(name, name))
        if _SETTING_KIND[name] == 'period' and value is not None:
            value = heartbeat_decimal(value)
        settings[name] = value
    return settings


def setting_matches(name, current, desired):
    """True when the server's value of a setting already is the desired one."""
    kind = _SETTING_KIND[name]
    if current is None:
        return False
    if kind == 'int':
        return to_int(current) == to_int(desired)
    if kind == 'bool':
        return to_bool(current) == to_bool(desired)
    if kind == 'period':
        return heartbeat_decimal(current) == heartbeat_decimal(desired)
    if kind == 'gtid_mode':
        return normalise_gtid_mode(current) == normalise_gtid_mode(desired)
    return to_text(current) == to_text(desired)


# ---------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------

def stop_statement(connection_name):
    return ('STOP SLAVE %s', (connection_name,))


def start_statement(connection_name, threads=None):
    """START SLAVE for both threads, or only 'IO_THREAD' / 'SQL_THREAD'."""
    if threads is None:
        return ('START SLAVE %s', (connection_name,))
    if threads not in ('IO_THREAD', 'SQL_THREAD'):
        raise ValueError('invalid thread type %r' % (threads,))
    return ('START SLAVE %%s %s' % threads, (connection_name,))


def reset_all_statement(connection_name):
    return ('RESET SLAVE %s ALL', (connection_name,))


# One compound statement: with gtid_strict_mode on, MariaDB refuses a
# gtid_slave_pos behind the server's own binary log in a domain (error 1947),
# which is what a node needs that joins a pair echoing its own writes back to
# it (see the gtid_start_position filter). Strict mode is off only for the one
# SET and is restored even when the SET fails.
SET_GTID_SLAVE_POS_SQL = (
    'BEGIN NOT ATOMIC '
    'DECLARE strict_mode INT DEFAULT @@GLOBAL.gtid_strict_mode; '
    'DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN SET GLOBAL gtid_strict_mode = strict_mode; RESIGNAL; END; '
    'SET GLOBAL gtid_strict_mode = 0; '
    'SET GLOBAL gtid_slave_pos = %s; '
    'SET GLOBAL gtid_strict_mode = strict_mode; '
    'END')


def set_gtid_slave_pos_statement(gtid_slave_pos):
    return (SET_GTID_SLAVE_POS_SQL, (gtid_slave_pos,))


def change_master_statement(connection_name, changes, password=None, log_file=None, log_pos=None):
    """Build ``CHANGE MASTER 'name' TO ...`` with every value bound.

    ``changes`` maps setting names to values. MASTER_USE_GTID takes a keyword,
    not a string, so it is checked against the fixed list and written as is.
    The password, if any, is wrapped in :class:`Secret`.
    """
    clauses = []
    params = [connection_name]
    for name in SETTING_NAMES:
        if name not in changes:
            continue
        value = changes[name]
        option = _SETTING_OPTION[name]
        kind = _SETTING_KIND[name]
        if kind == 'gtid_mode':
            mode = normalise_gtid_mode(value)
            if mode not in GTID_MODES:
                raise PlanError('invalid use_gtid value %r' % (value,))
            clauses.append('%s = %s' % (option, mode))
            continue
        clauses.append('%s = %%s' % option)
        if kind == 'bool':
            params.append(1 if to_bool(value) else 0)
        elif kind == 'int':
            params.append(int(value))
        elif kind == 'period':
            params.append(heartbeat_decimal(value))
        else:
            params.append(to_text(value))
        if name == 'source_user' and password is not None:
            clauses.append('MASTER_PASSWORD = %s')
            params.append(Secret(password))
            password = None
    if password is not None:
        clauses.append('MASTER_PASSWORD = %s')
        params.append(Secret(password))
    if log_file is not None:
        clauses.append('MASTER_LOG_FILE = %s')
        params.append(to_text(log_file))
        clauses.append('MASTER_LOG_POS = %s')
        params.append(int(log_pos))
    if not clauses:
        raise ValueError('CHANGE MASTER without any option')
    return ('CHANGE MASTER %s TO ' + ', '.join(clauses), tuple(params))


# ---------------------------------------------------------------------------
# Planner
# ---------------------------------------------------------------------------

ReplicationPlan = namedtuple('ReplicationPlan', [
    'statements',        # list of (sql, params); empty means nothing to do
    'changed_settings',  # names of settings a CHANGE MASTER sets (sorted as SETTINGS)
    'wait_for_running',  # after applying, wait for IO and SQL threads to run
    'after',             # predicted settings+thread states, None when absent
    'warnings',          # things the user should know; the plan is still safe
])

STATES = ('present', 'started', 'stopped', 'absent')


def _thread_view(status):
    if status is None:
        return 'No', 'No'
    return status.get('io_running_state', 'No'), status.get('sql_running_state', 'No')


def _plain(view):
    """Copy of a settings view with Decimals as floats (JSON-friendly)."""
    return dict((key, float(value) if isinstance(value, Decimal) else value) for key, value in view.items())


def connection_view(status):
    """Settings plus thread states of a connection, for diffs (no password)."""
    if status is None:
        return None
    view = current_settings(status)
    view['io_running_state'], view['sql_running_state'] = _thread_view(status)
    return _plain(view)


def plan_replication(connection_name, state, current, desired, password=None,
                     update_password='on_create', log_file=None, log_pos=None,
                     gtid_slave_pos=None, server_gtid_slave_pos=None, other_active=()):
    """Plan the statements that bring one connection to ``state`` (pure).

    :param connection_name: the connection, bound as a string literal ('' = default)
    :param state: present (configured, threads untouched), started, stopped, absent
    :param current: normalised status of the connection, or None if it does not exist
    :param desired: output of :func:`desired_settings`
    :param password: replication password; the server cannot report it, so it is
        sent when the connection is created, when host/port/user change, when
        the source refuses the stored one (Last_IO_Errno 1045), or on every run
        with ``update_password='always'``
    :param log_file, log_pos: binlog coordinates, applied when the connection is
        created, re-pointed (host/port changes) or switched from GTID to
        coordinates; otherwise an existing connection keeps its position
    :param gtid_slave_pos: set before creating a new connection (global variable)
    :param server_gtid_slave_pos: current ``@@GLOBAL.gtid_slave_pos``
    :param other_active: names of other connections whose threads are not stopped
    :returns: :class:`ReplicationPlan`
    :raises PlanError: when the request cannot be carried out safely
    """
    if state not in STATES:
        raise PlanError('state must be one of %s, got %r' % (', '.join(STATES), state))
    if update_password not in ('on_create', 'always'):
        raise PlanError("update_password must be 'on_create' or 'always', got %r" % (update_password,))
    label = "'%s'" % connection_name if connection_name else "'' (default connection)"
    statements = []
    warnings = []
    exists = current is not None
    io_state, sql_state = _thread_view(current)
    io_active = io_state != 'No'
    sql_active = sql_state != 'No'

    if state == 'absent':
        if not exists:
            return ReplicationPlan([], [], False, None, warnings)
        if io_active or sql_active:
            statements.append(stop_statement(connection_name))
        statements.append(reset_all_statement(connection_name))
        return ReplicationPlan(statements, [], False, None, warnings)

    # present / started / stopped: bring the configuration in line first.
    if not exists and desired.get('source_host') is None:
        if state == 'stopped':
            # Nothing configured, nothing running: already stopped.
            return ReplicationPlan([], [], False, None, warnings)
        raise PlanError('replication connection %s does not exist; source_host is needed to configure it'
                        % label)

    before = current_settings(current) if exists else dict((name, None) for name in SETTING_NAMES)
    if exists:
        changes = dict((name, value) for name, value in desired.items()
                       if not setting_matches(name, before[name], value))
    else:
        changes = dict(desired)

    repointed = not exists or any(name in changes for name in SOURCE_IDENTITY)
    apply_coordinates = log_file is not None and (
        not exists or 'source_host' in changes or 'source_port' in changes or 'use_gtid' in changes)
    if apply_coordinates:
        changes['use_gtid'] = 'no'
    if (exists and not apply_coordinates and ('source_host' in changes or 'source_port' in changes)
            and normalise_gtid_mode(changes.get('use_gtid', before['use_gtid'])) == 'no'):
        warnings.append('connection %s is re-pointed to another source without GTID and without '
                        'source_log_file/source_log_pos: it will read the new source from its first binary log'
                        % label)

    # The stored password cannot be read back. It is sent when the connection
    # is created or pointed at another source/account, when the source
    # currently refuses it (so a corrected password gets through), or always.
    auth_failing = exists and current.get('last_io_errno') in AUTH_IO_ERRNOS
    send_password = password is not None and (repointed or auth_failing or update_password == 'always')
    reconfigure = bool(changes) or send_password or apply_coordinates

    set_gtid = False
    if gtid_slave_pos is not None:
        # Only for a connection being created: on an existing one the position
        # has moved on since, and re-running the task must not rewind it.
        wanted = normalise_gtid_list(gtid_slave_pos)
        if not exists:
            try:
                current_pos = normalise_gtid_list(server_gtid_slave_pos or '')
            except ValueError:
                current_pos = None
            if current_pos != wanted:
                active = list(other_active)
                if active:
                    raise PlanError(
                        'gtid_slave_pos is a global variable shared by every replication connection and can '
                        'only be changed while all of them are stopped; running: %s. Stop them first '
                        '(state=stopped) or leave gtid_slave_pos out.'
                        % ', '.join("'%s'" % name for name in active))
                set_gtid = True

    if reconfigure:
        if io_active or sql_active:
            statements.append(stop_statement(connection_name))
        if set_gtid:
            statements.append(set_gtid_slave_pos_statement(gtid_slave_pos))
        statements.append(change_master_statement(
            connection_name, changes,
            password=password if send_password else None,
            log_file=log_file if apply_coordinates else None,
            log_pos=log_pos if apply_coordinates else None))
        io_after, sql_after = 'No', 'No'
    else:
        io_after, sql_after = io_state, sql_state

    wait = False
    if state == 'started':
        if io_after == 'No' or sql_after == 'No':
            statements.append(start_statement(connection_name))
        io_after, sql_after = 'Yes', 'Yes'
        wait = True
    elif state == 'stopped':
        if io_after != 'No' or sql_after != 'No':
            statements.append(stop_statement(connection_name))
        io_after, sql_after = 'No', 'No'
    elif reconfigure and (io_active or sql_active):
        # present: restore exactly the threads that were running before.
        if io_active and sql_active:
            statements.append(start_statement(connection_name))
            wait = io_state == 'Yes' and sql_state == 'Yes'
        elif io_active:
            statements.append(start_statement(connection_name, 'IO_THREAD'))
        else:
            statements.append(start_statement(connection_name, 'SQL_THREAD'))
        io_after, sql_after = io_state, sql_state

    after = dict(before)
    after.update(changes)
    after['io_running_state'] = io_after
    after['sql_running_state'] = sql_after
    changed_settings = [name for name in SETTING_NAMES if name in changes]
    return ReplicationPlan(statements, changed_settings, wait, _plain(after), warnings)


# ---------------------------------------------------------------------------
# Start verification
# ---------------------------------------------------------------------------

def describe_threads(status):
    """One line on both threads with their last errors, for messages."""
    if status is None:
        return 'the connection does not exist'
    parts = ['IO thread %s' % status.get('io_running_state'), 'SQL thread %s' % status.get('sql_running_state')]
    if status.get('last_io_errno'):
        parts.append('Last_IO_Errno %s: %s' % (status['last_io_errno'], status.get('last_io_error', '')))
    if status.get('last_sql_errno'):
        parts.append('Last_SQL_Errno %s: %s' % (status['last_sql_errno'], status.get('last_sql_error', '')))
    return '; '.join(parts)


def assess_start(status):
    """Judge a connection after START SLAVE.

    Returns ``('running', msg)`` when both threads run, ``('failed', msg)``
    when waiting longer cannot help (a thread stopped, or the source refused
    the credentials), else ``('waiting', msg)``.
    """
    if status is None:
        return 'failed', 'the connection disappeared'
    io_state, sql_state = _thread_view(status)
    detail = describe_threads(status)
    if io_state == 'Yes' and sql_state == 'Yes':
        return 'running', detail
    if sql_state == 'No':
        return 'failed', 'the SQL thread stopped: ' + detail
    if io_state == 'No':
        return 'failed', 'the IO thread stopped: ' + detail
    if status.get('last_io_errno') in FATAL_IO_ERRNOS:
        return 'failed', 'the source refused the replication account: ' + detail
    return 'waiting', detail
