# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The logins of one account from the nodes of the fleet, for one run (module peer_logins): which to create,
reset and remove (pure, unit-tested), and the statements that do it."""

from __future__ import annotations

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import Secret

# The global privileges the module grants: what the modules of a node run on its peers, and nothing that writes
# (README "Accounts"). Keywords are checked against this list, never passed through from the input.
GRANTABLE = (
    'SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT', 'PROCESS', 'SLAVE MONITOR', 'REPLICATION MASTER ADMIN',
    'BINLOG MONITOR', 'REPLICATION CLIENT', 'REPLICA MONITOR', 'SHOW DATABASES',
)


def _keyword(privilege):
    """A privilege as written in GRANTABLE: upper case, single spaces."""
    return ' '.join(privilege.upper().split())


def privilege_problems(privileges):
    """Problems of the privileges a login is to get (empty when they are fine)."""
    problems = []
    if not privileges:
        problems.append('privileges: give at least one privilege')
    for privilege in privileges or []:
        if not isinstance(privilege, str) or _keyword(privilege) not in GRANTABLE:
            problems.append('privileges: %r is not one of %s (read-only global privileges)'
                            % (privilege, ', '.join(GRANTABLE)))
    return problems


def normalize_privileges(privileges):
    """The privileges as keywords of GRANTABLE, upper case, in the order given, each once."""
    seen = []
    for privilege in privileges:
        keyword = _keyword(privilege)
        if keyword not in seen:
            seen.append(keyword)
    return seen


def plan_logins(existing, hosts, keep, made_by_run, state, check_mode, create_in_check_mode):
    """What to do with the logins of the account from ``hosts``.

    ``existing`` are the hosts the account has a login from now; ``keep`` the hosts never touched (the
    operator's logins: localhost and smooth_admin_hosts); ``made_by_run`` the hosts whose login this run made
    earlier. A run leaves the logins as it found them, so making them and removing them again is not a change.

    state present: a missing login is created (also in check mode with ``create_in_check_mode``: a dry run logs
    in where the real run will, and its end removes what it made); an existing one that is neither kept nor made
    by this run was left by a run that stopped: it is reset to the privileges and the password, which is a change
    (in check mode only reported).

    state absent: the existing logins from ``hosts`` (but the kept ones) are removed; removing one this run made
    is not a change. In check mode only the logins this run made are removed (a dry run removes what it made and
    reports nothing else).

    Returns a dict: create, reset, remove (what runs), left (logins a stopped run left), changed.
    """
    existing = set(existing)
    keep = set(keep)
    made = set(made_by_run)
    wanted = [host for host in dict.fromkeys(hosts) if host not in keep]
    plan = dict(create=[], reset=[], remove=[], left=[], changed=False)
    if state == 'present':
        plan['left'] = [host for host in wanted if host in existing and host not in made]
        plan['create'] = [host for host in wanted if host not in existing]
        if check_mode and not create_in_check_mode:
            plan['create'] = []
        plan['reset'] = [] if check_mode else list(plan['left'])
        plan['changed'] = bool(plan['left'])
    else:
        candidates = [host for host in dict.fromkeys(list(hosts) + list(made_by_run)) if host not in keep]
        present = [host for host in candidates if host in existing]
        plan['left'] = [host for host in present if host not in made]
        plan['remove'] = [host for host in present if host in made] if check_mode else present
        plan['changed'] = bool(plan['left']) and not check_mode
    return plan


def login_statements(user, password, host, privileges, action):
    """``(sql, params)`` statements for one login. The account name and host are bound as values
    ('user'@'host'), the password as a Secret (masked wherever a statement is shown); the privilege keywords
    come from GRANTABLE (checked by privilege_problems first)."""
    grant = 'GRANT %s ON *.* TO %%s@%%s' % ', '.join(normalize_privileges(privileges))
    account = (user, host)
    if action == 'create':
        return [('CREATE USER %s@%s IDENTIFIED BY %s', account + (Secret(password),)), (grant, account)]
    if action == 'reset':
        return [('ALTER USER %s@%s IDENTIFIED BY %s', account + (Secret(password),)),
                ('REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s', account),
                (grant, account)]
    if action == 'remove':
        return [('DROP USER %s@%s', account)]
    raise ValueError('unknown action %r' % (action,))
