# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keepalived-fence: MariaDB takes client writes only while this node holds a VIP.

keepalived starts it as its notify_fifo_script (as root) and writes every VRRP
transition to the FIFO it names; the fence acts on them in order, and every
TICK seconds it also compares the server with the addresses on the interfaces,
so a missed or reordered event cannot leave the server writable:

* the server is writable exactly while this node holds at least one of its
  VIPs and none of the VIPs it holds is answered for by another host;
* before it makes the server writable it asks the segment, with ARP probes
  sent from 0.0.0.0 (duplicate address detection), whether another host still
  answers for the VIP. One does during a partition between the two nodes of a
  pair (the old holder kept the VIP). Then the server stays read-only and the
  instance is put in "standoff": 1 in the instance's keepalived track file,
  so keepalived puts the instance in FAULT at once and gives the VIP back;
  when the standoff has expired the fence writes 0 and keepalived may try
  again;
* while mariadbd does not answer, it writes 1 in mariadb.down, a track file
  of every instance: the VIPs leave at once (keepalived's own check needs
  several failed runs, a second apart).
* before it makes the server writable it lets replication apply what it has
  already received from the partner (bounded by catchup_timeout).

"--release" (run by systemd after keepalived stops, however it stopped)
removes the VIPs from the interfaces and makes the server read-only.

The decisions are the pure functions at the top; unit tests import this file.
"""

import argparse
import json
import os
import select
import shlex
import socket
import struct
import subprocess
import sys
import syslog
import time

PROMOTE = 'promote'
DEMOTE = 'demote'


def parse_event(line):
    """One line keepalived wrote to the FIFO -> (kind, name, state), or None.

    Lines look like 'INSTANCE "VI_SHARD0" MASTER 150'.
    """
    try:
        parts = shlex.split(line.strip())
    except ValueError:
        return None
    if len(parts) < 3 or parts[0] not in ('INSTANCE', 'GROUP'):
        return None
    return parts[0], parts[1], parts[2]


def vip_addresses(spec):
    """The addresses of an instance's VIPs ('a.b.c.d/24' -> 'a.b.c.d')."""
    return [vip.split('/')[0] for vip in spec['vips']]


def held_instances(instances, addresses):
    """Names of the instances with a VIP on one of this host's interfaces.

    instances: {name: {'interface': 'eth0', 'vips': ['a.b.c.d/24', ...]}};
    addresses: set of 'a.b.c.d'.
    """
    return sorted(name for name, spec in instances.items() if set(vip_addresses(spec)) & addresses)


def decide(held, standoff, read_only):
    """What to do with the server: PROMOTE, DEMOTE or None.

    held: instances whose VIP this node holds; standoff: instances another host
    answers for; read_only: the server's read_only (None: server not reachable).
    Writable only while it holds a VIP and none of the VIPs it holds is in
    standoff (a VIP held in standoff draws clients of a shard that another
    node serves).
    """
    if read_only is None:
        return None
    serving = [name for name in held if name not in standoff]
    contested = [name for name in held if name in standoff]
    want_writable = bool(serving) and not contested
    if want_writable and read_only:
        return PROMOTE
    if not want_writable and not read_only:
        return DEMOTE
    return None


def _positions(text):
    """'0-1-5,1-2-9' -> {domain: (server_id, seq_no)}."""
    found = {}
    for item in (text or '').replace('\n', '').split(','):
        item = item.strip()
        if item:
            domain, server_id, seq_no = (int(part) for part in item.split('-'))
            if domain not in found or found[domain][1] < seq_no:
                found[domain] = (server_id, seq_no)
    return found


def pending_gtids(received, applied, own_domain):
    """The GTID position replication has received but not applied yet, as a
    string for MASTER_GTID_WAIT ('' when nothing is pending). This server's
    own domain is left out: its transactions come back from the partner and
    are skipped, so they never count as applied."""
    applied_at = _positions(applied)
    pending = []
    for domain, (server_id, seq_no) in sorted(_positions(received).items()):
        if domain == own_domain:
            continue
        if domain not in applied_at or applied_at[domain][1] < seq_no:
            pending.append('%d-%d-%d' % (domain, server_id, seq_no))
    return ','.join(pending)


def read_only_changed_state(down_flag, read_only):
    """True when the server's answering (read_only not None) differs from the
    mariadb.down flag written last."""
    return bool(down_flag) != (read_only is None)


def arp_probe(our_mac, target_ip):
    """An ARP request for target_ip from 0.0.0.0 (RFC 5227 probe), as a frame."""
    eth = b'\xff' * 6 + our_mac + struct.pack('!H', 0x0806)
    arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, our_mac, b'\0' * 4, b'\0' * 6,
                      socket.inet_aton(target_ip))
    return eth + arp


def claimant(frame, our_mac, target_ip):
    """The MAC address ('aa:bb:...') of another host when frame is an ARP packet
    from it that claims target_ip (a reply for it, or a request or announcement
    sent from it); None otherwise."""
    if len(frame) < 42 or frame[12:14] != b'\x08\x06':
        return None
    _htype, ptype, _hlen, _plen, op, sha, spa = struct.unpack('!HHBBH6s4s', frame[14:32])
    if ptype != 0x0800 or op not in (1, 2) or sha == our_mac or spa != socket.inet_aton(target_ip):
        return None
    return ':'.join('%02x' % byte for byte in sha)


def probe_report(interface, vip, answered_by):
    """What --probe prints: whether another host answers for vip on interface, and its MAC address."""
    return {'interface': interface, 'vip': vip, 'answered': answered_by is not None, 'answered_by': answered_by}


def read_flag(path):
    """(value, mtime) of a keepalived track file the fence writes ('0' or '1');
    (0, None) when it is missing or unreadable."""
    try:
        with open(path) as handle:
            value = handle.read().strip()
        return (1 if value not in ('', '0') else 0), os.stat(path).st_mtime
    except OSError:
        return 0, None


def standoff_state(value, written, now, seconds):
    """'on' while a standoff written at 'written' lasts, 'expired' once it is
    over (the fence then writes 0), 'off' when there is none."""
    if not value:
        return 'off'
    if written is not None and now - written < seconds:
        return 'on'
    return 'expired'


# ---------------------------------------------------------------------------
# The host side: addresses, ARP, MariaDB, logging.
# ---------------------------------------------------------------------------

def log(message, priority=syslog.LOG_NOTICE):
    syslog.syslog(priority, message)


def host_addresses():
    out = subprocess.run(['ip', '-o', '-4', 'addr', 'show'], capture_output=True, text=True, timeout=5,
                         check=True).stdout
    found = set()
    for line in out.splitlines():
        fields = line.split()
        if 'inet' in fields:
            found.add(fields[fields.index('inet') + 1].split('/')[0])
    return found


def someone_else_answers(interface, vip, probes, wait):
    """Send 'probes' ARP probes for vip on interface within 'wait' seconds;
    the MAC address of another host as soon as one claims it, else None."""
    with open('/sys/class/net/%s/address' % interface) as handle:
        our_mac = bytes.fromhex(handle.read().strip().replace(':', ''))
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    try:
        sock.bind((interface, 0x0806))
        frame = arp_probe(our_mac, vip)
        start = time.monotonic()
        deadline = start + wait
        sent = 0
        while True:
            now = time.monotonic()
            if sent < probes and now >= start + sent * wait / (probes + 1):
                sock.send(frame)
                sent += 1
            if now >= deadline:
                return None
            ready, _w, _x = select.select([sock], [], [], min(0.02, deadline - now))
            answered_by = claimant(sock.recv(2048), our_mac, vip) if ready else None
            if answered_by:
                return answered_by
    finally:
        sock.close()


class Server:
    """The local MariaDB server over its socket, as root (unix_socket)."""

    def __init__(self, socket_path):
        self.socket_path = socket_path
        self.conn = None
        self.error = None

    def _connect(self):
        import pymysql  # Debian's python3-pymysql; imported late so --help works without it
        if self.conn is None:
            self.conn = pymysql.connect(unix_socket=self.socket_path, user='root', connect_timeout=2,
                                        read_timeout=10, write_timeout=10, autocommit=True)
        return self.conn

    def run(self, statement, args=None):
        try:
            with self._connect().cursor() as cur:
                cur.execute(statement, args)
                return cur.fetchall()
        except Exception:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # pylint: disable=broad-except
                pass
            self.conn = None

    def read_only(self):
        """The server's read_only, or None when it does not answer."""
        try:
            value = bool(int(self.run('SELECT @@GLOBAL.read_only')[0][0]))
        except Exception as exc:  # pylint: disable=broad-except
            self.error = str(exc)
            return None
        self.error = None
        return value

    def set_read_only(self, value):
        # SET GLOBAL read_only waits for running commits and explicit table
        # locks: bounded, and retried on the next tick.
        self.run('SET SESSION lock_wait_timeout = 2')
        self.run('SET GLOBAL read_only = %s' % ('ON' if value else 'OFF'))

    def catch_up(self, timeout):
        """Wait (at most timeout s) until what replication received is applied.
        Returns the GTID position waited for ('' when nothing to wait for)."""
        import pymysql.cursors
        with self._connect().cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute('SHOW ALL SLAVES STATUS')
            received = ','.join(row['Gtid_IO_Pos'] for row in cur.fetchall() if row.get('Gtid_IO_Pos'))
        applied, own_domain = self.run('SELECT @@GLOBAL.gtid_slave_pos, @@GLOBAL.gtid_domain_id')[0]
        received = pending_gtids(received, applied, int(own_domain))
        if not received:
            return ''
        result = self.run('SELECT MASTER_GTID_WAIT(%s, %s)', (received, timeout))[0][0]
        if int(result) != 0:
            log('fence: replication had not applied %s after %.1f s; going on' % (received, timeout),
                syslog.LOG_WARNING)
        return received


def mtime(path):
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


class Fence:
    def __init__(self, config_path):
        self.config_path = config_path
        self.config_mtime = None
        self.own_mtime = mtime(os.path.abspath(__file__))
        self.server = None
        self.last = None
        self.probed = {}
        self.load()

    def load(self):
        """(Re)read the configuration the role writes; keep the old one if it is broken."""
        stamp = mtime(self.config_path)
        if stamp == self.config_mtime:
            return
        with open(self.config_path) as handle:
            config = json.load(handle)
        self.config, self.config_mtime = config, stamp
        self.instances = config['instances']
        self.state_dir = config['state_dir']
        if self.server is None or self.server.socket_path != config['socket']:
            self.server = Server(config['socket'])
        log('fence: configuration %s: instances %s' % (self.config_path, ', '.join(sorted(self.instances)) or 'none'))

    def restart_if_replaced(self):
        """A new version of this file (installed by the role) takes over at once."""
        if mtime(os.path.abspath(__file__)) != self.own_mtime:
            log('fence: %s was replaced: restarting it' % os.path.abspath(__file__))
            os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:])

    def standoff_path(self, name):
        return os.path.join(self.state_dir, '%s.standoff' % name)

    def write_flag(self, path, value):
        """Write a track file only when its value changes (keepalived acts on every write)."""
        if read_flag(path)[0] == value and os.path.exists(path):
            return
        with open(path + '.tmp', 'w') as handle:
            handle.write('%d\n' % value)
        os.replace(path + '.tmp', path)

    def contested(self, name):
        """True when another host answers for one of the instance's VIPs (or the probe cannot run)."""
        spec = self.instances[name]
        for vip in vip_addresses(spec):
            try:
                if someone_else_answers(spec['interface'], vip, self.config['dad_probes'], self.config['dad_wait']):
                    return vip
            except OSError as exc:
                # Unproven is contested: give the VIP up rather than hold it read-only.
                log('fence: %s: cannot probe for VIP %s on %s: %s' % (name, vip, spec['interface'], exc), syslog.LOG_ERR)
                return vip
        return None

    def standoffs(self, now, held):
        """Instances in standoff. One ends when it has lasted standoff_seconds, or
        earlier, when no other host answers for its VIPs any more (the node that
        kept them is gone): probed at most once a second while not held."""
        active = set()
        for name in self.instances:
            path = self.standoff_path(name)
            state = standoff_state(*read_flag(path), now=now, seconds=self.config['standoff_seconds'])
            if state == 'on' and name not in held and now - self.probed.get(name, 0) >= 1.0:
                self.probed[name] = now
                if self.contested(name) is None:
                    state = 'expired'
                    log('fence: %s: no other host answers for its VIP any more' % name)
            if state == 'on':
                active.add(name)
            elif state == 'expired':
                self.write_flag(path, 0)
                log('fence: %s: standoff over: keepalived may take the VIP again' % name)
        return active

    def write_state(self, **fields):
        fields['at'] = round(time.time(), 3)
        path = os.path.join(self.state_dir, 'fence.json')
        try:
            with open(path + '.tmp', 'w') as handle:
                json.dump(fields, handle, sort_keys=True)
            os.replace(path + '.tmp', path)
        except OSError:
            pass

    def reconcile(self, reason):
        now = time.time()
        held = held_instances(self.instances, host_addresses())
        standoff = self.standoffs(now, held)
        read_only = self.server.read_only()
        down = os.path.join(self.state_dir, 'mariadb.down')
        if read_only_changed_state(read_flag(down)[0], read_only):
            log('fence: MariaDB %s' % ('does not answer (%s): its VIPs leave this node' % getattr(self.server, 'error', '?')
                                       if read_only is None else 'answers again'),
                syslog.LOG_WARNING if read_only is None else syslog.LOG_NOTICE)
        self.write_flag(down, 1 if read_only is None else 0)
        action = decide(held, standoff, read_only)
        if action == PROMOTE:
            for name in held:
                vip = self.contested(name)
                if vip is not None:
                    self.write_flag(self.standoff_path(name), 1)
                    self.probed[name] = now
                    standoff.add(name)
                    log('fence: %s: another host answers for VIP %s: this node stays read-only and gives '
                        'the VIP up (standoff for %d s); the pair is partitioned or the other node kept the VIP'
                        % (name, vip, self.config['standoff_seconds']), syslog.LOG_WARNING)
            if decide(held, standoff, read_only) == PROMOTE:
                waited = self.server.catch_up(self.config['catchup_timeout'])
                self.server.set_read_only(False)
                read_only = False
                log('fence: holds %s: read_only OFF (%s; applied %s)' % (', '.join(held), reason, waited or 'nothing pending'))
        elif action == DEMOTE:
            self.server.set_read_only(True)
            read_only = True
            log('fence: holds %s: read_only ON (%s)' % (', '.join(held) or 'no VIP', reason))
        # What the server reported this tick, or what the fence just set.
        state = dict(held=held, standoff=sorted(standoff), read_only=read_only)
        if state != self.last:
            self.write_state(**state)
            self.last = state

    def safe_reconcile(self, reason):
        try:
            self.restart_if_replaced()
            self.load()
            self.reconcile(reason)
        except Exception as exc:  # pylint: disable=broad-except
            # Never die: the next tick tries again. Nothing here makes the
            # server writable after a failure.
            log('fence: %s: %s' % (reason, exc), syslog.LOG_ERR)

    def run(self, fifo):
        # O_RDWR keeps a writer open, so reads block instead of seeing EOF
        # each time keepalived closes its end.
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        pending = b''
        self.safe_reconcile('start')
        while True:
            ready, _w, _x = select.select([fd], [], [], self.config['tick'])
            if not ready:
                self.safe_reconcile('tick')
                continue
            pending += os.read(fd, 65536)
            lines = pending.split(b'\n')
            pending = lines.pop()
            for raw in lines:
                event = parse_event(raw.decode('utf-8', 'replace'))
                if event:
                    log('fence: %s %s is now %s' % event)
                    self.safe_reconcile('%s %s %s' % event)


def release(config):
    """keepalived is gone: remove its VIPs and make the server read-only."""
    addresses = host_addresses()
    for name, spec in sorted(config['instances'].items()):
        for vip in spec['vips']:
            if vip.split('/')[0] in addresses:
                subprocess.run(['ip', 'addr', 'del', vip, 'dev', spec['interface']], check=False, timeout=5)
                log('fence: keepalived stopped: removed VIP %s of %s' % (vip, name), syslog.LOG_WARNING)
    server = Server(config['socket'])
    if server.read_only() is False:
        server.set_read_only(True)
        log('fence: keepalived stopped: read_only ON', syslog.LOG_WARNING)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', help='JSON file written by the smooth.mariadb.keepalived role')
    parser.add_argument('--release', action='store_true', help='remove the VIPs and make the server read-only')
    parser.add_argument('--probe', metavar='VIP',
                        help='only ask the segment whether another host answers for VIP (ARP probes from 0.0.0.0, '
                             'nothing changed); print JSON and exit 0 (the expansion\'s preflight runs it)')
    parser.add_argument('--interface', help='with --probe: the interface to ask on')
    parser.add_argument('--probes', type=int, default=3, help='with --probe: how many probes (default 3)')
    parser.add_argument('--wait', type=float, default=1.0, help='with --probe: seconds to wait for an answer')
    parser.add_argument('fifo', nargs='?', help='the FIFO keepalived writes its transitions to')
    args = parser.parse_args(argv)
    if args.probe:
        if not args.interface:
            parser.error('--probe needs --interface')
        answered_by = someone_else_answers(args.interface, args.probe, args.probes, args.wait)
        print(json.dumps(probe_report(args.interface, args.probe, answered_by), sort_keys=True))
        return 0
    if not args.config:
        parser.error('--config is missing')
    with open(args.config) as handle:
        config = json.load(handle)
    syslog.openlog(config.get('log_tag', 'keepalived-smooth'), syslog.LOG_PID, syslog.LOG_DAEMON)
    if args.release:
        return release(config)
    if not args.fifo:
        parser.error('the FIFO is missing (keepalived passes it)')
    Fence(args.config).run(args.fifo)
    return 0


if __name__ == '__main__':
    sys.exit(main())
