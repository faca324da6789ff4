# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Load generator for the lab application, with a ledger of every attempt.

Runs on the controller (Python standard library only). Each of --threads
threads inserts orders (order_no "RUN-THREAD-SEQ", a random account_no, a
random amount) and updates its own previously acknowledged orders, at a total
of --rate writes per second, through POST /orders and POST /orders/update.

Nothing is retried: every attempt is one JSON line of the ledger, flushed at
once, with its outcome:
  ack      the application answered 200 (committed);
  failed   the write was definitely not committed (connection refused before
           sending, HTTP 4xx, or 503 with outcome "failed");
  unknown  it may have been committed (timeout or connection lost after
           sending, 503 with outcome "unknown", any other 5xx).

The run ends after --duration seconds, on SIGTERM/SIGINT, or when --stop-file
exists; then the summary is written to --summary and printed.

    python lab/app/loadgen.py --app http://10.214.0.15:8080 --ledger ledger.jsonl --summary summary.json \\
        [--rate 40] [--threads 4] [--duration S] [--stop-file PATH] [--update-ratio 0.3] [--accounts 100000] \\
        [--timeout 5] [--run-id ID]
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

ACK, FAILED, UNKNOWN = 'ack', 'failed', 'unknown'
OUTCOMES = (ACK, FAILED, UNKNOWN)
OPS = ('insert', 'update')
PATHS = {'insert': '/orders', 'update': '/orders/update'}
# Errors that mean the request never reached the application.
_NOT_SENT_ERRNOS = (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH)


# -- pure logic: classifying answers and summarising the ledger ----------------------------------

def _json_or_none(data):
    try:
        value = json.loads(data.decode('utf-8') if isinstance(data, bytes) else data)
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return value if isinstance(value, dict) else None


def classify_reply(status, data):
    """(outcome, version, shard, error) for an HTTP answer with status and body data."""
    body = _json_or_none(data) or {}
    version, shard = body.get('version'), body.get('shard')
    if status == 200 and body.get('ok') is True:
        return ACK, version, shard, None
    error = body.get('error') or ('HTTP %d: %r' % (status, data[:200] if data else data))
    if status == 200:
        return UNKNOWN, version, shard, 'HTTP 200 without ok=true: %s' % error
    if status == 503 and body.get('outcome') in (FAILED, UNKNOWN):
        return body['outcome'], version, shard, error
    if 400 <= status < 500:
        return FAILED, version, shard, error
    return UNKNOWN, version, shard, error


def classify_exception(exc):
    """(outcome, error) for a request that got no HTTP answer."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException) else exc
    if isinstance(reason, socket.gaierror):
        return FAILED, 'not sent: %s' % reason
    if isinstance(reason, OSError) and reason.errno in _NOT_SENT_ERRNOS:
        return FAILED, 'not sent: %s' % reason
    return UNKNOWN, '%s: %s' % (type(reason).__name__, reason)


# An acknowledged write that took longer than this counts as one that waited.
SLOW_ACK_SECONDS = 1.0


def _counters():
    return dict((op, dict(attempts=0, acked=0, failed=0, unknown=0)) for op in OPS)


class Summary(object):
    """Figures of a run, kept up to date record by record (thread-safe)."""

    def __init__(self, run_id=None, app=None):
        self._lock = threading.Lock()
        self.run_id = run_id
        self.app = app
        self.ops = _counters()
        self.max_ack_latency = 0.0
        self.slow_acks = 0
        self.longest_failed = 0.0
        self.longest_outage = 0.0
        self.outage_open_at_end = False
        self.versions = {}
        self.shards = {}
        self.first_start = None
        self.last_end = None
        self._outage_since = {}   # thread -> t_start of its first non-acked attempt since its last ack
        self._last_end = {}       # thread -> t_end of its last attempt

    def add(self, record, thread=0):
        op, outcome = record['op'], record['outcome']
        duration = max(0.0, record['t_end'] - record['t_start'])
        with self._lock:
            counters = self.ops[op]
            counters['attempts'] += 1
            counters['acked' if outcome == ACK else outcome] += 1
            self.first_start = record['t_start'] if self.first_start is None else min(self.first_start, record['t_start'])
            self.last_end = record['t_end'] if self.last_end is None else max(self.last_end, record['t_end'])
            self._last_end[thread] = record['t_end']
            shard = self.shards.setdefault(str(record.get('shard')), dict(acked=0, failed=0, unknown=0))
            shard['acked' if outcome == ACK else outcome] += 1
            if outcome == ACK:
                self.max_ack_latency = max(self.max_ack_latency, duration)
                self.slow_acks += duration > SLOW_ACK_SECONDS
                key = str(record.get('version'))
                self.versions[key] = self.versions.get(key, 0) + 1
                since = self._outage_since.pop(thread, None)
                if since is not None:
                    self.longest_outage = max(self.longest_outage, record['t_end'] - since)
            else:
                self.longest_failed = max(self.longest_failed, duration)
                self._outage_since.setdefault(thread, record['t_start'])

    def result(self, start_time=None, end_time=None):
        with self._lock:
            longest_outage, open_at_end = self.longest_outage, False
            for thread, since in self._outage_since.items():
                open_at_end = True
                longest_outage = max(longest_outage, self._last_end[thread] - since)
            start = start_time if start_time is not None else self.first_start
            end = end_time if end_time is not None else self.last_end
            result = {
                'run_id': self.run_id,
                'app': self.app,
                'start_time': start,
                'end_time': end,
                'duration_seconds': round(end - start, 3) if start is not None and end is not None else None,
                'insert': dict(self.ops['insert']),
                'update': dict(self.ops['update']),
                'attempts': sum(c['attempts'] for c in self.ops.values()),
                'acked': sum(c['acked'] for c in self.ops.values()),
                'failed': sum(c['failed'] for c in self.ops.values()),
                'unknown': sum(c['unknown'] for c in self.ops.values()),
                'acked_inserts': self.ops['insert']['acked'],
                'max_ack_latency_seconds': round(self.max_ack_latency, 3),
                'acked_slower_than_seconds': SLOW_ACK_SECONDS,
                'acked_slower': self.slow_acks,
                'longest_failed_seconds': round(self.longest_failed, 3),
                'longest_outage_seconds': round(longest_outage, 3),
                'outage_open_at_end': open_at_end,
                'versions': dict(sorted(self.versions.items())),
                'shards': dict(sorted(self.shards.items())),
            }
        return result


def summarize_ledger(lines):
    """A Summary of ledger lines (each a JSON record with a 'thread'), e.g. to recompute it from a file."""
    summary = Summary()
    for line in lines:
        if line.strip():
            record = json.loads(line)
            summary.add(record, thread=record.get('thread', 0))
    return summary


def random_amount(rng):
    return '%d.%02d' % (rng.randint(1, 99999), rng.randint(0, 99))


# -- the run ----------------------------------------------------------------------------------

class Ledger(object):
    """Append-only JSON lines, one per attempt, flushed at once (thread-safe)."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._stream = open(path, 'a', encoding='utf-8')  # pylint: disable=consider-using-with

    def write(self, record):
        line = json.dumps(record, sort_keys=True) + '\n'
        with self._lock:
            if self._stream.closed:  # a thread still stuck in a request when the run ended
                sys.stderr.write('ledger already closed, attempt not recorded: %s' % line)
                return
            self._stream.write(line)
            self._stream.flush()

    def close(self):
        with self._lock:
            self._stream.close()


def post(url, payload, timeout):
    """(status, body bytes) of a POST with a JSON payload; raises on no HTTP answer."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode('utf-8'), method='POST',
                                     headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, exc.read()
        finally:
            exc.close()


class Worker(threading.Thread):
    """One writer: inserts its own orders and updates those it got acknowledged, one at a time."""

    def __init__(self, index, options, ledger, summary, stop, send=post):
        super(Worker, self).__init__(name='writer-%d' % index, daemon=True)
        self.index = index
        self.options = options
        self.ledger = ledger
        self.summary = summary
        self.stop = stop
        self.send = send
        self.rng = random.Random('%s-%d' % (options.run_id, index))
        self.seq = 0
        self.acked_orders = []  # (order_no, account_no) of acknowledged inserts

    def next_request(self):
        if self.acked_orders and self.rng.random() < self.options.update_ratio:
            order_no, account_no = self.rng.choice(self.acked_orders)
            return 'update', order_no, account_no
        self.seq += 1
        return 'insert', '%s-%d-%d' % (self.options.run_id, self.index, self.seq), self.rng.randrange(self.options.accounts)

    def attempt(self):
        op, order_no, account_no = self.next_request()
        payload = {'order_no': order_no, 'account_no': account_no, 'amount': random_amount(self.rng)}
        started = time.time()
        status = version = shard = None
        try:
            status, data = self.send(self.options.app.rstrip('/') + PATHS[op], payload, self.options.timeout)
            outcome, version, shard, error = classify_reply(status, data)
        except Exception as exc:  # no HTTP answer: classified, recorded, never retried
            outcome, error = classify_exception(exc)
        record = dict(payload, op=op, t_start=round(started, 6), t_end=round(time.time(), 6), outcome=outcome,
                      http=status, version=version, shard=shard, error=error, thread=self.index)
        self.ledger.write(record)
        self.summary.add(record, thread=self.index)
        if op == 'insert' and outcome == ACK:
            self.acked_orders.append((order_no, account_no))
        return record

    def run(self):
        interval = self.options.threads / float(self.options.rate)
        next_at = time.monotonic() + interval * self.index / self.options.threads
        while not self.stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                break
            self.attempt()
            # Keep the rate, but never burst to catch up after a slow attempt.
            next_at = max(next_at + interval, time.monotonic())


def parse_args(argv):
    parser = argparse.ArgumentParser(description='Write orders to the lab application and record every attempt.')
    parser.add_argument('--app', required=True, help='base URL of the application, e.g. http://10.214.0.15:8080')
    parser.add_argument('--ledger', required=True, help='ledger file (JSON lines, appended)')
    parser.add_argument('--summary', required=True, help='summary file (JSON), written at the end')
    parser.add_argument('--rate', type=float, default=40.0, help='writes per second, all threads together')
    parser.add_argument('--threads', type=int, default=4)
    parser.add_argument('--duration', type=float, help='seconds to run (default: until a signal or the stop file)')
    parser.add_argument('--stop-file', help='stop once this file exists')
    parser.add_argument('--update-ratio', type=float, default=0.3, help='share of writes that are updates')
    parser.add_argument('--accounts', type=int, default=100000, help='account_no is drawn from 0 .. accounts-1')
    parser.add_argument('--timeout', type=float, default=5.0, help='seconds for one HTTP request')
    parser.add_argument('--run-id', help='prefix of the order numbers (default: time and a random suffix)')
    options = parser.parse_args(argv)
    if not options.app.startswith(('http://', 'https://')):
        parser.error('--app must be an http:// or https:// URL')
    if options.rate <= 0 or options.threads < 1 or options.accounts < 1 or options.timeout <= 0:
        parser.error('--rate, --threads, --accounts and --timeout must be positive')
    if not 0.0 <= options.update_ratio <= 1.0:
        parser.error('--update-ratio must be between 0 and 1')
    if options.duration is not None and options.duration <= 0:
        parser.error('--duration must be positive')
    if options.run_id is None:
        options.run_id = '%s-%04x' % (time.strftime('%Y%m%d%H%M%S'), random.SystemRandom().randrange(16 ** 4))
    if len('%s-%d-%d' % (options.run_id, options.threads, 10 ** 9)) > 64:
        parser.error('--run-id is too long for order numbers of at most 64 characters')
    return options


def write_json(path, value):
    temp_path = '%s.tmp' % path
    with open(temp_path, 'w', encoding='utf-8') as stream:
        json.dump(value, stream, sort_keys=True, indent=2)
        stream.write('\n')
    os.replace(temp_path, path)


def main(argv=None):
    options = parse_args(argv)
    stop = threading.Event()

    def on_signal(signum, frame):  # pylint: disable=unused-argument
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ledger = Ledger(options.ledger)
    summary = Summary(options.run_id, options.app)
    start_time = time.time()
    started = time.monotonic()
    workers = [Worker(index, options, ledger, summary, stop) for index in range(options.threads)]
    for worker in workers:
        worker.start()
    while not stop.wait(0.2):
        if options.duration is not None and time.monotonic() - started >= options.duration:
            break
        if options.stop_file and os.path.exists(options.stop_file):
            break
    stop.set()
    for worker in workers:
        worker.join(timeout=options.timeout + 5)
    stuck = [worker.name for worker in workers if worker.is_alive()]
    ledger.close()
    result = summary.result(start_time=start_time, end_time=time.time())
    result['stuck_threads'] = stuck
    write_json(options.summary, result)
    print(json.dumps(result, sort_keys=True, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
