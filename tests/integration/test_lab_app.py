# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The lab application (lab/app): service, load generator and ledger check on loopback.

A small 1 -> 2 expansion under load on the two test servers: A and B start as
a dual-master pair behind shard map version 1 (modulus 1, ds_0 = A); the load
generator writes through the application; map version 2 (modulus 2, ds_0 = A,
ds_1 = B) is PUT while it runs; the pair is split once B has everything A
wrote; B is stopped and started again (writes to shard 1 fail meanwhile);
each server's foreign rows are deleted. The ledger check must then find every
acknowledged write in its shard, and must report rows deleted, moved and
changed afterwards. A second test covers the map refusals and SIGHUP.
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from mariadb_lab import ADMIN_PASSWORD, ADMIN_USER, REPO_ROOT, TARGET_PYTHON, _free_port, find_server_binaries
from test_shard_purge import caught_up, kill_dump_threads, replicate, running

LAB_APP = os.path.join(REPO_ROOT, 'lab', 'app')
APP_USER, APP_PASSWORD = 'smooth_lab_app', 'L4b-App-Pw-7c21'
TABLE = 'smooth_lab.t_trade_order'


def schema_statements():
    """lab/app/schema.sql split as lab/app/deploy.yml splits it."""
    with open(os.path.join(LAB_APP, 'schema.sql')) as stream:
        text = '\n'.join(line for line in stream.read().splitlines() if not line.startswith('--'))
    return [statement.strip() for statement in text.split(';') if statement.strip()]


def shard_map(version, *servers):
    return {'version': version, 'modulus': len(servers),
            'datasources': [{'name': 'ds_%d' % i, 'shard': i, 'host': '127.0.0.1', 'port': port}
                            for i, port in enumerate(server.port if hasattr(server, 'port') else server
                                                     for server in servers)]}


def http(method, url, doc=None, timeout=10):
    """(status, JSON body) of a request to the application on 127.0.0.1."""
    assert url.startswith('http://127.0.0.1:')
    data = json.dumps(doc).encode('utf-8') if doc is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read().decode('utf-8'))
    except urllib.error.HTTPError as exc:
        with contextlib.closing(exc):
            return exc.code, json.loads(exc.read().decode('utf-8'))


class App(object):
    def __init__(self, process, url, map_path, log_path):
        self.process = process
        self.url = url
        self.map_path = map_path
        self.log_path = log_path

    def version(self):
        return http('GET', self.url + '/version')[1]

    def log(self):
        with open(self.log_path) as stream:
            return stream.read()


@contextlib.contextmanager
def running_app(directory, first_map, waiter):
    """The application on 127.0.0.1 (a free port), with first_map in its map file; always stopped."""
    port = _free_port()
    config_path, map_path, log_path = (os.path.join(directory, name) for name in ('app.json', 'shard-map.json', 'app.log'))
    with open(config_path, 'w') as stream:
        json.dump({'listen': '127.0.0.1', 'port': port, 'map_path': map_path, 'password': APP_PASSWORD,
                   'connect_timeout': 2, 'query_timeout': 5, 'reload_timeout': 10}, stream)
    with open(map_path, 'w') as stream:
        json.dump(first_map, stream)
    with open(log_path, 'w') as log:
        process = subprocess.Popen([TARGET_PYTHON, os.path.join(LAB_APP, 'smooth_lab_app.py'), '--config', config_path],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    app = App(process, 'http://127.0.0.1:%d' % port, map_path, log_path)
    try:
        def answers():
            assert process.poll() is None, 'the application exited:\n%s' % app.log()
            try:
                return app.version()
            except OSError:
                return None
        waiter(answers, timeout=15, interval=0.1, what='the application answering on port %d' % port)
        yield app
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=20) == 0, 'the application did not stop cleanly:\n%s' % app.log()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def acked_on(ledger_path, shard):
    """Acked writes to shard in the ledger so far."""
    return sum(1 for r in read_ledger(ledger_path) if r['shard'] == shard and r['outcome'] == 'ack')


def read_ledger(path):
    """The complete records of the ledger so far (none before the load generator created it)."""
    records = []
    if not os.path.exists(path):
        return records
    with open(path) as stream:
        for line in stream:
            if line.endswith('\n'):
                records.append(json.loads(line))
    return records


@pytest.fixture
def lab_schema(servers, waiter):
    """smooth_lab and the app account on A and B (local, not binlogged). Afterwards both are
    dropped and, as the application's writes were binary-logged, the binary logs and
    gtid_slave_pos are reset (as mariadb_lab.wipe_server does), so that no later test's
    replication replays them."""
    statements = (['DROP DATABASE IF EXISTS smooth_lab', "DROP USER IF EXISTS '%s'@'127.0.0.1'" % APP_USER]
                  + schema_statements()
                  + ["CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'" % (APP_USER, APP_PASSWORD),
                     "GRANT SELECT, INSERT, UPDATE ON smooth_lab.* TO '%s'@'127.0.0.1'" % APP_USER])
    for server in servers:
        kill_dump_threads(server, waiter)
        server.setup_sql(statements)
    yield
    for server in servers:
        server.reset_replication()
    for server in servers:
        kill_dump_threads(server, waiter)
        server.setup_sql(['DROP DATABASE IF EXISTS smooth_lab', "DROP USER IF EXISTS '%s'@'127.0.0.1'" % APP_USER])
        server.query('RESET MASTER')
        server.query("SET GLOBAL gtid_slave_pos = ''")


def ledger_check(tmp_path, ledger_path, servers, name):
    shards = {'modulus': 2, 'user': ADMIN_USER, 'password': ADMIN_PASSWORD,
              'shards': [{'index': 0, 'nodes': [{'name': 'a', 'host': '127.0.0.1', 'port': servers.a.port}]},
                         {'index': 1, 'nodes': [{'name': 'b', 'host': '127.0.0.1', 'port': servers.b.port}]}]}
    shards_path, report_path = str(tmp_path / 'shards.json'), str(tmp_path / ('%s.json' % name))
    with open(shards_path, 'w') as stream:
        json.dump(shards, stream)
    done = subprocess.run([sys.executable, os.path.join(LAB_APP, 'ledger_check.py'), '--ledger', ledger_path,
                           '--shards', shards_path, '--report', report_path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    output = done.stdout.decode('utf-8') + done.stderr.decode('utf-8')
    with open(report_path) as stream:
        return done.returncode, json.load(stream), output


def test_expansion_under_load_keeps_every_acked_write(servers, lab_schema, tmp_path, waiter):
    a, b = servers.a, servers.b
    mariadbd = find_server_binaries()[0]
    # A <=> B dual master, from their current positions (nothing of earlier tests is replayed).
    replicate(a, b)
    replicate(b, a)
    waiter(lambda: running(a, 'peer') and running(b, 'peer'), what='A <=> B replicating')

    ledger_path, summary_path, stop_file = (str(tmp_path / name) for name in ('ledger.jsonl', 'summary.json', 'stop'))

    def ledger_has(predicate, at_least):
        return lambda: sum(1 for r in read_ledger(ledger_path) if predicate(r)) >= at_least

    with running_app(str(tmp_path), shard_map(1, a), waiter) as app:
        assert app.version()['version'] == 1 and app.version()['modulus'] == 1
        loadgen = subprocess.Popen([sys.executable, os.path.join(LAB_APP, 'loadgen.py'), '--app', app.url,
                                    '--ledger', ledger_path, '--summary', summary_path, '--rate', '60',
                                    '--threads', '4', '--accounts', '1000', '--update-ratio', '0.3', '--timeout', '5',
                                    '--stop-file', stop_file, '--duration', '40', '--run-id', 'it'],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            waiter(ledger_has(lambda r: r['outcome'] == 'ack', 60), timeout=15, interval=0.1,
                   what='60 acked writes under map version 1')

            # route: version 2 while the writes go on; then nothing routed by version 1 is in flight
            status, body = http('PUT', app.url + '/shard-map', shard_map(2, a, b))
            assert status == 200, body
            assert body['result'] == 'loaded' and body['version'] == 2 and body['modulus'] == 2
            switched_at = body['loaded_at']
            with open(app.map_path) as stream:
                written = json.load(stream)
            # The file carries the digest of the map the application loaded (and reports).
            assert written.pop('digest') == app.version()['digest']
            assert written == shard_map(2, a, b)
            waiter(ledger_has(lambda r: r['outcome'] == 'ack' and r['version'] == 2 and r['shard'] == 1, 40),
                   timeout=15, interval=0.1, what='40 acked writes to shard 1 under version 2')

            # split: B has applied everything A wrote (all of version 1), then the pair is cut
            caught_up(b, a)
            caught_up(a, b)
            for server in (a, b):
                server.reset_replication()

            # shard 1 down for a moment: its writes fail, shard 0 keeps going
            attempts_before_stop = len(read_ledger(ledger_path))
            b.stop()
            try:
                waiter(ledger_has(lambda r: r['shard'] == 1 and r['outcome'] != 'ack', 5), timeout=15, interval=0.1,
                       what='writes to stopped shard 1 failing')
            finally:
                b.start(mariadbd)
            acked_before = acked_on(ledger_path, 1)
            waiter(ledger_has(lambda r: r['shard'] == 1 and r['outcome'] == 'ack', acked_before + 30), timeout=15,
                   interval=0.1, what='shard 1 acking writes again')
        finally:
            with open(stop_file, 'w'):
                pass
            output = loadgen.communicate(timeout=30)[0].decode('utf-8')
        assert loadgen.returncode == 0, output
        status, stats = http('GET', app.url + '/stats')
        assert status == 200 and stats['version'] == 2
        assert stats['reloads']['loaded'] == 2
        shard1 = stats['writes']['1']
        assert sum(shard1[op]['failed'] + shard1[op]['unknown'] for op in shard1) >= 5
        assert sum(shard1[op]['ok'] for op in shard1) == acked_on(ledger_path, 1)
        log = app.log()
    assert 'shard map from PUT: loaded version 2 (modulus 2, was 1)' in log
    assert 'Can\'t connect' in log  # the failed writes to the stopped shard, with the server's message

    with open(summary_path) as stream:
        summary = json.load(stream)
    assert summary == json.loads(output)
    records = read_ledger(ledger_path)
    assert summary['attempts'] == len(records) > attempts_before_stop
    assert summary['acked_inserts'] == sum(1 for r in records if r['op'] == 'insert' and r['outcome'] == 'ack') >= 60
    assert summary['update']['acked'] >= 10
    assert set(summary['versions']) == {'1', '2'}
    assert summary['shards']['1']['failed'] + summary['shards']['1']['unknown'] >= 5
    assert 0 < summary['longest_outage_seconds'] < 30 and summary['stuck_threads'] == []
    assert all(r['error'] for r in records if r['outcome'] != 'ack')
    # A write acked under version 1 reached the app before the switch; one under version 2 ended after it.
    assert all(r['t_start'] < switched_at for r in records if r['version'] == 1)
    assert all(r['t_end'] > switched_at for r in records if r['version'] == 2)

    # cleanup: each shard deletes the rows it does not own (local statements, as the pair is split)
    a.setup_sql(['DELETE FROM %s WHERE account_no %% 2 <> 0' % TABLE])
    b.setup_sql(['DELETE FROM %s WHERE account_no %% 2 <> 1' % TABLE])

    code, report, output = ledger_check(tmp_path, ledger_path, servers, 'consistent')
    assert code == 0, output
    assert report['ok'] is True and report['acked_inserts'] == summary['acked_inserts']
    rows = sum(list(server.query('SELECT COUNT(*) AS n FROM %s' % TABLE)[0].values())[0] for server in servers)
    assert report['checked_rows'] == rows >= summary['acked_inserts']
    assert report['nodes']['a']['rows'] + report['nodes']['b']['rows'] == rows
    assert 'OK: every acked write' in output

    # break it: delete an acked row of shard 0, move one of shard 1 to shard 0, change an amount
    orders = {}
    for r in records:
        orders.setdefault(r['order_no'], []).append(r)
    clean = sorted(order_no for order_no, writes in orders.items() if all(w['outcome'] == 'ack' for w in writes))
    even = [o for o in clean if orders[o][0]['account_no'] % 2 == 0]
    odd = [o for o in clean if orders[o][0]['account_no'] % 2 == 1]
    deleted, changed, moved = even[0], even[1], odd[0]
    a.setup_sql(["DELETE FROM %s WHERE order_no = '%s'" % (TABLE, deleted),
                 "UPDATE %s SET amount = 0.01 WHERE order_no = '%s'" % (TABLE, changed)])
    row = b.query('SELECT order_no, account_no, amount, map_version FROM %s WHERE order_no = %%s' % TABLE, (moved,))[0]
    b.setup_sql(["DELETE FROM %s WHERE order_no = '%s'" % (TABLE, moved)])
    a.query('INSERT INTO %s (order_no, account_no, amount, map_version, created_at, updated_at) '
            'VALUES (%%s, %%s, %%s, %%s, NOW(6), NOW(6))' % TABLE,
            (row['order_no'], row['account_no'], row['amount'], row['map_version']))

    code, report, output = ledger_check(tmp_path, ledger_path, servers, 'broken')
    assert code == 1, output
    assert report['ok'] is False
    assert (report['missing'], report['misplaced'], report['foreign_rows'], report['wrong_amount'],
            report['duplicated']) == (2, 1, 1, 1, 0)
    assert sorted(e['order_no'] for e in report['examples']['missing']) == sorted([deleted, moved])
    assert report['examples']['misplaced'][0]['order_no'] == moved
    assert report['examples']['misplaced'][0]['node'] == 'a'
    assert report['examples']['wrong_amount'][0]['order_no'] == changed
    assert report['examples']['wrong_amount'][0]['amount'] == '0.01'
    assert 'PROBLEMS: missing 2, misplaced 1, wrong_amount 1, foreign_rows 1' in output


def test_map_refusals_sighup_and_bad_requests(tmp_path, waiter):
    nowhere = _free_port()  # nothing listens there: writes fail before anything is sent
    with running_app(str(tmp_path), shard_map(3, nowhere), waiter) as app:
        assert app.version()['version'] == 3 and app.version()['last_error'] is None

        status, body = http('PUT', app.url + '/shard-map', shard_map(2, nowhere))
        assert status == 409 and body['result'] == 'older' and body['version'] == 3
        assert 'version 2 is older than the loaded version 3' in app.version()['last_error']
        status, body = http('PUT', app.url + '/shard-map', shard_map(3, nowhere))
        assert status == 200 and body['result'] == 'same' and app.version()['last_error'] is None
        status, body = http('PUT', app.url + '/shard-map', shard_map(3, nowhere, nowhere))
        assert status == 409 and body['result'] == 'conflict'
        status, body = http('PUT', app.url + '/shard-map', {'version': 4, 'modulus': 1, 'datasources': []})
        assert status == 400 and 'exactly one datasource per shard (1), got 0' in body['error']
        with open(app.map_path) as stream:
            assert json.load(stream) == shard_map(3, nowhere)  # the file is never written by a refused map

        status, body = http('POST', app.url + '/orders', {'order_no': 'x-1', 'account_no': 5, 'amount': '1.00'})
        assert status == 503 and body['outcome'] == 'failed' and body['shard'] == 0 and body['version'] == 3
        assert body['error'].startswith('connect ds_0 127.0.0.1:%d: (2003) Can\'t connect' % nowhere)
        status, body = http('POST', app.url + '/orders', {'order_no': 'x-1', 'account_no': -5, 'amount': '1.00'})
        assert status == 400 and 'account_no must be an integer >= 0' in body['error']
        assert http('GET', app.url + '/nothing')[0] == 404

        # SIGHUP: the file is read again; a newer map is loaded, an older one refused
        with open(app.map_path, 'w') as stream:
            json.dump(shard_map(5, nowhere, nowhere), stream)
        app.process.send_signal(signal.SIGHUP)
        waiter(lambda: app.version()['version'] == 5, timeout=10, interval=0.1, what='version 5 loaded on SIGHUP')
        assert app.version()['modulus'] == 2
        with open(app.map_path, 'w') as stream:
            json.dump(shard_map(4, nowhere), stream)
        app.process.send_signal(signal.SIGHUP)
        waiter(lambda: 'version 4 is older' in (app.version()['last_error'] or ''), timeout=10, interval=0.1,
               what='version 4 refused on SIGHUP')
        assert app.version()['version'] == 5
        log = app.log()
    assert 'shard map from SIGHUP: loaded version 5' in log
    assert 'shard map from SIGHUP refused: version 4 is older than the loaded version 5: kept 5' in log
