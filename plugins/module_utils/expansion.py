# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning of a 2N expansion of a fleet of dual-master pairs.

Input is the per-node plan of the current fleet (the output of
shard_topology() in topology.py, or the 'nodes' of a previous expansion plan),
the new node that pairs with every existing node, and one new VIP per shard.
Shard i of N is the pair (P_i, Q_i) = (member 0, member 1). After the
expansion P_i stays shard i (residue i of 2N, keeps VIP_i and its VRRP
instance) and Q_i becomes shard i + N (residue i + N, the new VIP
vip_pool[i], a new VRRP instance); each gets its new partner, seeded from it.

Existing nodes keep server_id, gtid_domain_id and auto_increment_offset
(a running server's identity does not change in the middle of an expansion);
new nodes get the other offset of their pair and fresh ids. Everything
that could give two servers, shards or VRRP instances one identity is
refused before anything is planned. No Ansible imports: the filter plugins
and the unit tests call these functions directly.
"""

import re

from ansible_collections.smooth.mariadb.plugins.module_utils.topology import (
    MAX_SERVER_ID,
    PAIR_SIZE,
    PRIORITY_FIRST,
    PRIORITY_SECOND,
    TopologyError,
    _INSTANCE_NAME,
    _check_int,
    check_addresses,
    parse_vip,
)

MAX_GTID_DOMAIN_ID = 4294967295
MAX_ROUTER_ID = 255
# One VRRP router id per shard: a fleet never has more shards than router ids.
MAX_SHARDS = MAX_ROUTER_ID
MAX_VERSION = 2 ** 53 - 1
DEFAULT_PORT = 3306
DATASOURCE_PREFIX = 'ds_'

# Keys of a node's settings that the planner reads (shard_topology's output).
FLEET_KEYS = (
    'shard_index', 'modulus', 'owned_residue', 'member_index', 'partner', 'server_id', 'gtid_domain_id',
    'auto_increment_increment', 'auto_increment_offset', 'vip_cidr', 'vrrp_instance', 'vrrp_router_id',
)

_HOST = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$')
_IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]{0,63}$')
_DATABASE = re.compile(r'^[A-Za-z0-9_]{1,64}$')
_URL_PARAMS = re.compile(r'^[A-Za-z0-9_.%=&:-]+$')
_DATASOURCE_NAME = re.compile(r'^%s(\d+)$' % DATASOURCE_PREFIX)

ALGORITHMS = ('INLINE', 'MOD')


class ExpansionError(TopologyError):
    """An expansion that cannot be carried out safely."""


def _node_name(value, where):
    if not isinstance(value, str) or not value:
        raise ExpansionError('%s must be a non-empty host name, got %r' % (where, value))
    return str(value)


def _read_fleet(current_fleet):
    """Validate the current fleet; return (modulus, shards, nodes).

    shards: list, in index order, of {'nodes': [member0, member1], 'vip',
    'vip_prefix', 'vrrp_instance', 'vrrp_router_id'}; nodes: {node: {...
    the integers and names read, converted to plain types}}.
    """
    if not isinstance(current_fleet, dict) or not current_fleet:
        raise ExpansionError('current_fleet must be the non-empty mapping {node: settings} returned by '
                             'smooth.mariadb.shard_topology (or the nodes of a previous expansion_plan)')
    nodes = {}
    for raw_name in current_fleet:
        name = _node_name(raw_name, 'current_fleet: a node name')
        settings = current_fleet[raw_name]
        where = 'current_fleet node %s' % name
        if not isinstance(settings, dict):
            raise ExpansionError('%s: settings must be a mapping as returned by shard_topology, got %r' % (where, settings))
        missing = [key for key in FLEET_KEYS if key not in settings]
        if missing:
            raise ExpansionError('%s lacks %s: pass the output of smooth.mariadb.shard_topology or the nodes of a '
                                 'previous expansion_plan' % (where, ', '.join(missing)))
        vip, prefix = parse_vip(settings['vip_cidr'], where)
        instance = settings['vrrp_instance']
        if not isinstance(instance, str) or not _INSTANCE_NAME.match(instance):
            raise ExpansionError('%s: vrrp_instance %r is not a valid keepalived instance name' % (where, instance))
        nodes[name] = {
            'modulus': int(_check_int(settings['modulus'], '%s: modulus' % where, 1, MAX_SHARDS)),
            'shard_index': int(_check_int(settings['shard_index'], '%s: shard_index' % where, 0, MAX_SHARDS - 1)),
            'owned_residue': int(_check_int(settings['owned_residue'], '%s: owned_residue' % where, 0, MAX_SHARDS - 1)),
            'member_index': int(_check_int(settings['member_index'], '%s: member_index' % where, 0, PAIR_SIZE - 1)),
            'partner': _node_name(settings['partner'], '%s: partner' % where),
            'server_id': int(_check_int(settings['server_id'], '%s: server_id' % where, 1, MAX_SERVER_ID)),
            'gtid_domain_id': int(_check_int(settings['gtid_domain_id'], '%s: gtid_domain_id' % where, 0,
                                             MAX_GTID_DOMAIN_ID)),
            'auto_increment_increment': int(_check_int(settings['auto_increment_increment'],
                                                       '%s: auto_increment_increment' % where, 1, 65535)),
            'auto_increment_offset': int(_check_int(settings['auto_increment_offset'],
                                                    '%s: auto_increment_offset' % where, 1, 65535)),
            'vip': vip,
            'vip_prefix': prefix,
            'vrrp_instance': str(instance),
            'vrrp_router_id': int(_check_int(settings['vrrp_router_id'], '%s: vrrp_router_id' % where, 1,
                                             MAX_ROUTER_ID)),
            'address': settings.get('address'),
        }

    order = sorted(nodes)
    moduli = sorted({nodes[n]['modulus'] for n in order})
    if len(moduli) > 1:
        examples = ', '.join('%s has %d' % (next(n for n in order if nodes[n]['modulus'] == m), m) for m in moduli)
        raise ExpansionError('current_fleet mixes moduli (%s): every node must come from one plan' % examples)
    modulus = moduli[0]
    if len(nodes) != PAIR_SIZE * modulus:
        raise ExpansionError('current_fleet has %d nodes but modulus %d needs %d (%d shards of %d nodes)'
                             % (len(nodes), modulus, PAIR_SIZE * modulus, modulus, PAIR_SIZE))

    slots = [[None] * PAIR_SIZE for dummy in range(modulus)]
    for name in order:
        node = nodes[name]
        index = node['shard_index']
        if index >= modulus:
            raise ExpansionError('current_fleet node %s: shard_index %d is outside 0..%d (modulus %d)'
                                 % (name, index, modulus - 1, modulus))
        if node['owned_residue'] != index:
            raise ExpansionError('current_fleet node %s: owned_residue %d differs from its shard_index %d; shard i '
                                 'must own residue i' % (name, node['owned_residue'], index))
        if node['auto_increment_increment'] != PAIR_SIZE:
            raise ExpansionError('current_fleet node %s: auto_increment_increment is %d, but a dual-master pair '
                                 'uses %d' % (name, node['auto_increment_increment'], PAIR_SIZE))
        if node['auto_increment_offset'] > PAIR_SIZE:
            raise ExpansionError('current_fleet node %s: auto_increment_offset %d must be 1 or 2'
                                 % (name, node['auto_increment_offset']))
        other = slots[index][node['member_index']]
        if other is not None:
            raise ExpansionError('current_fleet nodes %s and %s are both member %d of shard %d'
                                 % (other, name, node['member_index'], index))
        slots[index][node['member_index']] = name

    shards = []
    for index, pair in enumerate(slots):
        if None in pair:
            raise ExpansionError('current_fleet: shard %d has no member %d' % (index, pair.index(None)))
        first, second = (nodes[n] for n in pair)
        for name, node, partner in ((pair[0], first, pair[1]), (pair[1], second, pair[0])):
            if node['partner'] != partner:
                where = ('which is in shard %d' % nodes[node['partner']]['shard_index']
                         if node['partner'] in nodes else 'which is not in current_fleet')
                raise ExpansionError('current_fleet node %s of shard %d names partner %s (%s), but shard %d is the '
                                     'pair %s + %s: a node belongs to one shard only'
                                     % (name, index, node['partner'], where, index, pair[0], pair[1]))
        if first['auto_increment_offset'] == second['auto_increment_offset']:
            raise ExpansionError('current_fleet shard %d: nodes %s and %s have the same auto_increment_offset %d'
                                 % (index, pair[0], pair[1], first['auto_increment_offset']))
        for key in ('vip', 'vip_prefix', 'vrrp_instance', 'vrrp_router_id'):
            if first[key] != second[key]:
                raise ExpansionError('current_fleet shard %d: nodes %s and %s disagree on %s (%s vs %s)'
                                     % (index, pair[0], pair[1], key, first[key], second[key]))
        shards.append({
            'nodes': list(pair),
            'vip': first['vip'],
            'vip_prefix': first['vip_prefix'],
            'vrrp_instance': first['vrrp_instance'],
            'vrrp_router_id': first['vrrp_router_id'],
        })

    for key in ('vip', 'vrrp_router_id', 'vrrp_instance'):
        seen = {}
        for index, shard in enumerate(shards):
            if shard[key] in seen:
                raise ExpansionError('current_fleet: shards %d and %d have the same %s %s'
                                     % (seen[shard[key]], index, key, shard[key]))
            seen[shard[key]] = index
    for key in ('server_id', 'gtid_domain_id'):
        seen = {}
        for name in order:
            value = nodes[name][key]
            if value in seen:
                raise ExpansionError('current_fleet: nodes %s and %s have the same %s %d' % (seen[value], name, key, value))
            seen[value] = name
    return modulus, shards, nodes


def _read_new_partners(new_partners, nodes):
    """Check the mapping {existing node: new node}; return it with plain strings."""
    if not isinstance(new_partners, dict):
        raise ExpansionError('new_partners must be a mapping {existing node: new node} with one entry per existing '
                             'node, got %r' % (new_partners,))
    result = {}
    for raw_existing, raw_new in new_partners.items():
        existing = _node_name(raw_existing, 'new_partners: a key')
        new = _node_name(raw_new, 'new_partners[%s]' % existing)
        result[existing] = new
    unknown = sorted(set(result) - set(nodes))
    if unknown:
        raise ExpansionError('too many new nodes: new_partners names %s, which %s not in current_fleet (keys must be '
                             'the existing nodes)' % (', '.join(unknown), 'is' if len(unknown) == 1 else 'are'))
    missing = sorted(set(nodes) - set(result))
    if missing:
        raise ExpansionError('too few new nodes: new_partners has %d of the %d needed (one per existing node); no new '
                             'partner for %s' % (len(result), len(nodes), ', '.join(missing)))
    owner = {}
    for existing in sorted(result):
        new = result[existing]
        if new in nodes:
            raise ExpansionError('new_partners[%s] is %s, which is already a node of shard %d; a new partner must be '
                                 'a new host' % (existing, new, nodes[new]['shard_index']))
        if new in owner:
            raise ExpansionError('new node %s is listed twice in new_partners (for %s and %s); each existing node '
                                 'needs its own new partner' % (new, owner[new], existing))
        owner[new] = existing
    return result


def _read_vip_pool(vip_pool, modulus, shards):
    if not isinstance(vip_pool, list):
        raise ExpansionError('vip_pool must be a list of %d address/prefix VIPs (for shards %d..%d), got %r'
                             % (modulus, modulus, 2 * modulus - 1, vip_pool))
    if len(vip_pool) != modulus:
        raise ExpansionError('vip_pool has %d VIPs but doubling %d shards needs exactly %d (for shards %d..%d)'
                             % (len(vip_pool), modulus, modulus, modulus, 2 * modulus - 1))
    used = dict((shard['vip'], index) for index, shard in enumerate(shards))
    result = []
    for position, value in enumerate(vip_pool):
        vip, prefix = parse_vip(value, 'vip_pool[%d]' % position)
        if vip in used:
            owner = used[vip]
            if owner < modulus:
                raise ExpansionError('vip_pool[%d]: %s is already the VIP of shard %d' % (position, vip, owner))
            raise ExpansionError('vip_pool[%d]: %s is listed twice in vip_pool (also vip_pool[%d])'
                                 % (position, vip, owner - modulus))
        used[vip] = modulus + position
        result.append((vip, prefix))
    return result


def _new_router_ids(modulus, shards, vrid_base):
    used = dict((shard['vrrp_router_id'], index) for index, shard in enumerate(shards))
    if vrid_base is None:
        first = max(used) + 1
        origin = 'the largest router id in use (%d) + 1' % max(used)
    else:
        first = int(_check_int(vrid_base, 'vrid_base', 1, MAX_ROUTER_ID))
        origin = 'vrid_base %d' % first
    last = first + modulus - 1
    if last > MAX_ROUTER_ID:
        raise ExpansionError('%d new shards starting at VRRP router id %d (%s) need router ids up to %d, but the '
                             'largest is %d: give a lower vrid_base' % (modulus, first, origin, last, MAX_ROUTER_ID))
    result = []
    for offset in range(modulus):
        vrid = first + offset
        if vrid in used:
            raise ExpansionError('new shard %d would get VRRP router id %d (from %s), already the router id of shard %d'
                                 % (modulus + offset, vrid, origin, used[vrid]))
        result.append(vrid)
    return result


def _new_identities(modulus, nodes, server_id_base):
    """(server_id, gtid_domain_id) for the new node of shard j, j in 0..2N-1."""
    count = PAIR_SIZE * modulus
    server_ids = dict((nodes[n]['server_id'], n) for n in nodes)
    domains = dict((nodes[n]['gtid_domain_id'], n) for n in nodes)
    if server_id_base is None:
        first_id = max(server_ids) + 1
        first_domain = max(domains) + 1
        origin = 'the largest server_id in use (%d) + 1' % max(server_ids)
    else:
        first_id = first_domain = int(_check_int(server_id_base, 'server_id_base', 1, MAX_SERVER_ID))
        origin = 'server_id_base %d' % first_id
    if first_id + count - 1 > MAX_SERVER_ID or first_domain + count - 1 > MAX_GTID_DOMAIN_ID:
        raise ExpansionError('%d new nodes starting at server_id %d (%s) would pass the largest server_id %d'
                             % (count, first_id, origin, MAX_SERVER_ID))
    result = []
    for shard in range(count):
        server_id, domain = first_id + shard, first_domain + shard
        if server_id in server_ids:
            raise ExpansionError('the new node of shard %d would get server_id %d (from %s), already the server_id of '
                                 '%s' % (shard, server_id, origin, server_ids[server_id]))
        if domain in domains:
            raise ExpansionError('the new node of shard %d would get gtid_domain_id %d (from %s), already the '
                                 'gtid_domain_id of %s' % (shard, domain, origin, domains[domain]))
        result.append((server_id, domain))
    return result


def _addresses(addresses, nodes, new_partners):
    """{node: address} for all 4N nodes, or None when addresses are not handled."""
    if addresses is None:
        return None
    if not isinstance(addresses, dict):
        raise ExpansionError('addresses must be a mapping {node: IPv4 address}, got %r' % (addresses,))
    result = {}
    for name in sorted(nodes):
        given, known = addresses.get(name), nodes[name]['address']
        if given is not None and known is not None and str(given) != str(known):
            raise ExpansionError('node %s: addresses gives %s but current_fleet has %s; an existing node keeps its '
                                 'address during the expansion' % (name, given, known))
        address = given if given is not None else known
        if address is None:
            raise ExpansionError('existing node %s has no address: give it in addresses (or plan the fleet with '
                                 'addresses)' % name)
        result[name] = str(address)
    for existing in sorted(new_partners):
        new = new_partners[existing]
        address = addresses.get(new)
        if address is None:
            raise ExpansionError('new node %s (the new partner of %s) has no address in addresses' % (new, existing))
        result[new] = str(address)
    return result


def build_shard_map(version, datasources, port=DEFAULT_PORT):
    """The routing map the application reads: datasources is [(vip, shard)] in shard order."""
    return {
        'version': version,
        'modulus': len(datasources),
        'datasources': [
            {'name': '%s%d' % (DATASOURCE_PREFIX, index), 'shard': index, 'host': vip, 'port': port}
            for index, vip in enumerate(datasources)
        ],
    }


def expansion_plan(current_fleet, new_partners, vip_pool, version, addresses=None, vrid_base=None,
                   server_id_base=None, instance_prefix='VI_SHARD', port=DEFAULT_PORT):
    """Plan the doubling of current_fleet from N to 2N shards.

    current_fleet: {node: settings} from shard_topology() (or the 'nodes' of a
    previous plan); new_partners: {existing node: new node} for all 2N
    existing nodes; vip_pool: N 'address/prefix' VIPs for shards N..2N-1;
    version: the shard-map version the application has now.
    Returns a JSON-serialisable dict; raises ExpansionError (a TopologyError)
    on anything that would give two servers, shards or VRRP instances one
    identity, or leave a node without a partner.
    """
    version = int(_check_int(version, 'version (the current shard-map version)', 0, MAX_VERSION - 2))
    port = int(_check_int(port, 'port', 1, 65535))
    if not isinstance(instance_prefix, str):
        raise ExpansionError('instance_prefix must be a string, got %r' % (instance_prefix,))
    modulus, shards, nodes = _read_fleet(current_fleet)
    new_modulus = PAIR_SIZE * modulus
    if new_modulus > MAX_SHARDS:
        raise ExpansionError('doubling %d shards gives %d, more than the %d VRRP router ids there are'
                             % (modulus, new_modulus, MAX_SHARDS))
    partners = _read_new_partners(new_partners, nodes)
    new_vips = _read_vip_pool(vip_pool, modulus, shards)
    new_vrids = _new_router_ids(modulus, shards, vrid_base)
    identities = _new_identities(modulus, nodes, server_id_base)

    instances = dict((shard['vrrp_instance'], index) for index, shard in enumerate(shards))
    new_instances = []
    for offset in range(modulus):
        name = '%s%d' % (instance_prefix, modulus + offset)
        if not _INSTANCE_NAME.match(name):
            raise ExpansionError('instance_prefix %r gives the invalid keepalived instance name %r for shard %d '
                                 '(letters, digits, _ and -, at most 32 characters)' % (instance_prefix, name, modulus + offset))
        if name in instances:
            raise ExpansionError('new shard %d would get VRRP instance %s, already the instance of shard %d'
                                 % (modulus + offset, name, instances[name]))
        new_instances.append(name)

    # The 2N shards in index order: (existing node, split_from, vip, prefix, instance, router id, new vip?)
    layout = []
    for member in range(PAIR_SIZE):
        for index, shard in enumerate(shards):
            if member == 0:
                layout.append((shard['nodes'][0], index, shard['vip'], shard['vip_prefix'], shard['vrrp_instance'],
                               shard['vrrp_router_id'], False))
            else:
                vip, prefix = new_vips[index]
                layout.append((shard['nodes'][1], index, vip, prefix, new_instances[index], new_vrids[index], True))

    all_addresses = _addresses(addresses, nodes, partners)

    plan_nodes = {}
    plan_shards = []
    smooth_shards = []
    for shard_index, (existing, split_from, vip, prefix, instance, vrid, new_vip) in enumerate(layout):
        new = partners[existing]
        old = nodes[existing]
        server_id, domain = identities[shard_index]
        # The rows this shard's nodes delete belong to the other half of the old shard.
        drop = {'modulus': new_modulus, 'keep_residues': [shard_index],
                'owner_shard': split_from + modulus if shard_index == split_from else split_from}
        common = {
            'shard_index': shard_index,
            'modulus': new_modulus,
            'owned_residue': shard_index,
            'auto_increment_increment': PAIR_SIZE,
            'vip': vip,
            'vip_prefix': prefix,
            'vip_cidr': '%s/%d' % (vip, prefix),
            'vrrp_instance': instance,
            'vrrp_router_id': vrid,
        }
        plan_nodes[existing] = dict(common, **{
            'member_index': 0,
            'partner': new,
            'server_id': old['server_id'],
            'gtid_domain_id': old['gtid_domain_id'],
            'auto_increment_offset': old['auto_increment_offset'],
            'vrrp_priority': PRIORITY_FIRST,
            'role': 'existing',
            'former_partner': old['partner'],
            'former_shard_index': split_from,
            'keep_residues': [shard_index],
            'drop': dict(drop),
        })
        plan_nodes[new] = dict(common, **{
            'member_index': 1,
            'partner': existing,
            'server_id': server_id,
            'gtid_domain_id': domain,
            'auto_increment_offset': PAIR_SIZE + 1 - old['auto_increment_offset'],
            'vrrp_priority': PRIORITY_SECOND,
            'role': 'new',
            'seed_from': existing,
            'keep_residues': [shard_index],
            'drop': dict(drop),
        })
        plan_shards.append({
            'index': shard_index,
            'residue': shard_index,
            'vip': vip,
            'vip_prefix': prefix,
            'vip_cidr': '%s/%d' % (vip, prefix),
            'nodes': [existing, new],
            'vrrp_instance': instance,
            'vrrp_router_id': vrid,
            'new_vip': new_vip,
            'split_from': split_from,
        })
        smooth_shards.append({'vip': '%s/%d' % (vip, prefix), 'nodes': [existing, new]})

    if all_addresses is not None:
        check_addresses(plan_nodes, all_addresses)
        for name, settings in plan_nodes.items():
            settings['address'] = all_addresses[name]
            settings['partner_address'] = all_addresses[settings['partner']]

    plan = {
        'version': version + 1,
        'previous_version': version,
        'modulus': new_modulus,
        'previous_modulus': modulus,
        'smooth_shards': smooth_shards,
        'shards': plan_shards,
        'nodes': plan_nodes,
        'shard_map': build_shard_map(version + 1, [s['vip'] for s in plan_shards], port),
        'rollback_shard_map': build_shard_map(version + 2, [s['vip'] for s in shards], port),
        # What the operator puts in the inventory after the expansion (site.yml, the next expansion).
        'inventory': {
            'smooth_shards': smooth_shards,
            'smooth_identities': dict(
                (name, {'server_id': node['server_id'], 'gtid_domain_id': node['gtid_domain_id'],
                        'auto_increment_offset': node['auto_increment_offset']})
                for name, node in sorted(plan_nodes.items())),
            'smooth_shard_map_version': version + 1,
        },
    }
    if all_addresses is not None:
        # The servers the verify phase reads (shard_verify's servers option), by name.
        plan['verify_servers'] = [{'name': name, 'login_host': node['address'], 'owned_residues': node['keep_residues']}
                                  for name, node in sorted(plan_nodes.items())]
    return plan


def read_shard_map(value, where='shard map'):
    """Validate a shard map (or an expansion plan holding one under 'shard_map'); return it with plain types."""
    if isinstance(value, dict) and 'shard_map' in value:
        value = value['shard_map']
    if not isinstance(value, dict):
        raise ExpansionError('%s must be an expansion plan or its shard_map {version, modulus, datasources}, got %r'
                             % (where, value))
    missing = [key for key in ('version', 'modulus', 'datasources') if key not in value]
    if missing:
        raise ExpansionError('%s lacks %s: pass an expansion plan or its shard_map' % (where, ', '.join(missing)))
    version = int(_check_int(value['version'], '%s: version' % where, 0, MAX_VERSION))
    modulus = int(_check_int(value['modulus'], '%s: modulus' % where, 1, MAX_SHARDS))
    datasources = value['datasources']
    if not isinstance(datasources, list) or len(datasources) != modulus:
        raise ExpansionError('%s: datasources must list one datasource per shard (%d), got %r'
                             % (where, modulus, datasources))
    result = []
    for index, source in enumerate(datasources):
        at = '%s: datasources[%d]' % (where, index)
        if not isinstance(source, dict):
            raise ExpansionError('%s must be a mapping {name, shard, host, port}, got %r' % (at, source))
        name = source.get('name')
        if name != '%s%d' % (DATASOURCE_PREFIX, index):
            raise ExpansionError('%s: name must be %s%d (datasource i serves shard i), got %r'
                                 % (at, DATASOURCE_PREFIX, index, name))
        if int(_check_int(source.get('shard'), '%s: shard' % at, 0, MAX_SHARDS - 1)) != index:
            raise ExpansionError('%s: shard must be %d, got %r' % (at, index, source.get('shard')))
        host = source.get('host')
        if not isinstance(host, str) or not _HOST.match(host):
            raise ExpansionError('%s: host must be an address or host name, got %r' % (at, host))
        result.append({'name': str(name), 'shard': index, 'host': str(host),
                       'port': int(_check_int(source.get('port'), '%s: port' % at, 1, 65535))})
    return {'version': version, 'modulus': modulus, 'datasources': result}


class ShardingRule(dict):
    """The body of a ShardingSphere '!SHARDING' rule; the filter renders it with that YAML tag."""


def _read_tables(tables, sharding_column):
    if sharding_column is not None and (not isinstance(sharding_column, str) or not _IDENTIFIER.match(sharding_column)):
        raise ExpansionError('sharding_column %r must be a column name (letters, digits and _, not starting with a '
                             'digit, at most 64 characters)' % (sharding_column,))
    if not isinstance(tables, list) or not tables:
        raise ExpansionError('tables must be a non-empty list of table names or {name, column} mappings, got %r'
                             % (tables,))
    result = []
    seen = set()
    for position, table in enumerate(tables):
        where = 'tables[%d]' % position
        if isinstance(table, str):
            name, column = table, sharding_column
            if column is None:
                raise ExpansionError('%s: table %s has no sharding column: give sharding_column, or the table as '
                                     '{name: %s, column: <shard key column>}' % (where, table, table))
        elif isinstance(table, dict):
            unknown = sorted(set(table) - {'name', 'column'})
            if unknown:
                raise ExpansionError('%s has unknown keys %s (allowed: name, column)' % (where, ', '.join(map(str, unknown))))
            name, column = table.get('name'), table.get('column', sharding_column)
        else:
            raise ExpansionError('%s must be a table name or {name, column}, got %r' % (where, table))
        for kind, value in (('table', name), ('column', column)):
            if not isinstance(value, str) or not _IDENTIFIER.match(value):
                raise ExpansionError('%s: %s name %r must be letters, digits and _ (not starting with a digit, at '
                                     'most 64 characters)' % (where, kind, value))
        if name in seen:
            raise ExpansionError('%s: table %s is listed twice' % (where, name))
        seen.add(name)
        result.append((str(name), str(column)))
    return result


def shardingsphere_config(shard_map, tables, database, sharding_column=None, algorithm='INLINE', username=None,
                          password=None, driver_class_name='com.mysql.cj.jdbc.Driver',
                          data_source_class_name='com.zaxxer.hikari.HikariDataSource', url_params=None,
                          allow_range_query=False):
    """An Apache ShardingSphere 5 (JDBC YAML) configuration routing by the shard map.

    One data source per shard (ds_i -> the VIP of shard i) and a !SHARDING
    rule (returned as a ShardingRule mapping) whose tables all have
    actualDataNodes ds_${0..M-1}.<table> and a standard database strategy on
    their sharding column: INLINE 'ds_${column % M}' or MOD with
    sharding-count M. Returns {'dataSources': ..., 'rules': [ShardingRule]}.
    """
    shard_map = read_shard_map(shard_map)
    modulus = shard_map['modulus']
    if not isinstance(algorithm, str) or algorithm.upper() not in ALGORITHMS:
        raise ExpansionError('algorithm must be one of %s, got %r' % (', '.join(ALGORITHMS), algorithm))
    algorithm = algorithm.upper()
    if not isinstance(database, str) or not _DATABASE.match(database):
        raise ExpansionError('database %r must be the name of the sharded database on every shard (letters, digits '
                             'and _, at most 64 characters)' % (database,))
    if url_params is not None and (not isinstance(url_params, str) or not _URL_PARAMS.match(url_params)):
        raise ExpansionError('url_params %r must be JDBC URL parameters such as useSSL=false&serverTimezone=UTC'
                             % (url_params,))
    for option, value in (('username', username), ('password', password), ('driver_class_name', driver_class_name),
                          ('data_source_class_name', data_source_class_name)):
        if value is not None and not isinstance(value, str):
            raise ExpansionError('%s must be a string, got a %s' % (option, type(value).__name__))
    if not isinstance(allow_range_query, bool):
        raise ExpansionError('allow_range_query must be true or false, got %r' % (allow_range_query,))
    table_columns = _read_tables(tables, sharding_column)

    data_sources = {}
    for source in shard_map['datasources']:
        url = 'jdbc:mysql://%s:%d/%s' % (source['host'], source['port'], database)
        if url_params:
            url += '?' + url_params
        entry = {}
        if data_source_class_name:
            entry['dataSourceClassName'] = str(data_source_class_name)
        if driver_class_name:
            entry['driverClassName'] = str(driver_class_name)
        entry['jdbcUrl'] = url
        if username is not None:
            entry['username'] = str(username)
        if password is not None:
            entry['password'] = str(password)
        data_sources[source['name']] = entry

    rule_tables = {}
    algorithms = {}
    for table, column in table_columns:
        if algorithm == 'MOD':
            algorithm_name = 'ds_mod'
            algorithms[algorithm_name] = {'type': 'MOD', 'props': {'sharding-count': str(modulus)}}
        else:
            algorithm_name = 'ds_inline_%s' % column
            props = {'algorithm-expression': '%s${%s %% %d}' % (DATASOURCE_PREFIX, column, modulus)}
            if allow_range_query:
                props['allow-range-query-with-inline-sharding'] = 'true'
            algorithms[algorithm_name] = {'type': 'INLINE', 'props': props}
        rule_tables[table] = {
            'actualDataNodes': '%s${0..%d}.%s' % (DATASOURCE_PREFIX, modulus - 1, table),
            'databaseStrategy': {'standard': {'shardingColumn': column, 'shardingAlgorithmName': algorithm_name}},
        }
    rule = ShardingRule()
    rule['tables'] = rule_tables
    rule['shardingAlgorithms'] = algorithms
    return {'dataSources': data_sources, 'rules': [rule]}
