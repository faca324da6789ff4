# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smooth-lab-app: the lab's application, a tiny order service routed by a shard map.

Every write to ``t_trade_order`` goes to datasource ``account_no % modulus`` of
the loaded shard map (one datasource per shard, each a VIP). The map is read
from a JSON file at start and again on SIGHUP, or sent with PUT /shard-map.

A map switch is safe for the expansion: every write holds the read side of a
reader/writer lock from connect to commit, and a switch takes the write side,
so it waits until every write started under the old map has finished before
the new map is used. When GET /version reports version v, no write routed by
an older map is still in flight. GET /version reports the digest of the loaded
map's content too (``map_digest``): a map refused because its version is
already loaded with other content leaves the version as it was, so the version
alone does not tell which map the service runs. The wait is bounded; on timeout the old map
stays and the error is reported.

Runs on Debian bookworm with python3 and python3-pymysql (stdlib otherwise):

    python3 smooth_lab_app.py --config /etc/smooth-lab-app/app.json

HTTP API: GET /version, GET /stats, POST /orders, POST /orders/update,
PUT /shard-map. See lab/app/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pymysql
from pymysql.constants import CLIENT

LOG = logging.getLogger('smooth-lab-app')

DEFAULT_CONFIG = {
    'listen': '0.0.0.0',
    'port': 8080,
    'map_path': '/etc/smooth-lab-app/shard-map.json',
    'database': 'smooth_lab',
    'user': 'smooth_lab_app',
    'connect_timeout': 2,
    'query_timeout': 5,
    'reload_timeout': 30,
}
TABLE = 't_trade_order'
MAX_SHARDS = 1024
MAX_BODY = 1024 * 1024
MAX_IDLE_PER_DATASOURCE = 16

_HOST = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$')
_IDENTIFIER = re.compile(r'^[A-Za-z0-9_]{1,64}$')
_AMOUNT = re.compile(r'^[0-9]{1,12}(\.[0-9]{1,2})?$')

# Outcomes of a write that did not succeed.
FAILED = 'failed'     # the server did not commit it
UNKNOWN = 'unknown'   # it may or may not have been committed


class MapError(ValueError):
    """A shard map that must not be loaded."""


class BadRequest(ValueError):
    """A request the service refuses (HTTP 400)."""


# -- pure logic: shard map, routing, request input, outcome classification ------------------------

def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate_map(doc):
    """Return the shard map doc as {version, modulus, datasources} with plain types, or raise MapError."""
    if not isinstance(doc, dict):
        raise MapError('a shard map must be a JSON object {version, modulus, datasources}, got %s'
                       % type(doc).__name__)
    missing = [key for key in ('version', 'modulus', 'datasources') if key not in doc]
    if missing:
        raise MapError('the shard map lacks %s' % ', '.join(missing))
    version, modulus, datasources = doc['version'], doc['modulus'], doc['datasources']
    if not _is_int(version) or version < 0:
        raise MapError('version must be an integer >= 0, got %r' % (version,))
    if not _is_int(modulus) or not 1 <= modulus <= MAX_SHARDS:
        raise MapError('modulus must be an integer from 1 to %d, got %r' % (MAX_SHARDS, modulus))
    if not isinstance(datasources, list) or len(datasources) != modulus:
        raise MapError('datasources must list exactly one datasource per shard (%d), got %s'
                       % (modulus, len(datasources) if isinstance(datasources, list) else repr(datasources)))
    result = []
    for index, source in enumerate(datasources):
        where = 'datasources[%d]' % index
        if not isinstance(source, dict):
            raise MapError('%s must be an object {name, shard, host, port}, got %r' % (where, source))
        if source.get('name') != 'ds_%d' % index:
            raise MapError('%s: name must be ds_%d, got %r' % (where, index, source.get('name')))
        if not _is_int(source.get('shard')) or source['shard'] != index:
            raise MapError('%s: shard must be %d, got %r' % (where, index, source.get('shard')))
        host = source.get('host')
        if not isinstance(host, str) or not _HOST.match(host):
            raise MapError('%s: host must be an address or a host name, got %r' % (where, host))
        port = source.get('port')
        if not _is_int(port) or not 1 <= port <= 65535:
            raise MapError('%s: port must be an integer from 1 to 65535, got %r' % (where, port))
        result.append({'name': source['name'], 'shard': index, 'host': host, 'port': port})
    checked = {'version': version, 'modulus': modulus, 'datasources': result}
    if doc.get('digest') is not None:
        digest = doc['digest']
        if not isinstance(digest, str) or digest.lower() != map_digest(checked):
            raise MapError('digest %r is not the digest of the map\'s content (%s): the map was changed after its '
                           'digest was taken' % (digest, map_digest(checked)))
    return checked


def map_digest(shard_map):
    """The digest of a map's content, as smooth.mariadb computes it (shard_map_digest, README of the collection).

    SHA-256, as 64 lower-case hex digits, of the JSON of {modulus, datasources}
    (each datasource with name, shard, host and port only; not the version)
    with sorted keys and no whitespace.
    """
    content = {'modulus': shard_map['modulus'],
               'datasources': [{'name': s['name'], 'shard': s['shard'], 'host': s['host'], 'port': s['port']}
                               for s in shard_map['datasources']]}
    text = json.dumps(content, sort_keys=True, separators=(',', ':'), ensure_ascii=True)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def decide_switch(current, candidate):
    """What to do with a valid candidate map given the loaded one (or None):
    'load', 'same' (no-op), 'older' or 'conflict' (same version, other content): refuse."""
    if current is None or candidate['version'] > current['version']:
        return 'load'
    if candidate['version'] < current['version']:
        return 'older'
    return 'same' if candidate == current else 'conflict'


def route(shard_map, account_no):
    """The datasource that owns account_no: datasources[account_no % modulus]."""
    return shard_map['datasources'][account_no % shard_map['modulus']]


def datasource_key(datasource):
    return (datasource['host'], datasource['port'])


def parse_order(body):
    """(order_no, account_no, amount text) from a request body, or raise BadRequest."""
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object {order_no, account_no, amount}')
    order_no, account_no, amount = body.get('order_no'), body.get('account_no'), body.get('amount')
    if not isinstance(order_no, str) or not 1 <= len(order_no) <= 64:
        raise BadRequest('order_no must be a string of 1 to 64 characters, got %r' % (order_no,))
    if not _is_int(account_no) or not 0 <= account_no < 2 ** 64:
        raise BadRequest('account_no must be an integer >= 0, got %r' % (account_no,))
    if _is_int(amount) and amount >= 0:
        amount = str(amount)
    if not isinstance(amount, str) or not _AMOUNT.match(amount):
        raise BadRequest('amount must be a decimal string with at most 12 digits and 2 decimals, '
                         'like "12.34", got %r' % (amount,))
    return order_no, account_no, amount


def server_replied(exc):
    """True when exc is an error reply of the server (the connection was fine),
    False when the connection failed (client-side error codes 2000-2999, socket errors)."""
    if not isinstance(exc, pymysql.err.MySQLError) or not exc.args or not _is_int(exc.args[0]):
        return False
    code = exc.args[0]
    return 1000 <= code < 2000 or code >= 3000


def classify_failure(phase, exc):
    """Outcome of a write that raised exc in phase 'connect', 'statement', 'rollback' or 'commit'.

    failed: nothing can have been committed -- no connection, an error reply
    to the statement (autocommit is off and the connection is then closed, so
    the server rolls back), or an error while rolling back a no-row update.
    unknown: the connection broke during or after the statement, or anything
    went wrong around COMMIT: the write may have been committed.
    """
    if phase in ('connect', 'rollback'):
        return FAILED
    if phase == 'statement' and server_replied(exc):
        return FAILED
    return UNKNOWN


def describe_error(exc):
    """The server's (or the driver's) message, without the exception class noise."""
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) >= 2:
        return '(%s) %s' % (exc.args[0], exc.args[1])
    return '%s: %s' % (type(exc).__name__, exc)


def read_config(doc):
    """The service configuration with defaults filled in, or raise ValueError."""
    if not isinstance(doc, dict):
        raise ValueError('the configuration must be a JSON object')
    unknown = sorted(set(doc) - set(DEFAULT_CONFIG) - {'password'})
    if unknown:
        raise ValueError('unknown configuration keys: %s' % ', '.join(unknown))
    config = dict(DEFAULT_CONFIG)
    config.update(doc)
    if not isinstance(config.get('password'), str):
        raise ValueError('password (the database password of the app account) is required')
    for key in ('listen', 'map_path', 'user'):
        if not isinstance(config[key], str) or not config[key]:
            raise ValueError('%s must be a non-empty string' % key)
    if not isinstance(config['database'], str) or not _IDENTIFIER.match(config['database']):
        raise ValueError('database must be a database name (letters, digits, _), got %r' % (config['database'],))
    if not _is_int(config['port']) or not 1 <= config['port'] <= 65535:
        raise ValueError('port must be an integer from 1 to 65535')
    for key in ('connect_timeout', 'query_timeout', 'reload_timeout'):
        if not isinstance(config[key], (int, float)) or isinstance(config[key], bool) or config[key] <= 0:
            raise ValueError('%s must be a positive number of seconds' % key)
    return config


def write_map_file(path, shard_map):
    """Write the map atomically: a temporary file in the same directory, fsync, mode 0644, rename."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temp_path = tempfile.mkstemp(dir=directory, prefix='.shard-map.', suffix='.tmp')
    try:
        with os.fdopen(handle, 'w') as stream:
            stream.write(json.dumps(dict(shard_map, digest=map_digest(shard_map)), sort_keys=True, indent=2) + '\n')
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_path, 0o644)
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_map_file(path):
    """The validated map in the file, or raise MapError naming the file."""
    try:
        with open(path) as stream:
            doc = json.load(stream)
    except (OSError, ValueError) as exc:
        raise MapError('cannot read the shard map %s: %s' % (path, exc))
    try:
        return validate_map(doc)
    except MapError as exc:
        raise MapError('%s: %s' % (path, exc))


# -- concurrency: the switch lock and the connection pool ---------------------------------------------

class SwitchLock(object):
    """A reader/writer lock that prefers the writer.

    Every write holds the read side for its whole duration; a map switch takes
    the write side. Once a switch waits, new writes wait too (so a switch is not
    starved), and they go ahead under the new map once it is swapped in.
    Both sides wait at most the timeout they are given.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._switching = False

    @property
    def readers(self):
        with self._cond:
            return self._readers

    @property
    def switching(self):
        with self._cond:
            return self._switching

    def acquire_read(self, timeout):
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._switching:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            self._readers += 1
            return True

    def release_read(self):
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    def acquire_write(self, timeout):
        """Wait (bounded) until no reader holds the lock; False on timeout (nothing held then)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._switching:  # one switch at a time (callers serialise too)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            self._switching = True
            while self._readers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._switching = False
                    self._cond.notify_all()
                    return False
                self._cond.wait(remaining)
            return True

    def release_write(self):
        with self._cond:
            self._switching = False
            self._cond.notify_all()


class ConnectionPool(object):
    """Idle database connections per datasource (host, port).

    A connection is used by one request thread at a time (checked out for the
    whole write), is closed and dropped on any error, and idle ones are pinged
    before reuse, so a connection that died while idle (failover, restart) is
    replaced by a fresh one before the statement is sent, never retried after.
    """

    def __init__(self, connect, max_idle=MAX_IDLE_PER_DATASOURCE):
        self._connect = connect
        self._max_idle = max_idle
        self._idle = {}
        self._lock = threading.Lock()

    def checkout(self, datasource):
        key = datasource_key(datasource)
        while True:
            with self._lock:
                idle = self._idle.get(key)
                connection = idle.pop() if idle else None
            if connection is None:
                return self._connect(datasource)
            try:
                connection.ping(reconnect=False)
                return connection
            except Exception:  # a dead idle connection: close it and take the next
                close_quietly(connection)

    def checkin(self, datasource, connection):
        key = datasource_key(datasource)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._max_idle:
                idle.append(connection)
                return
        close_quietly(connection)

    def retain(self, datasources):
        """Close the idle connections of every datasource not in datasources; the number closed."""
        keep = set(datasource_key(source) for source in datasources)
        with self._lock:
            dropped = [key for key in self._idle if key not in keep]
            connections = [connection for key in dropped for connection in self._idle.pop(key)]
        for connection in connections:
            close_quietly(connection)
        return len(connections)

    def close_all(self):
        return self.retain([])

    def idle_count(self):
        with self._lock:
            return sum(len(idle) for idle in self._idle.values())


def close_quietly(connection):
    try:
        connection.close()
    except Exception:  # already broken: nothing more to do
        pass


# -- the service -------------------------------------------------------------------------------

class Stats(object):
    def __init__(self):
        self._lock = threading.Lock()
        self.writes = {}
        self.reloads = {'loaded': 0, 'unchanged': 0, 'refused': 0, 'timed_out': 0}
        self.no_row_updates = 0

    def write(self, shard, op, outcome):
        with self._lock:
            per_shard = self.writes.setdefault(str(shard), {})
            counters = per_shard.setdefault(op, {'ok': 0, FAILED: 0, UNKNOWN: 0})
            counters[outcome] += 1

    def reload(self, result):
        with self._lock:
            self.reloads[result] += 1

    def no_row(self):
        with self._lock:
            self.no_row_updates += 1

    def snapshot(self):
        with self._lock:
            return {'writes': json.loads(json.dumps(self.writes)), 'reloads': dict(self.reloads),
                    'no_row_updates': self.no_row_updates}


class LabApp(object):
    """The shard map, the switch lock, the connection pool and the two writes."""

    def __init__(self, config, connect=None):
        self.config = config
        self.lock = SwitchLock()
        self.pool = ConnectionPool(connect or self._connect)
        self.stats = Stats()
        self.shard_map = None
        self.shard_map_digest = None  # map_digest(shard_map), reported by GET /version
        self.loaded_at = None
        self.last_error = None
        self._state_lock = threading.Lock()    # shard_map / loaded_at / last_error as one
        self._reload_mutex = threading.Lock()  # one reload (file or HTTP) at a time
        table = '`%s`.`%s`' % (config['database'], TABLE)
        self.insert_sql = ('INSERT INTO %s (order_no, account_no, amount, status, map_version, created_at, updated_at) '
                           "VALUES (%%s, %%s, %%s, 'NEW', %%s, NOW(6), NOW(6))" % table)
        self.update_sql = ('UPDATE %s SET amount = %%s, map_version = %%s, updated_at = NOW(6) '
                           'WHERE order_no = %%s AND account_no = %%s' % table)

    def _connect(self, datasource):
        return pymysql.connect(host=datasource['host'], port=datasource['port'], user=self.config['user'],
                               password=self.config['password'], database=self.config['database'],
                               connect_timeout=self.config['connect_timeout'],
                               read_timeout=self.config['query_timeout'], write_timeout=self.config['query_timeout'],
                               autocommit=False, charset='utf8mb4', client_flag=CLIENT.FOUND_ROWS)

    # -- the map ----------------------------------------------------------------------------

    def version_report(self):
        with self._state_lock:
            shard_map = self.shard_map
            report = {'version': shard_map['version'] if shard_map else None,
                      'modulus': shard_map['modulus'] if shard_map else None,
                      'digest': self.shard_map_digest,
                      'loaded_at': self.loaded_at, 'last_error': self.last_error}
        report['in_flight'] = self.lock.readers
        report['switching'] = self.lock.switching
        return report

    def _refuse(self, source, message, result='refused'):
        with self._state_lock:
            self.last_error = message
        self.stats.reload(result)
        LOG.error('shard map from %s refused: %s', source, message)

    def _offer(self, candidate, source, before_load=None):
        """Load a validated candidate unless it is older or conflicting. Returns (status, message)
        with status 'loaded', 'same', 'older', 'conflict' or 'timeout'. Caller holds _reload_mutex."""
        current = self.shard_map
        decision = decide_switch(current, candidate)
        if decision == 'same':
            with self._state_lock:
                self.last_error = None
            self.stats.reload('unchanged')
            LOG.info('shard map from %s: version %d unchanged', source, candidate['version'])
            return 'same', 'version %d is already loaded' % candidate['version']
        if decision in ('older', 'conflict'):
            if decision == 'older':
                message = ('version %d is older than the loaded version %d: kept %d'
                           % (candidate['version'], current['version'], current['version']))
            else:
                message = ('version %d is already loaded with other content (digest %s, not %s): a changed map '
                           'needs a new version' % (candidate['version'], self.shard_map_digest, map_digest(candidate)))
            self._refuse(source, message)
            return decision, message
        if before_load is not None:
            before_load()
        timeout = self.config['reload_timeout']
        started = time.monotonic()
        if not self.lock.acquire_write(timeout):
            message = ('version %d not loaded: writes under version %s did not finish within %s s; kept the old map'
                       % (candidate['version'], current['version'] if current else None, timeout))
            self._refuse(source, message, result='timed_out')
            return 'timeout', message
        try:
            with self._state_lock:
                self.shard_map = candidate
                self.shard_map_digest = map_digest(candidate)
                self.loaded_at = time.time()
                self.last_error = None
            closed = self.pool.retain(candidate['datasources'])
        finally:
            self.lock.release_write()
        self.stats.reload('loaded')
        LOG.info('shard map from %s: loaded version %d (modulus %d, was %s) after %.3f s waiting for writes; '
                 'closed %d idle connections of changed datasources; %s', source, candidate['version'],
                 candidate['modulus'], current['version'] if current else None, time.monotonic() - started, closed,
                 ', '.join('%s=%s:%d' % (s['name'], s['host'], s['port']) for s in candidate['datasources']))
        return 'loaded', 'version %d loaded' % candidate['version']

    def reload_from_file(self, source='file'):
        with self._reload_mutex:
            try:
                candidate = read_map_file(self.config['map_path'])
            except MapError as exc:
                self._refuse(source, str(exc))
                return 'invalid', str(exc)
            return self._offer(candidate, source)

    def put_map(self, doc):
        """PUT /shard-map: (HTTP status, body)."""
        with self._reload_mutex:
            try:
                candidate = validate_map(doc)
            except MapError as exc:
                self._refuse('PUT', str(exc))
                return 400, {'ok': False, 'error': str(exc)}

            def persist():
                write_map_file(self.config['map_path'], candidate)
            try:
                status, message = self._offer(candidate, 'PUT', before_load=persist)
            except OSError as exc:
                message = 'cannot write %s: %s' % (self.config['map_path'], exc)
                self._refuse('PUT', message)
                return 500, {'ok': False, 'error': message}
        code = {'loaded': 200, 'same': 200, 'older': 409, 'conflict': 409, 'timeout': 503}[status]
        body = dict(self.version_report(), ok=code == 200, result=status, message=message)
        return code, body

    # -- the writes ---------------------------------------------------------------------------

    def write(self, op, order_no, account_no, amount):
        """op 'insert' or 'update': (HTTP status, body). Holds the read side of the switch lock throughout."""
        wait = self.config['reload_timeout'] + 5
        if not self.lock.acquire_read(wait):
            return 503, {'ok': False, 'outcome': FAILED, 'shard': None, 'version': None,
                         'error': 'a shard map switch did not finish within %s s' % wait}
        try:
            shard_map = self.shard_map
            if shard_map is None:
                return 503, {'ok': False, 'outcome': FAILED, 'shard': None, 'version': None,
                             'error': 'no shard map loaded (%s)' % self.last_error}
            return self._write(op, shard_map, order_no, account_no, amount)
        finally:
            self.lock.release_read()

    def _write(self, op, shard_map, order_no, account_no, amount):
        datasource = route(shard_map, account_no)
        shard, version = datasource['shard'], shard_map['version']
        where = '%s %s:%d' % (datasource['name'], datasource['host'], datasource['port'])
        phase, connection = 'connect', None
        try:
            connection = self.pool.checkout(datasource)
            phase = 'statement'
            with connection.cursor() as cursor:
                if op == 'insert':
                    cursor.execute(self.insert_sql, (order_no, account_no, amount, version))
                else:
                    cursor.execute(self.update_sql, (amount, version, order_no, account_no))
                matched, row_id = cursor.rowcount, cursor.lastrowid
            if op == 'update' and matched != 1:
                phase = 'rollback'
                connection.rollback()
                self.pool.checkin(datasource, connection)
                connection = None
                self.stats.write(shard, op, FAILED)
                self.stats.no_row()
                message = ('no row order_no=%s account_no=%d in shard %d (%s, map version %d): '
                           'the row is misplaced or lost' % (order_no, account_no, shard, where, version))
                if matched:
                    message = 'update of order_no=%s matched %d rows in %s' % (order_no, matched, where)
                LOG.error('UPDATE FOUND NO ROW: %s', message)
                return 409, {'ok': False, 'outcome': FAILED, 'error': message, 'shard': shard, 'version': version}
            phase = 'commit'
            connection.commit()
        except Exception as exc:  # every failure is answered, classified and logged
            if connection is not None:
                close_quietly(connection)
            outcome = classify_failure(phase, exc)
            self.stats.write(shard, op, outcome)
            error = '%s %s: %s' % (phase, where, describe_error(exc))
            LOG.error('%s order_no=%s account_no=%d shard=%d version=%d %s: %s',
                      op, order_no, account_no, shard, version, outcome, error)
            return 503, {'ok': False, 'outcome': outcome, 'error': error, 'shard': shard, 'version': version}
        self.pool.checkin(datasource, connection)
        self.stats.write(shard, op, 'ok')
        body = {'ok': True, 'shard': shard, 'host': datasource['host'], 'version': version}
        if op == 'insert':
            body['id'] = row_id
        return 200, body


# -- HTTP ---------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    server_version = 'smooth-lab-app/1'
    timeout = 20  # seconds a client may take to send its request

    @property
    def app(self):
        return self.server.app

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """No access log: reloads and failed writes are logged by the app."""

    def _reply(self, code, body):
        data = (json.dumps(body, sort_keys=True) + '\n').encode('utf-8')
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        try:
            length = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            raise BadRequest('bad Content-Length')
        if not 0 < length <= MAX_BODY:
            raise BadRequest('a JSON body of 1 byte to %d bytes is needed' % MAX_BODY)
        try:
            return json.loads(self.rfile.read(length).decode('utf-8'))
        except ValueError as exc:
            raise BadRequest('the body is not JSON: %s' % exc)

    def do_GET(self):  # pylint: disable=invalid-name
        if self.path == '/version':
            self._reply(200, self.app.version_report())
        elif self.path == '/stats':
            self._reply(200, dict(self.app.stats.snapshot(), version=self.app.version_report()['version']))
        else:
            self._reply(404, {'ok': False, 'error': 'unknown path %s' % self.path})

    def do_POST(self):  # pylint: disable=invalid-name
        ops = {'/orders': 'insert', '/orders/update': 'update'}
        if self.path not in ops:
            self._reply(404, {'ok': False, 'error': 'unknown path %s' % self.path})
            return
        try:
            order_no, account_no, amount = parse_order(self._body())
        except BadRequest as exc:
            self._reply(400, {'ok': False, 'outcome': FAILED, 'error': str(exc)})
            return
        self._reply(*self.app.write(ops[self.path], order_no, account_no, amount))

    def do_PUT(self):  # pylint: disable=invalid-name
        if self.path != '/shard-map':
            self._reply(404, {'ok': False, 'error': 'unknown path %s' % self.path})
            return
        try:
            doc = self._body()
        except BadRequest as exc:
            self._reply(400, {'ok': False, 'error': str(exc)})
            return
        self._reply(*self.app.put_map(doc))


class AppServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, app):
        ThreadingHTTPServer.__init__(self, address, Handler)
        self.app = app


def main(argv=None):
    parser = argparse.ArgumentParser(description='The smooth.mariadb lab application (orders routed by a shard map).')
    parser.add_argument('--config', required=True, help='JSON configuration file')
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format='%(levelname)s %(message)s')
    try:
        with open(args.config) as stream:
            config = read_config(json.load(stream))
    except (OSError, ValueError) as exc:
        LOG.error('cannot use the configuration %s: %s', args.config, exc)
        return 2
    app = LabApp(config)
    status, message = app.reload_from_file('start')
    if status != 'loaded':
        LOG.warning('started without a shard map (%s): writes are refused until one is loaded', message)

    reload_wanted = threading.Event()
    stopping = threading.Event()

    def reloader():
        while not stopping.is_set():
            if reload_wanted.wait(1.0):
                reload_wanted.clear()
                app.reload_from_file('SIGHUP')

    server = AppServer((config['listen'], config['port']), app)

    def on_stop(signum, frame):  # pylint: disable=unused-argument
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGHUP, lambda signum, frame: reload_wanted.set())
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    threading.Thread(target=reloader, name='reloader', daemon=True).start()
    LOG.info('listening on %s:%d, database %s, map %s', config['listen'], config['port'], config['database'],
             config['map_path'])
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        # Let writes in flight finish (bounded) before the process ends.
        drained = app.lock.acquire_write(config['reload_timeout'])
        app.pool.close_all()
        LOG.info('stopped%s', '' if drained else ' with writes still in flight')
    return 0


if __name__ == '__main__':
    sys.exit(main())
