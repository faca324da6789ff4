# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the pure fleet planner in module_utils/topology.py."""

from ansible.errors import AnsibleFilterError

from ansible_collections.smooth.mariadb.plugins.module_utils.identity import identity_check
from ansible_collections.smooth.mariadb.plugins.module_utils.inventory import (
    account_problems,
    partner_problems,
    timeout_problems,
    vip_network_problem,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.topology import (
    TopologyError,
    check_addresses,
    interface_for_address,
    shard_topology,
    split_nodes,
    vip_add_nodes,
    vip_holders,
    vrrp_instance,
)


def _shard_topology(shards, addresses=None, server_id_base=1, vrid_base=51, instance_prefix='VI_SHARD', identities=None):
    try:
        plan = shard_topology(shards, server_id_base=server_id_base, vrid_base=vrid_base,
                              instance_prefix=instance_prefix, identities=identities)
        if addresses is not None:
            check_addresses(plan, addresses)
            for node, settings in plan.items():
                settings['address'] = addresses[node]
                settings['partner_address'] = addresses[settings['partner']]
    except TopologyError as exc:
        raise AnsibleFilterError('smooth.mariadb.shard_topology: %s' % exc)
    return plan


def _interface_for_address(facts, address):
    try:
        return interface_for_address(facts, address)
    except TopologyError as exc:
        raise AnsibleFilterError('smooth.mariadb.interface_for_address: %s' % exc)


def _vrrp_instance(node, facts):
    try:
        return vrrp_instance(node, facts)
    except TopologyError as exc:
        raise AnsibleFilterError('smooth.mariadb.vrrp_instance: %s' % exc)


def _identity_check(plan, observed, playbook='this playbook', pinnable=None):
    if not isinstance(plan, dict) or not isinstance(observed, dict):
        raise AnsibleFilterError('smooth.mariadb.identity_check: the plan and the identities read must be '
                                 'mappings of node to settings')
    return identity_check(plan, observed, playbook=playbook, pinnable=pinnable)


def _account_problems(admin_password, replication_password=None, admin_hosts=None):
    return account_problems(admin_password, replication_password, admin_hosts)


def _timeout_problems(timeouts):
    if not isinstance(timeouts, dict):
        raise AnsibleFilterError('smooth.mariadb.timeout_problems: expects {variable: value}, got %r' % (timeouts,))
    return timeout_problems(timeouts)


def _partner_problems(partners, current_nodes, new_nodes):
    return partner_problems(current_nodes, new_nodes, partners)


def _vip_network_problem(node, facts, variable='the VIP of its shard'):
    if not isinstance(node, dict) or not isinstance(facts, dict):
        raise AnsibleFilterError('smooth.mariadb.vip_network_problem: expects the settings of a node and its facts')
    return vip_network_problem(node, facts, variable)


def _vip_holders(outputs, vip):
    if not isinstance(outputs, dict):
        raise AnsibleFilterError('smooth.mariadb.vip_holders: expects {host: output of ip -o -4 addr show}, got %r'
                                 % (outputs,))
    try:
        return vip_holders(outputs, vip)
    except TopologyError as exc:
        raise AnsibleFilterError('smooth.mariadb.vip_holders: %s' % exc)


def _vip_add_nodes(node, target, partner_target):
    try:
        return vip_add_nodes(node, target, partner_target)
    except TopologyError as exc:
        raise AnsibleFilterError('smooth.mariadb.vip_add_nodes: %s' % exc)


def _split_nodes(node, target, joined=True):
    if not isinstance(joined, bool):
        raise AnsibleFilterError('smooth.mariadb.split_nodes: joined must be true or false, got %r' % (joined,))
    try:
        return split_nodes(node, target, joined)
    except TopologyError as exc:
        raise AnsibleFilterError('smooth.mariadb.split_nodes: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {
            'shard_topology': _shard_topology,
            'interface_for_address': _interface_for_address,
            'vrrp_instance': _vrrp_instance,
            'identity_check': _identity_check,
            'account_problems': _account_problems,
            'timeout_problems': _timeout_problems,
            'partner_problems': _partner_problems,
            'vip_network_problem': _vip_network_problem,
            'vip_holders': _vip_holders,
            'vip_add_nodes': _vip_add_nodes,
            'split_nodes': _split_nodes,
        }
