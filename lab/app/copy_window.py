# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Measure how long any write had one up-to-date copy only, while an expansion runs.

Every node writes its own GTID domain (``gtid_domain_id`` is unique per node in
this collection). Twice a second this reads, from every node of the fleet,
``@@gtid_domain_id``, ``@@gtid_binlog_pos`` and ``@@gtid_slave_pos``. For each
node X that wrote in its own domain, the writes of X that no other node has
applied yet (the highest sequence number of X's domain that any other node
holds, in its binary log or as its replica position) exist on X alone. The
window of X at a reading is the age of the oldest such write: the time since X
first showed a sequence number above what the best other copy holds (0 when
another node holds all of it). The longest window of the run is printed, with
the node and the time it ended, and written as JSON.

    python lab/app/copy_window.py --shards shards.json --out window.json --stop-file STOP [--interval 0.5]
        [--duration 3600]

shards.json: the format of ledger_check.py (user, password and every node of
every shard: name, host, port). A node that does not answer (not installed
yet, restarting) counts as holding no copy. Bounded: it stops at the stop
file, after --duration seconds, or on SIGTERM, and each reading has a 2 s
timeout. Each node's longest span without an answer is reported too, with its
last error ("unanswered"): a long window beside a node that could not be read
says that the reader lost the node, not that the node lost the copy. Every
--status-every seconds the replication connections of every node are read
too (SHOW ALL SLAVES STATUS: threads, errors, lag, state) with the statements
that have run for more than 5 s; a node's longest window keeps the last such
reading taken while it lasted ("replication"), to say why no other node
applied the writes. Exit 0 after a run with readings, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

import pymysql

READ = 'SELECT @@GLOBAL.gtid_domain_id AS domain, @@GLOBAL.gtid_binlog_pos AS binlog, @@GLOBAL.gtid_slave_pos AS slave'
SLAVE_FIELDS = ('Connection_name', 'Slave_IO_Running', 'Slave_SQL_Running', 'Seconds_Behind_Master', 'Last_IO_Errno',
                'Last_IO_Error', 'Last_SQL_Errno', 'Last_SQL_Error', 'Slave_SQL_Running_State', 'Gtid_IO_Pos')
LONG_STATEMENTS = ("SELECT ID AS id, USER AS user, COMMAND AS command, TIME AS seconds, STATE AS state, "
                   "LEFT(INFO, 200) AS info FROM information_schema.PROCESSLIST "
                   "WHERE COMMAND NOT IN ('Sleep', 'Binlog Dump') AND TIME > 5 AND ID <> CONNECTION_ID()")


def parse_positions(*lists):
    """{domain: highest seq_no} over GTID lists such as ``'0-1-100,1-2-50'`` (pure)."""
    best = {}
    for text in lists:
        for item in (text or '').replace(' ', '').split(','):
            if not item:
                continue
            domain, dummy, seq = item.split('-')
            best[int(domain)] = max(best.get(int(domain), 0), int(seq))
    return best


class SilenceTracker(object):
    """How long each node did not answer, from the names that answered at each reading (pure): a node that does
    not answer counts as holding no copy, so a window may be a node that could not be read, not a lost copy."""

    def __init__(self, names):
        self.names = list(names)
        self.since = {}
        self.longest = {}

    def observe(self, t, answered, errors):
        for name in self.names:
            if name in answered:
                self.since.pop(name, None)
                continue
            began = self.since.setdefault(name, t)
            record = self.longest.get(name)
            if record is None or t - began > record['seconds']:
                self.longest[name] = {'seconds': round(t - began, 3), 'from': began, 'to': t,
                                      'last_error': errors.get(name, '')}


class WindowTracker(object):
    """The single-copy windows of every writer, from readings ``observe(t, readings)`` (pure).

    readings: ``{node: {'domain': int, 'positions': {domain: seq}}}`` of the
    nodes that answered at time ``t`` (seconds).
    """

    def __init__(self):
        self.first_seen = {}     # node -> [[t, seq]]: each higher own seq since the reading that first showed it
        #                          (the highest seq a copy holds: since the last reading at which one held it)
        self.longest = {}        # node -> {'seconds', 'at', 'seq', 'best_copy'}
        self.readings = 0

    def observe(self, t, readings):
        self.readings += 1
        windows = {}
        for node, reading in readings.items():
            domain = reading['domain']
            own = reading['positions'].get(domain, 0)
            history = self.first_seen.setdefault(node, [])
            if own and (not history or own > history[-1][1]):
                history.append([t, own])
            copies = [other['positions'].get(domain, 0) for name, other in readings.items() if name != node]
            best = max(copies or [0])
            # What the best copy holds is covered now: one entry stands for all of it, timed now, so that if that
            # copy is lost later (its node stops answering), those writes count from then, not from when they
            # were first seen (they had two copies in between).
            covered = [entry for entry in history if entry[1] <= best]
            if covered:
                covered[-1][0] = t
                history[:] = covered[-1:] + [entry for entry in history if entry[1] > best]
            # The oldest write of this node that no other node holds now.
            pending = [seen for seen, seq in history if seq > best]
            window = t - pending[0] if pending and own > best else 0.0
            windows[node] = window
            record = self.longest.get(node)
            if record is None or window > record['seconds']:
                self.longest[node] = {'seconds': round(window, 3), 'at': t, 'seq': own, 'best_copy': best}
        return windows

    def report(self):
        longest = max(self.longest.items(), key=lambda item: item[1]['seconds'], default=(None, None))
        return {'readings': self.readings, 'longest_seconds': longest[1]['seconds'] if longest[1] else 0.0,
                'longest_node': longest[0], 'longest_at': longest[1]['at'] if longest[1] else None,
                'per_node': self.longest}


def nodes_of(shards):
    return [node for shard in shards['shards'] for node in shard['nodes']]


def read_node(connections, node, user, password, errors=None):
    """One reading of a node, or None when it does not answer (the connection is made again next time; the
    error is kept in ``errors[name]``)."""
    name = node['name']
    try:
        if name not in connections:
            connections[name] = pymysql.connect(host=node['host'], port=int(node.get('port', 3306)), user=user,
                                                password=password, connect_timeout=2, read_timeout=2,
                                                write_timeout=2, autocommit=True,
                                                cursorclass=pymysql.cursors.DictCursor)
        with connections[name].cursor() as cursor:
            cursor.execute(READ)
            row = cursor.fetchone()
        return {'domain': int(row['domain']), 'positions': parse_positions(row['binlog'], row['slave'])}
    except pymysql.MySQLError as exc:
        if errors is not None:
            errors[name] = str(exc)[:300]
        connection = connections.pop(name, None)
        if connection is not None:
            try:
                connection.close()
            except pymysql.MySQLError:
                pass
        return None


def read_status(connections, name):
    """The replication connections and long statements of a node that answered this round (None on an error)."""
    try:
        with connections[name].cursor() as cursor:
            cursor.execute('SHOW ALL SLAVES STATUS')
            slaves = [{key: row.get(key) for key in SLAVE_FIELDS} for row in cursor.fetchall()]
            cursor.execute(LONG_STATEMENTS)
            statements = [dict(row) for row in cursor.fetchall()]
        return {'slaves': slaves, 'long_statements': statements}
    except (pymysql.MySQLError, KeyError) as exc:
        return {'error': str(exc)[:300]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--shards', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--stop-file', required=True)
    parser.add_argument('--interval', type=float, default=0.5)
    parser.add_argument('--duration', type=float, default=3600)
    parser.add_argument('--status-every', type=float, default=5.0)
    args = parser.parse_args(argv)
    if not 0.05 <= args.interval <= 10 or not 1 <= args.duration <= 86400:
        parser.error('--interval must be 0.05..10 s and --duration 1..86400 s')
    with open(args.shards) as handle:
        shards = json.load(handle)
    nodes = nodes_of(shards)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *dummy: stopping.append(True))
    tracker = WindowTracker()
    silence = SilenceTracker(node['name'] for node in nodes)
    errors = {}
    connections = {}
    started = time.monotonic()
    started_wall = time.time()
    timeline = []
    status = {}
    status_at = None
    while not stopping and not os.path.exists(args.stop_file) and time.monotonic() - started < args.duration:
        t = time.monotonic() - started
        readings = {}
        for node in nodes:
            reading = read_node(connections, node, shards['user'], shards['password'], errors)
            if reading is not None:
                readings[node['name']] = reading
        if status_at is None or t - status_at >= args.status_every:
            status_at = t
            status = {'t': round(t, 2), 'nodes': {name: read_status(connections, name) for name in sorted(readings)}}
        windows = tracker.observe(t, readings)
        silence.observe(t, readings, errors)
        for name, window in windows.items():
            record = tracker.longest.get(name)
            if window >= 5 and record is not None and record['at'] == t:
                record['replication'] = status
        timeline.append({'t': round(t, 2), 'wall': round(started_wall + t, 3), 'answered': sorted(readings),
                         'windows': {name: round(value, 3) for name, value in windows.items() if value}})
        time.sleep(max(0.0, args.interval - (time.monotonic() - started - t)))
    report = tracker.report()
    report['started_wall'] = started_wall
    report['interval'] = args.interval
    report['longest_wall'] = None if report['longest_at'] is None else started_wall + report['longest_at']
    report['timeline'] = [entry for entry in timeline if entry['windows']]
    # Nodes that did not answer for a while (the longest span each, with the last error).
    report['unanswered'] = silence.longest
    with open(args.out, 'w') as handle:
        json.dump(report, handle, indent=1)
    print('longest single-copy window: %.2f s (node %s, %d readings of %d nodes)'
          % (report['longest_seconds'], report['longest_node'], report['readings'], len(nodes)))
    for name, record in sorted(silence.longest.items()):
        print('%s did not answer for %.1f s at most (from %.1f s to %.1f s; last error: %s)'
              % (name, record['seconds'], record['from'], record['to'], record['last_error'] or '-'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
