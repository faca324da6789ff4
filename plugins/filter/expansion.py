# -*- coding: utf-8 -*-
# Copyright: smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the pure 2N expansion planner in module_utils/expansion.py."""

import json

import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.smooth.mariadb.plugins.module_utils.expansion import (
    DEFAULT_PORT,
    ShardingRule,
    expansion_plan,
    shardingsphere_config,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.expansion_state import (
    StateError,
    expansion_state,
    split_links_problem,
    wrote_in_domain,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.gtid import start_position
from ansible_collections.smooth.mariadb.plugins.module_utils.inventory import in_inventory_words
from ansible_collections.smooth.mariadb.plugins.module_utils.route import (
    STATE_NEW,
    STATE_PREVIOUS,
    RouteError,
    app_map_state,
    map_digest,
    rollback_publish,
    rollback_route_state,
    published_map,
    unacknowledged,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.seed import SeedError, choose_method
from ansible_collections.smooth.mariadb.plugins.module_utils.seed_backup import parse_stream_readings, stream_problems
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import cleanup_settings
from ansible_collections.smooth.mariadb.plugins.module_utils.topology import TopologyError


class _RuleDumper(yaml.SafeDumper):
    """SafeDumper that writes a ShardingRule as a mapping tagged !SHARDING."""


def _represent_sharding_rule(dumper, data):
    return dumper.represent_mapping('!SHARDING', dict(data))


_RuleDumper.add_representer(ShardingRule, _represent_sharding_rule)


def _expansion_plan(current_fleet, new_partners, vip_pool, version, addresses=None, vrid_base=None,
                    server_id_base=None, instance_prefix='VI_SHARD', port=DEFAULT_PORT):
    try:
        return expansion_plan(current_fleet, new_partners, vip_pool, version, addresses=addresses,
                              vrid_base=vrid_base, server_id_base=server_id_base,
                              instance_prefix=instance_prefix, port=port)
    except TopologyError as exc:
        raise AnsibleFilterError('The expansion cannot be planned from the inventory: %s. Nothing was changed.'
                                 % in_inventory_words(str(exc)).rstrip('.'))


def _shard_map_json(plan_or_map):
    try:
        shard_map = published_map(plan_or_map)
    except (TopologyError, RouteError) as exc:
        raise AnsibleFilterError('smooth.mariadb.shard_map_json: %s' % exc)
    return json.dumps(shard_map, sort_keys=True, indent=2) + '\n'


def _shard_map_digest(plan_or_map):
    try:
        return map_digest(plan_or_map)
    except TopologyError as exc:
        raise AnsibleFilterError('smooth.mariadb.shard_map_digest: %s' % exc)


def _app_map_state(answer, plan, source, accept=(STATE_PREVIOUS, STATE_NEW)):
    if not isinstance(source, str) or not source:
        raise AnsibleFilterError('smooth.mariadb.app_map_state: source must name where the answer came from (the '
                                 'variable and its value), got %r' % (source,))
    if isinstance(accept, str):
        accept = [accept]
    try:
        return app_map_state(answer, plan, source, accept=tuple(accept))
    except (TopologyError, RouteError) as exc:
        raise AnsibleFilterError('smooth.mariadb.app_map_state: %s' % exc)


def _route_unacknowledged(reports, plan_or_map):
    try:
        return unacknowledged(reports, plan_or_map)
    except (TopologyError, RouteError) as exc:
        raise AnsibleFilterError('smooth.mariadb.route_unacknowledged: %s' % exc)


def _shardingsphere_rule(plan_or_map, tables, database, sharding_column=None, algorithm='INLINE', username=None,
                         password=None, driver_class_name='com.mysql.cj.jdbc.Driver',
                         data_source_class_name='com.zaxxer.hikari.HikariDataSource', url_params=None,
                         allow_range_query=False):
    try:
        config = shardingsphere_config(plan_or_map, tables, database, sharding_column=sharding_column,
                                       algorithm=algorithm, username=username, password=password,
                                       driver_class_name=driver_class_name,
                                       data_source_class_name=data_source_class_name, url_params=url_params,
                                       allow_range_query=allow_range_query)
    except TopologyError as exc:
        raise AnsibleFilterError('smooth.mariadb.shardingsphere_rule: %s' % exc)
    return yaml.dump(config, Dumper=_RuleDumper, default_flow_style=False, sort_keys=False, allow_unicode=True)


def _gtid_start_position(replica_positions, source_binlog_pos):
    try:
        return start_position(replica_positions, source_binlog_pos)
    except ValueError as exc:
        raise AnsibleFilterError('smooth.mariadb.gtid_start_position: %s' % exc)


def _cleanup_settings(variables):
    if not isinstance(variables, dict):
        raise AnsibleFilterError('smooth.mariadb.cleanup_settings: expected a dict of inventory variables, got %r'
                                 % (variables,))
    settings, problems = cleanup_settings(variables)
    if problems:
        raise AnsibleFilterError('The cleanup settings of the inventory are not usable, nothing was changed: %s.'
                                 % '; '.join(problems))
    return settings


def _expansion_state(infos, plan, fleet):
    try:
        return expansion_state(infos, plan, fleet)
    except (StateError, KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('smooth.mariadb.expansion_state: cannot decide the state of the expansion: %s' % exc)


def _split_links_problem(connections, old_address, new_address, only_new=False):
    if connections is not None and not isinstance(connections, dict):
        raise AnsibleFilterError('smooth.mariadb.split_links_problem: connections must be a dict of replication_info, '
                                 'got %r' % (connections,))
    return split_links_problem(connections, old_address, new_address, bool(only_new))


def _wrote_in_domain(position, domain):
    try:
        return wrote_in_domain(position, domain)
    except (StateError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('smooth.mariadb.wrote_in_domain: %s' % exc)


def _seed_stream_problems(source_output, new_node, source, ssh_user, authorized_keys, backup_command,
                          sshd_open, ssh_client, new_address=''):
    try:
        readings = parse_stream_readings(source_output)
    except SeedError as exc:
        raise AnsibleFilterError('smooth.mariadb.seed_stream_problems: %s' % exc)
    return stream_problems(readings, new_node, source, ssh_user, authorized_keys, backup_command,
                           bool(sshd_open), bool(ssh_client), new_address or '')


def _seed_method(requested, source_bytes, threshold):
    if requested not in ('auto', 'dump', 'mariabackup'):
        raise AnsibleFilterError('smooth.mariadb.seed_method: smooth_seed_method must be auto, dump or mariabackup, '
                                 'got %r' % (requested,))
    try:
        size, limit = int(source_bytes or 0), int(threshold)
    except (TypeError, ValueError):
        raise AnsibleFilterError('smooth.mariadb.seed_method: expects the bytes of the source and the threshold as '
                                 'numbers, got %r and %r' % (source_bytes, threshold))
    # The role copies the whole instance and always gives the seed a backup command.
    method, reason = choose_method(requested, size, limit, backup_command=True, databases=None)
    return {'method': method, 'reason': reason}


def _rollback_route_state(app_map, file_map, file_known):
    return rollback_route_state(app_map, file_map, bool(file_known))


def _rollback_publish(own_state, all_states):
    return rollback_publish(own_state, all_states)


class FilterModule(object):
    def filters(self):
        return {
            'app_map_state': _app_map_state,
            'cleanup_settings': _cleanup_settings,
            'expansion_plan': _expansion_plan,
            'expansion_state': _expansion_state,
            'gtid_start_position': _gtid_start_position,
            'rollback_publish': _rollback_publish,
            'rollback_route_state': _rollback_route_state,
            'route_unacknowledged': _route_unacknowledged,
            'seed_method': _seed_method,
            'seed_stream_problems': _seed_stream_problems,
            'shard_map_digest': _shard_map_digest,
            'shard_map_json': _shard_map_json,
            'shardingsphere_rule': _shardingsphere_rule,
            'split_links_problem': _split_links_problem,
            'wrote_in_domain': _wrote_in_domain,
        }
