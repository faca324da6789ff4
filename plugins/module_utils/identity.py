# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Identities of servers that already run: read them, keep them.

A node's server_id, gtid_domain_id and auto-increment offset are facts of
the server once it holds data, not of the order of the inventory. Changing
them under a running pair loses rows without an error: two nodes with one
server_id ignore each other's binary log events, a GTID domain that moves
makes the partner skip or re-apply transactions, and two members with one
auto-increment offset hand out the same ids. So a plan that would change
the identity of a node holding data is refused before anything changes.

Pure functions, no Ansible imports of their own (the schemas that are not
user data come from module_utils/seed.py): the module server_identity reads
the facts, the filter identity_check decides, and the unit tests call both.
"""

from ansible_collections.smooth.mariadb.plugins.module_utils.seed import (
    METADATA_SCHEMA,
    METADATA_TABLE,
    excluded_schema,
)

IDENTITY_KEYS = ('server_id', 'gtid_domain_id', 'auto_increment_increment', 'auto_increment_offset')
# What smooth_identities can pin (module_utils/topology.py: PINNABLE).
PINNED_KEYS = ('server_id', 'gtid_domain_id', 'auto_increment_offset')
# my_print_defaults --mysqld prints these as --server-id=7 or --server_id=7.
_OPTION_KEYS = {
    'server_id': 'server_id',
    'gtid_domain_id': 'gtid_domain_id',
    'auto_increment_increment': 'auto_increment_increment',
    'auto_increment_offset': 'auto_increment_offset',
    'datadir': 'datadir',
}


class IdentityError(ValueError):
    """Facts that cannot be read into an identity."""


def parse_print_defaults(lines):
    """Options of the [mysqld] groups as ``my_print_defaults --mysqld`` prints them.

    lines: the output lines ('--server-id=101'). Returns {option: value} for
    the options this module reads (server_id, gtid_domain_id,
    auto_increment_increment, auto_increment_offset, datadir), the last
    occurrence winning as it does for mariadbd. Values stay strings.
    """
    options = {}
    for line in lines:
        line = line.strip()
        if not line.startswith('--'):
            continue
        name, sep, value = line[2:].partition('=')
        key = _OPTION_KEYS.get(name.replace('-', '_'))
        if key is not None:
            options[key] = value if sep else ''
    return options


def identity_from_options(options):
    """The identity an option file sets ({key: int or None}), as mariadbd would start with it.

    Unset keys are what mariadbd uses by default (server_id 1, gtid_domain_id
    0, auto_increment 1/1), so a stopped server's identity compares like a
    running one's. Raises IdentityError for a value that is not an integer.
    """
    defaults = {'server_id': 1, 'gtid_domain_id': 0, 'auto_increment_increment': 1, 'auto_increment_offset': 1}
    identity = {}
    for key in IDENTITY_KEYS:
        value = options.get(key)
        if value is None or value == '':
            identity[key] = defaults[key]
            continue
        try:
            identity[key] = int(str(value).strip(), 10)
        except ValueError:
            raise IdentityError('the option files set %s to %r, which is not an integer' % (key, value))
    return identity


def datadir_databases(entries):
    """User databases of a datadir, from its listing.

    entries: {name: [file names]} for every directory directly in the datadir.
    A directory is a database when it holds a db.opt or table files (.frm,
    .ibd, .MYD, .MAD); system databases and the collection's own state
    database are left out. Returns (user databases sorted, whether the
    collection's seed record exists).
    """
    databases = []
    for name, files in entries.items():
        if excluded_schema(name) or name.startswith('#') or name == 'lost+found':
            continue
        if any(f == 'db.opt' or f.endswith(('.frm', '.ibd', '.MYD', '.MAD')) for f in files):
            databases.append(name)
    seeded = '%s.frm' % METADATA_TABLE in (entries.get(METADATA_SCHEMA) or [])
    return sorted(databases), seeded


def data_evidence(user_databases, gtid_binlog_state='', gtid_slave_pos=''):
    """Why a server counts as holding data: a list of reasons, empty when it holds none.

    A server holds data when it has a user database, or when its binary log
    or its replication has seen a transaction (a GTID): its identity is then
    recorded in other servers' positions, and changing it loses rows.
    """
    evidence = []
    if user_databases:
        evidence.append('databases %s' % ', '.join(user_databases))
    if (gtid_binlog_state or '').strip():
        evidence.append('binary log GTIDs %s' % gtid_binlog_state.strip())
    if (gtid_slave_pos or '').strip():
        evidence.append('replicated GTIDs %s' % gtid_slave_pos.strip())
    return evidence


def _as_int(value):
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip(), 10)
    except ValueError:
        return None


def identity_conflicts(plan, observed):
    """Every change of identity the plan would make on a node that holds data.

    plan: {node: {server_id, gtid_domain_id, auto_increment_increment,
    auto_increment_offset, ...}} as planned. observed: {node: result of the
    module server_identity} for the nodes that were read (a node missing
    there, or with no identity, is new and may get any identity).
    Returns a list of {node, setting, current, planned}, sorted by node.
    The offset counts only where the server already uses an increment above
    1 (a pair's members hand out distinct ids); an increment of 1 is a
    standalone server's default, and giving it a pair's offset changes no id
    it handed out.
    """
    conflicts = []
    for node in sorted(plan):
        facts = observed.get(node) or {}
        current = facts.get('identity') or {}
        if not facts.get('holds_data') or not current:
            continue
        planned = plan[node]
        keys = ['server_id', 'gtid_domain_id']
        if (_as_int(current.get('auto_increment_increment')) or 1) > 1:
            keys += ['auto_increment_increment', 'auto_increment_offset']
        for key in keys:
            have, want = _as_int(current.get(key)), _as_int(planned.get(key))
            if have is not None and want is not None and have != want:
                conflicts.append({'node': node, 'setting': key, 'current': have, 'planned': want})
    return conflicts


def shared_identities(observed):
    """Nodes that run with the same server_id or gtid_domain_id now: a fleet already broken.

    Returns a list of {setting, value, nodes}, only for nodes that hold data.
    """
    shared = []
    for key in ('server_id', 'gtid_domain_id'):
        owners = {}
        for node in sorted(observed):
            facts = observed[node] or {}
            value = _as_int((facts.get('identity') or {}).get(key))
            if facts.get('holds_data') and value is not None:
                owners.setdefault(value, []).append(node)
        for value in sorted(owners):
            if len(owners[value]) > 1:
                shared.append({'setting': key, 'value': value, 'nodes': owners[value]})
    return shared


def identity_pins(observed):
    """smooth_identities that keep every node holding data as it runs now.

    Returns {node: {server_id, gtid_domain_id, auto_increment_offset}}; the
    offset only where the node uses an increment above 1.
    """
    pins = {}
    for node in sorted(observed):
        facts = observed[node] or {}
        current = facts.get('identity') or {}
        if not facts.get('holds_data') or not current:
            continue
        pin = {'server_id': _as_int(current.get('server_id')),
               'gtid_domain_id': _as_int(current.get('gtid_domain_id'))}
        if (_as_int(current.get('auto_increment_increment')) or 1) > 1:
            pin['auto_increment_offset'] = _as_int(current.get('auto_increment_offset'))
        pins[node] = pin
    return pins


def _pins_yaml(pins):
    lines = ['smooth_identities:']
    for node in sorted(pins):
        lines.append('  %s: {%s}' % (node, ', '.join('%s: %d' % (key, pins[node][key])
                                                     for key in PINNED_KEYS if pins[node].get(key) is not None)))
    return '\n'.join(lines)


def identity_check(plan, observed, playbook='this playbook', pinnable=None):
    """The decision on a plan against the identities the servers run with.

    Returns {ok, conflicts, shared, pins, message}: ok is False when the plan
    would change the identity of a node holding data, or when nodes holding
    data already share an identity; message then names every node, setting,
    current and planned value, and the fix (pin the current identities with
    smooth_identities, or put the nodes back in their order). It never
    advises a step that changes such a node's identity. pinnable: the nodes
    smooth_identities can pin (the nodes of smooth_shards); None for all.
    """
    conflicts = identity_conflicts(plan, observed)
    shared = shared_identities(observed)
    pins = identity_pins(observed)
    if pinnable is not None:
        pins = dict((node, pin) for node, pin in pins.items() if node in pinnable)
    lines = []
    if conflicts:
        lines.append('%s would change the identity of nodes that hold data; replication would then skip '
                     'or repeat their transactions and lose rows without an error:' % playbook)
        for node in sorted(set(item['node'] for item in conflicts)):
            changes = ['%s is %d on the server, the inventory plans %d'
                       % (item['setting'], item['current'], item['planned'])
                       for item in conflicts if item['node'] == node]
            evidence = '; '.join((observed.get(node) or {}).get('evidence') or ['holds data'])
            lines.append('  %s: %s (it holds data: %s)' % (node, '; '.join(changes), evidence))
        lines.append('The identity of a node that holds data is kept. Either restore the inventory these nodes '
                     'were deployed with (their order in smooth_shards; for an expansion already under way, its '
                     'smooth_expansion_partners)%s'
                     % (', or pin what the servers run with in the inventory (group_vars of smooth_mariadb):'
                        if pins else '.'))
        if pins:
            lines.append(_pins_yaml(pins))
    if shared:
        lines.append('Nodes that hold data already run with the same identity, so each ignores the other\'s '
                     'transactions:')
        for item in shared:
            lines.append('  %s %d on %s' % (item['setting'], item['value'], ' and '.join(item['nodes'])))
        lines.append('Repair this by hand (compare the data of these nodes, give each its own server_id and '
                     'gtid_domain_id in its option files, restart it) before running any playbook of this '
                     'collection.')
    if lines:
        lines.append('Nothing was changed.')
    return {'ok': not lines, 'conflicts': conflicts, 'shared': shared, 'pins': pins, 'message': '\n'.join(lines)}
