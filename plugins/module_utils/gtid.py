# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""GTID positions: what a replica must wait for, what it still misses.

Pure helpers behind ``smooth.mariadb.replication_wait`` (and the coordinates
of ``smooth.mariadb.seed``). A position is a GTID list such as
``@@gtid_binlog_pos`` (``"1-11-100,2-12-50"``), parsed with
:func:`~ansible_collections.smooth.mariadb.plugins.module_utils.replication.parse_gtid_list`
into ``{domain: (server_id, seq_no)}``.

``MASTER_GTID_WAIT(pos, timeout)`` returns once ``@@gtid_slave_pos`` holds,
in every domain of ``pos``, the same or a higher sequence number. In a
dual-master pair with ``log_slave_updates`` the source's
``@@gtid_binlog_pos`` also holds the replica's own domain (the replica's
events, written again into the source's binlog). The replica never applies
those through replication: its copy is the original, written by itself.
MariaDB 10.11 moves ``gtid_slave_pos`` past such echoes while the IO thread
receives them, but only then; a wait on them is a wait on a round trip, and
hangs whenever that round trip does not happen (IO thread reconnecting,
domains filtered out, a position reset). :func:`wait_position` therefore
keeps only the domains the replica receives from that source.

Then the connection helper for the second server these modules talk to
(the ``source_*`` options), and the wait itself (:func:`wait_direction`):
``MASTER_GTID_WAIT`` in slices of a second, the replication connection checked
between slices, on a :class:`Server` that names itself in every error.
"""

from __future__ import annotations

import configparser
import os
import re
import time
from collections import namedtuple

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    MariaDBConnectError,
    MariaDBQueryError,
    connect_with_params,
    describe_target,
    read_option_file,
    to_int,
    to_text,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.replication import (
    FATAL_IO_ERRNOS,
    describe_threads,
    find_connection,
    format_gtid_list,
    parse_gtid_list,
    read_all_slaves_status,
)

# ---------------------------------------------------------------------------
# Positions
# ---------------------------------------------------------------------------

SkippedDomain = namedtuple('SkippedDomain', ['domain', 'gtid', 'reason'])


def gtid_text(domain, gtid):
    """``(1, (11, 100))`` -> ``'1-11-100'``."""
    return '%d-%d-%d' % (domain, gtid[0], gtid[1])


_DOMAIN_LIST_RE = re.compile(r'[\s,]+')


def parse_domain_ids(text):
    """``Replicate_Do_Domain_Ids``/``Replicate_Ignore_Domain_Ids`` -> set of ints.

    The server lists them separated by commas (or blanks); empty means none.
    """
    domains = set()
    for part in _DOMAIN_LIST_RE.split(to_text(text).strip()):
        if part:
            if not part.isdigit():
                raise ValueError('invalid domain id %r in %r' % (part, to_text(text)))
            domains.add(int(part))
    return domains


def wait_position(source_pos, replica_server_id, replica_binlog_pos='', do_domains='', ignore_domains=''):
    """The part of the source's position a replica can wait for (pure).

    :param source_pos: the source's ``@@gtid_binlog_pos`` (text or parsed dict)
    :param replica_server_id: the replica's ``@@server_id``
    :param replica_binlog_pos: the replica's ``@@gtid_binlog_pos`` (text or dict)
    :param do_domains: ``Replicate_Do_Domain_Ids`` of the replica's connection
    :param ignore_domains: ``Replicate_Ignore_Domain_Ids`` of that connection
    :returns: ``(position, skipped)``: the GTID dict to pass to
        ``MASTER_GTID_WAIT`` and a list of :class:`SkippedDomain`

    A domain of the source's position is left out when

    * its last GTID was written by the replica itself (the GTID's server_id
      is the replica's) and the replica's own binary log already holds that
      sequence number or a later one in the domain: the replica has it,
      because it wrote it;
    * the replica's connection does not receive the domain
      (``IGNORE_DOMAIN_IDS``, or a ``DO_DOMAIN_IDS`` list without it).

    Everything else is kept, so a domain the replica has not applied is
    always waited for. With each server writing its own gtid_domain_id (what
    the collection deploys and preflight checks) an echoed domain holds only
    the replica's own events.
    """
    source = parse_gtid_list(source_pos) if not isinstance(source_pos, dict) else dict(source_pos)
    own = parse_gtid_list(replica_binlog_pos) if not isinstance(replica_binlog_pos, dict) else replica_binlog_pos
    do_set = parse_domain_ids(do_domains) if not isinstance(do_domains, (set, frozenset)) else do_domains
    ignore_set = parse_domain_ids(ignore_domains) if not isinstance(ignore_domains, (set, frozenset)) else ignore_domains
    position = {}
    skipped = []
    for domain in sorted(source):
        gtid = source[domain]
        text = gtid_text(domain, gtid)
        if domain in ignore_set:
            skipped.append(SkippedDomain(domain, text, 'the connection ignores this domain (IGNORE_DOMAIN_IDS)'))
            continue
        if do_set and domain not in do_set:
            skipped.append(SkippedDomain(domain, text, 'the connection only receives domains %s (DO_DOMAIN_IDS)'
                                         % ','.join(str(item) for item in sorted(do_set))))
            continue
        mine = own.get(domain)
        if replica_server_id is not None and gtid[0] == replica_server_id and mine is not None and mine[1] >= gtid[1]:
            skipped.append(SkippedDomain(domain, text, 'written by the replica itself (server_id %d); its binary log '
                                         'holds %s' % (replica_server_id, gtid_text(domain, mine))))
            continue
        position[domain] = gtid
    return position, skipped


def start_position(replica_positions, source_binlog_pos):
    """Where a replica should start to receive from a source exactly what it lacks.

    For a pair that replicated both ways, was split, took writes on both
    sides and is joined again (or a node that starts to replicate from its
    freshly seeded partner). ``replica_positions`` are the replica's
    ``@@gtid_binlog_pos`` and ``@@gtid_slave_pos`` (merged: the highest
    sequence number per domain); ``source_binlog_pos`` is the source's
    ``@@gtid_binlog_pos``. Per domain of the source's binlog:

    - the replica has less -> start from the replica's own GTID (the source
      sends everything after it);
    - the replica has as much or more (its own domain, which the source only
      has up to the split, as echoes) -> start from the source's last GTID: the
      source has nothing newer there, and asking for the replica's newer GTID
      would be refused ("not in the master's binlog");
    - the replica has none of it -> left out: the source sends the domain from
      the start of its binary log.

    Domains the source's binlog lacks are left out: it cannot send them, and
    asking for them is refused. Returns a GTID list (possibly empty) for
    ``@@gtid_slave_pos``.
    """
    if isinstance(replica_positions, str):
        replica_positions = [replica_positions]
    replica = {}
    for text in replica_positions:
        for domain, gtid in parse_gtid_list(text).items():
            if domain not in replica or gtid[1] > replica[domain][1]:
                replica[domain] = gtid
    start = {}
    for domain, gtid in parse_gtid_list(source_binlog_pos).items():
        if domain in replica:
            start[domain] = replica[domain] if replica[domain][1] < gtid[1] else gtid
    return ','.join(gtid_text(domain, start[domain]) for domain in sorted(start))


def missing_gtids(wanted, reached):
    """Domains of ``wanted`` that ``reached`` does not cover yet (pure).

    Both are GTID lists (text or dict). Returns a list of dicts, by domain:
    ``domain``, ``wanted`` and ``reached`` (GTID text, ``reached`` empty when
    the domain is absent) and ``behind`` (sequence numbers still to apply).
    """
    wanted = parse_gtid_list(wanted) if not isinstance(wanted, dict) else wanted
    reached = parse_gtid_list(reached) if not isinstance(reached, dict) else reached
    missing = []
    for domain in sorted(wanted):
        want = wanted[domain]
        have = reached.get(domain)
        if have is not None and have[1] >= want[1]:
            continue
        missing.append(dict(
            domain=domain,
            wanted=gtid_text(domain, want),
            reached=gtid_text(domain, have) if have is not None else '',
            behind=want[1] - (have[1] if have is not None else 0),
        ))
    return missing


def covers(reached, wanted):
    """Whether position ``reached`` is at or past ``wanted`` in every domain of ``wanted``."""
    return not missing_gtids(wanted, reached)


def describe_missing(missing):
    """One line for :func:`missing_gtids` output."""
    parts = []
    for item in missing:
        if item['reached']:
            parts.append('domain %d at %s, needs %s (%d behind)'
                         % (item['domain'], item['reached'], item['wanted'], item['behind']))
        else:
            parts.append('domain %d not applied at all, needs %s' % (item['domain'], item['wanted']))
    return '; '.join(parts) or 'nothing'


# ---------------------------------------------------------------------------
# Replication connections
# ---------------------------------------------------------------------------

class ConnectionChoiceError(ValueError):
    """The replication connection to wait on cannot be identified."""


def choose_connection(statuses, connection_name=None, source_server_id=None, source_host=None, source_port=None):
    """Pick the replica's connection that replicates from a source (pure).

    :param statuses: ``{name: normalised status}`` (``read_all_slaves_status``)
    :param connection_name: the name given by the user, or None to find it
    :returns: ``(name, status)``
    :raises ConnectionChoiceError: with a message listing the connections

    Without a name: the connection whose ``Master_Server_Id`` is the source's
    server_id, else the one pointing at ``source_host:source_port``, else the
    only connection there is.
    """
    listed = ', '.join("'%s' (%s:%s)" % (name, status.get('source_host'), status.get('source_port'))
                       for name, status in sorted(statuses.items())) or 'none'
    if connection_name is not None:
        wanted = connection_name.lower()
        for name, status in statuses.items():
            if name.lower() == wanted:
                return name, status
        raise ConnectionChoiceError("there is no replication connection '%s'; connections: %s"
                                    % (connection_name, listed))
    if not statuses:
        raise ConnectionChoiceError('there is no replication connection at all')
    if source_server_id is not None:
        found = [(name, status) for name, status in statuses.items()
                 if status.get('source_server_id') == source_server_id]
        if len(found) == 1:
            return found[0]
    if source_host is not None:
        found = [(name, status) for name, status in statuses.items()
                 if status.get('source_host') == source_host
                 and (source_port is None or status.get('source_port') == source_port)]
        if len(found) == 1:
            return found[0]
    if len(statuses) == 1:
        return list(statuses.items())[0]
    raise ConnectionChoiceError('cannot tell which replication connection receives from the source; '
                                'name it; connections: %s' % listed)


def connection_problem(status):
    """Why waiting on this connection cannot succeed, or None (pure).

    A thread that is stopped (``No``) or in error, or a source refusing the
    replication account, ends the wait at once. An IO thread still
    ``Connecting`` without such an error is given the time of the wait.
    """
    if status is None:
        return 'the replication connection does not exist'
    io_state = status.get('io_running_state', 'No')
    sql_state = status.get('sql_running_state', 'No')
    detail = describe_threads(status)
    if sql_state != 'Yes' or status.get('last_sql_errno'):
        return 'the SQL thread is not applying: ' + detail
    if io_state == 'No':
        return 'the IO thread is stopped: ' + detail
    if status.get('last_io_errno') in FATAL_IO_ERRNOS:
        return 'the source refuses the replication account: ' + detail
    return None


# ---------------------------------------------------------------------------
# The second server (source_* options)
# ---------------------------------------------------------------------------

def connect_params(module, login, what='source'):
    """Connect with a login dict (see :func:`mariadb.server_params`) like ``mariadb_connect``.

    Returns ``(connection, target)`` (target: host:port for messages); a
    failure ends the module with a message naming ``what`` and host:port,
    never the password.
    """
    try:
        return connect_with_params(login, what=what), describe_target(login)
    except MariaDBConnectError as exc:
        module.fail_json(msg=str(exc))


def read_config_file(module):
    """The option file settings (``config_file``), {} when there is none."""
    config_file = module.params.get('config_file')
    if not config_file:
        return {}
    path = os.path.expanduser(config_file)
    if not os.path.exists(path):
        return {}
    try:
        return read_option_file(path)
    except (OSError, configparser.Error) as exc:
        module.fail_json(msg='Unable to read the MariaDB option file %s: %s' % (path, to_native(exc)))
        return {}


# ---------------------------------------------------------------------------
# The wait: MASTER_GTID_WAIT in slices, the connection checked between them
# (smooth.mariadb.replication_wait, and the rechecks of smooth.mariadb.pair_compare)
# ---------------------------------------------------------------------------

SLICE_SECONDS = 1.0

POSITION_QUERY = ('SELECT @@GLOBAL.server_id AS server_id, @@GLOBAL.gtid_binlog_pos AS gtid_binlog_pos, '
                  '@@GLOBAL.gtid_slave_pos AS gtid_slave_pos, VERSION() AS version')


class WaitFailed(Exception):
    """A direction could not be waited for; ``message`` says why, ``entry`` what was seen."""

    def __init__(self, message, entry):
        super(WaitFailed, self).__init__(message)
        self.message = message
        self.entry = entry


class Server(object):
    """One end of a direction: a read-only session, a label and what was read from it.

    Its ``fetch_*`` methods name the server in any error.
    """

    def __init__(self, session, label):
        self.session = session
        self.label = label
        self.server_id = None
        self.version = None

    def fetch_all(self, sql, params=None):
        try:
            return self.session.fetch_all(sql, params)
        except MariaDBQueryError as exc:
            raise WaitFailed('%s: %s failed: %s' % (self.label, exc.statement, exc.message), {})

    def fetch_one(self, sql, params=None):
        rows = self.fetch_all(sql, params)
        return rows[0] if rows else None

    def read_position(self):
        row = self.fetch_one(POSITION_QUERY) or {}
        self.server_id = to_int(row.get('server_id'))
        self.version = to_text(row.get('version'))
        return to_text(row.get('gtid_binlog_pos')), to_text(row.get('gtid_slave_pos'))

    def binlog_pos(self):
        return self.read_position()[0]

    def slave_pos(self):
        return self.read_position()[1]

    def statuses(self):
        return read_all_slaves_status(self)


def connection_status(server, name):
    return find_connection(server.statuses(), name)[1]


def wait_direction(replica, source_label, connection_name, source_pos, replica_binlog_pos, deadline,
                   slice_seconds=SLICE_SECONDS, clock=time.monotonic):
    """Wait until ``replica`` applied ``source_pos`` through ``connection_name``.

    Bounded by ``deadline`` (a ``clock`` value) and by a number of slices.
    Returns the direction's result entry; raises :class:`WaitFailed`.
    """
    status = connection_status(replica, connection_name)
    position, skipped = wait_position(
        source_pos, replica.server_id, replica_binlog_pos,
        do_domains=(status or {}).get('replicate_do_domain_ids', ''),
        ignore_domains=(status or {}).get('replicate_ignore_domain_ids', ''))
    wanted = format_gtid_list(position)
    entry = dict(
        replica=replica.label, source=source_label, connection_name=connection_name,
        source_position=source_pos, wait_position=wanted,
        skipped_domains=[dict(domain=item.domain, gtid=item.gtid, reason=item.reason) for item in skipped],
        reached_position='', seconds=0.0, reached=False,
    )
    started = clock()
    max_slices = int(max(deadline - started, 0) / slice_seconds) + 2
    for dummy in range(max_slices):
        problem = connection_problem(status)
        if problem:
            entry['reached_position'] = replica.slave_pos()
            entry['missing'] = missing_gtids(position, entry['reached_position'])
            entry['seconds'] = round(clock() - started, 3)
            raise WaitFailed('%s cannot catch up with %s through connection %r: %s. Still missing: %s.'
                             % (replica.label, source_label, connection_name, problem,
                                describe_missing(entry['missing'])), entry)
        remaining = deadline - clock()
        piece = max(0.0, min(slice_seconds, remaining))
        row = replica.fetch_one('SELECT MASTER_GTID_WAIT(%s, %s) AS waited', (wanted, piece))
        if to_int((row or {}).get('waited')) == 0:
            entry['seconds'] = round(clock() - started, 3)
            entry['reached_position'] = replica.slave_pos()
            entry['reached'] = True
            return entry
        if deadline - clock() <= 0:
            break
        status = connection_status(replica, connection_name)
    entry['seconds'] = round(clock() - started, 3)
    entry['reached_position'] = replica.slave_pos()
    entry['missing'] = missing_gtids(position, entry['reached_position'])
    status = connection_status(replica, connection_name)
    lag = (status or {}).get('seconds_behind_master')
    entry['seconds_behind_master'] = lag
    raise WaitFailed('Timed out after %.1f s: %s has not applied %s from %s through connection %r. Still missing: '
                     '%s. Seconds_Behind_Master: %s; %s.'
                     % (entry['seconds'], replica.label, wanted, source_label, connection_name,
                        describe_missing(entry['missing']), 'NULL' if lag is None else lag,
                        describe_threads(status)), entry)


def pick(server, statuses, name, other, host=None, port=None, what='replica'):
    try:
        return choose_connection(statuses, name, source_server_id=other.server_id, source_host=host, source_port=port)
    except ConnectionChoiceError as exc:
        raise WaitFailed('%s %s: %s' % (what.capitalize(), server.label, exc), {})


def refuse_broken(server, other, name, status):
    """Fail before any waiting when a connection cannot catch up."""
    problem = connection_problem(status)
    if problem:
        raise WaitFailed('%s cannot catch up with %s through connection %r: %s.'
                         % (server.label, other.label, name, problem), {})
