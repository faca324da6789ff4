# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""lab/app/loadgen.py without an application: classification, the summary and one writer."""

from __future__ import annotations

import errno
import http.client
import json
import socket
import threading
import urllib.error

import pytest

from .lab_modules import load

loadgen = load('loadgen')


def body(**values):
    return json.dumps(values).encode('utf-8')


@pytest.mark.parametrize('status, data, expected', [
    (200, body(ok=True, shard=1, version=2, id=5), ('ack', 2, 1, None)),
    (503, body(ok=False, outcome='failed', error='connect ds_1: refused', shard=1, version=2),
     ('failed', 2, 1, 'connect ds_1: refused')),
    (503, body(ok=False, outcome='unknown', error='commit ds_1: lost', shard=1, version=2),
     ('unknown', 2, 1, 'commit ds_1: lost')),
    (409, body(ok=False, outcome='failed', error='no row', shard=0, version=3), ('failed', 3, 0, 'no row')),
    (400, body(ok=False, error='amount must be'), ('failed', None, None, 'amount must be')),
    (503, b'<html>busy</html>', ('unknown', None, None, "HTTP 503: b'<html>busy</html>'")),
    (500, body(ok=False, error='boom'), ('unknown', None, None, 'boom')),
])
def test_classify_reply(status, data, expected):
    assert loadgen.classify_reply(status, data) == expected


def test_classify_reply_200_without_ok_is_unknown():
    outcome, dummy, dummy, error = loadgen.classify_reply(200, b'{"ok": tr')
    assert outcome == 'unknown' and error.startswith('HTTP 200 without ok=true')


@pytest.mark.parametrize('exc, outcome', [
    (urllib.error.URLError(ConnectionRefusedError(errno.ECONNREFUSED, 'Connection refused')), 'failed'),
    (urllib.error.URLError(OSError(errno.EHOSTUNREACH, 'No route to host')), 'failed'),
    (urllib.error.URLError(socket.gaierror(-2, 'Name or service not known')), 'failed'),
    (urllib.error.URLError(socket.timeout('timed out')), 'unknown'),
    (socket.timeout('timed out'), 'unknown'),
    (http.client.RemoteDisconnected('Remote end closed connection without response'), 'unknown'),
    (ConnectionResetError(errno.ECONNRESET, 'Connection reset by peer'), 'unknown'),
])
def test_classify_exception(exc, outcome):
    assert loadgen.classify_exception(exc)[0] == outcome


def record(t_start, t_end, outcome, op='insert', version=1, shard=0):
    return {'op': op, 't_start': t_start, 't_end': t_end, 'outcome': outcome, 'version': version, 'shard': shard}


def test_summary_figures():
    summary = loadgen.Summary('run', 'http://127.0.0.1:1')
    # thread 0: ack, then failures from 10.0 until the ack at 13.5: an outage of 3.5 s
    for rec in (record(9.0, 9.1, 'ack'), record(10.0, 10.2, 'failed', shard=1), record(11.0, 12.5, 'unknown', 'update'),
                record(13.0, 13.5, 'ack', 'update', version=2)):
        summary.add(rec, thread=0)
    # thread 1: a slow ack, then failures until the end of the run
    for rec in (record(9.5, 10.4, 'ack', version=2), record(14.0, 14.1, 'failed'), record(15.0, 15.2, 'failed')):
        summary.add(rec, thread=1)
    result = summary.result()
    assert result['insert'] == {'attempts': 5, 'acked': 2, 'failed': 3, 'unknown': 0}
    assert result['update'] == {'attempts': 2, 'acked': 1, 'failed': 0, 'unknown': 1}
    assert (result['attempts'], result['acked'], result['failed'], result['unknown']) == (7, 3, 3, 1)
    assert result['acked_inserts'] == 2
    assert result['max_ack_latency_seconds'] == 0.9
    assert result['acked_slower'] == 0
    assert result['longest_failed_seconds'] == 1.5
    assert result['longest_outage_seconds'] == 3.5
    assert result['outage_open_at_end'] is True
    assert result['versions'] == {'1': 1, '2': 2}
    assert result['shards'] == {'0': {'acked': 3, 'failed': 2, 'unknown': 1}, '1': {'acked': 0, 'failed': 1, 'unknown': 0}}
    assert (result['start_time'], result['end_time'], result['duration_seconds']) == (9.0, 15.2, 6.2)


def test_slow_acks_are_counted_and_slow_failures_are_not():
    summary = loadgen.Summary()
    for rec in (record(1.0, 1.0 + loadgen.SLOW_ACK_SECONDS, 'ack'), record(2.0, 3.5, 'ack'), record(4.0, 9.0, 'unknown'),
                record(10.0, 12.5, 'ack', 'update')):
        summary.add(rec)
    result = summary.result()
    # Exactly the threshold is not slower than it; the 5 s unknown outcome is not an ack.
    assert (result['acked_slower'], result['acked_slower_than_seconds']) == (2, loadgen.SLOW_ACK_SECONDS)
    assert result['max_ack_latency_seconds'] == 2.5


def test_an_outage_open_at_the_end_counts_until_the_last_attempt():
    summary = loadgen.Summary()
    summary.add(record(1.0, 1.1, 'ack'))
    summary.add(record(2.0, 2.1, 'unknown'))
    summary.add(record(8.0, 9.0, 'failed'))
    assert summary.result()['longest_outage_seconds'] == 7.0


def test_summarize_ledger_matches_the_live_summary():
    lines = [json.dumps(dict(record(1.0, 1.2, 'ack'), thread=0)), json.dumps(dict(record(2.0, 2.1, 'failed'), thread=1)),
             json.dumps(dict(record(3.0, 3.1, 'ack'), thread=1)), '']
    result = loadgen.summarize_ledger(lines).result()
    assert result['longest_outage_seconds'] == 1.1 and result['acked'] == 2 and result['outage_open_at_end'] is False


class Options(object):
    app = 'http://127.0.0.1:9/'
    run_id = 'unit'
    threads = 1
    rate = 1000.0
    update_ratio = 0.5
    accounts = 10
    timeout = 1.0


class FakeSend(object):
    """Acks inserts with odd seq, refuses even ones; acks every update."""

    def __init__(self):
        self.sent = []

    def __call__(self, url, payload, timeout):
        self.sent.append((url, payload))
        if url.endswith('/orders') and int(payload['order_no'].rsplit('-', 1)[1]) % 2 == 0:
            raise urllib.error.URLError(ConnectionRefusedError(errno.ECONNREFUSED, 'Connection refused'))
        return 200, body(ok=True, shard=payload['account_no'] % 2, version=1)


def test_worker_updates_only_its_acked_orders_and_records_every_attempt(tmp_path):
    path = str(tmp_path / 'ledger.jsonl')
    ledger = loadgen.Ledger(path)
    summary = loadgen.Summary()
    send = FakeSend()
    worker = loadgen.Worker(0, Options(), ledger, summary, threading.Event(), send=send)
    records = [worker.attempt() for dummy in range(60)]
    ledger.close()
    with open(path) as stream:
        lines = [json.loads(line) for line in stream]
    assert lines == records
    acked = set(r['order_no'] for r in records if r['op'] == 'insert' and r['outcome'] == 'ack')
    updates = [r for r in records if r['op'] == 'update']
    assert updates and all(r['order_no'] in acked for r in updates)
    assert all(int(r['order_no'].rsplit('-', 1)[1]) % 2 == 1 for r in updates)
    refused = [r for r in records if r['outcome'] == 'failed']
    assert refused and all(r['http'] is None and r['error'].startswith('not sent:') for r in refused)
    assert all(r['order_no'].startswith('unit-0-') and 0 <= r['account_no'] < 10 for r in records)
    assert all(len(r['amount'].split('.')[1]) == 2 for r in records)
    assert send.sent[0][0] == 'http://127.0.0.1:9/orders'
    assert summary.result()['attempts'] == 60


def test_parse_args_checks_and_defaults():
    options = loadgen.parse_args(['--app', 'http://127.0.0.1:8080', '--ledger', 'l', '--summary', 's'])
    assert (options.rate, options.threads, options.update_ratio, options.accounts, options.timeout) == (40.0, 4, 0.3,
                                                                                                        100000, 5.0)
    assert options.duration is None and len(options.run_id) == 19
    with pytest.raises(SystemExit):
        loadgen.parse_args(['--app', '127.0.0.1:8080', '--ledger', 'l', '--summary', 's'])
    with pytest.raises(SystemExit):
        loadgen.parse_args(['--app', 'http://x', '--ledger', 'l', '--summary', 's', '--update-ratio', '2'])
