# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The lab application (lab/app/smooth_lab_app.py) without a database: map validation,
routing, outcome classification, the switch lock and the writes against fake connections."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time

import pymysql
import pytest

from .lab_modules import load

app_mod = load('smooth_lab_app')


def shard_map(version=1, hosts=('10.214.0.200', '10.214.0.201'), port=3306):
    return {'version': version, 'modulus': len(hosts),
            'datasources': [{'name': 'ds_%d' % i, 'shard': i, 'host': host, 'port': port}
                            for i, host in enumerate(hosts)]}


# -- map validation ------------------------------------------------------------------------------

def test_validate_map_accepts_the_filter_output_and_returns_plain_values():
    doc = shard_map(version=3)
    doc['datasources'][0]['extra'] = 'ignored'
    assert app_mod.validate_map(doc) == shard_map(version=3)
    assert app_mod.validate_map(shard_map(version=0, hosts=('db.example.com',)))['modulus'] == 1


def _broken(change):
    doc = shard_map()
    change(doc)
    return doc


@pytest.mark.parametrize('doc, message', [
    ([], 'must be a JSON object'),
    ({'version': 1, 'modulus': 1}, 'lacks datasources'),
    (_broken(lambda d: d.update(version=-1)), 'version must be an integer >= 0'),
    (_broken(lambda d: d.update(version='2')), 'version must be an integer >= 0'),
    (_broken(lambda d: d.update(version=True)), 'version must be an integer >= 0'),
    (_broken(lambda d: d.update(modulus=0, datasources=[])), 'modulus must be an integer from 1'),
    (_broken(lambda d: d.update(modulus=3)), 'exactly one datasource per shard (3), got 2'),
    (_broken(lambda d: d['datasources'].reverse()), 'datasources[0]: name must be ds_0'),
    (_broken(lambda d: d['datasources'][1].update(shard=0)), 'datasources[1]: shard must be 1'),
    (_broken(lambda d: d['datasources'][1].update(host='10.0.0.1; DROP')), 'host must be an address'),
    (_broken(lambda d: d['datasources'][1].update(host='')), 'host must be an address'),
    (_broken(lambda d: d['datasources'][0].update(port=70000)), 'port must be an integer from 1 to 65535'),
    (_broken(lambda d: d['datasources'][0].update(port='3306')), 'port must be an integer from 1 to 65535'),
    (_broken(lambda d: d['datasources'].__setitem__(0, 'ds_0')), 'datasources[0] must be an object'),
])
def test_validate_map_refuses(doc, message):
    with pytest.raises(app_mod.MapError) as caught:
        app_mod.validate_map(doc)
    assert message in str(caught.value)


@pytest.mark.parametrize('current, candidate, expected', [
    (None, shard_map(1), 'load'),
    (shard_map(1), shard_map(2), 'load'),
    (shard_map(2), shard_map(1), 'older'),
    (shard_map(2), shard_map(2), 'same'),
    (shard_map(2), shard_map(2, hosts=('10.214.0.200', '10.214.0.202')), 'conflict'),
    (shard_map(2), shard_map(2, hosts=('10.214.0.200',)), 'conflict'),
])
def test_decide_switch(current, candidate, expected):
    assert app_mod.decide_switch(current, candidate) == expected


@pytest.mark.parametrize('modulus, account_no, shard', [
    (1, 0, 0), (1, 12345, 0), (2, 0, 0), (2, 7, 1), (4, 7, 3), (4, 8, 0), (3, 2 ** 64 - 1, (2 ** 64 - 1) % 3),
])
def test_route_is_account_no_modulo_modulus(modulus, account_no, shard):
    hosts = tuple('10.214.0.%d' % (200 + i) for i in range(modulus))
    datasource = app_mod.route(shard_map(hosts=hosts), account_no)
    assert datasource['shard'] == shard and datasource['host'] == hosts[shard]


# -- request input and configuration -------------------------------------------------------------

def test_parse_order():
    assert app_mod.parse_order({'order_no': 'r-1-1', 'account_no': 7, 'amount': '12.34'}) == ('r-1-1', 7, '12.34')
    assert app_mod.parse_order({'order_no': 'r-1-1', 'account_no': 0, 'amount': 5}) == ('r-1-1', 0, '5')


@pytest.mark.parametrize('body, message', [
    ('x', 'must be a JSON object'),
    ({'account_no': 1, 'amount': '1.00'}, 'order_no must be a string'),
    ({'order_no': 'x' * 65, 'account_no': 1, 'amount': '1.00'}, 'order_no must be a string of 1 to 64'),
    ({'order_no': 'a', 'account_no': -1, 'amount': '1.00'}, 'account_no must be an integer >= 0'),
    ({'order_no': 'a', 'account_no': '1', 'amount': '1.00'}, 'account_no must be an integer >= 0'),
    ({'order_no': 'a', 'account_no': True, 'amount': '1.00'}, 'account_no must be an integer >= 0'),
    ({'order_no': 'a', 'account_no': 1, 'amount': '1.234'}, 'amount must be a decimal string'),
    ({'order_no': 'a', 'account_no': 1, 'amount': 1.5}, 'amount must be a decimal string'),
    ({'order_no': 'a', 'account_no': 1, 'amount': '1e3'}, 'amount must be a decimal string'),
])
def test_parse_order_refuses(body, message):
    with pytest.raises(app_mod.BadRequest) as caught:
        app_mod.parse_order(body)
    assert message in str(caught.value)


def test_read_config_defaults_and_errors():
    config = app_mod.read_config({'password': 'pw'})
    assert config['port'] == 8080 and config['database'] == 'smooth_lab' and config['reload_timeout'] == 30
    assert config['map_path'] == '/etc/smooth-lab-app/shard-map.json'
    with pytest.raises(ValueError, match='password'):
        app_mod.read_config({})
    with pytest.raises(ValueError, match='unknown configuration keys: colour'):
        app_mod.read_config({'password': 'pw', 'colour': 'red'})
    with pytest.raises(ValueError, match='database must be'):
        app_mod.read_config({'password': 'pw', 'database': 'a`b'})
    with pytest.raises(ValueError, match='query_timeout must be a positive'):
        app_mod.read_config({'password': 'pw', 'query_timeout': 0})


# -- outcome classification ----------------------------------------------------------------------

LOST = pymysql.err.OperationalError(2013, 'Lost connection to MySQL server during query')
GONE = pymysql.err.OperationalError(2006, 'MySQL server has gone away')
REFUSED = pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '10.214.0.201' (111)")
DUPLICATE = pymysql.err.IntegrityError(1062, "Duplicate entry 'r-1-1' for key 'uk_order_no'")
SHUTDOWN = pymysql.err.OperationalError(1053, 'Server shutdown in progress')
DEADLOCK = pymysql.err.OperationalError(1213, 'Deadlock found when trying to get lock')
READ_ONLY = pymysql.err.OperationalError(1290, 'The MariaDB server is running with the --read-only option')


@pytest.mark.parametrize('phase, exc, outcome', [
    ('connect', REFUSED, 'failed'),
    ('connect', socket.timeout('timed out'), 'failed'),
    ('statement', DUPLICATE, 'failed'),
    ('statement', SHUTDOWN, 'failed'),
    ('statement', READ_ONLY, 'failed'),
    ('statement', LOST, 'unknown'),
    ('statement', GONE, 'unknown'),
    ('statement', pymysql.err.InterfaceError(0, ''), 'unknown'),
    ('statement', ConnectionResetError(104, 'Connection reset by peer'), 'unknown'),
    ('commit', LOST, 'unknown'),
    ('commit', DEADLOCK, 'unknown'),
    ('commit', SHUTDOWN, 'unknown'),
    ('rollback', LOST, 'failed'),
])
def test_classify_failure(phase, exc, outcome):
    assert app_mod.classify_failure(phase, exc) == outcome


def test_describe_error_keeps_the_server_message():
    assert app_mod.describe_error(DUPLICATE) == "(1062) Duplicate entry 'r-1-1' for key 'uk_order_no'"
    assert app_mod.describe_error(OSError('boom')) == 'OSError: boom'


# -- the map file -------------------------------------------------------------------------------

def test_map_file_is_written_atomically_with_mode_0644(tmp_path):
    path = str(tmp_path / 'shard-map.json')
    app_mod.write_map_file(path, shard_map(4))
    assert app_mod.read_map_file(path) == shard_map(4)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert os.listdir(str(tmp_path)) == ['shard-map.json']
    with open(path) as stream:
        assert stream.read().endswith('}\n')


def test_read_map_file_names_the_file(tmp_path):
    path = tmp_path / 'shard-map.json'
    with pytest.raises(app_mod.MapError, match='cannot read the shard map .*shard-map.json'):
        app_mod.read_map_file(str(path))
    path.write_text(json.dumps(dict(shard_map(), modulus=3)))
    with pytest.raises(app_mod.MapError, match='shard-map.json: datasources must list exactly one'):
        app_mod.read_map_file(str(path))


# -- the switch lock ----------------------------------------------------------------------------

def test_switch_waits_for_readers_and_blocks_new_ones():
    lock = app_mod.SwitchLock()
    assert lock.acquire_read(1)
    switched = threading.Event()

    def switch():
        if lock.acquire_write(5):
            switched.set()
            time.sleep(0.1)
            lock.release_write()
    switcher = threading.Thread(target=switch)
    switcher.start()
    deadline = time.monotonic() + 5
    while not lock.switching and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lock.switching and not switched.is_set()
    assert lock.acquire_read(0.1) is False      # a new write waits while a switch waits
    lock.release_read()
    assert switched.wait(5)
    assert lock.acquire_read(5) is True         # after the switch, writes go on
    lock.release_read()
    switcher.join(5)
    assert lock.readers == 0 and not lock.switching


def test_switch_timeout_gives_the_lock_back():
    lock = app_mod.SwitchLock()
    assert lock.acquire_read(1)
    started = time.monotonic()
    assert lock.acquire_write(0.2) is False
    assert 0.15 < time.monotonic() - started < 2
    assert not lock.switching
    assert lock.acquire_read(0.1) is True
    lock.release_read()
    lock.release_read()
    assert lock.acquire_write(0.1) is True
    lock.release_write()


# -- the writes, against fake connections ---------------------------------------------------------

class FakeCursor(object):
    def __init__(self, connection):
        self.connection = connection
        self.rowcount = -1
        self.lastrowid = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, params):
        conn = self.connection
        conn.executed.append((sql, params))
        if conn.block is not None:
            conn.block.wait(10)
        if conn.fail_statement is not None:
            raise conn.fail_statement
        self.rowcount = conn.matched
        self.lastrowid = 41 + len(conn.executed)


class FakeConnection(object):
    def __init__(self, datasource, behaviour):
        self.datasource = datasource
        self.executed = []
        self.commits = self.rollbacks = self.pings = 0
        self.closed = False
        self.block = behaviour.get('block')
        self.fail_statement = behaviour.get('fail_statement')
        self.fail_commit = behaviour.get('fail_commit')
        self.fail_ping = behaviour.get('fail_ping')
        self.matched = behaviour.get('matched', 1)

    def cursor(self):
        return FakeCursor(self)

    def commit(self):
        if self.fail_commit is not None:
            raise self.fail_commit
        self.commits += 1

    def rollback(self):
        self.rollbacks += 1

    def ping(self, reconnect=False):
        assert reconnect is False
        self.pings += 1
        if self.fail_ping is not None:
            raise self.fail_ping

    def close(self):
        self.closed = True


class FakeDatabase(object):
    """connect() for LabApp: behaviour per host, every connection remembered."""

    def __init__(self):
        self.behaviour = {}
        self.connections = []
        self.refuse = set()

    def connect(self, datasource):
        if datasource['host'] in self.refuse:
            raise REFUSED
        connection = FakeConnection(datasource, self.behaviour.get(datasource['host'], {}))
        self.connections.append(connection)
        return connection

    def to(self, host):
        return [c for c in self.connections if c.datasource['host'] == host]


@pytest.fixture
def lab(tmp_path):
    config = app_mod.read_config({'password': 'pw', 'map_path': str(tmp_path / 'shard-map.json'),
                                  'reload_timeout': 5})
    app_mod.write_map_file(config['map_path'], shard_map(1))
    database = FakeDatabase()
    app = app_mod.LabApp(config, connect=database.connect)
    assert app.reload_from_file('start') == ('loaded', 'version 1 loaded')
    return app, database


def test_insert_is_routed_by_account_no_and_the_connection_reused(lab):
    app, database = lab
    code, body = app.write('insert', 'r-0-1', 7, '10.50')
    assert code == 200
    assert body == {'ok': True, 'shard': 1, 'host': '10.214.0.201', 'version': 1, 'id': 42}
    sql, params = database.connections[0].executed[0]
    assert sql.startswith('INSERT INTO `smooth_lab`.`t_trade_order` (order_no, account_no, amount, status, map_version')
    assert params == ('r-0-1', 7, '10.50', 1)
    assert database.connections[0].commits == 1
    code, body = app.write('update', 'r-0-1', 7, '11.00')
    assert code == 200 and body['shard'] == 1 and 'id' not in body
    assert len(database.connections) == 1 and database.connections[0].pings == 1
    sql, params = database.connections[0].executed[1]
    assert sql.startswith('UPDATE `smooth_lab`.`t_trade_order` SET amount = %s, map_version = %s')
    assert params == ('11.00', 1, 'r-0-1', 7)
    code, body = app.write('insert', 'r-0-2', 4, '1.00')
    assert code == 200 and body['shard'] == 0 and body['host'] == '10.214.0.200'
    assert app.stats.snapshot()['writes'] == {'0': {'insert': {'ok': 1, 'failed': 0, 'unknown': 0}},
                                              '1': {'insert': {'ok': 1, 'failed': 0, 'unknown': 0},
                                                    'update': {'ok': 1, 'failed': 0, 'unknown': 0}}}


def test_update_without_row_is_a_loud_409(lab, caplog):
    app, database = lab
    database.behaviour['10.214.0.200'] = {'matched': 0}
    code, body = app.write('update', 'r-0-9', 2, '3.00')
    assert code == 409
    assert body['outcome'] == 'failed' and body['shard'] == 0 and body['version'] == 1
    assert 'no row order_no=r-0-9 account_no=2 in shard 0' in body['error']
    assert database.connections[0].rollbacks == 1 and database.connections[0].commits == 0
    assert not database.connections[0].closed  # nothing broke: the connection stays in the pool
    assert app.stats.snapshot()['no_row_updates'] == 1
    assert 'UPDATE FOUND NO ROW' in caplog.text


@pytest.mark.parametrize('behaviour, outcome, phase', [
    ({'fail_statement': DUPLICATE}, 'failed', 'statement'),
    ({'fail_statement': LOST}, 'unknown', 'statement'),
    ({'fail_commit': LOST}, 'unknown', 'commit'),
])
def test_failed_writes_are_classified_and_drop_the_connection(lab, behaviour, outcome, phase):
    app, database = lab
    database.behaviour['10.214.0.201'] = behaviour
    code, body = app.write('insert', 'r-0-1', 1, '1.00')
    assert code == 503
    assert body['ok'] is False and body['outcome'] == outcome and body['shard'] == 1 and body['version'] == 1
    assert body['error'].startswith('%s ds_1 10.214.0.201:3306: (' % phase)
    assert database.connections[0].closed
    database.behaviour['10.214.0.201'] = {}
    assert app.write('insert', 'r-0-2', 1, '1.00')[0] == 200
    assert len(database.connections) == 2  # a new connection, the broken one was dropped
    assert app.stats.snapshot()['writes']['1']['insert'] == {'ok': 1, 'failed': int(outcome == 'failed'),
                                                             'unknown': int(outcome == 'unknown')}


def test_connect_refused_is_failed(lab):
    app, database = lab
    database.refuse.add('10.214.0.200')
    code, body = app.write('insert', 'r-0-1', 2, '1.00')
    assert code == 503 and body['outcome'] == 'failed'
    assert body['error'].startswith("connect ds_0 10.214.0.200:3306: (2003) Can't connect")


def test_a_dead_idle_connection_is_replaced_before_the_statement(lab):
    app, database = lab
    assert app.write('insert', 'r-0-1', 2, '1.00')[0] == 200
    database.connections[0].fail_ping = GONE
    assert app.write('insert', 'r-0-2', 2, '1.00')[0] == 200
    assert database.connections[0].closed and len(database.connections[0].executed) == 1
    assert len(database.connections[1].executed) == 1


def test_no_map_refuses_writes(tmp_path):
    config = app_mod.read_config({'password': 'pw', 'map_path': str(tmp_path / 'absent.json')})
    app = app_mod.LabApp(config, connect=FakeDatabase().connect)
    status, message = app.reload_from_file('start')
    assert status == 'invalid' and 'cannot read the shard map' in message
    report = app.version_report()
    assert report['version'] is None and report['modulus'] is None and 'absent.json' in report['last_error']
    code, body = app.write('insert', 'r-0-1', 2, '1.00')
    assert code == 503 and body['outcome'] == 'failed' and 'no shard map loaded' in body['error']


# -- map switches ---------------------------------------------------------------------------------

def _wait(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_put_map_answers(lab):
    app, dummy = lab
    path = app.config['map_path']
    code, body = app.put_map(shard_map(1))
    assert code == 200 and body['result'] == 'same' and body['version'] == 1
    code, body = app.put_map(shard_map(2, hosts=('10.214.0.200', '10.214.0.201', '10.214.0.202', '10.214.0.203')))
    assert code == 200 and body['result'] == 'loaded' and body['version'] == 2 and body['modulus'] == 4
    assert app_mod.read_map_file(path)['version'] == 2
    code, body = app.put_map(shard_map(1))
    assert code == 409 and body['result'] == 'older'
    assert body['version'] == 2 and 'version 1 is older than the loaded version 2' in body['last_error']
    code, body = app.put_map(shard_map(2))
    assert code == 409 and body['result'] == 'conflict'
    code, body = app.put_map({'version': 3})
    assert code == 400 and 'lacks modulus, datasources' in body['error']
    assert app_mod.read_map_file(path)['version'] == 2  # refused maps are never written
    assert app.version_report()['version'] == 2
    assert app.stats.snapshot()['reloads'] == {'loaded': 2, 'unchanged': 1, 'refused': 3, 'timed_out': 0}


def test_sighup_reload_reads_the_file_and_refuses_older(lab):
    app, dummy = lab
    path = app.config['map_path']
    app_mod.write_map_file(path, shard_map(5))
    assert app.reload_from_file('SIGHUP')[0] == 'loaded'
    assert app.version_report()['version'] == 5 and app.version_report()['last_error'] is None
    app_mod.write_map_file(path, shard_map(4))
    assert app.reload_from_file('SIGHUP')[0] == 'older'
    assert app.version_report()['version'] == 5
    with open(path, 'w') as stream:
        stream.write('{"version": ')
    assert app.reload_from_file('SIGHUP')[0] == 'invalid'
    report = app.version_report()
    assert report['version'] == 5 and 'cannot read the shard map' in report['last_error']


def test_switch_waits_for_writes_under_the_old_map(lab):
    app, database = lab
    gate = threading.Event()
    database.behaviour['10.214.0.201'] = {'block': gate}
    results = {}

    def run(name, func, *args):
        results[name] = func(*args)
    old_write = threading.Thread(target=run, args=('old', app.write, 'insert', 'r-0-1', 3, '1.00'))
    old_write.start()
    assert _wait(lambda: app.version_report()['in_flight'] == 1)
    new_map = shard_map(2, hosts=('10.214.0.200', '10.214.0.201', '10.214.0.202', '10.214.0.203'))
    switch = threading.Thread(target=run, args=('switch', app.put_map, new_map))
    switch.start()
    assert _wait(lambda: app.lock.switching)
    # A write that arrives now waits for the switch and then goes by the new map (3 % 4 = shard 3).
    new_write = threading.Thread(target=run, args=('new', app.write, 'insert', 'r-0-2', 3, '1.00'))
    new_write.start()
    time.sleep(0.2)
    report = app.version_report()
    assert report['version'] == 1 and report['in_flight'] == 1 and report['switching'] is True
    assert 'switch' not in results and 'new' not in results
    gate.set()
    for thread in (old_write, switch, new_write):
        thread.join(5)
    assert results['old'] == (200, {'ok': True, 'shard': 1, 'host': '10.214.0.201', 'version': 1, 'id': 42})
    assert results['switch'][0] == 200 and results['switch'][1]['version'] == 2
    assert results['new'][0] == 200
    assert results['new'][1]['version'] == 2 and results['new'][1]['shard'] == 3
    assert results['new'][1]['host'] == '10.214.0.203'


def test_switch_times_out_and_keeps_the_old_map(lab, caplog):
    app, database = lab
    app.config['reload_timeout'] = 0.2
    gate = threading.Event()
    database.behaviour['10.214.0.200'] = {'block': gate}
    writer = threading.Thread(target=app.write, args=('insert', 'r-0-1', 0, '1.00'))
    writer.start()
    assert _wait(lambda: app.version_report()['in_flight'] == 1)
    code, body = app.put_map(shard_map(2))
    assert code == 503 and body['result'] == 'timeout'
    assert body['version'] == 1 and 'did not finish within 0.2 s; kept the old map' in body['last_error']
    assert app.stats.snapshot()['reloads']['timed_out'] == 1
    gate.set()
    writer.join(5)
    # The file holds version 2 already: a later reload (SIGHUP) loads it.
    assert app.reload_from_file('SIGHUP')[0] == 'loaded'
    assert app.version_report()['version'] == 2 and app.version_report()['last_error'] is None
    assert 'refused' in caplog.text


def test_switch_closes_idle_connections_of_changed_datasources(lab):
    app, database = lab
    assert app.write('insert', 'r-0-1', 0, '1.00')[0] == 200
    assert app.write('insert', 'r-0-2', 1, '1.00')[0] == 200
    to_a, to_b = database.to('10.214.0.200')[0], database.to('10.214.0.201')[0]
    assert app.pool.idle_count() == 2
    assert app.put_map(shard_map(2, hosts=('10.214.0.200', '10.214.0.202')))[0] == 200
    assert to_b.closed and not to_a.closed and app.pool.idle_count() == 1
    assert app.write('insert', 'r-0-3', 1, '1.00')[1]['host'] == '10.214.0.202'


def test_version_report_is_json_serialisable(lab):
    app, dummy = lab
    report = json.loads(json.dumps(app.version_report()))
    assert set(report) == {'version', 'modulus', 'digest', 'loaded_at', 'last_error', 'in_flight', 'switching'}
    assert report['in_flight'] == 0 and abs(report['loaded_at'] - time.time()) < 60


# -- the digest of the loaded map (issue 11: the route is acknowledged by content) ------------------

def test_map_digest_is_the_collections():
    from ansible_collections.smooth.mariadb.plugins.module_utils.route import EXAMPLE_DIGEST, EXAMPLE_MAP, map_digest
    assert app_mod.map_digest(EXAMPLE_MAP) == EXAMPLE_DIGEST
    for doc in (shard_map(1), shard_map(7, hosts=('db0.example.com', '10.0.0.1', '10.0.0.2'), port=3307)):
        assert app_mod.map_digest(doc) == map_digest(doc)
    assert app_mod.map_digest(shard_map(1)) == app_mod.map_digest(shard_map(9))


def test_validate_map_checks_a_digest_it_is_given():
    doc = dict(shard_map(2), digest=app_mod.map_digest(shard_map(2)))
    assert app_mod.validate_map(doc) == shard_map(2)
    doc['digest'] = app_mod.map_digest(shard_map(2, hosts=('10.214.0.200',)))
    with pytest.raises(app_mod.MapError) as caught:
        app_mod.validate_map(doc)
    assert 'is not the digest of the map\'s content' in str(caught.value)


def test_version_reports_the_digest_of_the_loaded_map_also_after_a_refused_one(lab):
    app, dummy = lab
    report = app.version_report()
    assert report['version'] == 1 and report['digest'] == app_mod.map_digest(shard_map(1))
    # The DBA's case: a map of the loaded version with other content is refused; the version stays,
    # and so does the digest, which tells the two maps apart.
    other = shard_map(1, hosts=('10.214.0.200', '10.214.0.201', '10.214.0.202', '10.214.0.203'))
    code, body = app.put_map(other)
    assert code == 409 and body['result'] == 'conflict'
    assert body['version'] == 1 and body['digest'] == app_mod.map_digest(shard_map(1)) != app_mod.map_digest(other)
    assert 'version 1 is already loaded with other content (digest %s, not %s)' % (
        app_mod.map_digest(shard_map(1)), app_mod.map_digest(other)) in body['last_error']
    code, body = app.put_map(dict(shard_map(2, hosts=('10.214.0.200', '10.214.0.202')), digest='0' * 64))
    assert code == 400 and 'is not the digest' in body['error']
    code, body = app.put_map(dict(other, version=2, digest=app_mod.map_digest(other)))
    assert code == 200 and body['result'] == 'loaded' and body['digest'] == app_mod.map_digest(other)


def test_the_map_file_carries_the_digest(tmp_path):
    path = str(tmp_path / 'shard-map.json')
    app_mod.write_map_file(path, shard_map(3))
    with open(path) as stream:
        written = json.load(stream)
    assert written == dict(shard_map(3), digest=app_mod.map_digest(shard_map(3)))
    assert app_mod.read_map_file(path) == shard_map(3)
