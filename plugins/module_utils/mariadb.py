# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared MariaDB connection handling for the smooth.mariadb modules.

Everything a module needs to talk to a server lives here: the common argument
spec (documented by the ``smooth.mariadb.mariadb`` doc fragment), one connect
function, identifier quoting, a small statement renderer that masks secrets,
and :class:`SqlSession`, which runs statements with bound parameters and keeps
the (masked) list of statements that changed the server.

Rules kept throughout the collection:

* values are always bound as parameters (PyMySQL ``%s``), never formatted into
  SQL text; identifiers go through :func:`quote_identifier`;
* a secret is wrapped in :class:`Secret` so that it is masked wherever a
  statement is rendered (results, diffs, error messages) and unwrapped only at
  the moment it is handed to the driver.
"""

from __future__ import annotations

import configparser
import os
import re
import traceback
from decimal import Decimal

try:
    import pymysql
    import pymysql.cursors
    HAS_PYMYSQL = True
    PYMYSQL_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised through missing_required_lib
    pymysql = None
    HAS_PYMYSQL = False
    PYMYSQL_IMPORT_ERROR = traceback.format_exc()

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_native

MASK = '********'

# Option file sections read for client settings, in the order the MariaDB
# client library reads them (later sections override earlier ones).
OPTION_FILE_SECTIONS = ('client', 'client-server', 'client-mariadb')

_TRUE_WORDS = frozenset(('1', 'on', 'yes', 'true'))
_FALSE_WORDS = frozenset(('0', 'off', 'no', 'false', ''))


def mariadb_common_argument_spec():
    """Return a fresh argument spec for the shared connection options."""
    return dict(
        login_host=dict(type='str', default='localhost'),
        login_port=dict(type='int', default=3306),
        login_user=dict(type='str'),
        login_password=dict(type='str', no_log=True),
        login_unix_socket=dict(type='str'),
        config_file=dict(type='path', default='~/.my.cnf'),
        connect_timeout=dict(type='int', default=30),
        ca_cert=dict(type='path'),
        client_cert=dict(type='path'),
        client_key=dict(type='path'),
        check_hostname=dict(type='bool'),
    )


# ---------------------------------------------------------------------------
# Small pure helpers
# ---------------------------------------------------------------------------

def quote_identifier(name):
    """Quote one identifier (database, table, column, ...) with backticks.

    Backticks inside the name are doubled. Dots are part of the name, they do
    not separate qualifiers: quote each part separately. Empty names and names
    with a NUL character are refused with ValueError.
    """
    if not isinstance(name, str):
        raise ValueError('identifier must be a string, got %s' % type(name).__name__)
    if name == '':
        raise ValueError('identifier must not be empty')
    if '\x00' in name:
        raise ValueError('identifier must not contain a NUL character')
    return '`%s`' % name.replace('`', '``')


def sql_identifier(name):
    """:func:`quote_identifier` for statement text that is run with parameters.

    PyMySQL formats a statement with ``sql % params`` whenever params are given
    (also an empty tuple), so a percent sign in a name must be written ``%%``:
    a table named ``t%`` would otherwise fail ("not enough arguments") and one
    listed as ``t%%`` would reach the server as ``t%``, another table. Every
    statement built with these names must be run with a params tuple.
    """
    return quote_identifier(name).replace('%', '%%')


def to_bool(value):
    """Interpret a server flag (``ON``/``OFF``, ``Yes``/``No``, 1/0) as a bool.

    Returns None for None and raises ValueError for anything else, so that an
    unexpected value is noticed instead of silently read as False.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)):
        return value != 0
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError('not a boolean server value: %r' % (value,))


def to_int(value):
    """Return an int for a numeric server value; None for NULL/empty."""
    if value is None:
        return None
    if isinstance(value, int):  # bool included: True -> 1
        return value
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    text = str(value).strip()
    if text == '' or text.upper() == 'NULL':
        return None
    return int(Decimal(text))


def to_text(value):
    """Return server text as str ('' for NULL)."""
    if value is None:
        return ''
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return str(value)


_VERSION_RE = re.compile(r'^\s*(\d+)\.(\d+)\.(\d+)')


def parse_server_version(version):
    """Parse ``SELECT VERSION()`` output.

    Returns a dict with ``major``, ``minor``, ``patch`` (ints), ``mariadb``
    (bool) and ``full`` (the original string). Raises ValueError when the
    string does not start with a dotted version number.
    """
    text = to_text(version)
    match = _VERSION_RE.match(text)
    if not match:
        raise ValueError('cannot parse server version %r' % text)
    return dict(
        major=int(match.group(1)),
        minor=int(match.group(2)),
        patch=int(match.group(3)),
        mariadb='mariadb' in text.lower(),
        full=text,
    )


def check_server_version(version, minimum=(10, 6)):
    """Return an error message when the server is not MariaDB >= minimum, else None."""
    try:
        info = parse_server_version(version)
    except ValueError as exc:
        return to_native(exc)
    if not info['mariadb']:
        return 'this module manages MariaDB only; the server reports version %s' % info['full']
    if (info['major'], info['minor']) < tuple(minimum):
        return ('this module needs MariaDB %s or later; the server reports version %s'
                % ('.'.join(str(part) for part in minimum), info['full']))
    return None


def describe_target(params, socket_path=None):
    """Human-readable name of the server a module connects to."""
    socket_path = socket_path or params.get('login_unix_socket')
    if socket_path:
        return 'unix socket %s' % socket_path
    host = params.get('login_host') or 'localhost'
    if ':' in host and not host.startswith('['):
        host = '[%s]' % host
    return '%s:%s' % (host, params.get('login_port'))


def format_db_error(exc):
    """Render a driver/server exception as ``(errno) message``."""
    args = getattr(exc, 'args', ())
    if len(args) >= 2 and isinstance(args[0], int):
        return '(%d) %s' % (args[0], to_native(args[1]))
    return to_native(exc)


def db_error_code(exc):
    """Return the server/driver error number of an exception, or None."""
    args = getattr(exc, 'args', ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


# ---------------------------------------------------------------------------
# Secrets and statement rendering
# ---------------------------------------------------------------------------

class Secret(object):
    """A bound parameter that must never be shown.

    ``repr``/``str`` return the mask; the value is only reachable through
    ``.value``, which :class:`SqlSession` reads when it hands the parameters to
    the driver.
    """

    __slots__ = ('value',)

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return "Secret('%s')" % MASK

    def __str__(self):
        return MASK

    def __eq__(self, other):
        return isinstance(other, Secret) and other.value == self.value

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((Secret, self.value))


def sql_literal(value):
    """Render one parameter as SQL text, for display only (never executed).

    :class:`Secret` values render as ``'********'``.
    """
    if isinstance(value, Secret):
        return "'%s'" % MASK
    if value is None:
        return 'NULL'
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    text = to_text(value)
    text = text.replace('\\', '\\\\').replace("'", "\\'").replace('\x00', '\\0')
    text = text.replace('\n', '\\n').replace('\r', '\\r').replace('\x1a', '\\Z')
    return "'%s'" % text


def render_statement(sql, params=None):
    """Render ``(sql, params)`` as one SQL string with secrets masked.

    Uses the same placeholder rules as PyMySQL (``%s``, ``%%`` for a literal
    percent sign) so that what is shown is what was sent, minus the secrets.
    """
    if not params:
        return sql.replace('%%', '%') if params is not None else sql
    return sql % tuple(sql_literal(param) for param in params)


def unwrap_params(params):
    """Return params as a tuple with :class:`Secret` values unwrapped."""
    if params is None:
        return None
    return tuple(param.value if isinstance(param, Secret) else param for param in params)


def secret_values(params):
    """Return the non-empty secret strings among params."""
    found = []
    for param in params or ():
        if isinstance(param, Secret) and param.value not in (None, ''):
            found.append(to_text(param.value))
    return found


def mask_secrets(text, secrets):
    """Replace every occurrence of each secret in text by the mask."""
    text = to_text(text)
    # Longest first, so a secret that contains another one is masked whole.
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


class MariaDBQueryError(Exception):
    """A statement failed; ``statement`` is already masked."""

    def __init__(self, statement, message, errno=None):
        super(MariaDBQueryError, self).__init__(message)
        self.statement = statement
        self.message = message
        self.errno = errno

    def __str__(self):
        return '%s (statement: %s)' % (self.message, self.statement)


class SqlSession(object):
    """Run statements on one connection and remember the changing ones.

    ``fetch_all`` is for reads (SELECT/SHOW) and is not recorded.
    ``execute`` is for statements that change the server; each one is recorded,
    rendered with its secrets masked, in ``queries`` once it has succeeded.
    Failures raise :class:`MariaDBQueryError` carrying the masked statement and
    the server's own message (with any secret masked out of it too).

    With ``read_only=True`` (check mode) ``execute`` refuses to run anything,
    so a planning mistake cannot change the server in check mode.
    """

    def __init__(self, connection, read_only=False):
        self.connection = connection
        self.read_only = read_only
        self.queries = []

    def _run(self, sql, params):
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, unwrap_params(params))
            return cursor.fetchall() if cursor.description else []
        except Exception as exc:
            secrets = secret_values(params)
            raise MariaDBQueryError(
                statement=render_statement(sql, params),
                message=mask_secrets(format_db_error(exc), secrets),
                errno=db_error_code(exc),
            )
        finally:
            cursor.close()

    def fetch_all(self, sql, params=None):
        """Run a read-only statement; return its rows (a list of dicts)."""
        return list(self._run(sql, params))

    def fetch_one(self, sql, params=None):
        """Run a read-only statement; return its first row or None."""
        rows = self.fetch_all(sql, params)
        return rows[0] if rows else None

    def execute(self, sql, params=None):
        """Run a statement that changes the server and record it (masked)."""
        if self.read_only:
            raise MariaDBQueryError(render_statement(sql, params),
                                    'refused: the session is read-only (check mode)')
        rows = self._run(sql, params)
        self.queries.append(render_statement(sql, params))
        return rows

    def execute_all(self, statements):
        """Run a list of ``(sql, params)`` statements in order."""
        for sql, params in statements:
            self.execute(sql, params)


# ---------------------------------------------------------------------------
# Option file and connection
# ---------------------------------------------------------------------------

def _strip_quotes(value):
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in ('"', "'"):
        return value[1:-1]
    return value


def read_option_file(path):
    """Read client settings from a MariaDB option file.

    Returns a dict with the keys found among ``user``, ``password``, ``socket``,
    ``ssl-ca``, ``ssl-cert`` and ``ssl-key``, from the ``[client]``,
    ``[client-server]`` and ``[client-mariadb]`` sections (later sections win).
    ``!include`` directives are not followed. Raises OSError when the file
    cannot be read and configparser.Error when it cannot be parsed.
    """
    parser = configparser.RawConfigParser(
        allow_no_value=True, strict=False, comment_prefixes=('#', ';', '!'),
        inline_comment_prefixes=None, interpolation=None)
    parser.optionxform = lambda option: option.strip().lower().replace('_', '-')
    with open(path, 'r') as handle:
        parser.read_file(handle, source=path)
    wanted = ('user', 'password', 'socket', 'ssl-ca', 'ssl-cert', 'ssl-key')
    found = {}
    for section in OPTION_FILE_SECTIONS:
        if not parser.has_section(section):
            continue
        for key in wanted:
            if parser.has_option(section, key):
                value = _strip_quotes(parser.get(section, key))
                if value is not None:
                    found[key] = value
    return found


def build_connect_kwargs(params, option_file=None, autocommit=True):
    """Work out the PyMySQL ``connect()`` arguments (pure; no I/O).

    Module options win over the option file. From the option file are taken:
    ``user`` and ``password`` when the matching login option is unset;
    ``socket`` only when ``login_unix_socket`` is unset and ``login_host`` is
    ``localhost`` (what the MariaDB client does); ``ssl-ca``, ``ssl-cert`` and
    ``ssl-key`` when the matching option is unset. The file's ``host`` and
    ``port`` are never used: the module options say where to connect.

    Returns ``(kwargs, info)``; ``info`` describes the connection for messages
    (``target``, ``user``, ``from_file``: settings taken from the file) and
    never contains the password.
    """
    option_file = option_file or {}
    from_file = []
    kwargs = dict(autocommit=autocommit, charset='utf8mb4')

    socket_path = params.get('login_unix_socket')
    if not socket_path and (params.get('login_host') or 'localhost') == 'localhost' and option_file.get('socket'):
        socket_path = option_file['socket']
        from_file.append('socket')
    if socket_path:
        kwargs['unix_socket'] = socket_path
    else:
        kwargs['host'] = params.get('login_host') or 'localhost'
        kwargs['port'] = params.get('login_port') if params.get('login_port') is not None else 3306

    user = params.get('login_user')
    if user is None and option_file.get('user') is not None:
        user = option_file['user']
        from_file.append('user')
    if user is not None:
        kwargs['user'] = user

    password = params.get('login_password')
    if password is None and option_file.get('password') is not None:
        password = option_file['password']
        from_file.append('password')
    if password is not None:
        kwargs['password'] = password

    timeout = params.get('connect_timeout')
    if timeout is not None:
        kwargs['connect_timeout'] = timeout

    ssl = {}
    for option, file_key, ssl_key in (('ca_cert', 'ssl-ca', 'ca'),
                                      ('client_cert', 'ssl-cert', 'cert'),
                                      ('client_key', 'ssl-key', 'key')):
        value = params.get(option)
        if value is None and option_file.get(file_key):
            value = option_file[file_key]
            from_file.append(file_key)
        if value is not None:
            ssl[ssl_key] = value
    # check_hostname only refines a TLS connection; alone it must not turn TLS on.
    if ssl and params.get('check_hostname') is not None:
        ssl['check_hostname'] = params['check_hostname']
    if ssl:
        kwargs['ssl'] = ssl

    info = dict(
        target=describe_target(params, socket_path=socket_path),
        user=user,
        from_file=from_file,
    )
    return kwargs, info


class MariaDBConnectError(Exception):
    """A connection could not be opened; the message names the server, never the password. ``errno`` is the
    driver's or server's error number (2003: the server did not answer, 1045: access denied), or None."""

    def __init__(self, message, errno=None):
        super(MariaDBConnectError, self).__init__(message)
        self.errno = errno


def connect_kwargs(params, autocommit=True):
    """The PyMySQL ``connect()`` arguments for the common options, with the option file read if it exists.

    Returns ``(kwargs, info)`` as :func:`build_connect_kwargs`; raises
    MariaDBConnectError for an unreadable option file or a bad timeout. For
    clients that open their own connections (a binary log reader).
    """
    option_file = {}
    config_file = params.get('config_file')
    if config_file:
        path = os.path.expanduser(config_file)
        if os.path.exists(path):
            try:
                option_file = read_option_file(path)
            except (OSError, configparser.Error) as exc:
                raise MariaDBConnectError('Unable to read the MariaDB option file %s: %s' % (path, to_native(exc)))
    timeout = params.get('connect_timeout')
    if timeout is not None and not 0 < timeout <= 31536000:
        raise MariaDBConnectError('connect_timeout must be between 1 and 31536000 seconds, got %d' % timeout)
    return build_connect_kwargs(params, option_file, autocommit=autocommit)


# ---------------------------------------------------------------------------
# Another server: one option shape in every module
# ---------------------------------------------------------------------------

# Connection options an entry naming another server (a seed's source, a
# partner, an owner, a verified or compared server) takes from the module's
# own options when it does not set them. Where to connect (host, port,
# socket) is never taken over; the password only with the account.
INHERITED_CONNECTION_OPTIONS = ('config_file', 'connect_timeout', 'ca_cert', 'client_cert', 'client_key',
                                'check_hostname')


def server_login_options():
    """The argument spec options of an entry naming another server, the same in every module (a seed's
    ``source``, replication_wait's ``source``, shard_purge's ``partner`` and ``owners``, shard_verify's and
    pair_compare's ``servers``, shard_binlog_check's ``owners``); a module adds its own keys (name, residues)."""
    return dict(
        login_host=dict(type='str'),
        login_port=dict(type='int', default=3306),
        login_user=dict(type='str'),
        login_password=dict(type='str', no_log=True),
        login_unix_socket=dict(type='str'),
    )


def server_params(entry, defaults):
    """Connection options of one server entry, completed from the module's options ``defaults`` (pure).

    ``login_user`` defaults to the module's and, only when it does, so does ``login_password`` (one admin
    account on every node; an entry naming another account never gets the module's password). The option
    file, timeout and TLS settings are taken over; where to connect (host, port, socket) comes from the entry
    alone.
    """
    entry = entry or {}
    params = dict(login_host=entry.get('login_host') or 'localhost',
                  login_port=entry.get('login_port') if entry.get('login_port') is not None else 3306,
                  login_unix_socket=entry.get('login_unix_socket'))
    if entry.get('login_user') is None:
        params['login_user'] = defaults.get('login_user')
        password = entry.get('login_password')
        params['login_password'] = password if password is not None else defaults.get('login_password')
    else:
        params['login_user'] = entry.get('login_user')
        params['login_password'] = entry.get('login_password')
    for name in INHERITED_CONNECTION_OPTIONS:
        value = entry.get(name)
        params[name] = value if value is not None else defaults.get(name)
    return params


def connect_with_params(params, autocommit=True, what=None):
    """Connect to the server described by ``params`` (the common options).

    Returns a PyMySQL connection whose cursors are DictCursors, or raises
    MariaDBConnectError with a message naming the server (host:port or
    socket) and the server's or driver's error text. Used for the module's
    own server and for other servers a module talks to (a partner, a source);
    ``what`` names such another server in the message ("the source").
    """
    if not HAS_PYMYSQL:
        raise MariaDBConnectError(missing_required_lib('PyMySQL'))
    kwargs, info = connect_kwargs(params, autocommit=autocommit)
    config_file = params.get('config_file')
    kwargs['cursorclass'] = pymysql.cursors.DictCursor
    try:
        return pymysql.connect(**kwargs)
    except Exception as exc:
        who = "as user '%s'" % info['user'] if info['user'] is not None else 'as the default user'
        origin = ''
        if info['from_file']:
            origin = ' (%s from %s)' % (', '.join(info['from_file']), config_file)
        message = format_db_error(exc)
        if kwargs.get('password'):
            message = mask_secrets(message, [to_text(kwargs['password'])])
        raise MariaDBConnectError('Unable to connect to %sMariaDB at %s %s%s: %s'
                                  % ('the %s, ' % what if what else '', info['target'], who, origin, message),
                                  errno=db_error_code(exc))


def mariadb_connect(module, autocommit=True):
    """Connect to the server described by the module's common options.

    Returns a PyMySQL connection whose cursors are DictCursors. Any failure
    ends the module through ``fail_json`` with a message naming the server
    (host:port or socket) and the server's or driver's error text; the
    password is never part of it.
    """
    if not HAS_PYMYSQL:
        module.fail_json(msg=missing_required_lib('PyMySQL'), exception=PYMYSQL_IMPORT_ERROR)
    try:
        return connect_with_params(module.params, autocommit=autocommit)
    except MariaDBConnectError as exc:
        module.fail_json(msg=str(exc))
