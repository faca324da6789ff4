# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The 2N expansion planner: module_utils/expansion.py and its filters."""

import copy
import hashlib
import json
import re

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.smooth.mariadb.plugins.filter.expansion import FilterModule
from ansible_collections.smooth.mariadb.plugins.module_utils.expansion import (
    ExpansionError,
    expansion_plan,
    read_shard_map,
    shardingsphere_config,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.inventory import in_inventory_words
from ansible_collections.smooth.mariadb.plugins.module_utils.topology import TopologyError, shard_topology

FILTERS = FilterModule().filters()


def vip(number, prefix=16):
    """A distinct VIP for every number (10.200.0.0/16 and up)."""
    return '10.%d.%d.%d/%d' % (200 + number // 65536, number // 256 % 256, number % 256, prefix)


def address(number):
    """A distinct node address for every number (10.1.0.0/16 and up), never a VIP."""
    return '10.%d.%d.%d' % (1 + number // 65536, number // 256 % 256, number % 256)


def start_fleet(n, **kwargs):
    shards = [{'vip': vip(i), 'nodes': ['n%da' % i, 'n%db' % i]} for i in range(n)]
    return shard_topology(shards, **kwargs)


def partners_for(fleet, tag):
    return dict((node, '%s_%s' % (node, tag)) for node in fleet)


def vip_pool_for(n, first):
    return [vip(first + i) for i in range(n)]


def addresses_for(nodes, first=0):
    return dict((node, address(first + i)) for i, node in enumerate(sorted(nodes)))


def check_plan(plan, fleet, partners, vips, version):
    """Every invariant a plan must hold, against the fleet it was computed from."""
    n = len(fleet) // 2
    two_n = 2 * n
    assert plan['version'] == version + 1 and plan['previous_version'] == version
    assert plan['modulus'] == two_n and plan['previous_modulus'] == n
    nodes, shards = plan['nodes'], plan['shards']
    assert len(nodes) == 4 * n and len(shards) == two_n
    assert set(nodes) == set(fleet) | set(partners.values())

    # Every residue 0..2N-1 is owned by exactly one shard, and each node keeps its shard's residue only.
    assert sorted(s['residue'] for s in shards) == list(range(two_n))
    for index, shard in enumerate(shards):
        assert shard['index'] == shard['residue'] == index
        existing, new = shard['nodes']
        assert plan['smooth_shards'][index] == {'vip': shard['vip_cidr'], 'nodes': [existing, new]}
        assert shard['new_vip'] == (index >= n)
        assert shard['split_from'] == index % n
        for node in (existing, new):
            settings = nodes[node]
            assert settings['shard_index'] == settings['owned_residue'] == index
            assert settings['modulus'] == two_n
            assert settings['keep_residues'] == [index]
            assert settings['drop'] == {'modulus': two_n, 'keep_residues': [index], 'owner_shard': (index + n) % two_n}
            for key in ('vip', 'vip_prefix', 'vip_cidr', 'vrrp_instance', 'vrrp_router_id'):
                assert settings[key] == shard[key]
            assert settings['auto_increment_increment'] == 2
        assert nodes[existing]['partner'] == new and nodes[new]['partner'] == existing
        assert {nodes[existing]['auto_increment_offset'], nodes[new]['auto_increment_offset']} == {1, 2}
        assert (nodes[existing]['member_index'], nodes[new]['member_index']) == (0, 1)
        assert (nodes[existing]['vrrp_priority'], nodes[new]['vrrp_priority']) == (150, 100)
        assert (nodes[existing]['role'], nodes[new]['role']) == ('existing', 'new')
        assert nodes[new]['seed_from'] == existing and partners[existing] == new
        assert 'seed_from' not in nodes[existing] and 'former_partner' not in nodes[new]

    # Shard i keeps its member 0 and everything of its VRRP instance; its member 1 becomes shard i + N.
    for i in range(n):
        first = next(node for node in fleet if fleet[node]['shard_index'] == i and fleet[node]['member_index'] == 0)
        second = fleet[first]['partner']
        assert shards[i]['nodes'][0] == first and shards[i + n]['nodes'][0] == second
        for key in ('vip', 'vip_cidr', 'vrrp_instance', 'vrrp_router_id'):
            assert shards[i][key] == fleet[first][key]
        assert shards[i + n]['vip_cidr'] == vips[i]
        assert nodes[first]['former_partner'] == second and nodes[second]['former_partner'] == first
        assert nodes[first]['former_shard_index'] == nodes[second]['former_shard_index'] == i

    # A running server keeps its identity; nobody shares one.
    for node, before in fleet.items():
        for key in ('server_id', 'gtid_domain_id', 'auto_increment_offset'):
            assert nodes[node][key] == before[key]
    for key in ('server_id', 'gtid_domain_id'):
        assert len({s[key] for s in nodes.values()}) == 4 * n
    for key in ('vip', 'vrrp_router_id', 'vrrp_instance'):
        assert len({s[key] for s in shards}) == two_n
    assert all(1 <= s['vrrp_router_id'] <= 255 for s in shards)

    assert plan['shard_map'] == {
        'version': version + 1, 'modulus': two_n,
        'datasources': [{'name': 'ds_%d' % i, 'shard': i, 'host': s['vip'], 'port': 3306} for i, s in enumerate(shards)],
    }
    assert plan['rollback_shard_map']['version'] == version + 2
    assert plan['rollback_shard_map']['modulus'] == n
    assert [d['host'] for d in plan['rollback_shard_map']['datasources']] == [s['vip'] for s in shards[:n]]
    assert json.loads(json.dumps(plan)) == plan


def test_tutorial_one_to_two_exact_plan():
    fleet = shard_topology([{'vip': '10.0.0.200/24', 'nodes': ['A', 'B']}])
    addresses = {'A': '10.0.1.1', 'B': '10.0.1.2', 'A2': '10.0.1.3', 'B2': '10.0.1.4'}
    plan = expansion_plan(fleet, {'A': 'A2', 'B': 'B2'}, ['10.0.0.201/24'], 0, addresses=addresses)
    assert plan['smooth_shards'] == [{'vip': '10.0.0.200/24', 'nodes': ['A', 'A2']},
                                     {'vip': '10.0.0.201/24', 'nodes': ['B', 'B2']}]
    assert plan['inventory'] == {
        'smooth_shards': plan['smooth_shards'],
        'smooth_identities': {'A': {'server_id': 1, 'gtid_domain_id': 1, 'auto_increment_offset': 1},
                              'A2': {'server_id': 3, 'gtid_domain_id': 3, 'auto_increment_offset': 2},
                              'B': {'server_id': 2, 'gtid_domain_id': 2, 'auto_increment_offset': 2},
                              'B2': {'server_id': 4, 'gtid_domain_id': 4, 'auto_increment_offset': 1}},
        'smooth_shard_map_version': 1,
    }
    assert plan['verify_servers'] == [
        {'name': 'A', 'login_host': '10.0.1.1', 'owned_residues': [0]},
        {'name': 'A2', 'login_host': '10.0.1.3', 'owned_residues': [0]},
        {'name': 'B', 'login_host': '10.0.1.2', 'owned_residues': [1]},
        {'name': 'B2', 'login_host': '10.0.1.4', 'owned_residues': [1]},
    ]
    assert plan['nodes']['B'] == {
        'shard_index': 1, 'modulus': 2, 'owned_residue': 1, 'member_index': 0, 'partner': 'B2',
        'server_id': 2, 'gtid_domain_id': 2, 'auto_increment_increment': 2, 'auto_increment_offset': 2,
        'vip': '10.0.0.201', 'vip_prefix': 24, 'vip_cidr': '10.0.0.201/24', 'vrrp_instance': 'VI_SHARD1',
        'vrrp_router_id': 52, 'vrrp_priority': 150, 'role': 'existing', 'former_partner': 'A',
        'former_shard_index': 0, 'keep_residues': [1], 'drop': {'modulus': 2, 'keep_residues': [1], 'owner_shard': 0},
        'address': '10.0.1.2', 'partner_address': '10.0.1.4',
    }
    assert plan['nodes']['A2'] == {
        'shard_index': 0, 'modulus': 2, 'owned_residue': 0, 'member_index': 1, 'partner': 'A',
        'server_id': 3, 'gtid_domain_id': 3, 'auto_increment_increment': 2, 'auto_increment_offset': 2,
        'vip': '10.0.0.200', 'vip_prefix': 24, 'vip_cidr': '10.0.0.200/24', 'vrrp_instance': 'VI_SHARD0',
        'vrrp_router_id': 51, 'vrrp_priority': 100, 'role': 'new', 'seed_from': 'A',
        'keep_residues': [0], 'drop': {'modulus': 2, 'keep_residues': [0], 'owner_shard': 1},
        'address': '10.0.1.3', 'partner_address': '10.0.1.1',
    }
    assert plan['nodes']['B2']['server_id'] == 4 and plan['nodes']['B2']['auto_increment_offset'] == 1
    assert plan['nodes']['A']['server_id'] == 1 and plan['nodes']['A']['vrrp_priority'] == 150
    assert plan['shards'][1] == {
        'index': 1, 'residue': 1, 'vip': '10.0.0.201', 'vip_prefix': 24, 'vip_cidr': '10.0.0.201/24',
        'nodes': ['B', 'B2'], 'vrrp_instance': 'VI_SHARD1', 'vrrp_router_id': 52, 'new_vip': True, 'split_from': 0,
    }
    assert plan['shard_map'] == {'version': 1, 'modulus': 2, 'datasources': [
        {'name': 'ds_0', 'shard': 0, 'host': '10.0.0.200', 'port': 3306},
        {'name': 'ds_1', 'shard': 1, 'host': '10.0.0.201', 'port': 3306},
    ]}
    assert plan['rollback_shard_map'] == {'version': 2, 'modulus': 1, 'datasources': [
        {'name': 'ds_0', 'shard': 0, 'host': '10.0.0.200', 'port': 3306},
    ]}


@pytest.mark.parametrize('n', [1, 2, 3, 16, 64])
def test_any_fleet_size(n):
    fleet = start_fleet(n)
    partners = partners_for(fleet, 'x')
    vips = vip_pool_for(n, 1000)
    addresses = addresses_for(list(fleet) + list(partners.values()))
    plan = expansion_plan(fleet, partners, vips, 41, addresses=addresses)
    check_plan(plan, fleet, partners, vips, 41)
    # Defaults: new router ids and ids continue after the largest in use, in shard order.
    assert [s['vrrp_router_id'] for s in plan['shards']] == list(range(51, 51 + 2 * n))
    assert [plan['nodes'][s['nodes'][1]]['server_id'] for s in plan['shards']] == list(range(2 * n + 1, 4 * n + 1))
    assert [s['vrrp_instance'] for s in plan['shards']] == ['VI_SHARD%d' % i for i in range(2 * n)]
    for node, settings in plan['nodes'].items():
        assert settings['address'] == addresses[node]
        assert settings['partner_address'] == addresses[settings['partner']]


@pytest.mark.parametrize('with_addresses', [False, True])
def test_repeated_doublings_one_to_eight(with_addresses):
    fleet = start_fleet(1)
    version = 5
    identities = dict((node, (s['server_id'], s['gtid_domain_id'], s['auto_increment_offset'])) for node, s in fleet.items())
    owners = {}
    addresses = addresses_for(fleet) if with_addresses else None
    for round_number, tag in enumerate(('r1', 'r2', 'r3')):
        n = len(fleet) // 2
        partners = partners_for(fleet, tag)
        vips = vip_pool_for(n, 100 * (round_number + 1))
        if with_addresses:
            # Round 1 gives every address; later rounds only the new nodes' (the rest come from the fleet).
            new_addresses = dict((new, address(1000 * (round_number + 1) + i)) for i, new in enumerate(sorted(partners.values())))
            given = dict(addresses, **new_addresses) if round_number == 0 else new_addresses
            addresses = dict(addresses, **new_addresses)
        else:
            given = None
        plan = expansion_plan(fleet, partners, vips, version, addresses=given)
        check_plan(plan, fleet, partners, vips, version)
        for node, settings in plan['nodes'].items():
            identity = (settings['server_id'], settings['gtid_domain_id'], settings['auto_increment_offset'])
            assert identities.setdefault(node, identity) == identity, 'identity of %s changed' % node
            assert ('address' in settings) == with_addresses
            if with_addresses:
                assert settings['address'] == addresses[node]
        owners = dict((s['residue'], s['nodes']) for s in plan['shards'])
        fleet, version = plan['nodes'], plan['version']
    assert version == 8 and plan['modulus'] == 8
    assert len(identities) == 16 and len({i[0] for i in identities.values()}) == 16
    assert sorted(owners) == list(range(8))
    # n0a never moves: shard 0 at every modulus; n0b went to shard 1, then its partners split off.
    assert owners[0] == ['n0a', 'n0a_r3'] and owners[1] == ['n0b', 'n0b_r3']
    assert owners[4] == ['n0a_r2', 'n0a_r2_r3'] and owners[7] == ['n0b_r1_r2', 'n0b_r1_r2_r3']
    assert [s['vrrp_router_id'] for s in plan['shards']] == list(range(51, 59))
    assert [s['vip'] for s in plan['shards']][:2] == ['10.200.0.0', '10.200.0.100']


def test_bases_and_string_inputs_from_inventory():
    fleet = start_fleet(2, server_id_base=10, vrid_base=100)
    partners = partners_for(fleet, 'x')
    plan = expansion_plan(fleet, partners, vip_pool_for(2, 50), '7', vrid_base='200', server_id_base='1000',
                          instance_prefix='VI_S', port='3307')
    check_plan_ports = [d['port'] for d in plan['shard_map']['datasources']]
    assert check_plan_ports == [3307] * 4
    assert [s['vrrp_router_id'] for s in plan['shards']] == [100, 101, 200, 201]
    assert [s['vrrp_instance'] for s in plan['shards']] == ['VI_SHARD0', 'VI_SHARD1', 'VI_S2', 'VI_S3']
    assert [plan['nodes'][s['nodes'][1]]['server_id'] for s in plan['shards']] == [1000, 1001, 1002, 1003]
    assert [plan['nodes'][s['nodes'][1]]['gtid_domain_id'] for s in plan['shards']] == [1000, 1001, 1002, 1003]
    assert plan['version'] == 8
    assert plan['nodes']['n1b']['server_id'] == 13


def test_new_ids_follow_the_largest_in_use_separately():
    fleet = start_fleet(1)
    fleet['n0b']['gtid_domain_id'] = 70
    plan = expansion_plan(fleet, partners_for(fleet, 'x'), vip_pool_for(1, 9), 0)
    assert [plan['nodes'][s['nodes'][1]]['server_id'] for s in plan['shards']] == [3, 4]
    assert [plan['nodes'][s['nodes'][1]]['gtid_domain_id'] for s in plan['shards']] == [71, 72]


def test_vrid_gap_continues_after_the_largest():
    fleet = start_fleet(2)
    for node in ('n1a', 'n1b'):
        fleet[node]['vrrp_router_id'] = 90
    plan = expansion_plan(fleet, partners_for(fleet, 'x'), vip_pool_for(2, 9), 0)
    assert [s['vrrp_router_id'] for s in plan['shards']] == [51, 90, 91, 92]


def test_tagged_strings_from_ansible_come_out_plain():
    class Tagged(str):
        """Stands for the str subclasses Ansible passes to filters."""

    shards = [{'vip': Tagged('10.0.0.200/24'), 'nodes': [Tagged('A'), Tagged('B')]}]
    fleet = shard_topology(shards)
    plan = expansion_plan(fleet, {Tagged('A'): Tagged('A2'), Tagged('B'): Tagged('B2')}, [Tagged('10.0.0.201/24')], 0)
    for node, settings in plan['nodes'].items():
        for value in (node, settings['partner'], settings['vip'], settings['vrrp_instance'], settings['vip_cidr']):
            assert isinstance(value, str) and not isinstance(value, Tagged)
    text = FILTERS['shardingsphere_rule'](plan, [Tagged('t_order')], Tagged('app'), sharding_column=Tagged('k'),
                                          username=Tagged('u'))
    assert 'ds_${k % 2}' in text


def base_case():
    fleet = start_fleet(2)
    partners = partners_for(fleet, 'x')
    vips = vip_pool_for(2, 500)
    return {'current_fleet': fleet, 'new_partners': partners, 'vip_pool': vips, 'version': 3}


def setting(node, key, value):
    def change(case):
        case['current_fleet'][node][key] = value
    return change


def node_settings(node, **values):
    def change(case):
        case['current_fleet'][node].update(values)
    return change


def pair_setting(index, key, value):
    def change(case):
        for node in ('n%da' % index, 'n%db' % index):
            case['current_fleet'][node][key] = value
    return change


def replace(key, value):
    def change(case):
        case[key] = value
    return change


def partner(existing, new):
    def change(case):
        case['new_partners'][existing] = new
    return change


def drop_partner(existing):
    def change(case):
        del case['new_partners'][existing]
    return change


def drop_node(node):
    def change(case):
        del case['current_fleet'][node]
    return change


def drop_key(node, key):
    def change(case):
        del case['current_fleet'][node][key]
    return change


def pool_entry(position, value):
    def change(case):
        case['vip_pool'][position] = value
    return change


def with_addresses(**changes):
    def change(case):
        nodes = list(case['current_fleet']) + list(case['new_partners'].values())
        addresses = addresses_for(nodes)
        for node, value in changes.items():
            if value is None:
                addresses.pop(node)
            else:
                addresses[node] = value
        case['addresses'] = addresses
    return change


REFUSALS = [
    # version
    (replace('version', -1), 'version (the current shard-map version) must be between 0 and'),
    (replace('version', 'three'), "version (the current shard-map version) must be an integer, got 'three'"),
    (replace('version', 1.5), 'version (the current shard-map version) must be an integer, got 1.5'),
    (replace('version', True), 'version (the current shard-map version) must be an integer, got True'),
    (replace('version', None), 'version (the current shard-map version) must be an integer, got None'),
    # the current fleet
    (replace('current_fleet', {}), 'current_fleet must be the non-empty mapping {node: settings}'),
    (replace('current_fleet', [{'vip': '10.0.0.200/24', 'nodes': ['a', 'b']}]), 'current_fleet must be the non-empty mapping'),
    (setting('n0a', 'vip_cidr', '10.0.0.200'), 'current_fleet node n0a: vip \'10.0.0.200\' must be an IPv4 address with its prefix'),
    (drop_key('n1a', 'server_id'), 'current_fleet node n1a lacks server_id: pass the output of smooth.mariadb.shard_topology'),
    (setting('n1b', 'modulus', 3), 'current_fleet mixes moduli (n0a has 2, n1b has 3)'),
    (drop_node('n1b'), 'current_fleet has 3 nodes but modulus 2 needs 4 (2 shards of 2 nodes)'),
    (node_settings('n1a', shard_index=0, owned_residue=0), 'current_fleet nodes n0a and n1a are both member 0 of shard 0'),
    (setting('n1a', 'shard_index', 2), 'current_fleet node n1a: shard_index 2 is outside 0..1 (modulus 2)'),
    (setting('n1a', 'owned_residue', 0), 'current_fleet node n1a: owned_residue 0 differs from its shard_index 1'),
    (setting('n0b', 'partner', 'n1a'),
     'current_fleet node n0b of shard 0 names partner n1a (which is in shard 1), but shard 0 is the pair n0a + n0b: '
     'a node belongs to one shard only'),
    (setting('n0b', 'partner', 'ghost'), 'names partner ghost (which is not in current_fleet)'),
    (setting('n0b', 'server_id', 1), 'current_fleet: nodes n0a and n0b have the same server_id 1'),
    (setting('n1b', 'gtid_domain_id', 3), 'current_fleet: nodes n1a and n1b have the same gtid_domain_id 3'),
    (setting('n0b', 'server_id', 0), 'current_fleet node n0b: server_id must be between 1 and 4294967295, got 0'),
    (setting('n0b', 'auto_increment_offset', 1), 'current_fleet shard 0: nodes n0a and n0b have the same auto_increment_offset 1'),
    (setting('n0b', 'auto_increment_offset', 3), 'current_fleet node n0b: auto_increment_offset 3 must be 1 or 2'),
    (setting('n0b', 'auto_increment_increment', 3), 'current_fleet node n0b: auto_increment_increment is 3, but a dual-master'),
    (setting('n0b', 'vrrp_router_id', 99), 'current_fleet shard 0: nodes n0a and n0b disagree on vrrp_router_id (51 vs 99)'),
    (setting('n0b', 'vip_cidr', '10.200.9.9/16'), 'current_fleet shard 0: nodes n0a and n0b disagree on vip (10.200.0.0 vs 10.200.9.9)'),
    (setting('n0b', 'vrrp_instance', 'bad name'), "current_fleet node n0b: vrrp_instance 'bad name' is not a valid keepalived"),
    (setting('n0b', 'member_index', 2), 'current_fleet node n0b: member_index must be between 0 and 1, got 2'),
    (pair_setting(1, 'vip_cidr', '10.200.0.0/16'), 'current_fleet: shards 0 and 1 have the same vip 10.200.0.0'),
    (pair_setting(1, 'vrrp_router_id', 51), 'current_fleet: shards 0 and 1 have the same vrrp_router_id 51'),
    (pair_setting(1, 'vrrp_instance', 'VI_SHARD0'), 'current_fleet: shards 0 and 1 have the same vrrp_instance VI_SHARD0'),
    # new partners
    (replace('new_partners', ['n0a_x']), 'new_partners must be a mapping {existing node: new node}'),
    (drop_partner('n1b'), 'too few new nodes: new_partners has 3 of the 4 needed (one per existing node); no new partner for n1b'),
    (replace('new_partners', {}), 'too few new nodes: new_partners has 0 of the 4 needed'),
    (partner('ghost', 'g_x'), 'too many new nodes: new_partners names ghost, which is not in current_fleet'),
    (partner('n0a', 'n1b'), 'new_partners[n0a] is n1b, which is already a node of shard 1; a new partner must be a new host'),
    (partner('n1a', 'n0a_x'), 'new node n0a_x is listed twice in new_partners (for n0a and n1a)'),
    (partner('n1a', ''), 'new_partners[n1a] must be a non-empty host name'),
    (partner('n1a', None), 'new_partners[n1a] must be a non-empty host name, got None'),
    # the VIP pool
    (replace('vip_pool', '10.0.0.9/24'), 'vip_pool must be a list of 2 address/prefix VIPs (for shards 2..3)'),
    (replace('vip_pool', [vip(500)]), 'vip_pool has 1 VIPs but doubling 2 shards needs exactly 2 (for shards 2..3)'),
    (replace('vip_pool', [vip(500), vip(501), vip(502)]), 'vip_pool has 3 VIPs but doubling 2 shards needs exactly 2'),
    (pool_entry(1, vip(0)), 'vip_pool[1]: 10.200.0.0 is already the VIP of shard 0'),
    (pool_entry(1, vip(500, 24)), 'vip_pool[1]: 10.200.1.244 is listed twice in vip_pool (also vip_pool[0])'),
    (pool_entry(0, '10.200.1.244'), "vip_pool[0]: vip '10.200.1.244' must be an IPv4 address with its prefix length"),
    (pool_entry(0, '10.200.1.300/16'), "vip_pool[0]: vip '10.200.1.300/16' is not a valid IPv4 address/prefix"),
    # VRRP router ids and instance names
    (replace('vrid_base', 52), 'new shard 2 would get VRRP router id 52 (from vrid_base 52), already the router id of shard 1'),
    (replace('vrid_base', 255), '2 new shards starting at VRRP router id 255 (vrid_base 255) need router ids up to 256'),
    (replace('vrid_base', 0), 'vrid_base must be between 1 and 255, got 0'),
    (pair_setting(1, 'vrrp_router_id', 255), 'starting at VRRP router id 256 (the largest router id in use (255) + 1)'),
    (replace('instance_prefix', 'bad prefix'), "instance_prefix 'bad prefix' gives the invalid keepalived instance name 'bad prefix2'"),
    (replace('instance_prefix', 'X' * 40), 'gives the invalid keepalived instance name'),
    (replace('instance_prefix', 5), 'instance_prefix must be a string, got 5'),
    (pair_setting(1, 'vrrp_instance', 'VI_SHARD3'), 'new shard 3 would get VRRP instance VI_SHARD3, already the instance of shard 1'),
    # server_id / gtid_domain_id
    (replace('server_id_base', 4), 'the new node of shard 0 would get server_id 4 (from server_id_base 4), already the server_id of n1b'),
    (replace('server_id_base', 0), 'server_id_base must be between 1 and 4294967295, got 0'),
    (replace('server_id_base', 4294967293), '4 new nodes starting at server_id 4294967293 (server_id_base 4294967293) would pass'),
    (setting('n1b', 'server_id', 4294967295), '(the largest server_id in use (4294967295) + 1) would pass the largest server_id'),
    # addresses
    (with_addresses(n1b_x=None), 'new node n1b_x (the new partner of n1b) has no address in addresses'),
    (with_addresses(n0a=None), 'existing node n0a has no address: give it in addresses'),
    (with_addresses(n1b_x='10.1.0.0'), 'have the same address 10.1.0.0'),
    (with_addresses(n0b_x='db.example.org'), "node n0b_x: address 'db.example.org' is not an IPv4 address"),
    (with_addresses(n1a='10.200.1.245'), 'the VIP 10.200.1.245 of shard 3 is the address of node n1a'),
    (with_addresses(n0a_x='10.200.0.0'), 'the VIP 10.200.0.0 of shard 0 is the address of node n0a_x'),
    (replace('addresses', ['10.0.0.1']), "addresses must be a mapping {node: IPv4 address}, got ['10.0.0.1']"),
    (replace('port', 0), 'port must be between 1 and 65535, got 0'),
]


@pytest.mark.parametrize('change, message', REFUSALS, ids=['%02d' % i for i in range(len(REFUSALS))])
def test_refusals(change, message):
    case = base_case()
    expansion_plan(**copy.deepcopy(case))  # the unchanged case is a valid plan
    change(case)
    with pytest.raises(TopologyError) as err:
        expansion_plan(**case)
    assert message in str(err.value)
    with pytest.raises(AnsibleFilterError) as filter_err:
        FILTERS['expansion_plan'](**case)
    # The playbook's user reads the names of the inventory, not the planner's arguments.
    said = str(filter_err.value)
    assert said.startswith('The expansion cannot be planned from the inventory: ') and said.endswith('Nothing was changed.')
    assert in_inventory_words(message).rstrip('.') in said
    assert not re.search(r'\b(new_partners|vip_pool|current_fleet)\b', said), said


def test_address_conflict_with_the_fleet_is_refused():
    fleet = shard_topology([{'vip': '10.0.0.200/24', 'nodes': ['A', 'B']}])
    for node, addr in (('A', '10.0.1.1'), ('B', '10.0.1.2')):
        fleet[node]['address'] = addr
    addresses = {'A': '10.0.1.9', 'A2': '10.0.1.3', 'B2': '10.0.1.4'}
    with pytest.raises(ExpansionError) as err:
        expansion_plan(fleet, {'A': 'A2', 'B': 'B2'}, ['10.0.0.201/24'], 0, addresses=addresses)
    assert 'node A: addresses gives 10.0.1.9 but current_fleet has 10.0.1.1' in str(err.value)
    addresses['A'] = '10.0.1.1'
    plan = expansion_plan(fleet, {'A': 'A2', 'B': 'B2'}, ['10.0.0.201/24'], 0, addresses=addresses)
    assert plan['nodes']['B']['partner_address'] == '10.0.1.4'


def test_router_ids_of_a_large_fleet():
    fleet = start_fleet(64)
    plan = expansion_plan(fleet, partners_for(fleet, 'x'), vip_pool_for(64, 1000), 0)
    assert plan['shards'][-1]['vrrp_router_id'] == 178
    fleet = start_fleet(32, vrid_base=200)
    with pytest.raises(ExpansionError) as err:
        expansion_plan(fleet, partners_for(fleet, 'x'), vip_pool_for(32, 1000), 0)
    assert '32 new shards starting at VRRP router id 232' in str(err.value)
    assert 'need router ids up to 263, but the largest is 255: give a lower vrid_base' in str(err.value)
    plan = expansion_plan(fleet, partners_for(fleet, 'x'), vip_pool_for(32, 1000), 0, vrid_base=1)
    assert [s['vrrp_router_id'] for s in plan['shards'][32:34]] == [1, 2]


def test_more_shards_than_router_ids_is_refused():
    fleet = start_fleet(128, vrid_base=1)
    with pytest.raises(ExpansionError) as err:
        expansion_plan(fleet, partners_for(fleet, 'x'), vip_pool_for(128, 1000), 0, vrid_base=129)
    assert 'doubling 128 shards gives 256, more than the 255 VRRP router ids there are' in str(err.value)


# shard_map_json

def test_shard_map_json_round_trip():
    fleet = start_fleet(3)
    plan = expansion_plan(fleet, partners_for(fleet, 'x'), vip_pool_for(3, 40), 11)
    text = FILTERS['shard_map_json'](plan)
    assert json.loads(text) == dict(plan['shard_map'], digest=FILTERS['shard_map_digest'](plan))
    assert text.endswith('}\n')
    assert text.index('"datasources"') < text.index('"digest"') < text.index('"modulus"') < text.index('"version"')
    assert text.index('"host"') < text.index('"name"') < text.index('"port"') < text.index('"shard"')
    assert FILTERS['shard_map_json'](plan['shard_map']) == text
    assert FILTERS['shard_map_json'](json.loads(text)) == text
    rollback = json.loads(FILTERS['shard_map_json'](plan['rollback_shard_map']))
    datasources = [{'name': 'ds_%d' % i, 'shard': i, 'host': '10.200.0.%d' % i, 'port': 3306} for i in range(3)]
    content = json.dumps({'modulus': 3, 'datasources': datasources}, sort_keys=True, separators=(',', ':'))
    assert rollback == {'version': 13, 'modulus': 3, 'datasources': datasources,
                        'digest': hashlib.sha256(content.encode('utf-8')).hexdigest()}


# shard_map_digest, app_map_state, route_unacknowledged: the route is acknowledged by content

def test_shard_map_digest_filter_is_the_documented_example():
    example = {'version': 1, 'modulus': 1,
               'datasources': [{'name': 'ds_0', 'shard': 0, 'host': '10.0.0.200', 'port': 3306}]}
    assert FILTERS['shard_map_digest'](example) == '574cdb4564f41eb87ec28a25effd2bf9dafb34d88936c914b4addf7008eedcd4'
    assert FILTERS['shard_map_digest'](dict(example, version=9)) == FILTERS['shard_map_digest'](example)
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['shard_map_digest']({'version': 1})
    assert str(err.value).startswith('smooth.mariadb.shard_map_digest: ')


def test_shard_map_json_refuses_a_digest_of_other_content():
    plan = expansion_plan(start_fleet(1), partners_for(start_fleet(1), 'x'), vip_pool_for(1, 40), 1)
    published = json.loads(FILTERS['shard_map_json'](plan))
    published['datasources'][1]['host'] = '10.9.9.9'
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['shard_map_json'](published)
    assert str(err.value).startswith('smooth.mariadb.shard_map_json: shard map version 2 carries the digest')


def test_app_map_state_filter_and_the_gate():
    fleet = start_fleet(1)
    plan = expansion_plan(fleet, partners_for(fleet, 'x'), vip_pool_for(1, 40), 10)
    old = dict(plan['rollback_shard_map'], version=11)
    source = 'smooth_route_version_url (http://127.0.0.1:8080/version)'
    # The application runs version 11 with one shard; the inventory said 10: refused, with the fix.
    answer = {'version': 11, 'modulus': 1, 'digest': FILTERS['shard_map_digest'](old)}
    state = FILTERS['app_map_state'](answer, plan, source)
    assert state['state'] == 'other' and state['accepted'] is False and state['fix_version'] == 11
    assert 'set smooth_shard_map_version=11 (the version the application runs)' in state['problem']
    assert FILTERS['route_unacknowledged']({'app': state}, plan) == ['app']
    new = FILTERS['app_map_state'](json.loads(FILTERS['shard_map_json'](plan)), plan, source, accept='new')
    assert new['state'] == 'new' and new['accepted'] is True
    assert FILTERS['route_unacknowledged']({'app': new, 'left_out': None}, plan) == ['left_out']
    version_only = FILTERS['app_map_state']({'version': 11}, plan, source, accept=['new'])
    assert version_only['state'] == 'unreadable'
    assert 'without a digest' in version_only['problem'] and source in version_only['problem']
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['app_map_state'](answer, plan, '')
    assert 'source must name where the answer came from' in str(err.value)
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['app_map_state'](answer, {'shard_map': 1}, source)
    assert str(err.value).startswith('smooth.mariadb.app_map_state: ')
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['route_unacknowledged']([], plan)
    assert str(err.value).startswith('smooth.mariadb.route_unacknowledged: ')


def shard_map(modulus=2):
    return {'version': 4, 'modulus': modulus,
            'datasources': [{'name': 'ds_%d' % i, 'shard': i, 'host': '10.0.0.%d' % (200 + i), 'port': 3306}
                            for i in range(modulus)]}


def map_change(path, value):
    def change(value_map):
        target = value_map
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return change


BAD_MAPS = [
    (map_change(['version'], -1), 'shard map: version must be between 0 and'),
    (map_change(['version'], KeyError), 'shard map lacks version: pass an expansion plan or its shard_map'),
    (map_change(['modulus'], 3), 'shard map: datasources must list one datasource per shard (3)'),
    (map_change(['modulus'], 0), 'shard map: modulus must be between 1 and 255, got 0'),
    (map_change(['datasources', 1, 'name'], 'shard1'), "shard map: datasources[1]: name must be ds_1 (datasource i serves shard i), got 'shard1'"),
    (map_change(['datasources', 1, 'shard'], 0), 'shard map: datasources[1]: shard must be 1, got 0'),
    (map_change(['datasources', 0, 'host'], 'bad host/x'), "shard map: datasources[0]: host must be an address or host name, got 'bad host/x'"),
    (map_change(['datasources', 0, 'port'], 70000), 'shard map: datasources[0]: port must be between 1 and 65535, got 70000'),
    (map_change(['datasources', 0], 'ds_0'), "shard map: datasources[0] must be a mapping {name, shard, host, port}, got 'ds_0'"),
]


@pytest.mark.parametrize('change, message', BAD_MAPS)
def test_bad_shard_maps_are_refused(change, message):
    value = shard_map()
    assert read_shard_map(copy.deepcopy(value)) == value
    change(value)
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['shard_map_json'](value)
    assert str(err.value).startswith('smooth.mariadb.shard_map_json: ')
    assert message in str(err.value)
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['shardingsphere_rule'](value, ['t'], 'app', sharding_column='k')
    assert str(err.value).startswith('smooth.mariadb.shardingsphere_rule: ')
    assert message in str(err.value)


def test_shard_map_json_refuses_other_things():
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['shard_map_json']([1, 2])
    assert 'shard map must be an expansion plan or its shard_map {version, modulus, datasources}, got [1, 2]' in str(err.value)


# shardingsphere_rule

class _RuleLoader(yaml.SafeLoader):
    """SafeLoader that reads ShardingSphere's !SHARDING rule tag as a tagged mapping."""


def _construct_sharding(loader, node):
    return {'!SHARDING': loader.construct_mapping(node, deep=True)}


_RuleLoader.add_constructor('!SHARDING', _construct_sharding)


def load_rule(text):
    return yaml.load(text, Loader=_RuleLoader)  # noqa: S506 - a SafeLoader subclass


@pytest.mark.parametrize('n', [1, 2, 64])
@pytest.mark.parametrize('algorithm', ['INLINE', 'MOD', 'inline'])
def test_shardingsphere_rule(n, algorithm):
    fleet = start_fleet(n)
    plan = expansion_plan(fleet, partners_for(fleet, 'x'), vip_pool_for(n, 1000), 0)
    modulus = 2 * n
    text = FILTERS['shardingsphere_rule'](plan, ['t_order', {'name': 't_user', 'column': 'id'}], 'app',
                                          sharding_column='user_id', algorithm=algorithm)
    assert '- !SHARDING\n' in text
    config = load_rule(text)
    assert sorted(config) == ['dataSources', 'rules']
    assert sorted(config['dataSources']) == sorted('ds_%d' % i for i in range(modulus))
    for i, shard in enumerate(plan['shards']):
        assert config['dataSources']['ds_%d' % i] == {
            'dataSourceClassName': 'com.zaxxer.hikari.HikariDataSource',
            'driverClassName': 'com.mysql.cj.jdbc.Driver',
            'jdbcUrl': 'jdbc:mysql://%s:3306/app' % shard['vip'],
        }
    assert len(config['rules']) == 1
    rule = config['rules'][0]['!SHARDING']
    tables = rule['tables']
    assert tables['t_order']['actualDataNodes'] == 'ds_${0..%d}.t_order' % (modulus - 1)
    assert tables['t_user']['actualDataNodes'] == 'ds_${0..%d}.t_user' % (modulus - 1)
    order = tables['t_order']['databaseStrategy']['standard']
    user = tables['t_user']['databaseStrategy']['standard']
    assert order['shardingColumn'] == 'user_id' and user['shardingColumn'] == 'id'
    algorithms = rule['shardingAlgorithms']
    if algorithm.upper() == 'MOD':
        assert order['shardingAlgorithmName'] == user['shardingAlgorithmName'] == 'ds_mod'
        assert algorithms == {'ds_mod': {'type': 'MOD', 'props': {'sharding-count': str(modulus)}}}
    else:
        assert order['shardingAlgorithmName'] == 'ds_inline_user_id'
        assert algorithms == {
            'ds_inline_user_id': {'type': 'INLINE', 'props': {'algorithm-expression': 'ds_${user_id %% %d}' % modulus}},
            'ds_inline_id': {'type': 'INLINE', 'props': {'algorithm-expression': 'ds_${id %% %d}' % modulus}},
        }


def test_shardingsphere_rule_options_and_a_password_that_needs_quoting():
    value = shard_map(4)
    password = 'p: "x\' #{y}\n'
    text = FILTERS['shardingsphere_rule'](value, [{'name': 't', 'column': 'k'}], 'app', username='app',
                                          password=password, driver_class_name='org.mariadb.jdbc.Driver',
                                          data_source_class_name='com.alibaba.druid.pool.DruidDataSource',
                                          url_params='useSSL=false&serverTimezone=UTC', allow_range_query=True)
    config = load_rule(text)
    assert config['dataSources']['ds_3'] == {
        'dataSourceClassName': 'com.alibaba.druid.pool.DruidDataSource',
        'driverClassName': 'org.mariadb.jdbc.Driver',
        'jdbcUrl': 'jdbc:mysql://10.0.0.203:3306/app?useSSL=false&serverTimezone=UTC',
        'username': 'app',
        'password': password,
    }
    assert config['rules'][0]['!SHARDING']['shardingAlgorithms']['ds_inline_k']['props'] == {
        'algorithm-expression': 'ds_${k % 4}', 'allow-range-query-with-inline-sharding': 'true'}


def test_shardingsphere_config_is_plain_data():
    config = shardingsphere_config(shard_map(2), ['t'], 'app', sharding_column='k', algorithm='MOD')
    assert json.loads(json.dumps(config)) == {
        'dataSources': {
            'ds_0': {'dataSourceClassName': 'com.zaxxer.hikari.HikariDataSource', 'driverClassName': 'com.mysql.cj.jdbc.Driver',
                     'jdbcUrl': 'jdbc:mysql://10.0.0.200:3306/app'},
            'ds_1': {'dataSourceClassName': 'com.zaxxer.hikari.HikariDataSource', 'driverClassName': 'com.mysql.cj.jdbc.Driver',
                     'jdbcUrl': 'jdbc:mysql://10.0.0.201:3306/app'},
        },
        'rules': [{
            'tables': {'t': {'actualDataNodes': 'ds_${0..1}.t',
                             'databaseStrategy': {'standard': {'shardingColumn': 'k', 'shardingAlgorithmName': 'ds_mod'}}}},
            'shardingAlgorithms': {'ds_mod': {'type': 'MOD', 'props': {'sharding-count': '2'}}},
        }],
    }


@pytest.mark.parametrize('args, kwargs, message', [
    (([], 'app'), {'sharding_column': 'k'}, 'tables must be a non-empty list of table names or {name, column} mappings'),
    (('t', 'app'), {'sharding_column': 'k'}, "tables must be a non-empty list of table names or {name, column} mappings, got 't'"),
    ((['t'], 'app'), {}, 'tables[0]: table t has no sharding column: give sharding_column, or the table as {name: t, column: <shard key column>}'),
    ((['t', 't'], 'app'), {'sharding_column': 'k'}, 'tables[1]: table t is listed twice'),
    ((['t-1'], 'app'), {'sharding_column': 'k'}, "tables[0]: table name 't-1' must be letters, digits and _"),
    (([{'name': 't', 'column': '1k'}], 'app'), {}, "tables[0]: column name '1k' must be letters, digits and _"),
    (([{'name': 't', 'col': 'k'}], 'app'), {}, 'tables[0] has unknown keys col (allowed: name, column)'),
    (([5], 'app'), {}, 'tables[0] must be a table name or {name, column}, got 5'),
    ((['t'], 'app'), {'sharding_column': 'k; drop'}, "sharding_column 'k; drop' must be a column name"),
    ((['t'], 'app db'), {'sharding_column': 'k'}, "database 'app db' must be the name of the sharded database on every shard"),
    ((['t'], 'app'), {'sharding_column': 'k', 'algorithm': 'HASH_MOD'}, "algorithm must be one of INLINE, MOD, got 'HASH_MOD'"),
    ((['t'], 'app'), {'sharding_column': 'k', 'url_params': 'a=b c'}, "url_params 'a=b c' must be JDBC URL parameters"),
    ((['t'], 'app'), {'sharding_column': 'k', 'password': 1234}, 'password must be a string, got a int'),
    ((['t'], 'app'), {'sharding_column': 'k', 'allow_range_query': 'yes'}, "allow_range_query must be true or false, got 'yes'"),
])
def test_shardingsphere_rule_refusals(args, kwargs, message):
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['shardingsphere_rule'](shard_map(), *args, **kwargs)
    assert str(err.value).startswith('smooth.mariadb.shardingsphere_rule: ')
    assert message in str(err.value)


def test_filters_are_registered():
    assert sorted(FILTERS) == ['app_map_state', 'cleanup_settings', 'expansion_plan', 'expansion_state',
                               'gtid_start_position', 'rollback_publish', 'rollback_route_state', 'route_unacknowledged',
                               'seed_method', 'seed_stream_problems', 'shard_map_digest', 'shard_map_json', 'shardingsphere_rule', 'split_links_problem',
                               'wrote_in_domain']


GTID_FILTER = FILTERS['gtid_start_position']


@pytest.mark.parametrize('replica, source, expected', [
    # Rejoin after a split: the replica is ahead in its own domain (2), behind in the source's (1).
    (['1-1-500,2-2-900', '1-1-500,2-2-880'], '1-1-750,2-2-400', '1-1-500,2-2-400'),
    # Equal everywhere: start from the source's last GTIDs.
    ('1-1-5,2-2-7', '1-1-5,2-2-7', '1-1-5,2-2-7'),
    # A domain only the source has (the writes of a new node) is left out and sent from the start;
    # a domain only the replica has (its new partner's) is left out too.
    (['1-1-10,4-4-3', ''], '1-1-12,3-3-8', '1-1-10'),
    # A node starting to replicate from its freshly seeded partner whose binary log is still empty.
    (['1-1-10,2-2-9', '1-1-10,2-2-9'], '', ''),
])
def test_gtid_start_position(replica, source, expected):
    assert GTID_FILTER(replica, source) == expected


def test_gtid_start_position_refuses_garbage():
    with pytest.raises(AnsibleFilterError) as err:
        GTID_FILTER('1-1-x', '1-1-1')
    assert str(err.value).startswith('smooth.mariadb.gtid_start_position: ')


# ---------------------------------------------------------------------------
# cleanup_settings
# ---------------------------------------------------------------------------

def _cleanup(variables):
    return FilterModule().filters()['cleanup_settings'](variables)


def test_cleanup_settings_defaults_and_key_column():
    settings = _cleanup({'smooth_sharded_tables': ['shop.orders', {'name': 'shop.items', 'key': 'order_customer'}],
                         'smooth_shard_key_column': 'customer_id', 'smooth_purge_chunk_size': None})
    assert settings == dict(tables=[dict(name='shop.orders', key='customer_id'),
                                    dict(name='shop.items', key='order_customer')],
                            chunk_size=1000, max_lag=5.0, allow_missing_on_owner=False, allow_delete_triggers=False,
                            binlog_check=True)


def test_cleanup_settings_accept_extra_vars_given_as_text():
    settings = _cleanup({'smooth_sharded_tables': [{'name': 'a.b', 'key': 'k'}], 'smooth_purge_chunk_size': '500',
                         'smooth_purge_max_lag': '1.5', 'smooth_purge_allow_delete_triggers': 'true',
                         'smooth_purge_allow_missing_on_owner': 'no'})
    assert (settings['chunk_size'], settings['max_lag']) == (500, 1.5)
    assert settings['allow_delete_triggers'] is True and settings['allow_missing_on_owner'] is False


@pytest.mark.parametrize('variables, said', [
    ({'smooth_purge_chunk_size': 0}, 'smooth_purge_chunk_size must be a whole number of rows from 1 to 100000, got 0'),
    ({'smooth_purge_chunk_size': 10 ** 9}, 'smooth_purge_chunk_size must be a whole number of rows from 1 to 100000'),
    ({'smooth_purge_chunk_size': 'lots'}, "smooth_purge_chunk_size must be a whole number of rows from 1 to 100000, "
                                          "got 'lots'"),
    ({'smooth_purge_max_lag': -1}, 'smooth_purge_max_lag must be a number of seconds from 0 to 3600, got -1'),
    ({'smooth_purge_max_lag': 'soon'}, "smooth_purge_max_lag must be a number of seconds from 0 to 3600, got 'soon'"),
    ({'smooth_purge_allow_delete_triggers': 'maybe'},
     "smooth_purge_allow_delete_triggers must be true or false, got 'maybe'"),
    ({'smooth_sharded_tables': [{'name': 'a.b', 'key': 'k'}, {'name': 'a.b', 'key': 'k'}]}, 'table a.b is listed twice'),
    ({'smooth_sharded_tables': [{'name': 'a.b'}]},
     'table a.b: no key column; give key for the table or smooth_shard_key_column for all'),
    ({'smooth_sharded_tables': 'a.b'}, 'smooth_sharded_tables must be a list'),
    ({'smooth_sharded_tables': []}, 'no table given: list at least one table in smooth_sharded_tables'),
    ({'smooth_purge_allow_missing_on_owner': True, 'smooth_binlog_check': False},
     'smooth_purge_allow_missing_on_owner=true needs smooth_binlog_check=true: it deletes only rows the owner deleted '
     'since the split, read from its binary log'),
])
def test_cleanup_settings_refusals_name_the_inventory_variable(variables, said):
    values = {'smooth_sharded_tables': [{'name': 'a.b', 'key': 'k'}]}
    values.update(variables)
    with pytest.raises(AnsibleFilterError) as error:
        _cleanup(values)
    assert str(error.value).startswith('The cleanup settings of the inventory are not usable, nothing was changed: ')
    assert said in str(error.value)


def test_cleanup_settings_keep_names_exactly():
    settings = _cleanup({'smooth_sharded_tables': [{'name': 'shop.t%%', 'key': 'k`x'}, {'name': 'shop.t%', 'key': 'k'}]})
    assert [table['name'] for table in settings['tables']] == ['shop.t%%', 'shop.t%']


@pytest.mark.parametrize('requested, size, method, reason', [
    ('auto', 268435455, 'dump', 'auto: the source holds 256.0 MiB, less than 256.0 MiB'),
    ('auto', 268435456, 'mariabackup', 'auto: the source holds 256.0 MiB, 256.0 MiB or more'),
    ('auto', '1073741824', 'mariabackup', 'auto: the source holds 1.0 GiB, 256.0 MiB or more'),
    ('auto', None, 'dump', 'auto: the source holds 0 bytes, less than 256.0 MiB'),
    ('dump', 1 << 40, 'dump', 'asked for (method=dump); the source holds 1.0 TiB'),
    ('mariabackup', 10, 'mariabackup', 'asked for (method=mariabackup); the source holds 10 bytes'),
])
def test_seed_method_is_decided_once_for_the_preflight_and_the_seed(requested, size, method, reason):
    assert FILTERS['seed_method'](requested, size, '268435456') == {'method': method, 'reason': reason}


@pytest.mark.parametrize('args, message', [
    (('fast', 1, 2), 'smooth_seed_method must be auto, dump or mariabackup'),
    (('auto', 'many', 2), 'expects the bytes of the source and the threshold as numbers'),
])
def test_seed_method_refuses_bad_settings(args, message):
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['seed_method'](*args)
    assert str(err.value).startswith('smooth.mariadb.seed_method: ') and message in str(err.value)


def test_seed_stream_problems_reads_the_source_and_names_a_bad_reading():
    said = FILTERS['seed_stream_problems']('user=yes\nhost_key=yes\nkeys_path=/root/.ssh/authorized_keys\n'
                                           'keys_writable=no\nbackup=/usr/bin/mariabackup\n', 'lab-3', 'lab-1', 'root',
                                           '/root/.ssh/authorized_keys', 'mariabackup --backup', True, True)
    assert len(said) == 1 and said[0].startswith('lab-1 cannot write smooth_seed_authorized_keys')
    with pytest.raises(AnsibleFilterError, match='^smooth.mariadb.seed_stream_problems: .* lacks user'):
        FILTERS['seed_stream_problems']('', 'lab-3', 'lab-1', 'root', '/k', 'mariabackup', True, True)
