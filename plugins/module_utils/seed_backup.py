# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Seeding by mariabackup: the pure helpers of ``smooth.mariadb.seed``'s method mariabackup.

The module runs the programs (``backup_command`` streaming ``mariabackup
--stream=xbstream`` from the source, ``mbstream``, ``mariabackup --prepare`` and
``--move-back``); this file names the files, builds the commands and decides
from their output. The dump method and the seed record are in seed.py, the
copy of accounts in seed_accounts.py.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
import shutil
import signal

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import mask_secrets, to_text
from ansible_collections.smooth.mariadb.plugins.module_utils.seed import SeedError


# ---------------------------------------------------------------------------
# Method mariabackup: pure helpers (the module runs the programs)
# ---------------------------------------------------------------------------

# mariabackup writes the binary log coordinates of the backup into this file of
# the backup directory: "<file>\t<offset>\t<gtid_pos>" on one line (the GTID
# part is missing when the source has written no GTID yet). MariaDB 10.11 calls
# it xtrabackup_binlog_info; later versions mariadb_backup_binlog_info.
BINLOG_INFO_FILES = ('mariadb_backup_binlog_info', 'xtrabackup_binlog_info')
WORK_DIR_MARKER = '.smooth-mariadb-seed'
OLD_DATADIR_SUFFIX = '.smooth-before-seed-'
FAILED_DATADIR_SUFFIX = '.smooth-failed-seed-'
_GTID_POS = re.compile(r'^(\d+-\d+-\d+)(,\d+-\d+-\d+)*$')


def parse_binlog_info(text):
    """``(gtid_pos, log_file, log_pos)`` from a mariadb_backup_binlog_info text (pure).

    :raises SeedError: when the text is not one line of file, offset and optional GTID position
    """
    lines = [line for line in to_text(text).splitlines() if line.strip()]
    if len(lines) != 1:
        raise SeedError('the backup binlog info holds %d lines, expected one "file<TAB>offset<TAB>gtid" line '
                        '(is binary logging on at the source?): %r' % (len(lines), to_text(text)[:300]))
    fields = lines[0].strip().split('\t')
    if len(fields) not in (2, 3) or not fields[1].isdigit() or not fields[0]:
        raise SeedError('cannot read the backup binlog info %r: expected "file<TAB>offset<TAB>gtid"' % lines[0][:300])
    gtid_pos = fields[2].replace(' ', '') if len(fields) == 3 else ''
    if gtid_pos and not _GTID_POS.match(gtid_pos):
        raise SeedError('the backup binlog info has an invalid GTID position %r' % gtid_pos)
    return gtid_pos, fields[0], int(fields[1])


def work_dir_problem(path, entries, datadir):
    """Why ``path`` cannot be the work directory, or None (pure).

    :param entries: names in the directory, or None when it does not exist
    """
    real, data = os.path.normpath(path), os.path.normpath(datadir)
    if real == data or real.startswith(data + os.sep) or data.startswith(real + os.sep):
        return 'work_dir %s must not be inside the datadir %s nor contain it' % (path, datadir)
    if entries and WORK_DIR_MARKER not in entries:
        return ('work_dir %s exists and is not empty (%s); it is not a leftover of this module (no %s file). '
                'Remove it or choose another work_dir' % (path, ', '.join(sorted(entries)[:5]), WORK_DIR_MARKER))
    return None


def move_contents(source, destination):
    """Move every entry of directory ``source`` into the new directory
    ``destination`` (same mode and owner as ``source``), leaving ``source``
    itself in place, empty.

    A datadir is often a mount point (its own disk) and, in containers, an
    overlay directory: renaming it fails (EXDEV/EBUSY), moving its entries
    does not (shutil.move copies across filesystems and removes an entry
    only once it is fully copied).
    """
    info = os.stat(source)
    os.mkdir(destination, info.st_mode & 0o7777)
    os.chown(destination, info.st_uid, info.st_gid)
    for name in sorted(os.listdir(source)):
        shutil.move(os.path.join(source, name), os.path.join(destination, name))


def aside_path(datadir, suffix, stamp):
    """``<datadir><suffix><stamp>`` for a datadir moved aside (pure; no trailing slash kept)."""
    return os.path.normpath(datadir) + suffix + stamp


def extract_command(mbstream, work_dir):
    return [mbstream, '-x', '-C', work_dir]


def prepare_command(mariabackup, work_dir):
    return [mariabackup, '--prepare', '--target-dir=%s' % work_dir]


def move_back_command(mariabackup, work_dir, datadir):
    return [mariabackup, '--move-back', '--target-dir=%s' % work_dir, '--datadir=%s' % datadir]


class Laps(object):
    """Seconds of each step of a copy, in order: ``lap(name)`` ends the step begun at the previous lap (or at
    the start) and names it; ``seconds`` is ``{name: seconds}`` rounded to milliseconds (a repeated name adds up)."""

    def __init__(self, clock):
        self.clock = clock
        self.last = clock()
        self.seconds = {}

    def lap(self, name):
        now = self.clock()
        self.seconds[name] = round(self.seconds.get(name, 0.0) + now - self.last, 3)
        self.last = now


class NullScanner(object):
    """A stream scanner that looks for nothing (the backup's coordinates are in a file)."""

    def feed(self, chunk):
        pass

    def result(self):
        return None


def describe_backup_stream_failure(result, secrets=()):
    """The failure message of backup_command piped into mbstream, or None (pure)."""
    killed = -signal.SIGKILL
    if result.stopped:
        message = ('the backup stream was stopped (%s); backup_command and mbstream were killed after %d bytes'
                   % (result.stopped, result.bytes))
    elif result.timed_out:
        message = ('the backup stream did not finish within the timeout; backup_command and mbstream were killed '
                   'after %d bytes' % result.bytes)
    elif result.restore_rc != 0 and result.dump_rc in (0, killed):
        message = ('mbstream (extract) failed with exit code %s after %d bytes: %s'
                   % (result.restore_rc, result.bytes, result.restore_stderr or '(no output)'))
    elif result.dump_rc != 0:
        message = ('backup_command failed with exit code %s after %d bytes: %s'
                   % (result.dump_rc, result.bytes, result.dump_stderr or '(no output)'))
    elif result.bytes == 0:
        message = 'backup_command wrote nothing to its standard output (it must stream mariabackup --stream=xbstream)'
    else:
        return None
    return mask_secrets(message, [to_text(secret) for secret in secrets if secret])


# ---------------------------------------------------------------------------
# The preflight of the stream: what a mariabackup seed needs on both nodes
# ---------------------------------------------------------------------------

# The preflight reads these on the node a new node is seeded from (a shell
# script prints key=value lines, tasks/preflight_new.yml) and on the new node.
STREAM_READINGS = ('user', 'host_key', 'keys_path', 'keys_writable', 'backup')
# Read there too when they can be: the account's home and groups, and the
# lines of sshd -T (its configuration as it applies to a connection from the
# new node, Match blocks included), one "sshd=<keyword> <value>" line each.
OPTIONAL_STREAM_READINGS = ('home', 'groups', 'sshd_error')
SSHD_KEYWORDS = ('pubkeyauthentication', 'permitrootlogin', 'authorizedkeysfile', 'allowusers', 'denyusers',
                 'allowgroups', 'denygroups')


def parse_stream_readings(text):
    """The ``key=value`` lines of the preflight's reading on the source, as a dict (pure).

    The ``sshd=`` lines become ``readings['sshd']``: ``{keyword: [value, ...]}``
    (sshd -T prints AllowUsers and its kind one line per entry).

    :raises SeedError: when a reading is missing (the script did not run as written)
    """
    readings = {'sshd': {}}
    for line in to_text(text).splitlines():
        key, sep, value = line.partition('=')
        key = key.strip()
        if not sep:
            continue
        if key == 'sshd':
            keyword, _sep, rest = value.strip().partition(' ')
            if keyword.lower() in SSHD_KEYWORDS:
                readings['sshd'].setdefault(keyword.lower(), []).append(rest.strip())
        elif key in STREAM_READINGS or key in OPTIONAL_STREAM_READINGS:
            readings[key] = value.strip()
    missing = [key for key in STREAM_READINGS if key not in readings]
    if missing:
        raise SeedError('the reading of the seed source lacks %s: %r' % (', '.join(missing), to_text(text)[:300]))
    return readings


def _matches_host(pattern, address):
    """Whether the host part of an AllowUsers/DenyUsers entry matches ``address`` (a pattern or a CIDR network)."""
    if '/' in pattern:
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
    return fnmatch.fnmatchcase(address, pattern)


def _user_entry_matches(entry, user, address):
    name, _sep, host = entry.partition('@')
    return fnmatch.fnmatchcase(user, name) and (not host or _matches_host(host, address))


def keys_files(values, user, home):
    """The files sshd reads an account's keys from, from AuthorizedKeysFile (pure): a list, None when unknown.

    Tokens: %% is %, %h the home directory, %u the user name; a relative path
    is relative to the home directory. Another token (%U, the uid) makes the
    list unknown.
    """
    files = []
    for word in ' '.join(values).split():
        if word == 'none':
            continue
        if re.search(r'%[^%hu]', word.replace('%%', '')):
            return None
        path = word.replace('%h', home or '').replace('%u', user).replace('%%', '%')
        if not path.startswith('/'):
            if not home:
                return None
            path = os.path.join(home, path)
        files.append(os.path.normpath(path))
    return files


def sshd_problems(sshd, user, home, groups, authorized_keys, address):
    """Why the ssh server (its ``sshd -T`` readings) would refuse the seed's key (pure): a list of reasons.

    ``sshd`` is ``{keyword: [values]}``; an empty dict (sshd -T could not be read)
    gives no reason. ``address`` is the new node's, which Match blocks and
    AllowUsers entries with a host part were judged against.
    """
    reasons = []
    if not sshd:
        return reasons
    first = dict((key, values[0].lower()) for key, values in sshd.items() if values)
    if first.get('pubkeyauthentication') == 'no':
        reasons.append('its sshd accepts no keys (PubkeyAuthentication no)')
    if user == 'root' and first.get('permitrootlogin') == 'no':
        reasons.append('its sshd refuses root (PermitRootLogin no; the seed key needs prohibit-password or '
                       'forced-commands-only, or set smooth_seed_ssh_user to another account that can read the '
                       'datadir)')
    if 'authorizedkeysfile' in sshd:
        files = keys_files(sshd['authorizedkeysfile'], user, home)
        if files is not None and os.path.normpath(authorized_keys) not in files:
            reasons.append('its sshd reads the keys of %s from %s only (AuthorizedKeysFile), not from '
                           'smooth_seed_authorized_keys %s' % (user, ', '.join(files) or 'no file', authorized_keys))
    allow_users = sshd.get('allowusers', [])
    if allow_users and not any(_user_entry_matches(entry, user, address) for entry in allow_users):
        reasons.append('its sshd lets in only AllowUsers %s' % ' '.join(allow_users))
    denied = [entry for entry in sshd.get('denyusers', []) if _user_entry_matches(entry, user, address)]
    if denied:
        reasons.append('its sshd refuses %s (DenyUsers %s)' % (user, ' '.join(denied)))
    member_of = (groups or '').split()
    allow_groups = sshd.get('allowgroups', [])
    if allow_groups and not any(fnmatch.fnmatchcase(group, pattern) for group in member_of for pattern in allow_groups):
        reasons.append('its sshd lets in only AllowGroups %s, and %s is in %s'
                       % (' '.join(allow_groups), user, ', '.join(member_of) or 'no group it could read'))
    denied_groups = [pattern for pattern in sshd.get('denygroups', [])
                     if any(fnmatch.fnmatchcase(group, pattern) for group in member_of)]
    if denied_groups:
        reasons.append('its sshd refuses the groups of %s (DenyGroups %s)' % (user, ' '.join(denied_groups)))
    return reasons


def stream_problems(readings, new_node, source, ssh_user, authorized_keys, backup_command, sshd_open, ssh_client,
                    new_address=''):
    """What would stop a mariabackup seed from ``source`` to ``new_node``, one sentence per problem (pure).

    ``readings`` come from :func:`parse_stream_readings` (read on the source);
    ``sshd_open`` says whether the new node reached the source's port 22, and
    ``ssh_client`` whether the new node has ``ssh`` and ``ssh-keygen``;
    ``new_address`` is the address the new node connects from. Each
    sentence names the host, the setting and the fix. An empty list: the seed's
    ssh stream has what it needs (the key it makes is allowed only for the copy).
    """
    problems = []
    if not ssh_client:
        problems.append('%s has no ssh client (ssh, ssh-keygen): the seed streams the backup of %s over ssh '
                        'from it; install openssh-client there, or set smooth_seed_method: dump'
                        % (new_node, source))
    if not sshd_open:
        problems.append('%s cannot reach the ssh server of %s (port 22): the seed streams the backup over ssh, '
                        'node to node; open port 22 from %s to %s, or set smooth_seed_method: dump'
                        % (new_node, source, new_node, source))
    if readings.get('user') != 'yes':
        problems.append('%s has no account %r (smooth_seed_ssh_user), which the seed logs in as to run the '
                        'backup: set smooth_seed_ssh_user to an account there that can read the datadir'
                        % (source, ssh_user))
    if readings.get('host_key') != 'yes':
        problems.append('%s has no /etc/ssh/ssh_host_ed25519_key.pub: the stream trusts the source\'s ed25519 '
                        'host key only, read by Ansible; let sshd make one (ssh-keygen -A), or set '
                        'smooth_seed_method: dump' % source)
    if readings.get('keys_writable') != 'yes':
        where = readings.get('keys_path') or authorized_keys
        problems.append('%s cannot write smooth_seed_authorized_keys %s (%s is on a read-only file system or not '
                        'writable): the seed allows its key there for the copy and removes it after; set '
                        'smooth_seed_authorized_keys to another file sshd reads for %s (for example '
                        '~/.ssh/authorized_keys2), or set smooth_seed_method: dump'
                        % (source, authorized_keys, where, ssh_user))
    reasons = sshd_problems(readings.get('sshd') or {}, ssh_user, readings.get('home'), readings.get('groups'),
                            authorized_keys, new_address)
    if reasons:
        problems.append('%s would refuse the seed key of %s as %s: %s; change the ssh server there or these '
                        'settings, or set smooth_seed_method: dump' % (source, new_node, ssh_user, '; '.join(reasons)))
    if not readings.get('backup'):
        program = (backup_command or '').split()[:1]
        problems.append('%s cannot run %s (the first word of smooth_seed_backup_command, not found): install '
                        'mariadb-backup there, or set smooth_seed_method: dump'
                        % (source, program[0] if program else 'backup command'))
    return problems
