# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the inventory that run before anything changes.

Every function returns a list of problems, each a sentence that names the
inventory variable (never an internal option name), what is wrong with it
and how to fix it; an empty list means the input is usable. The plan play
of each playbook refuses a non-empty list, so a mistake is refused
before the first host changes. No Ansible imports: the filters in
plugins/filter/topology.py and the unit tests call these directly.
"""

import ipaddress
import re

from ansible_collections.smooth.mariadb.plugins.module_utils.topology import address_on_interface

# MariaDB keeps MASTER_PASSWORD in at most 96 bytes: CHANGE MASTER fails with
# ER_WRONG_STRING_LENGTH (1470) "... is too long for MASTER_PASSWORD (should
# be no longer than 96)" (measured on 10.11: 96 ASCII characters or 48
# two-byte characters pass, one more fails).
MAX_REPLICATION_PASSWORD_BYTES = 96
MIN_PASSWORD_LENGTH = 12
_HOSTNAME = re.compile(r'^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
                       r'(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$')


def _is_text(value):
    return isinstance(value, str)


def account_problems(admin_password, replication_password, admin_hosts):
    """Problems of smooth_admin_password, smooth_replication_password and smooth_admin_hosts.

    admin_hosts must list exact addresses or host names: MariaDB reads '%'
    and '_' in an account's host as wildcards, '' as any host, and
    'a.b.c.d/mask' as a range, so each of those opens the admin account
    (ALL privileges) to more hosts than the list shows.
    """
    problems = []
    for name, value in (('smooth_admin_password', admin_password),
                        ('smooth_replication_password', replication_password)):
        if value is None or value == '':
            problems.append('%s is not set: set it (at least %d characters; keep it in ansible-vault)'
                            % (name, MIN_PASSWORD_LENGTH))
        elif not _is_text(value):
            problems.append('%s must be a string (quote it in the inventory)' % name)
        elif len(value) < MIN_PASSWORD_LENGTH:
            problems.append('%s has %d characters: use at least %d' % (name, len(value), MIN_PASSWORD_LENGTH))
    if _is_text(replication_password):
        size = len(replication_password.encode('utf-8'))
        if size > MAX_REPLICATION_PASSWORD_BYTES:
            problems.append('smooth_replication_password has %d bytes, but MariaDB keeps at most %d for a '
                            'replication password (CHANGE MASTER ... MASTER_PASSWORD would fail after the accounts '
                            'changed): use a shorter one' % (size, MAX_REPLICATION_PASSWORD_BYTES))
    if admin_hosts is None:
        admin_hosts = []
    if not isinstance(admin_hosts, list):
        problems.append('smooth_admin_hosts must be a list of addresses or host names, got %r' % (admin_hosts,))
        return problems
    for host in admin_hosts:
        if not _is_text(host) or not host.strip():
            problems.append("smooth_admin_hosts contains %r: an empty host lets the admin account log in from "
                            "any host; list exact addresses or host names" % (host,))
        elif '%' in host or '_' in host:
            problems.append("smooth_admin_hosts contains %r: MariaDB reads '%%' and '_' in an account's host as "
                            "wildcards, which opens the admin account to every matching host; list exact "
                            "addresses or host names" % host)
        elif '/' in host:
            problems.append("smooth_admin_hosts contains %r: an address/netmask opens the admin account to a whole "
                            "range; list exact addresses" % host)
        elif not (_is_address(host) or _HOSTNAME.match(host)):
            problems.append('smooth_admin_hosts contains %r, which is neither an IP address nor a host name' % host)
    return problems


def _is_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def timeout_problems(timeouts):
    """Problems of timeout settings: each must be a whole number of seconds, 1 or more.

    timeouts: {variable name: value}; a value of None (not set, the default
    applies) is fine. The playbooks wait in whole seconds (retries of 1 s,
    CHANGE MASTER's MASTER_CONNECT_RETRY), so 0.5 would silently become one
    try.
    """
    problems = []
    for name in sorted(timeouts):
        value = timeouts[name]
        if value is None:
            continue
        number = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.match(r'^\s*-?[0-9]+\s*$', value):
            number = int(value)
        if number is None:
            problems.append('%s must be a whole number of seconds, got %r' % (name, value))
        elif number < 1:
            problems.append('%s must be 1 second or more, got %r: it bounds a wait, and %s would give up at once'
                            % (name, value, value))
    return problems


def partner_problems(current_nodes, new_nodes, partners):
    """Problems of smooth_expansion_partners ({current node: its new node}), each named for what it is.

    current_nodes: the group smooth_mariadb; new_nodes: the group
    smooth_mariadb_new.
    """
    current, new = list(current_nodes or []), list(new_nodes or [])
    problems = []
    if len(current) < 2:
        problems.append('the group smooth_mariadb needs the nodes of at least one pair (it lists %s)'
                        % (', '.join(current) or 'no host'))
    both = sorted(set(current) & set(new))
    for node in both:
        problems.append('%s is in both groups smooth_mariadb and smooth_mariadb_new: a node is either current '
                        '(it holds data now) or new' % node)
    if not new:
        problems.append('the group smooth_mariadb_new is empty: add one new host per current node (%d)' % len(current))
    if not isinstance(partners, dict):
        problems.append('smooth_expansion_partners must be a mapping {current node: new node}, got %r'
                        % (partners,))
        return problems
    if not partners:
        problems.append('smooth_expansion_partners is empty: map every current node (%s) to a host of the group '
                        'smooth_mariadb_new' % ', '.join(current))
        return problems
    for key in sorted(partners, key=str):
        if key not in current:
            problems.append('smooth_expansion_partners has an entry for %s, which is not in the group smooth_mariadb '
                            '(the current nodes are %s): remove it or correct the name' % (key, ', '.join(current)))
    for node in current:
        if node not in partners:
            problems.append('current node %s has no entry in smooth_expansion_partners: add "%s: <a host of the '
                            'group smooth_mariadb_new>"' % (node, node))
    targets = {}
    for key in sorted(partners, key=str):
        value = partners[key]
        if not _is_text(value) or value not in new:
            problems.append('smooth_expansion_partners maps %s to %r, which is not in the group smooth_mariadb_new '
                            '(%s): add that host to the group or map %s to one of its hosts'
                            % (key, value, ', '.join(new) or 'empty', key))
            continue
        targets.setdefault(value, []).append(key)
    for value in sorted(targets):
        if len(targets[value]) > 1:
            problems.append('smooth_expansion_partners maps %s all to %s: every current node needs a new node of '
                            'its own' % (' and '.join(str(k) for k in targets[value]), value))
    for node in new:
        if node not in targets and node not in both:
            problems.append('%s of the group smooth_mariadb_new is no current node\'s new partner: map a current '
                            'node to it in smooth_expansion_partners, or remove it from the group' % node)
    return problems


def vip_network_problem(node, facts, variable):
    """Whether the VIP of a node's shard lies in the network of the interface that will hold it.

    node: the node's settings ({vip, vip_prefix, address, ...}); facts: its
    ansible_facts; variable: where the VIP comes from, for the message
    ('smooth_shards[0].vip'). keepalived adds the VIP on the interface that
    holds the node's address; a VIP outside that interface's network is
    added, but the clients never reach it. Returns '' or the problem.
    """
    address = node.get('address')
    vip = node.get('vip')
    device, entry = address_on_interface(facts, address)
    if device is None:
        return ('%s: no interface holds the node\'s address %s (interfaces: %s): set ansible_host or smooth_address '
                'to the address the node is reached on' % (node.get('name', '?'), address,
                                                           ', '.join(sorted(facts.get('interfaces', []) or []))))
    try:
        network = ipaddress.IPv4Network('%s/%s' % (address, entry.get('netmask')), strict=False)
    except ValueError:
        return ''
    if ipaddress.IPv4Address(vip) in network:
        return ''
    where = (node.get('name', '?'), vip, variable, network, device, address, network)
    return ('%s: the VIP %s (%s) is not in the network %s of %s, the interface that holds the node\'s '
            'address %s and would hold the VIP: clients on that network could not reach it. Choose '
            'a free address in %s' % where)


# The expansion planner's arguments, as the inventory of expand_2n.yml names them.
_INVENTORY_NAMES = (
    (re.compile(r'\bnew_partners\b'), 'smooth_expansion_partners'),
    (re.compile(r'\bvip_pool\b'), 'smooth_expansion_vip_pool'),
    (re.compile(r'\bcurrent_fleet\b'), 'the current fleet (smooth_shards, smooth_identities)'),
)


def in_inventory_words(message):
    """A planner message with its argument names replaced by the inventory variables they come from."""
    for pattern, name in _INVENTORY_NAMES:
        message = pattern.sub(name, message)
    return message
