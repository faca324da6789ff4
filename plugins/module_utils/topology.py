# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning of a sharded fleet of dual-master pairs.

Everything a node needs to know about its place in the fleet (server_id,
gtid_domain_id, auto-increment offset, partner, VRRP router id and priority,
VIP) is computed here from the list of shards, so nobody types it and two
nodes can never be given the same identity. No Ansible imports: the filter
plugins and the unit tests call these functions directly.
"""

import ipaddress
import re

PAIR_SIZE = 2
PRIORITY_FIRST = 150
PRIORITY_SECOND = 100
MAX_SERVER_ID = 4294967295
_INSTANCE_NAME = re.compile(r'^[A-Za-z0-9_-]{1,32}$')


class TopologyError(ValueError):
    """A fleet description that cannot be deployed safely."""


def parse_vip(vip, where):
    """Return (address, prefixlen) of an 'address/prefix' VIP or raise."""
    if not isinstance(vip, str) or '/' not in vip:
        raise TopologyError(
            '%s: vip %r must be an IPv4 address with its prefix length, for example 10.0.0.200/24' % (where, vip))
    try:
        iface = ipaddress.IPv4Interface(vip)
    except ValueError as exc:
        raise TopologyError('%s: vip %r is not a valid IPv4 address/prefix: %s' % (where, vip, exc))
    return str(iface.ip), iface.network.prefixlen


def _check_int(value, name, low, high):
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            raise TopologyError('%s must be an integer, got %r' % (name, value))
    if not low <= value <= high:
        raise TopologyError('%s must be between %d and %d, got %d' % (name, low, high, value))
    return value


PINNABLE = ('server_id', 'gtid_domain_id', 'auto_increment_offset')


def _check_identities(identities):
    if identities is None:
        return {}
    if not isinstance(identities, dict):
        raise TopologyError('smooth_identities must be a mapping of node to {server_id, gtid_domain_id, '
                            'auto_increment_offset}, got %r' % (identities,))
    checked = {}
    for node, pinned in identities.items():
        if not isinstance(pinned, dict):
            raise TopologyError('smooth_identities[%s] must be a mapping, got %r' % (node, pinned))
        unknown = sorted(set(pinned) - set(PINNABLE))
        if unknown:
            raise TopologyError('smooth_identities[%s] has unknown keys %s (allowed: %s)'
                                % (node, ', '.join(unknown), ', '.join(PINNABLE)))
        where = 'smooth_identities[%s]' % node
        checked[node] = {}
        if 'server_id' in pinned:
            checked[node]['server_id'] = _check_int(pinned['server_id'], where + '.server_id', 1, MAX_SERVER_ID)
        if 'gtid_domain_id' in pinned:
            checked[node]['gtid_domain_id'] = _check_int(pinned['gtid_domain_id'], where + '.gtid_domain_id',
                                                         0, MAX_SERVER_ID)
        if 'auto_increment_offset' in pinned:
            checked[node]['auto_increment_offset'] = _check_int(pinned['auto_increment_offset'],
                                                                where + '.auto_increment_offset', 1, PAIR_SIZE)
    return checked


def _check_unique_identities(plan):
    for key in ('server_id', 'gtid_domain_id'):
        owner = {}
        for node in sorted(plan):
            value = plan[node][key]
            if value in owner:
                raise TopologyError('nodes %s and %s would both get %s %d: pin distinct values in '
                                    'smooth_identities or change smooth_server_id_base'
                                    % (owner[value], node, key, value))
            owner[value] = node
    for node in sorted(plan):
        partner = plan[node]['partner']
        if node < partner and plan[node]['auto_increment_offset'] == plan[partner]['auto_increment_offset']:
            raise TopologyError('nodes %s and %s are a pair but would both get auto_increment_offset %d'
                                % (node, partner, plan[node]['auto_increment_offset']))


def shard_topology(shards, server_id_base=1, vrid_base=51, instance_prefix='VI_SHARD', identities=None):
    """Compute the per-node settings of a fleet of dual-master pairs.

    shards: list of {'vip': 'a.b.c.d/nn', 'nodes': [first, second]} in shard
    index order (shard i owns keys with key % len(shards) == i).
    identities: optional {node: {server_id, gtid_domain_id,
    auto_increment_offset}} pinned for nodes whose identity was set before,
    by an earlier deployment or an expansion (see the expansion_plan filter);
    the others are computed from their position.
    Returns {node: settings}. Raises TopologyError on anything that would give
    two nodes, shards or VRRP instances the same identity.
    """
    pinned = _check_identities(identities)
    if not isinstance(shards, list) or not shards:
        raise TopologyError('smooth_shards must be a non-empty list of {vip, nodes: [node, node]}')
    server_id_base = _check_int(server_id_base, 'smooth_server_id_base', 1, MAX_SERVER_ID)
    vrid_base = _check_int(vrid_base, 'smooth_vrrp_router_id_base', 1, 255)
    if not _INSTANCE_NAME.match('%s%d' % (instance_prefix, len(shards) - 1)):
        raise TopologyError('smooth_vrrp_instance_prefix %r gives invalid keepalived instance names' % instance_prefix)

    modulus = len(shards)
    last_vrid = vrid_base + modulus - 1
    if last_vrid > 255:
        raise TopologyError(
            '%d shards starting at VRRP router id %d need router ids up to %d, but the largest is 255: '
            'lower smooth_vrrp_router_id_base' % (modulus, vrid_base, last_vrid))
    last_id = server_id_base + PAIR_SIZE * modulus - 1
    if last_id > MAX_SERVER_ID:
        raise TopologyError('smooth_server_id_base %d leaves no room for %d servers' % (server_id_base, PAIR_SIZE * modulus))
    unplanned = sorted(set(pinned) - {node for shard in shards if isinstance(shard, dict)
                                      for node in (shard.get('nodes') or []) if isinstance(node, str)})
    if unplanned:
        raise TopologyError('smooth_identities names %s, which no shard of smooth_shards lists' % ', '.join(unplanned))

    plan = {}
    seen_vips = {}
    for index, shard in enumerate(shards):
        where = 'smooth_shards[%d]' % index
        if not isinstance(shard, dict):
            raise TopologyError('%s must be a mapping with vip and nodes, got %r' % (where, shard))
        unknown = sorted(set(shard) - {'vip', 'nodes'})
        if unknown:
            raise TopologyError('%s has unknown keys %s (allowed: vip, nodes)' % (where, ', '.join(unknown)))
        nodes = shard.get('nodes')
        if not isinstance(nodes, list) or len(nodes) != PAIR_SIZE or not all(isinstance(n, str) and n for n in nodes):
            raise TopologyError('%s: nodes must list exactly %d host names (a dual-master pair), got %r'
                                % (where, PAIR_SIZE, nodes))
        if nodes[0] == nodes[1]:
            raise TopologyError('%s: a pair needs two different nodes, got %s twice' % (where, nodes[0]))
        vip, prefix = parse_vip(shard.get('vip'), where)
        if vip in seen_vips:
            raise TopologyError('%s: vip %s is already the VIP of smooth_shards[%d]' % (where, vip, seen_vips[vip]))
        seen_vips[vip] = index
        for member, node in enumerate(nodes):
            if node in plan:
                raise TopologyError('%s: node %s is already in shard %d; a node belongs to one shard only'
                                    % (where, node, plan[node]['shard_index']))
            server_id = server_id_base + PAIR_SIZE * index + member
            plan[node] = {
                'shard_index': index,
                'modulus': modulus,
                'owned_residue': index,
                'member_index': member,
                'partner': nodes[1 - member],
                'server_id': server_id,
                'gtid_domain_id': server_id,
                'auto_increment_increment': PAIR_SIZE,
                'auto_increment_offset': member + 1,
                'vip': vip,
                'vip_prefix': prefix,
                'vip_cidr': '%s/%d' % (vip, prefix),
                'vrrp_instance': '%s%d' % (instance_prefix, index),
                'vrrp_router_id': vrid_base + index,
                'vrrp_priority': PRIORITY_FIRST if member == 0 else PRIORITY_SECOND,
            }
            plan[node].update(pinned.get(node, {}))
    _check_unique_identities(plan)
    return plan


def check_addresses(plan, addresses):
    """Check that every planned node has a unique IPv4 address, and that no
    node address is also a VIP. addresses: {node: address}."""
    owner = {}
    for node in sorted(plan):
        address = addresses.get(node)
        if address is None:
            raise TopologyError('node %s is in smooth_shards but not in the inventory group smooth_mariadb' % node)
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            raise TopologyError('node %s: address %r is not an IPv4 address; set ansible_host or smooth_address '
                                'to the IP the partner replicates from' % (node, address))
        if address in owner:
            raise TopologyError('nodes %s and %s have the same address %s' % (owner[address], node, address))
        owner[address] = node
    for node in sorted(plan):
        vip = plan[node]['vip']
        if vip in owner:
            raise TopologyError('the VIP %s of shard %d is the address of node %s' % (vip, plan[node]['shard_index'], owner[vip]))
    return True


def address_on_interface(facts, address):
    """(device, IPv4 entry of the facts) of the interface that holds IPv4 address 'address', or (None, None)."""
    for name in facts.get('interfaces', []) or []:
        data = facts.get(name.replace('-', '_').replace('.', '_').replace(':', '_'), {})
        if not isinstance(data, dict):
            continue
        entries = [data['ipv4']] if isinstance(data.get('ipv4'), dict) else []
        entries += [entry for entry in data.get('ipv4_secondaries', []) or [] if isinstance(entry, dict)]
        for entry in entries:
            if entry.get('address') == address:
                return data.get('device', name), entry
    return None, None


def interface_for_address(facts, address):
    """Name of the interface that holds IPv4 address 'address', from Ansible facts."""
    device, _entry = address_on_interface(facts, address)
    if device is None:
        raise TopologyError('no interface holds address %s (interfaces: %s)'
                            % (address, ', '.join(sorted(facts.get('interfaces', [])))))
    return device


def vrrp_instance(node, facts):
    """The keepalived instance (role smooth.mariadb.keepalived) of one node's settings.

    node: the settings of a node as shard_topology or an expansion plan gives
    them, with 'address' and 'partner_address'; facts: the node's gathered
    facts, to find the interface that holds its address.
    """
    if not isinstance(node, dict):
        raise TopologyError('expected the settings of a node (a mapping), got %r' % (node,))
    missing = [key for key in ('vrrp_instance', 'vrrp_router_id', 'vrrp_priority', 'vip_cidr', 'address', 'partner_address')
               if node.get(key) in (None, '')]
    if missing:
        raise TopologyError('the node settings lack %s (plan the fleet with addresses)' % ', '.join(missing))
    return {
        'name': node['vrrp_instance'],
        'interface': interface_for_address(facts, node['address']),
        'virtual_router_id': node['vrrp_router_id'],
        'priority': node['vrrp_priority'],
        'virtual_ipaddresses': [node['vip_cidr']],
        'unicast_src_ip': node['address'],
        'unicast_peers': [node['partner_address']] + [address for address in node.get('extra_peer_addresses') or []
                                                      if address != node['partner_address']],
    }


def vip_add_nodes(node, target, partner_target):
    """The settings of the VRRP instances a node of a joined pair runs from the vip_add phase until the split.

    node: the node's settings in the current fleet (member 0 or 1 of a pair, with addresses); target: its settings
    in the expansion plan; partner_target: its partner's settings in the plan. The second node of the pair
    (member 1) takes the new shard's VIP (its target's), with its new partner as peer (held in FAULT until the
    split) and its current partner too; the first node (member 0) backs that VIP up at the lower priority, with
    the second node as its peer, so that a second node that dies before the split does not take the new shard
    down with it (both nodes still replicate both ways). Both keep their current instance. Returns
    [current settings, new shard's settings] for vrrp_instance.
    """
    for name, value in (('node', node), ('target', target), ('partner_target', partner_target)):
        if not isinstance(value, dict):
            raise TopologyError('%s: expected the settings of a node (a mapping), got %r' % (name, value))
    missing = [key for key in ('member_index', 'address', 'partner_address') if node.get(key) in (None, '')]
    if missing:
        raise TopologyError('the node settings lack %s (plan the fleet with addresses)' % ', '.join(missing))
    if node['member_index'] == 1:
        return [node, dict(target, extra_peer_addresses=[node['partner_address']])]
    if node['member_index'] == 0:
        return [node, dict(partner_target, address=node['address'], partner_address=node['partner_address'],
                           vrrp_priority=PRIORITY_SECOND, extra_peer_addresses=[])]
    raise TopologyError('member_index must be 0 or 1, got %r' % (node['member_index'],))


def split_nodes(node, target, joined=True):
    """The settings of the VRRP instance a current node runs from the split until its old pair has reloaded.

    node: the node's settings in the current fleet (with addresses); target: its settings in the expansion plan;
    joined: whether the node still replicates from its old partner (the split has not removed that link yet).
    At the split each node of the old pair keeps its own shard's instance only, with its new partner as peer.
    The two nodes reload one after the other (Ansible's forks: with as many pairs as forks or more, the two
    nodes of a pair are always in different batches). Until its old partner has reloaded, that partner still
    runs this node's instance as a backup; a node that stopped sending it adverts would see it take the VIP
    after its master-down interval (about 3 s). So the old partner stays a peer too, until split_join.yml has
    seen both nodes reload and gives the plan's settings alone. Returns [the plan's settings with the old
    partner in extra_peer_addresses]; once the old pair no longer replicates (a later run: both nodes reloaded
    before the link was removed), [the plan's settings].
    """
    for name, value in (('node', node), ('target', target)):
        if not isinstance(value, dict):
            raise TopologyError('%s: expected the settings of a node (a mapping), got %r' % (name, value))
    if node.get('partner_address') in (None, ''):
        raise TopologyError('the node settings lack partner_address (plan the fleet with addresses)')
    if not joined:
        return [target]
    return [dict(target, extra_peer_addresses=[node['partner_address']])]


def ipv4_addresses(ip_output):
    """The IPv4 addresses in the output of ``ip -o -4 addr show`` (``inet A.B.C.D/N`` of every line)."""
    found = []
    for line in (ip_output or '').splitlines():
        words = line.split()
        for index, word in enumerate(words[:-1]):
            if word == 'inet':
                found.append(words[index + 1].split('/', 1)[0])
    return found


def vip_holders(outputs, vip):
    """The hosts that hold ``vip``: ``{host: output of ip -o -4 addr show}`` -> sorted host names."""
    text = str(vip)
    if '/' in text:
        address = parse_vip(text, 'the VIP')[0]
    else:
        try:
            address = str(ipaddress.IPv4Address(text))
        except ValueError as exc:
            raise TopologyError('the VIP %r is not an IPv4 address: %s' % (vip, exc))
    return sorted(host for host, output in (outputs or {}).items() if address in ipv4_addresses(output))
