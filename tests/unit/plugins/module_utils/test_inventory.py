# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the inventory before anything changes (module_utils/inventory.py) and their filters."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.smooth.mariadb.plugins.filter.topology import FilterModule
from ansible_collections.smooth.mariadb.plugins.module_utils.inventory import (
    MAX_REPLICATION_PASSWORD_BYTES,
    account_problems,
    partner_problems,
    timeout_problems,
    vip_network_problem,
)

FILTERS = FilterModule().filters()
GOOD = 'a-Good-Secret-1'


def test_good_accounts_pass():
    assert account_problems(GOOD, GOOD, ['10.0.0.5', 'ops-1.example.net', '::1']) == []
    assert account_problems(GOOD, GOOD, None) == []


@pytest.mark.parametrize('hosts, words', [
    ([''], 'an empty host lets the admin account log in from any host'),
    (['%'], "reads '%' and '_' in an account's host as wildcards"),
    (['10.%'], "contains '10.%'"),
    (['10.0.0._'], "contains '10.0.0._'"),
    (['10.0.0.0/255.255.255.0'], 'an address/netmask opens the admin account to a whole range'),
    (['bad host!'], 'neither an IP address nor a host name'),
    ([None], 'contains None'),
])
def test_admin_hosts_with_patterns_are_refused(hosts, words):
    problems = account_problems(GOOD, GOOD, hosts)
    assert len(problems) == 1 and words in problems[0] and problems[0].startswith('smooth_admin_hosts')


def test_admin_hosts_must_be_a_list():
    assert account_problems(GOOD, GOOD, '10.0.0.5') == [
        "smooth_admin_hosts must be a list of addresses or host names, got '10.0.0.5'"]


def test_replication_password_within_mariadbs_limit_in_bytes():
    assert account_problems(GOOD, 'x' * MAX_REPLICATION_PASSWORD_BYTES, []) == []
    assert account_problems(GOOD, '\u00e9' * 48, []) == []          # 96 bytes in UTF-8
    problems = account_problems(GOOD, '\u00e9' * 49, [])             # 98 bytes
    assert problems == ['smooth_replication_password has 98 bytes, but MariaDB keeps at most 96 for a replication '
                        'password (CHANGE MASTER ... MASTER_PASSWORD would fail after the accounts changed): use a '
                        'shorter one']
    assert len(account_problems(GOOD, 'x' * 97, [])) == 1


@pytest.mark.parametrize('admin, repl, expected', [
    (None, GOOD, 'smooth_admin_password is not set'),
    ('', GOOD, 'smooth_admin_password is not set'),
    ('short', GOOD, 'smooth_admin_password has 5 characters: use at least 12'),
    (GOOD, 123456789012345, 'smooth_replication_password must be a string'),
])
def test_passwords(admin, repl, expected):
    problems = account_problems(admin, repl, [])
    assert len(problems) == 1 and problems[0].startswith(expected)


@pytest.mark.parametrize('value, ok', [
    (None, True), (30, True), ('30', True), (1, True),
    (0.5, False), ('2.5', False), (0, False), ('0', False), (-1, False), ('abc', False), ('', False), (True, False),
    ('nan', False), (30.0, False),
])
def test_timeouts(value, ok):
    problems = timeout_problems({'smooth_route_ack_timeout': value})
    assert (problems == []) is ok, problems
    if not ok:
        assert problems[0].startswith('smooth_route_ack_timeout must be')


CURRENT = ['db1', 'db2']
NEW = ['db3', 'db4']


def test_a_correct_mapping_passes():
    assert partner_problems(CURRENT, NEW, {'db1': 'db3', 'db2': 'db4'}) == []


@pytest.mark.parametrize('partners, expected', [
    ({'db1': 'db3'}, ['current node db2 has no entry in smooth_expansion_partners: add "db2: <a host of the group '
                      'smooth_mariadb_new>"',
                      'db4 of the group smooth_mariadb_new is no current node\'s new partner: map a current node to '
                      'it in smooth_expansion_partners, or remove it from the group']),
    ({'db1': 'db3', 'db2': 'db3'}, ['smooth_expansion_partners maps db1 and db2 all to db3: every current node '
                                    'needs a new node of its own',
                                    'db4 of the group smooth_mariadb_new is no current node\'s new partner: map a '
                                    'current node to it in smooth_expansion_partners, or remove it from the group']),
    ({'db1': 'db3', 'db2': 'db9'}, ["smooth_expansion_partners maps db2 to 'db9', which is not in the group "
                                    "smooth_mariadb_new (db3, db4): add that host to the group or map db2 to one of "
                                    "its hosts",
                                    'db4 of the group smooth_mariadb_new is no current node\'s new partner: map a '
                                    'current node to it in smooth_expansion_partners, or remove it from the group']),
    ({'db1': 'db3', 'db2': 'db4', 'dbX': 'db4'}, [
        'smooth_expansion_partners has an entry for dbX, which is not in the group smooth_mariadb (the current '
        'nodes are db1, db2): remove it or correct the name',
        'smooth_expansion_partners maps db2 and dbX all to db4: every current node needs a new node of its own']),
    ([], ['smooth_expansion_partners must be a mapping {current node: new node}, got []']),
    ({}, ['smooth_expansion_partners is empty: map every current node (db1, db2) to a host of the group '
          'smooth_mariadb_new']),
])
def test_each_mapping_mistake_is_named_for_what_it_is(partners, expected):
    assert partner_problems(CURRENT, NEW, partners) == expected


def test_a_host_in_both_groups_and_empty_groups():
    problems = partner_problems(CURRENT, ['db2', 'db3'], {'db1': 'db3', 'db2': 'db2'})
    assert problems[0].startswith('db2 is in both groups smooth_mariadb and smooth_mariadb_new')
    assert partner_problems(['db1'], [], {'db1': 'db3'})[:2] == [
        'the group smooth_mariadb needs the nodes of at least one pair (it lists db1)',
        'the group smooth_mariadb_new is empty: add one new host per current node (1)']


FACTS = {
    'interfaces': ['lo', 'eth0'],
    'lo': {'device': 'lo', 'ipv4': {'address': '127.0.0.1', 'netmask': '255.0.0.0'}},
    'eth0': {'device': 'eth0', 'ipv4': {'address': '10.214.1.11', 'netmask': '255.255.255.0'},
             'ipv4_secondaries': [{'address': '192.168.7.4', 'netmask': '255.255.254.0'}]},
}


def node(vip, address='10.214.1.11'):
    return {'name': 'db1', 'address': address, 'vip': vip, 'vip_prefix': 24}


def test_vip_in_the_network_of_the_interface_passes():
    assert vip_network_problem(node('10.214.1.200'), FACTS, 'smooth_shards[0].vip') == ''
    assert vip_network_problem(node('192.168.6.9', '192.168.7.4'), FACTS, 'x') == ''


def test_vip_outside_the_network_is_refused_naming_variable_interface_and_network():
    problem = vip_network_problem(node('10.99.0.200'), FACTS, 'smooth_expansion_vip_pool[1]')
    assert problem == ("db1: the VIP 10.99.0.200 (smooth_expansion_vip_pool[1]) is not in the network 10.214.1.0/24 "
                       "of eth0, the interface that holds the node's address 10.214.1.11 and would hold the VIP: "
                       "clients on that network could not reach it. Choose a free address in 10.214.1.0/24")


def test_node_address_on_no_interface():
    assert vip_network_problem(node('10.214.1.200', '10.214.9.9'), FACTS, 'x').startswith(
        "db1: no interface holds the node's address 10.214.9.9 (interfaces: eth0, lo)")


def test_filters():
    assert FILTERS['account_problems'](GOOD, GOOD, ['%']) != []
    assert FILTERS['timeout_problems']({'a': 0}) == ['a must be 1 second or more, got 0: it bounds a wait, and 0 '
                                                     'would give up at once']
    assert FILTERS['partner_problems']({'db1': 'db3', 'db2': 'db4'}, CURRENT, NEW) == []
    assert FILTERS['vip_network_problem'](node('10.214.1.200'), FACTS) == ''
    with pytest.raises(AnsibleFilterError):
        FILTERS['timeout_problems']([1])
    with pytest.raises(AnsibleFilterError):
        FILTERS['vip_network_problem']('x', FACTS)
