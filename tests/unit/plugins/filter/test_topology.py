# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet planner behind site.yml: module_utils/topology.py and its filters."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.smooth.mariadb.plugins.filter.expansion import FilterModule as ExpansionFilters
from ansible_collections.smooth.mariadb.plugins.filter.topology import FilterModule
from ansible_collections.smooth.mariadb.plugins.module_utils.topology import (
    TopologyError,
    check_addresses,
    interface_for_address,
    parse_vip,
    shard_topology,
)

FILTERS = FilterModule().filters()
FILTERS_EXPANSION = ExpansionFilters().filters()


def fleet(n, vip_net='10.0.0', first_vip=200):
    return [{'vip': '%s.%d/24' % (vip_net, first_vip + i), 'nodes': ['db%da' % i, 'db%db' % i]} for i in range(n)]


def addresses_for(shards):
    nodes = [node for shard in shards for node in shard['nodes']]
    return {node: '10.0.1.%d' % (i + 1) for i, node in enumerate(nodes)}


def test_two_shards_exact_plan():
    plan = shard_topology(fleet(2))
    assert plan['db0a'] == {
        'shard_index': 0, 'modulus': 2, 'owned_residue': 0, 'member_index': 0, 'partner': 'db0b',
        'server_id': 1, 'gtid_domain_id': 1, 'auto_increment_increment': 2, 'auto_increment_offset': 1,
        'vip': '10.0.0.200', 'vip_prefix': 24, 'vip_cidr': '10.0.0.200/24', 'vrrp_instance': 'VI_SHARD0',
        'vrrp_router_id': 51, 'vrrp_priority': 150,
    }
    assert plan['db1b']['server_id'] == 4
    assert plan['db1b']['partner'] == 'db1a'
    assert plan['db1b']['auto_increment_offset'] == 2
    assert plan['db1b']['vrrp_router_id'] == 52
    assert plan['db1b']['vrrp_priority'] == 100
    assert plan['db1b']['owned_residue'] == 1


@pytest.mark.parametrize('n', [1, 2, 3, 16, 64])
def test_identities_are_unique_for_any_fleet_size(n):
    shards = [{'vip': '10.%d.%d.1/16' % (i // 200, i % 200), 'nodes': ['n%da' % i, 'n%db' % i]} for i in range(n)]
    plan = shard_topology(shards, server_id_base=100, vrid_base=1)
    assert len(plan) == 2 * n
    for key in ('server_id', 'gtid_domain_id'):
        assert len({p[key] for p in plan.values()}) == 2 * n
    assert sorted({p['vrrp_router_id'] for p in plan.values()}) == list(range(1, n + 1))
    for node, settings in plan.items():
        partner = plan[settings['partner']]
        assert partner['partner'] == node
        assert partner['shard_index'] == settings['shard_index']
        assert {partner['auto_increment_offset'], settings['auto_increment_offset']} == {1, 2}
        assert settings['modulus'] == n
        assert settings['owned_residue'] == settings['shard_index']


def test_addresses_are_added_by_the_filter():
    shards = fleet(2)
    plan = FILTERS['shard_topology'](shards, addresses_for(shards))
    assert plan['db0b']['address'] == '10.0.1.2'
    assert plan['db0b']['partner_address'] == '10.0.1.1'


@pytest.mark.parametrize('shards, message', [
    ([], 'non-empty list'),
    ('db0a,db0b', 'non-empty list'),
    ([{'vip': '10.0.0.200/24', 'nodes': ['a']}], 'exactly 2 host names'),
    ([{'vip': '10.0.0.200/24', 'nodes': ['a', 'b', 'c']}], 'exactly 2 host names'),
    ([{'vip': '10.0.0.200/24', 'nodes': ['a', 'a']}], 'two different nodes'),
    ([{'vip': '10.0.0.200/24', 'nodes': ['a', '']}], 'exactly 2 host names'),
    ([{'vip': '10.0.0.200', 'nodes': ['a', 'b']}], 'with its prefix length'),
    ([{'vip': '10.0.0.300/24', 'nodes': ['a', 'b']}], 'not a valid IPv4'),
    ([{'nodes': ['a', 'b']}], 'with its prefix length'),
    ([{'vip': '10.0.0.200/24', 'nodes': ['a', 'b'], 'vrid': 3}], 'unknown keys vrid'),
    (['a'], 'must be a mapping'),
    ([{'vip': '10.0.0.200/24', 'nodes': ['a', 'b']}, {'vip': '10.0.0.200/24', 'nodes': ['c', 'd']}],
     'vip 10.0.0.200 is already the VIP of smooth_shards[0]'),
    ([{'vip': '10.0.0.200/24', 'nodes': ['a', 'b']}, {'vip': '10.0.0.201/24', 'nodes': ['c', 'a']}],
     'node a is already in shard 0'),
])
def test_refusals(shards, message):
    with pytest.raises(TopologyError, match=None) as err:
        shard_topology(shards)
    assert message in str(err.value)


def test_router_ids_past_255_are_refused():
    with pytest.raises(TopologyError) as err:
        shard_topology(fleet(6), vrid_base=251)
    assert 'router ids up to 256' in str(err.value)
    assert len(shard_topology(fleet(5), vrid_base=251)) == 10


@pytest.mark.parametrize('kwargs, message', [
    ({'server_id_base': 0}, 'smooth_server_id_base must be between 1'),
    ({'server_id_base': 'x'}, 'smooth_server_id_base must be an integer'),
    ({'server_id_base': 4294967295}, 'leaves no room'),
    ({'vrid_base': 0}, 'smooth_vrrp_router_id_base must be between 1 and 255'),
    ({'instance_prefix': 'bad prefix'}, 'invalid keepalived instance names'),
])
def test_bad_bases(kwargs, message):
    with pytest.raises(TopologyError) as err:
        shard_topology(fleet(1), **kwargs)
    assert message in str(err.value)


def test_bases_given_as_strings_from_inventory():
    plan = shard_topology(fleet(1), server_id_base='10', vrid_base='60')
    assert plan['db0a']['server_id'] == 10 and plan['db0a']['vrrp_router_id'] == 60


@pytest.mark.parametrize('change, message', [
    ({'db0b': None}, 'node db0b is in smooth_shards but not in the inventory group'),
    ({'db0b': 'db0b.example.org'}, "address 'db0b.example.org' is not an IPv4 address"),
    ({'db0b': '10.0.1.1'}, 'nodes db0a and db0b have the same address 10.0.1.1'),
    ({'db1a': '10.0.0.200'}, 'the VIP 10.0.0.200 of shard 0 is the address of node db1a'),
])
def test_address_refusals(change, message):
    shards = fleet(2)
    plan = shard_topology(shards)
    addresses = addresses_for(shards)
    for node, address in change.items():
        if address is None:
            del addresses[node]
        else:
            addresses[node] = address
    with pytest.raises(TopologyError) as err:
        check_addresses(plan, addresses)
    assert message in str(err.value)


def test_filter_wraps_errors_for_ansible():
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['shard_topology']([{'vip': '10.0.0.200/24', 'nodes': ['a']}])
    assert str(err.value).startswith('smooth.mariadb.shard_topology: smooth_shards[0]: nodes must list exactly 2')


def test_parse_vip():
    assert parse_vip('192.0.2.7/25', 'x') == ('192.0.2.7', 25)


FACTS = {
    'interfaces': ['lo', 'eth0', 'br-data'],
    'lo': {'device': 'lo', 'ipv4': {'address': '127.0.0.1'}},
    'eth0': {'device': 'eth0', 'ipv4': {'address': '10.0.1.1'},
             'ipv4_secondaries': [{'address': '10.0.0.200'}]},
    'br_data': {'device': 'br-data', 'ipv4': {'address': '172.20.0.5'}},
}


@pytest.mark.parametrize('address, expected', [
    ('10.0.1.1', 'eth0'),
    ('10.0.0.200', 'eth0'),
    ('172.20.0.5', 'br-data'),
    ('127.0.0.1', 'lo'),
])
def test_interface_for_address(address, expected):
    assert interface_for_address(FACTS, address) == expected


def test_interface_for_address_unknown():
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['interface_for_address'](FACTS, '10.9.9.9')
    assert 'no interface holds address 10.9.9.9 (interfaces: br-data, eth0, lo)' in str(err.value)


def test_pinned_identities_win_and_are_checked():
    pinned = {'db0b': {'server_id': '77', 'gtid_domain_id': 70, 'auto_increment_offset': 2}}
    plan = shard_topology(fleet(1), identities=pinned)
    assert (plan['db0b']['server_id'], plan['db0b']['gtid_domain_id']) == (77, 70)
    assert plan['db0a']['server_id'] == 1


@pytest.mark.parametrize('identities, message', [
    ({'db0b': {'server_id': 1}}, 'nodes db0a and db0b would both get server_id 1'),
    ({'db1a': {'gtid_domain_id': 2}}, 'nodes db0b and db1a would both get gtid_domain_id 2'),
    ({'db0a': {'auto_increment_offset': 2}},
     'nodes db0a and db0b are a pair but would both get auto_increment_offset 2'),
    ({'db0a': {'auto_increment_offset': 3}}, 'smooth_identities[db0a].auto_increment_offset must be between 1 and 2'),
    ({'db0a': {'server_id': 0}}, 'smooth_identities[db0a].server_id must be between 1'),
    ({'db0a': {'vrid': 3}}, 'smooth_identities[db0a] has unknown keys vrid'),
    ({'elsewhere': {'server_id': 9}}, 'smooth_identities names elsewhere, which no shard of smooth_shards lists'),
    ({'db0a': 5}, 'smooth_identities[db0a] must be a mapping'),
    ([1], 'smooth_identities must be a mapping'),
])
def test_pinned_identity_refusals(identities, message):
    with pytest.raises(TopologyError) as err:
        shard_topology(fleet(2), identities=identities)
    assert message in str(err.value)


@pytest.mark.parametrize('n', [1, 2, 3])
def test_site_reproduces_an_expansion_plan_from_pinned_identities(n):
    """After an expansion, the inventory holds the plan's smooth_shards and
    identities; site.yml's planner must then give every node exactly what the
    expansion gave it, or a re-run would rewrite configs and restart servers."""
    shards = fleet(n)
    current = shard_topology(shards)
    partners = {node: node + 'n' for node in current}
    pool = ['10.0.0.%d/24' % (100 + i) for i in range(n)]
    plan = FILTERS_EXPANSION['expansion_plan'](current, partners, pool, 1)
    # The inventory the verify phase prints and writes (the plan's 'inventory').
    inventory = plan['inventory']
    assert inventory['smooth_shard_map_version'] == plan['version'] == 2
    again = shard_topology(inventory['smooth_shards'], identities=inventory['smooth_identities'])
    for node, settings in plan['nodes'].items():
        for key in ('shard_index', 'modulus', 'owned_residue', 'partner', 'server_id', 'gtid_domain_id',
                    'auto_increment_increment', 'auto_increment_offset', 'vip_cidr', 'vrrp_instance',
                    'vrrp_router_id', 'vrrp_priority'):
            assert again[node][key] == settings[key], (node, key)


def test_vrrp_instance_from_planned_node():
    fleet = FILTERS['shard_topology']([{'vip': '172.20.0.200/24', 'nodes': ['a', 'b']}],
                                      {'a': '172.20.0.5', 'b': '172.20.0.6'})
    assert FILTERS['vrrp_instance'](fleet['a'], FACTS) == {
        'name': 'VI_SHARD0', 'interface': 'br-data', 'virtual_router_id': 51, 'priority': 150,
        'virtual_ipaddresses': ['172.20.0.200/24'], 'unicast_src_ip': '172.20.0.5', 'unicast_peers': ['172.20.0.6'],
    }


def test_vrrp_instance_of_the_new_shard_after_an_expansion():
    fleet = FILTERS['shard_topology']([{'vip': '172.20.0.200/24', 'nodes': ['a', 'b']}],
                                      {'a': '172.20.0.5', 'b': '10.0.1.1'})
    plan = ExpansionFilters().filters()['expansion_plan'](
        fleet, {'a': 'c', 'b': 'd'}, ['10.0.1.201/24'], 1, addresses={'c': '172.20.0.7', 'd': '10.0.1.9'})
    instance = FILTERS['vrrp_instance'](plan['nodes']['b'], FACTS)
    assert (instance['name'], instance['virtual_router_id'], instance['priority']) == ('VI_SHARD1', 52, 150)
    assert instance['virtual_ipaddresses'] == ['10.0.1.201/24'] and instance['unicast_peers'] == ['10.0.1.9']
    assert instance['interface'] == 'eth0'


def test_vrrp_instance_refuses_settings_without_addresses():
    fleet = FILTERS['shard_topology']([{'vip': '172.20.0.200/24', 'nodes': ['a', 'b']}])
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['vrrp_instance'](fleet['a'], FACTS)
    assert str(err.value) == ('smooth.mariadb.vrrp_instance: the node settings lack address, partner_address '
                              '(plan the fleet with addresses)')


# One interface that holds the addresses of both nodes (each node's facts would hold its own).
FACTS_10 = {'interfaces': ['eth0'], 'eth0': {'device': 'eth0', 'ipv4': {'address': '10.0.1.5'},
                                             'ipv4_secondaries': [{'address': '10.0.1.6'}]}}


def _vip_add_instances(node, partner):
    """The keepalived instances vip_add gives node (a or b) of the pair a <=> b, expanded with c and d."""
    fleet = FILTERS['shard_topology']([{'vip': '10.0.1.200/24', 'nodes': ['a', 'b']}], {'a': '10.0.1.5', 'b': '10.0.1.6'})
    plan = FILTERS_EXPANSION['expansion_plan'](
        fleet, {'a': 'c', 'b': 'd'}, ['10.0.1.201/24'], 1, addresses={'c': '10.0.1.7', 'd': '10.0.1.8'})['nodes']
    return [FILTERS['vrrp_instance'](n, FACTS_10)
            for n in FILTERS['vip_add_nodes'](fleet[node], plan[node], plan[partner])]


def test_vip_add_the_second_node_holds_the_new_vip_with_both_peers():
    current, new = _vip_add_instances('b', 'a')
    assert (current['name'], current['priority'], current['unicast_peers']) == ('VI_SHARD0', 100, ['10.0.1.5'])
    assert (new['name'], new['priority'], new['virtual_ipaddresses']) == ('VI_SHARD1', 150, ['10.0.1.201/24'])
    # Its new partner (held until the split) and its current partner, which backs the new VIP up.
    assert new['unicast_src_ip'] == '10.0.1.6' and new['unicast_peers'] == ['10.0.1.8', '10.0.1.5']


def test_vip_add_the_first_node_backs_the_new_vip_up_at_the_lower_priority():
    current, new = _vip_add_instances('a', 'b')
    assert (current['name'], current['priority'], current['unicast_peers']) == ('VI_SHARD0', 150, ['10.0.1.6'])
    assert (new['name'], new['virtual_router_id'], new['virtual_ipaddresses']) == ('VI_SHARD1', 52, ['10.0.1.201/24'])
    # Lower than the second node's 150; its only peer is the second node (not the new node of shard 1).
    assert new['priority'] == 100
    assert new['unicast_src_ip'] == '10.0.1.5' and new['unicast_peers'] == ['10.0.1.6']


def test_vip_add_nodes_refuses_settings_without_addresses():
    fleet = FILTERS['shard_topology']([{'vip': '10.0.1.200/24', 'nodes': ['a', 'b']}])
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['vip_add_nodes'](fleet['a'], {}, {})
    assert 'smooth.mariadb.vip_add_nodes: the node settings lack address, partner_address' in str(err.value)
    with pytest.raises(AnsibleFilterError):
        FILTERS['vip_add_nodes'](fleet['a'], None, {})


def _split_instances(node):
    """The keepalived instances the split gives node (a or b) of the pair a <=> b, expanded with c and d."""
    fleet = FILTERS['shard_topology']([{'vip': '10.0.1.200/24', 'nodes': ['a', 'b']}], {'a': '10.0.1.5', 'b': '10.0.1.6'})
    plan = FILTERS_EXPANSION['expansion_plan'](
        fleet, {'a': 'c', 'b': 'd'}, ['10.0.1.201/24'], 1, addresses={'c': '10.0.1.7', 'd': '10.0.1.8'})['nodes']
    return [FILTERS['vrrp_instance'](n, FACTS_10) for n in FILTERS['split_nodes'](fleet[node], plan[node])], plan[node]


@pytest.mark.parametrize('node, instance, vip, new_partner, old_partner', [
    ('a', 'VI_SHARD0', '10.0.1.200/24', '10.0.1.7', '10.0.1.6'),
    ('b', 'VI_SHARD1', '10.0.1.201/24', '10.0.1.8', '10.0.1.5'),
])
def test_split_keeps_the_old_partner_a_peer_of_the_instance_it_keeps(node, instance, vip, new_partner, old_partner):
    instances, target = _split_instances(node)
    # One instance: this node's shard after the split (not the other one it ran since vip_add).
    assert [(i['name'], i['virtual_ipaddresses']) for i in instances] == [(instance, [vip])]
    # The new partner first, then the old partner, which runs this instance as a backup until it reloads too.
    assert instances[0]['unicast_peers'] == [new_partner, old_partner]
    # The plan's settings themselves are not changed (split_join.yml gives them alone later).
    assert FILTERS['vrrp_instance'](target, FACTS_10)['unicast_peers'] == [new_partner]


def test_split_after_the_old_link_is_gone_gives_the_plan_settings_alone():
    fleet = FILTERS['shard_topology']([{'vip': '10.0.1.200/24', 'nodes': ['a', 'b']}], {'a': '10.0.1.5', 'b': '10.0.1.6'})
    plan = FILTERS_EXPANSION['expansion_plan'](
        fleet, {'a': 'c', 'b': 'd'}, ['10.0.1.201/24'], 1, addresses={'c': '10.0.1.7', 'd': '10.0.1.8'})['nodes']
    # A later run, after the old link was removed: both nodes had reloaded, no second reload for an extra peer.
    assert FILTERS['split_nodes'](fleet['a'], plan['a'], False) == [plan['a']]
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['split_nodes'](fleet['a'], plan['a'], 'yes')
    assert "joined must be true or false, got 'yes'" in str(err.value)


def test_split_nodes_refuses_settings_without_addresses():
    fleet = FILTERS['shard_topology']([{'vip': '10.0.1.200/24', 'nodes': ['a', 'b']}])
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS['split_nodes'](fleet['a'], {})
    assert str(err.value) == ('smooth.mariadb.split_nodes: the node settings lack partner_address '
                              '(plan the fleet with addresses)')
    with pytest.raises(AnsibleFilterError):
        FILTERS['split_nodes'](fleet['a'], None)


# --- who holds a VIP ---------------------------------------------------------------

IP_A = ('1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n'
        '2: eth0    inet 10.0.0.11/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever\n'
        '2: eth0    inet 10.0.0.200/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever\n')
IP_B = ('1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n'
        '2: eth0    inet 10.0.0.12/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever\n'
        '2: eth0    inet 10.0.0.20/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever\n')


@pytest.mark.parametrize('vip, holders', [
    ('10.0.0.200', ['a']), ('10.0.0.200/24', ['a']), ('10.0.0.20', ['b']), ('10.0.0.2', []),
    ('127.0.0.1', ['a', 'b']),
])
def test_vip_holders_match_whole_addresses(vip, holders):
    assert FILTERS['vip_holders']({'b': IP_B, 'a': IP_A}, vip) == holders


def test_vip_holders_refuse_what_is_not_an_address():
    with pytest.raises(AnsibleFilterError, match='not an IPv4 address'):
        FILTERS['vip_holders']({'a': IP_A}, 'db-vip')
    with pytest.raises(AnsibleFilterError, match='expects'):
        FILTERS['vip_holders']([IP_A], '10.0.0.200')
    assert FILTERS['vip_holders']({'a': ''}, '10.0.0.200') == []
