# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run at a time on a fleet: the run lock and the node's work lock.

The run lock is a file on every node of the fleet (LOCK_PATH) that names the
run holding it: a run id, the playbook, the controller host, the process id
of ansible-playbook and its start time. A run takes it in its plan play and
gives it back at its end; a second run finds it and stops before anything
changes.

A run that died (kill -9, a lost controller) leaves its lock behind. Only
the controller that ran it can tell that its process is gone; so a lock of
a dead run of the same controller is taken over, and a lock of another
controller is reported with how to clear it. The work lock (WORK_LOCK_PATH,
an flock held by a module while it changes data on the node: a purge, a
seed) keeps a lock from being taken over while the dead run's last module
still works on a node.

Pure decisions, no Ansible imports: the module run_lock, the lookup
controller_run, the filter run_lock_decision and the unit tests use them.
"""

import fcntl
import json
import os

LOCK_PATH = '/var/lib/smooth-mariadb/run.lock'
WORK_LOCK_PATH = '/run/smooth-mariadb/work.lock'
OWNER_KEYS = ('playbook', 'controller', 'user', 'pid', 'pid_start', 'started_at')


class LockError(Exception):
    """A lock file that cannot be used."""


def lock_record(run_id, owner):
    """The content of a lock file: the run id and who runs it."""
    record = {'run_id': run_id}
    for key in OWNER_KEYS:
        record[key] = (owner or {}).get(key)
    return record


def parse_lock(text):
    """The record of a lock file's text; {'run_id': None, 'unreadable': ...} when it is not one."""
    try:
        record = json.loads(text)
    except ValueError:
        return {'run_id': None, 'unreadable': text[:200]}
    if not isinstance(record, dict) or not record.get('run_id'):
        return {'run_id': None, 'unreadable': text[:200]}
    return record


def decide_lock(state, existing, run_id, break_run_id=None):
    """What the module does with the lock of one node: (action, reason).

    state 'present': 'create' (no lock), 'keep' (this run holds it),
    'replace' (held by break_run_id, a dead run: the lock is rewritten at
    once, so that a purge of that run still working on the node stops, and
    the module then waits for the node's work lock), or 'refuse' ('held').
    state 'absent': 'remove' (this run holds it), 'none' (no lock), or
    'refuse' with reason 'held' (another run holds it; it is left alone).
    """
    holder = (existing or {}).get('run_id') if existing is not None else None
    if state == 'absent':
        if existing is None:
            return 'none', 'free'
        if holder == run_id:
            return 'remove', 'held by this run'
        return 'refuse', 'held'
    if existing is None:
        return 'create', 'free'
    if holder == run_id:
        return 'keep', 'held by this run'
    if break_run_id and holder == break_run_id:
        return 'replace', 'held by the dead run %s' % break_run_id
    return 'refuse', 'held'


def read_lock_file(path):
    """The record of the lock file at path, or None when there is none."""
    try:
        with open(path) as handle:
            return parse_lock(handle.read())
    except FileNotFoundError:
        return None


def run_still_holds(record, run_id):
    """Whether the lock (a record, or None) still names run_id: a module of the run goes on only then.

    A run that took the lock over from a dead one, or an operator who
    removed the lock, makes the dead run's modules stop.
    """
    return bool(record) and record.get('run_id') == run_id


def process_start(stat_text):
    """The start time (clock ticks since boot) in a /proc/<pid>/stat line."""
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat_text.rsplit(')', 1)[-1].split()
    return int(fields[19])


def parent_pid(stat_text):
    return int(stat_text.rsplit(')', 1)[-1].split()[1])


def find_playbook_process(pid, read_stat, read_cmdline, limit=16):
    """(pid, start time) of the main ansible-playbook process that pid runs under, or (None, None).

    read_stat(pid) -> the text of /proc/<pid>/stat; read_cmdline(pid) -> the
    list of its arguments. Ansible's workers are forks of the main process
    with its command line, and end with their task: the topmost process with
    ansible-playbook in its command line is the run. Walks up at most limit
    parents.
    """
    found = (None, None)
    for _step in range(limit):
        if not pid or pid <= 1:
            break
        try:
            stat, cmdline = read_stat(pid), read_cmdline(pid)
        except (OSError, IndexError, ValueError, KeyError):
            break
        if any(os.path.basename(arg) == 'ansible-playbook' for arg in cmdline[:2]):
            found = (pid, process_start(stat))
        elif found[0] is not None:
            break
        pid = parent_pid(stat)
    return found


def holder_alive(holder, controller, read_stat):
    """Whether the run that holds a lock still runs: True, False, or None (unknown).

    Known only on the controller the run started from (holder['controller']
    == controller): its process is alive when /proc/<pid> exists with the
    same start time (a reused pid has another).
    """
    if not holder or holder.get('controller') != controller or not holder.get('pid'):
        return None
    try:
        return process_start(read_stat(int(holder['pid']))) == int(holder.get('pid_start'))
    except (OSError, IndexError, ValueError, TypeError):
        return False


def _describe(holder):
    if holder.get('unreadable') is not None:
        return 'an unreadable lock (%r)' % holder['unreadable']
    return ('run %s of %s, started %s by %s on %s (ansible-playbook pid %s)'
            % (holder.get('run_id'), holder.get('playbook'), holder.get('started_at'), holder.get('user'),
               holder.get('controller'), holder.get('pid')))


def lock_decision(results, liveness, lock_path=LOCK_PATH, read_only=False):
    """The decision of a run on the lock results of every node.

    results: {node: result of the module run_lock (state present)}; liveness:
    {run id: True, False or None} from the lookup controller_run. Returns
    {ok, break_run_id, message, note}: ok when every node is held by this run;
    else break_run_id names a dead run of this controller whose locks may be
    taken over (run the module again with it), or message says why the run
    stops and how to clear a stale lock.

    read_only: the run only read the locks (it changes nothing, module run in
    check mode). It stops where the real run would stop, but the takeover of
    a dead run's locks is the real run's to do: ok, with a note saying so.
    """
    refused = dict((node, r) for node, r in results.items() if not r.get('acquired'))
    if not refused:
        return {'ok': True, 'break_run_id': None, 'message': '', 'note': ''}
    busy = sorted(node for node, r in refused.items() if r.get('reason') == 'work_active')
    if busy:
        return {'ok': False, 'break_run_id': None, 'note': '', 'message': (
            'A module of the dead run that held the lock still works on %s (it holds %s): a purge or seed stops '
            'by itself now that the lock no longer names its run. Run again in a minute. Nothing was changed.'
            % (', '.join(busy), WORK_LOCK_PATH))}
    holders = {}
    for node in sorted(refused):
        holder = refused[node].get('held_by') or {}
        holders.setdefault(holder.get('run_id'), (holder, []))[1].append(node)
    lines = []
    dead = []
    for run_id in sorted(holders, key=str):
        holder, nodes = holders[run_id]
        alive = liveness.get(run_id) if run_id else None
        if alive is False:
            dead.append(run_id)
            continue
        if alive:
            lines.append('%s holds the lock on %s, and it is still running on this controller: wait for it to '
                         'end (or stop it), then run again.' % (_describe(holder), ', '.join(nodes)))
        else:
            lines.append('%s holds the lock on %s. If that run is no longer active, remove %s on these hosts '
                         '(ansible %s -b -m ansible.builtin.file -a "path=%s state=absent"), then run again.'
                         % (_describe(holder), ', '.join(nodes), lock_path, ':'.join(nodes), lock_path))
    if not lines and len(dead) == 1:
        if read_only:
            return {'ok': True, 'break_run_id': None, 'message': '', 'note': (
                'The dead run %s of this controller left its lock on %s. This run only reads the locks; the real '
                'run takes them over, once no purge or seed of that run works on a node (it waits 120 s at most).'
                % (dead[0], ', '.join(holders[dead[0]][1])))}
        return {'ok': False, 'break_run_id': dead[0], 'message': '', 'note': ''}
    if not lines:
        lines.append('Locks of several dead runs (%s) are on the fleet: remove %s on the hosts of the fleet, then '
                     'run again.' % (', '.join(dead), lock_path))
    lines.append('Another run of this collection may be changing the fleet, so this one stops. Nothing was changed.')
    return {'ok': False, 'break_run_id': None, 'message': ' '.join(lines), 'note': ''}


def work_lock_active(path=WORK_LOCK_PATH):
    """Whether a module holds the work lock on this node now."""
    if not os.path.exists(path):
        return False
    with open(path, 'a') as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


class WorkLock(object):
    """Held (flock, shared) by a module while it changes data on the node.

    Shared, so several modules of one run may work at once; run_lock takes
    it exclusively, non-blocking, to see that none works.
    """

    def __init__(self, path=WORK_LOCK_PATH):
        self.path = path
        self.handle = None

    def __enter__(self):
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        self.handle = open(self.path, 'a')
        fcntl.flock(self.handle.fileno(), fcntl.LOCK_SH)
        return self

    def __exit__(self, *exc):
        try:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
        finally:
            self.handle.close()
        return False


def hold_work_lock(path=WORK_LOCK_PATH):
    """Take the work lock (shared) for the rest of the process; the handle, or None where it cannot be had.

    For a module that changes data on the node: the flock goes with the
    process, whether it exits, fails or is killed. Best effort: a module run
    by a user who may not write the lock's directory works without it.
    """
    try:
        lock = WorkLock(path)
        lock.__enter__()
    except OSError:
        return None
    return lock
