# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark: how long writes through a shard's VIP stop when the VIP holder's mariadbd is killed (issue 10).

Creates two lab hosts, bfo-1 and bfo-2 (10.214.5.11/.12 on the lab network
"bench", `lab/lab.sh up bench 2 bfo`), and deploys one shard on them with
playbooks/site.yml, VIP 10.214.5.200, once per settings PROFILE (below), the
profiles one after the other on the same hosts. For every profile it prints the
keepalived settings the hosts actually run with (read back from
/etc/keepalived/keepalived.conf), then makes TRIES failovers:

* wait until the pair is healthy: both nodes replicating (IO and SQL threads
  running, no lag), exactly one node holding the VIP with keepalived in MASTER
  there and BACKUP on the other (the node killed before is back: systemd
  restarts mariadbd), the VIP answering with the holder, and all of it for
  SETTLE seconds;
* start the probe: a client on this machine that inserts a row every 50 ms
  through the VIP (PyMySQL, 1 s connect/read/write timeouts, a new connection
  after any error) with an application-like account (INSERT and SELECT on the
  bench database only: the admin account has every privilege and would write
  through read_only);
* `pkill -KILL -x mariadbd` on the VIP holder (over ssh);
* keep probing until writes have succeeded steadily on the other node for
  STEADY seconds, then wait for the pair to be healthy again and look up every
  write of unknown outcome (sent, no answer) on the new holder.

Per try it prints the longest gap between two successful inserts, the time the
VIP took to move (the partner's keepalived "Entering MASTER STATE" in its
journal, after the kill; the containers share this machine's clock), when the
old holder's keepalived let go, when the first write landed on the partner, the
writes of unknown outcome (and how many of them were committed) and the errors
by kind; per profile min/median/max of the longest write gap and of the VIP
move time and the unknown-outcome writes per failover. It asserts nothing
about speed. The hosts and the network are always removed at the end (also on
failure or Ctrl-C), with `lab/lab.sh down bench bfo`.

    .venv/bin/python tests/bench/bench_failover.py [--tries N] [--profiles before,after] [--json FILE]
    make bench-failover BENCH_FAILOVER_ARGS='--tries 6'

Needs root and `make setup` (podman, the lab image, the venv). Runs take about
one minute per profile for site.yml and 20-30 s per try.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pymysql

# ---------------------------------------------------------------------------
# The settings profiles: name -> extra variables given to playbooks/site.yml
# (-e @file). "before" is what the project ran with when issue 10 measured
# 2.57-3.20 s (median 3.04 s) of lost writes; "after" is the keepalived role's
# current defaults. Edit here when the role's variable names change.
# ---------------------------------------------------------------------------
PROFILES = {
    # The pairs as issue 10 measured them: no fence (both nodes writable, the
    # VIP leaves only after two failed health checks a second apart), no
    # repeated gratuitous ARP. Runs first: going from fenced to unfenced pairs
    # leaves read_only as the fence last set it.
    'before': {
        'smooth_fence': False,
        'keepalived_check_interval': 1,
        'keepalived_check_fall': 2,
        'keepalived_check_rise': 2,
        'keepalived_advert_int': 1,
        'keepalived_garp_master_refresh': 0,
    },
    'after': {},
}

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, 'lab', 'lab.sh')
KEY = os.path.join(ROOT, '.lab', 'id_ed25519')
NETWORK, PREFIX = 'bench', 'bfo'
NODES = {'bfo-1': '10.214.5.11', 'bfo-2': '10.214.5.12'}
VIP, VIP_PREFIX = '10.214.5.200', 24
CONTROLLER = '10.214.5.1'  # this machine, as the hosts see it on the bench network
DATABASE, TABLE = 'smooth_bench', 'probe'
APP_USER = 'bench_app'

INTERVAL = 0.05        # one insert every 50 ms
CLIENT_TIMEOUT = 1     # connect/read/write timeouts of the probe, seconds
BEFORE_KILL = 1.5      # seconds of probing before the kill
STEADY = 3.0           # seconds of writes succeeding on the partner that end a try
RECOVERY_TIMEOUT = 60  # seconds after the kill to give up waiting for that
HEALTHY_TIMEOUT = 180  # seconds to wait for a healthy pair (restart 5 s + connect_retry 10 s + rise)
SETTLE = 3.0           # seconds the pair must stay healthy before a try
PLAYBOOK_TIMEOUT = 1200
MAX_PROBE_ATTEMPTS = 4000  # per try: 60 s at 50 ms is 1200


class BenchError(Exception):
    """A step of the benchmark failed; the message says which."""


# ---------------------------------------------------------------------------
# Commands on this machine and on the hosts
# ---------------------------------------------------------------------------

class Hosts:
    """ssh to the bench hosts (one master connection per host, closed at the end)."""

    def __init__(self, work_dir):
        self.control = os.path.join(work_dir, 'ssh-%C')

    def options(self):
        return ['-i', KEY, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=3', '-o', 'StrictHostKeyChecking=no',
                '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ControlMaster=auto',
                '-o', 'ControlPath=%s' % self.control, '-o', 'ControlPersist=300']

    def run(self, node, command, timeout=20, check=True):
        proc = subprocess.run(['ssh'] + self.options() + ['root@%s' % NODES[node], command],
                              capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise BenchError('ssh %s %r: rc=%d %s' % (node, command, proc.returncode, proc.stderr.strip()[-500:]))
        return proc

    def close(self):
        for address in NODES.values():
            subprocess.run(['ssh'] + self.options() + ['-O', 'exit', 'root@%s' % address],
                           capture_output=True, timeout=10, check=False)


def lab(*args, timeout=600):
    proc = subprocess.run([LAB] + list(args), cwd=ROOT, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise BenchError('lab/lab.sh %s failed (rc=%d)' % (' '.join(args), proc.returncode))


def write_inventory(work_dir, admin_password, repl_password):
    inventory = {'all': {
        'children': {'smooth_mariadb': {'hosts': {name: {'ansible_host': address} for name, address in NODES.items()}}},
        'vars': {
            'ansible_user': 'root',
            'ansible_ssh_private_key_file': KEY,
            'smooth_shards': [{'vip': '%s/%d' % (VIP, VIP_PREFIX), 'nodes': sorted(NODES)}],
            'smooth_admin_password': admin_password,
            'smooth_replication_password': repl_password,
            'smooth_admin_hosts': [CONTROLLER],
            # The application's host (this machine) is what a node must reach to hold the
            # VIP (fenced pairs); the bench network has no default gateway to default to.
            'smooth_vrrp_witnesses': [CONTROLLER],
        },
    }}
    path = os.path.join(work_dir, 'hosts.yml')
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as handle:
        json.dump(inventory, handle, indent=1)  # JSON is YAML
    return path


def run_site(inventory, work_dir, profile):
    """ansible-playbook playbooks/site.yml with the profile's variables; output to build/."""
    extra = os.path.join(work_dir, 'profile-%s.json' % profile)
    with open(extra, 'w') as handle:
        json.dump(PROFILES[profile], handle)
    os.makedirs(os.path.join(ROOT, 'build'), exist_ok=True)
    log = os.path.join(ROOT, 'build', 'bench-failover-site-%s.log' % profile)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.collections'), ANSIBLE_NOCOLOR='1')
    started = time.monotonic()
    with open(log, 'w') as handle:
        proc = subprocess.run(['ansible-playbook', '-i', inventory, os.path.join(ROOT, 'playbooks', 'site.yml'),
                               '-e', '@%s' % extra], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                              timeout=PLAYBOOK_TIMEOUT, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        with open(log) as handle:
            tail = handle.read()[-4000:]
        raise BenchError('site.yml with profile %s failed (rc=%d after %.0f s); the end of %s:\n%s'
                         % (profile, proc.returncode, seconds, os.path.relpath(log, ROOT), tail))
    return seconds, log


# ---------------------------------------------------------------------------
# The keepalived settings in effect
# ---------------------------------------------------------------------------

# Lines of keepalived.conf that name things rather than set timings or behaviour.
IDENTITY_KEYS = {'router_id', 'enable_script_security', 'script_user', 'interface', 'virtual_router_id',
                 'priority', 'unicast_src_ip', 'state', 'user'}


def command_words(value):
    """The words of the command of a script or notify setting ('"cmd args" user' -> [cmd, args])."""
    try:
        parts = shlex.split(value)
    except ValueError:
        parts = value.split()
    return parts[0].split() if parts else []


def keepalived_settings(text):
    """The settings of keepalived.conf that decide failover, one string: the direct settings of every
    top-level block (global_defs, vrrp_script, vrrp_instance), without names and addresses; a script
    or notify command shown by its file name only."""
    blocks, depth, current = [], 0, None
    for raw in text.splitlines():
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        if line.endswith('{'):
            depth += 1
            if depth == 1:
                current = (line[:-1].strip(), [])
                blocks.append(current)
            continue
        if line == '}':
            depth = max(depth - 1, 0)
            continue
        if depth != 1 or current is None:
            continue
        key, _sep, value = line.partition(' ')
        if key in IDENTITY_KEYS:
            continue
        if key == 'script' or key.startswith('notify'):
            value = ' '.join(os.path.basename(word) for word in command_words(value))
        current[1].append(('%s %s' % (key, value.strip())).strip())
    return '; '.join('%s: %s' % (name, ', '.join(items)) for name, items in blocks if items)


# ---------------------------------------------------------------------------
# SQL
# ---------------------------------------------------------------------------

def connect(host, user, password, database=None, timeout=2):
    return pymysql.connect(host=host, port=3306, user=user, password=password, database=database,
                           connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout, autocommit=True)


def query(host, user, password, statement, args=None, timeout=2):
    conn = connect(host, user, password, timeout=timeout)
    try:
        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute(statement, args)
            return cur.fetchall()
    finally:
        conn.close()


def create_app_account(holder, admin, app_password):
    """The bench database, its table and the application account, created on the VIP holder through the
    admin account (replicated to the partner)."""
    conn = connect(NODES[holder], admin[0], admin[1], timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute('CREATE DATABASE IF NOT EXISTS %s' % DATABASE)
            cur.execute('CREATE TABLE IF NOT EXISTS %s.%s (id BIGINT AUTO_INCREMENT PRIMARY KEY, '
                        'token CHAR(32) NOT NULL UNIQUE, written_on VARCHAR(64) NOT NULL, '
                        'at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))' % (DATABASE, TABLE))
            cur.execute('CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s', (APP_USER, CONTROLLER, app_password))
            cur.execute('ALTER USER %s@%s IDENTIFIED BY %s', (APP_USER, CONTROLLER, app_password))
            cur.execute('GRANT INSERT, SELECT ON %s.* TO %%s@%%s' % DATABASE, (APP_USER, CONTROLLER))
    finally:
        conn.close()


def replication_healthy(node, admin):
    """(ok, why): every replication connection of the node runs both threads with no lag."""
    try:
        rows = query(NODES[node], admin[0], admin[1], 'SHOW ALL SLAVES STATUS', timeout=1)
    except pymysql.MySQLError as exc:
        return False, '%s: %s' % (node, exc)
    if not rows:
        return False, '%s: no replication connection' % node
    for row in rows:
        if (row.get('Slave_IO_Running'), row.get('Slave_SQL_Running')) != ('Yes', 'Yes'):
            return False, '%s: IO %s SQL %s %s' % (node, row.get('Slave_IO_Running'), row.get('Slave_SQL_Running'),
                                                   row.get('Last_IO_Error') or row.get('Last_SQL_Error') or '')
        if row.get('Seconds_Behind_Master') not in (0, '0'):
            return False, '%s: %s s behind' % (node, row.get('Seconds_Behind_Master'))
    return True, ''


# ---------------------------------------------------------------------------
# keepalived state and the VIP
# ---------------------------------------------------------------------------

STATE_COMMAND = ("journalctl -u keepalived.service -o cat --no-pager -n 400 | "
                 "grep -oE 'Entering [A-Z]+ STATE' | tail -n 1; echo ---; ip -o -4 addr show")


def node_state(hosts, node):
    """(keepalived's last state, holds the VIP) of a node."""
    out = hosts.run(node, STATE_COMMAND, timeout=10).stdout
    state_text, _sep, addresses = out.partition('---')
    state = state_text.strip().replace('Entering ', '').replace(' STATE', '') or '?'
    return state, (' %s/' % VIP) in addresses


def vip_answer(app):
    try:
        rows = query(VIP, app[0], app[1], 'SELECT @@hostname AS h', timeout=1)
        return rows[0]['h']
    except pymysql.MySQLError:
        return None


def wait_healthy(hosts, admin, app, timeout=HEALTHY_TIMEOUT):
    """Wait until the pair is healthy for SETTLE seconds in a row; returns the VIP holder."""
    deadline = time.monotonic() + timeout
    healthy_since, why, holder = None, 'not checked yet', None
    while time.monotonic() < deadline:
        problems, states, holders = [], {}, []
        for node in NODES:
            ok, reason = replication_healthy(node, admin)
            if not ok:
                problems.append(reason)
            try:
                state, holds = node_state(hosts, node)
            except (BenchError, subprocess.TimeoutExpired) as exc:
                problems.append('%s: %s' % (node, exc))
                continue
            states[node] = state
            if holds:
                holders.append(node)
        if len(holders) != 1:
            problems.append('VIP held by %s' % (', '.join(holders) or 'no node'))
        else:
            holder = holders[0]
            others = [n for n in NODES if n != holder]
            if states.get(holder) != 'MASTER' or any(states.get(n) != 'BACKUP' for n in others):
                problems.append('keepalived states %s' % states)
            answer = vip_answer(app)
            if answer != holder:
                problems.append('VIP answers as %s, held by %s' % (answer, holder))
        now = time.monotonic()
        if problems:
            healthy_since, why = None, '; '.join(problems)
        elif healthy_since is None:
            healthy_since = now
        elif now - healthy_since >= SETTLE:
            return holder
        time.sleep(0.5)
    raise BenchError('the pair was not healthy within %d s: %s' % (timeout, why))


def keepalived_events(hosts, node, since):
    """[(epoch seconds, message)] of keepalived's journal on node since the epoch time 'since'."""
    proc = hosts.run(node, 'journalctl -u keepalived.service -o json --no-pager --since @%d' % int(since - 1),
                     timeout=15, check=False)
    events = []
    for line in proc.stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = entry.get('MESSAGE')
        if isinstance(message, list):
            message = bytes(message).decode('utf-8', 'replace')
        stamp = int(entry.get('__REALTIME_TIMESTAMP', 0)) / 1e6
        if stamp >= since and message:
            events.append((stamp, message))
    return events


def first_after(events, text, since):
    times = [stamp - since for stamp, message in events if text in message and stamp >= since]
    return min(times) if times else None


# ---------------------------------------------------------------------------
# The probe
# ---------------------------------------------------------------------------

def error_kind(exc, phase):
    """A short name of what went wrong, by the server's or client's error number."""
    code = exc.args[0] if isinstance(exc, pymysql.MySQLError) and exc.args and isinstance(exc.args[0], int) else None
    text = str(exc)
    if code in (1290, 1836):
        kind = 'read-only refusal'
    elif code == 2003:
        if 'refused' in text:
            kind = 'connection refused'
        elif 'timed out' in text:
            kind = 'connect timeout'
        elif 'route' in text or 'unreachable' in text:
            kind = 'no route to host'
        else:
            kind = 'cannot connect'
    elif code == 2013:
        kind = 'timeout' if 'timed out' in text else 'connection lost'
    elif code == 2006:
        kind = 'server gone'
    elif code is not None:
        kind = 'error %d' % code
    else:
        kind = type(exc).__name__
    return '%s: %s' % (phase, kind)


class Probe(threading.Thread):
    """Inserts a row every INTERVAL through the VIP with the application account until stopped.

    events: dicts with t (start, epoch s), end, outcome ok|error|unknown, node (server that answered),
    kind (errors), token. An INSERT sent without an answer (lost connection, read timeout) is
    'unknown': it may or may not have been committed.
    """

    def __init__(self, app):
        super().__init__(daemon=True)
        self.app = app
        self.events = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def run(self):
        conn, node, tick = None, None, time.monotonic()
        while not self.stopping.is_set() and len(self.events) < MAX_PROBE_ATTEMPTS:
            delay = tick - time.monotonic()
            if delay > 0 and self.stopping.wait(delay):
                break
            tick = max(tick + INTERVAL, time.monotonic())
            token, phase, start = uuid.uuid4().hex, 'connect', time.time()
            event = {'t': start, 'token': token}
            try:
                if conn is None:
                    conn = pymysql.connect(host=VIP, port=3306, user=self.app[0], password=self.app[1],
                                           database=DATABASE, connect_timeout=CLIENT_TIMEOUT,
                                           read_timeout=CLIENT_TIMEOUT, write_timeout=CLIENT_TIMEOUT, autocommit=True)
                    with conn.cursor() as cur:
                        cur.execute('SELECT @@hostname')
                        node = cur.fetchone()[0]
                phase = 'insert'
                with conn.cursor() as cur:
                    cur.execute('INSERT INTO %s (token, written_on) VALUES (%%s, @@hostname)' % TABLE, (token,))
                event.update(outcome='ok', node=node)
            except Exception as exc:  # pylint: disable=broad-except
                code = exc.args[0] if isinstance(exc, pymysql.MySQLError) and exc.args else None
                # Sent, no answer: the server may have committed it. A refusal is an answer.
                unknown = phase == 'insert' and code in (2013, 2006) and 'gone away' not in str(exc)
                event.update(outcome='unknown' if unknown else 'error', node=node, kind=error_kind(exc, phase))
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # pylint: disable=broad-except
                        pass
                conn, node = None, None
            event['end'] = time.time()
            with self.lock:
                self.events.append(event)
        if conn is not None:
            try:
                conn.close()
            except Exception:  # pylint: disable=broad-except
                pass

    def stop(self):
        self.stopping.set()
        self.join(CLIENT_TIMEOUT * 3 + 2)


def steady_on(events, node, since):
    """True when the writes after 'since' have all succeeded on node for STEADY seconds."""
    first_ok, last_bad = None, since
    for event in events:
        if event['t'] < since:
            continue
        if event['outcome'] == 'ok' and event['node'] == node:
            if first_ok is None:
                first_ok = event['end']
        else:
            last_bad, first_ok = event['end'], None
    return first_ok is not None and events[-1]['end'] - max(first_ok, last_bad) >= STEADY


def longest_gap(events):
    """(seconds, start) of the longest time between two successful inserts (their answers)."""
    oks = [e['end'] for e in events if e['outcome'] == 'ok']
    if len(oks) < 2:
        return None, None
    return max((b - a, a) for a, b in zip(oks, oks[1:]))


# ---------------------------------------------------------------------------
# One failover
# ---------------------------------------------------------------------------

def one_try(hosts, admin, app):
    holder = wait_healthy(hosts, admin, app)
    partner = [n for n in NODES if n != holder][0]
    probe = Probe(app)
    probe.start()
    try:
        time.sleep(BEFORE_KILL)
        before = probe.snapshot()
        oks = [e for e in before if e['outcome'] == 'ok']
        if len(oks) < BEFORE_KILL / INTERVAL / 2 or any(e['node'] != holder for e in oks):
            raise BenchError('the probe did not write steadily to %s before the kill: %d of %d writes succeeded, on %s'
                             % (holder, len(oks), len(before), sorted({e['node'] for e in oks})))
        # The kill's time is taken on the host right after pkill returns (the signal is sent by
        # then); the time before it says how long pkill itself took (a loaded machine).
        out = hosts.run(holder, 't0=$(date +%s.%N); pkill -KILL -x mariadbd; rc=$?; echo "$t0 $(date +%s.%N)"; exit $rc',
                        timeout=10).stdout
        before_kill, killed = (float(v) for v in out.split()[:2])
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        recovered = False
        while time.monotonic() < deadline:
            time.sleep(0.2)
            events = probe.snapshot()
            if events and steady_on(events, partner, killed):
                recovered = True
                break
    finally:
        probe.stop()
    events = probe.snapshot()
    after = [e for e in events if e['end'] >= killed]
    gap, gap_start = longest_gap(events)
    first_write = next((e['end'] - killed for e in after if e['outcome'] == 'ok' and e['node'] == partner), None)
    last_write = max((e['end'] - killed for e in events if e['outcome'] == 'ok' and e['node'] == holder
                      and e['end'] < killed + 0.5), default=None)
    result = {
        'holder': holder, 'partner': partner, 'killed': killed, 'pkill_seconds': killed - before_kill,
        'recovered': recovered,
        'attempts': len(events), 'writes_ok': sum(1 for e in events if e['outcome'] == 'ok'),
        'longest_gap': gap, 'gap_from': None if gap_start is None else gap_start - killed,
        'first_write_on_partner': first_write, 'last_write_on_holder': last_write,
        'errors': dict(collections.Counter(e['kind'] for e in events if e['outcome'] == 'error')),
        'unknown': [e['token'] for e in events if e['outcome'] == 'unknown'],
        'unknown_kinds': dict(collections.Counter(e['kind'] for e in events if e['outcome'] == 'unknown')),
    }
    # keepalived's view: when the holder let go and the partner took the VIP.
    partner_events = keepalived_events(hosts, partner, killed)
    holder_events = keepalived_events(hosts, holder, killed)
    result['vip_moved'] = first_after(partner_events, 'Entering MASTER STATE', killed)
    released = [t for t in (first_after(holder_events, 'Entering FAULT STATE', killed),
                            first_after(holder_events, 'Entering BACKUP STATE', killed)) if t is not None]
    result['holder_released'] = min(released) if released else None
    # The pair healthy again (the killed node restarted and caught up): an unknown write is
    # committed when its row is on the new holder now.
    wait_healthy(hosts, admin, app)
    result['unknown_committed'] = 0
    if result['unknown']:
        rows = query(NODES[partner], admin[0], admin[1], 'SELECT token FROM %s.%s WHERE token IN (%s)'
                     % (DATABASE, TABLE, ', '.join(['%s'] * len(result['unknown']))), result['unknown'])
        result['unknown_committed'] = len(rows)
    return result


def fmt(value, unit=' s'):
    return '-' if value is None else '%.2f%s' % (value, unit)


def try_line(profile, number, tries, r):
    errors = ', '.join('%s %d' % (k, v) for k, v in sorted(r['errors'].items(), key=lambda kv: -kv[1])) or 'none'
    unknown = '%d (%d committed%s)' % (len(r['unknown']), r['unknown_committed'],
                                       '; ' + ', '.join('%s %d' % kv for kv in r['unknown_kinds'].items())
                                       if r['unknown'] else '')
    return ('%s try %d/%d: %s -> %s: longest write gap %s; VIP moved %s (holder let go %s); '
            'last write on %s %s, first on %s %s after the kill%s%s; %d writes ok of %d; unknown outcome %s; errors: %s'
            % (profile, number, tries, r['holder'], r['partner'], fmt(r['longest_gap']), fmt(r['vip_moved']),
               fmt(r['holder_released']), r['holder'], fmt(r['last_write_on_holder']), r['partner'],
               fmt(r['first_write_on_partner']), '' if r['recovered'] else ' (NOT steady within %d s)' % RECOVERY_TIMEOUT,
               ' (pkill took %.2f s)' % r['pkill_seconds'] if r['pkill_seconds'] > 0.05 else '',
               r['writes_ok'], r['attempts'], unknown, errors))


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return 'no figures'
    return 'min %.2f / median %.2f / max %.2f s (n=%d)' % (
        min(values), statistics.median(values), max(values), len(values))


def summary_lines(profile, settings, results, failures):
    n = len(results)
    unknown = sum(len(r['unknown']) for r in results)
    committed = sum(r['unknown_committed'] for r in results)
    errors = collections.Counter()
    for r in results:
        errors.update(r['errors'])
    lines = ['== %s: %d failovers measured%s' % (profile, n, ', %d tries failed' % failures if failures else ''),
             '   keepalived: %s' % settings,
             '   longest write gap: %s' % spread([r['longest_gap'] for r in results]),
             '   VIP move:          %s' % spread([r['vip_moved'] for r in results]),
             '   first write on the partner after the kill: %s' % spread([r['first_write_on_partner'] for r in results])]
    if n:
        lines.append('   unknown-outcome writes: %.1f per failover (%d in %d; %d of them committed)'
                     % (unknown / n, unknown, n, committed))
        lines.append('   errors per failover: %s' % (', '.join('%s %.1f' % (k, v / n) for k, v in errors.most_common())
                                                     or 'none'))
    return lines


# ---------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--tries', type=int, default=5, help='failovers per profile (default 5)')
    parser.add_argument('--profiles', default=','.join(PROFILES),
                        help='comma-separated, run in this order (default %s)' % ','.join(PROFILES))
    parser.add_argument('--json', help='also write every figure to this file')
    args = parser.parse_args()
    profiles = [p.strip() for p in args.profiles.split(',') if p.strip()]
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown or not profiles:
        parser.error('unknown profile(s) %s; known: %s' % (', '.join(unknown) or '(none)', ', '.join(PROFILES)))
    if not 1 <= args.tries <= 50:
        parser.error('--tries must be 1..50')
    if os.geteuid() != 0:
        parser.error('run as root (the lab hosts are rootful podman containers)')

    def interrupted(signum, _frame):
        raise KeyboardInterrupt('signal %d' % signum)
    # Also SIGINT: a shell starts background jobs with it ignored, and Python then keeps it so.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    work_dir = tempfile.mkdtemp(prefix='smooth-bench-failover-')
    hosts = Hosts(work_dir)
    admin = ('smooth_admin', 'bfo-admin-' + secrets.token_hex(8))
    app = (APP_USER, 'bfo-app-' + secrets.token_hex(8))
    report, rc = {'profiles': {}}, 0
    print('bench-failover: profiles %s, %d tries each; load: %s'
          % (', '.join(profiles), args.tries, os.getloadavg()), flush=True)
    try:
        lab('down', NETWORK, PREFIX)  # hosts left by an interrupted run
        lab('up', NETWORK, str(len(NODES)), PREFIX)
        inventory = write_inventory(work_dir, admin[1], 'bfo-repl-' + secrets.token_hex(8))
        for profile in profiles:
            entry = report['profiles'][profile] = {'vars': PROFILES[profile], 'tries': [], 'failures': []}
            try:
                seconds, log = run_site(inventory, work_dir, profile)
            except (BenchError, subprocess.TimeoutExpired) as exc:
                print('== %s: %s' % (profile, exc), flush=True)
                entry['failures'].append(str(exc))
                rc = 1
                continue
            conf = hosts.run(sorted(NODES)[0], 'cat /etc/keepalived/keepalived.conf').stdout
            entry['settings'] = settings = keepalived_settings(conf)
            print('== %s: site.yml with %s in %.0f s (%s)' % (profile, json.dumps(PROFILES[profile]), seconds,
                                                              os.path.relpath(log, ROOT)), flush=True)
            print('   keepalived (bfo-1:/etc/keepalived/keepalived.conf): %s' % settings, flush=True)
            try:
                holder = wait_healthy(hosts, admin, admin)
                create_app_account(holder, admin, app[1])
                entry['read_only'] = read_only = {
                    node: query(NODES[node], admin[0], admin[1], 'SELECT @@read_only AS r')[0]['r'] for node in NODES}
                print('   MariaDB read_only: %s' % ', '.join(
                    '%s%s %s' % (node, ' (VIP holder)' if node == holder else '', 'ON' if value else 'OFF')
                    for node, value in sorted(read_only.items())), flush=True)
                for number in range(1, args.tries + 1):
                    try:
                        result = one_try(hosts, admin, app)
                    except BenchError as exc:
                        print('%s try %d/%d failed: %s' % (profile, number, args.tries, exc), flush=True)
                        entry['failures'].append(str(exc))
                        rc = 1
                        if len(entry['failures']) >= 2:
                            raise
                        continue
                    entry['tries'].append(result)
                    print(try_line(profile, number, args.tries, result), flush=True)
            except BenchError as exc:
                print('== %s: stopped: %s' % (profile, exc), flush=True)
                rc = 1
            print('\n'.join(summary_lines(profile, settings, entry['tries'], len(entry['failures']))), flush=True)
        print('\n== summary (issue 10 measured before tuning: longest write gap 2.57 / 3.04 / 3.20 s '
              'min/median/max; target median <= 2 s); load now: %s' % (os.getloadavg(),))
        for profile, entry in report['profiles'].items():
            gaps = [r['longest_gap'] for r in entry['tries'] if r['longest_gap'] is not None]
            moves = [r['vip_moved'] for r in entry['tries'] if r['vip_moved'] is not None]
            tries = len(entry['tries'])
            print('   %-8s longest write gap %s; VIP move %s; unknown-outcome writes %s per failover%s'
                  % (profile, spread(gaps), spread(moves),
                     '%.1f' % (sum(len(r['unknown']) for r in entry['tries']) / tries) if tries else '-',
                     '; %d failure(s), see above' % len(entry['failures']) if entry['failures'] else ''))
        ran = [(p, e) for p, e in report['profiles'].items() if 'settings' in e]
        for number, (profile, entry) in enumerate(ran):
            same = [p for p, e in ran[number + 1:] if e['settings'] == entry['settings']
                    and sorted(e.get('read_only', {}).values()) == sorted(entry.get('read_only', {}).values())]
            if same:
                print('   NOTE: %s ran with the same keepalived settings and read_only as %s: their difference is noise '
                      '(PROFILES at the top of %s sets them)' % (', '.join(same), profile, os.path.relpath(__file__, ROOT)))
        if args.json:
            with open(args.json, 'w') as handle:
                json.dump(report, handle, indent=1)
    except KeyboardInterrupt:
        print('bench-failover: interrupted', file=sys.stderr)
        rc = 130
    except (BenchError, subprocess.TimeoutExpired) as exc:
        print('bench-failover: %s' % exc, file=sys.stderr)
        rc = 1
    finally:
        # Always: the hosts and the network go, even on a second Ctrl-C (ignored from here on,
        # and by the commands started below, which inherit it).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            hosts.close()
        except (OSError, subprocess.TimeoutExpired):
            pass
        try:
            lab('down', NETWORK, PREFIX, timeout=300)
        except (BenchError, subprocess.TimeoutExpired) as exc:
            print('bench-failover: removing the hosts failed: %s; run "lab/lab.sh down %s %s"'
                  % (exc, NETWORK, PREFIX), file=sys.stderr)
            rc = rc or 1
        shutil.rmtree(work_dir, ignore_errors=True)
    return rc


if __name__ == '__main__':
    sys.exit(main())
