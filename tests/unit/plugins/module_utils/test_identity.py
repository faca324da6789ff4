# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Identities of running servers (module_utils/identity.py) and the identity_check filter."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.smooth.mariadb.plugins.filter.topology import FilterModule
from ansible_collections.smooth.mariadb.plugins.module_utils.identity import (
    IdentityError,
    data_evidence,
    datadir_databases,
    identity_check,
    identity_conflicts,
    identity_from_options,
    identity_pins,
    parse_print_defaults,
    shared_identities,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.topology import shard_topology

FILTERS = FilterModule().filters()
PAIR = [{'vip': '10.0.0.200/24', 'nodes': ['db-a', 'db-b']}]
SWAPPED = [{'vip': '10.0.0.200/24', 'nodes': ['db-b', 'db-a']}]


def running(server_id, domain, offset, increment=2, databases=('shop',), binlog='', slave=''):
    evidence = data_evidence(list(databases), binlog, slave)
    return {'running': True, 'identity': {'server_id': server_id, 'gtid_domain_id': domain,
                                          'auto_increment_increment': increment, 'auto_increment_offset': offset},
            'user_databases': list(databases), 'holds_data': bool(evidence), 'evidence': evidence}


def deployed():
    """db-a and db-b as site.yml deployed PAIR, both with data."""
    return {'db-a': running(1, 1, 1, binlog='1-1-40'), 'db-b': running(2, 2, 2, binlog='2-2-12')}


def test_swapped_order_of_a_pair_with_data_is_refused_naming_node_values_and_fix():
    result = identity_check(shard_topology(SWAPPED), deployed(), 'playbooks/site.yml')
    assert not result['ok']
    assert {(c['node'], c['setting'], c['current'], c['planned']) for c in result['conflicts']} == {
        ('db-a', 'server_id', 1, 2), ('db-a', 'gtid_domain_id', 1, 2), ('db-a', 'auto_increment_offset', 1, 2),
        ('db-b', 'server_id', 2, 1), ('db-b', 'gtid_domain_id', 2, 1), ('db-b', 'auto_increment_offset', 2, 1)}
    message = result['message']
    assert 'playbooks/site.yml would change the identity' in message
    assert ('  db-a: server_id is 1 on the server, the inventory plans 2; gtid_domain_id is 1 on the server, the '
            'inventory plans 2; auto_increment_offset is 1 on the server, the inventory plans 2 (it holds data: '
            'databases shop; binary log GTIDs 1-1-40)\n') in message
    assert '  db-a: {server_id: 1, gtid_domain_id: 1, auto_increment_offset: 1}' in message
    assert '  db-b: {server_id: 2, gtid_domain_id: 2, auto_increment_offset: 2}' in message
    assert message.endswith('Nothing was changed.')
    # The advice never names a step that changes a node holding data.
    assert 'site.yml' not in message.replace('playbooks/site.yml would change', '')


def test_the_pins_it_advises_make_the_swapped_plan_pass():
    observed = deployed()
    pins = identity_check(shard_topology(SWAPPED), observed)['pins']
    assert identity_check(shard_topology(SWAPPED, identities=pins), observed) == {
        'ok': True, 'conflicts': [], 'shared': [], 'pins': pins, 'message': ''}


def test_the_deployed_order_passes():
    assert identity_check(shard_topology(PAIR), deployed())['ok']


def test_nodes_without_data_may_get_any_identity():
    empty = {'db-a': running(1, 1, 1, databases=()), 'db-b': running(2, 2, 2, databases=())}
    assert empty['db-a']['holds_data'] is False
    assert identity_check(shard_topology(SWAPPED), empty)['ok']


def test_a_node_not_read_or_not_installed_is_new():
    observed = {'db-a': running(1, 1, 1), 'db-b': {'installed': False, 'identity': None, 'holds_data': False}}
    assert identity_check(shard_topology(PAIR), observed)['ok']
    assert identity_check(shard_topology(PAIR), {'db-a': running(1, 1, 1)})['ok']


@pytest.mark.parametrize('binlog, slave, databases', [
    ('1-1-3', '', ()),          # wrote to its binary log, no user database left
    ('', '2-2-9', ()),          # replicated from its partner
    ('', '', ('shop',)),        # a database, no GTID yet
])
def test_any_evidence_of_data_protects_the_identity(binlog, slave, databases):
    observed = {'db-a': running(1, 1, 1, binlog=binlog, slave=slave, databases=databases)}
    result = identity_check(shard_topology(SWAPPED), observed)
    assert not result['ok']
    assert {c['node'] for c in result['conflicts']} == {'db-a'}


def test_only_the_gtid_domain_moving_is_refused():
    observed = {'db-a': running(1, 7, 1), 'db-b': running(2, 2, 2)}
    conflicts = identity_conflicts(shard_topology(PAIR), observed)
    assert conflicts == [{'node': 'db-a', 'setting': 'gtid_domain_id', 'current': 7, 'planned': 1}]


def test_offset_of_a_standalone_server_may_be_set():
    # A brownfield server with MariaDB's auto-increment defaults (increment 1, offset 1), server_id 5, domain 0.
    observed = {'db-b': running(5, 0, 1, increment=1)}
    plan = shard_topology(PAIR, identities={'db-b': {'server_id': 5, 'gtid_domain_id': 0}})
    # db-b is member 1 (offset 2): not a conflict on a server with increment 1.
    result = identity_check(plan, observed)
    assert result['ok'], result['message']
    assert identity_pins(observed) == {'db-b': {'server_id': 5, 'gtid_domain_id': 0}}
    assert not identity_check(shard_topology(PAIR), observed)['ok']


def test_offset_of_a_pair_member_is_kept():
    observed = {'db-a': running(1, 1, 2), 'db-b': running(2, 2, 1)}
    conflicts = identity_conflicts(shard_topology(PAIR), observed)
    assert {(c['node'], c['setting']) for c in conflicts} == {('db-a', 'auto_increment_offset'),
                                                              ('db-b', 'auto_increment_offset')}


def test_nodes_that_already_share_an_identity_are_refused_with_a_manual_repair():
    observed = {'db-a': running(1, 1, 1), 'db-b': running(1, 2, 2)}
    assert shared_identities(observed) == [{'setting': 'server_id', 'value': 1, 'nodes': ['db-a', 'db-b']}]
    result = identity_check(shard_topology(PAIR), observed)
    assert not result['ok']
    assert 'server_id 1 on db-a and db-b' in result['message']
    assert 'Repair this by hand' in result['message']


def test_parse_print_defaults_last_wins_and_both_spellings():
    lines = ['--log-bin=mysql-bin', '--server-id=7', '--gtid_domain_id=70', '--server_id=101',
             '--auto-increment-increment=2', '--auto-increment-offset=2', '--datadir=/srv/db', 'noise']
    assert parse_print_defaults(lines) == {'server_id': '101', 'gtid_domain_id': '70', 'auto_increment_increment': '2',
                                           'auto_increment_offset': '2', 'datadir': '/srv/db'}


def test_identity_from_options_uses_mariadbs_defaults_and_rejects_garbage():
    assert identity_from_options({'server_id': '5'}) == {
        'server_id': 5, 'gtid_domain_id': 0, 'auto_increment_increment': 1, 'auto_increment_offset': 1}
    with pytest.raises(IdentityError, match="server_id to 'x'"):
        identity_from_options({'server_id': 'x'})


def test_datadir_databases_of_a_stopped_server():
    entries = {
        'mysql': ['db.opt', 'user.frm'], 'performance_schema': ['db.opt'], 'sys': ['db.opt'],
        'shop': ['db.opt', 'orders.frm', 'orders.ibd'],
        'empty_db': ['db.opt'],
        'legacy': ['t.frm', 't.MYD'],
        '#innodb_redo': ['ib_redo1'], 'lost+found': [], 'not_a_db': ['notes.txt'],
        'smooth_mariadb': ['db.opt', 'seed.frm', 'seed.ibd'],
    }
    assert datadir_databases(entries) == (['empty_db', 'legacy', 'shop'], True)
    assert datadir_databases({'mysql': ['db.opt']}) == ([], False)


def test_filter_wraps_and_checks_its_input():
    result = FILTERS['identity_check'](shard_topology(SWAPPED), deployed(), 'playbooks/expand_2n.yml')
    assert not result['ok'] and 'playbooks/expand_2n.yml would change' in result['message']
    with pytest.raises(AnsibleFilterError, match='mappings of node to settings'):
        FILTERS['identity_check'](shard_topology(PAIR), [])


def test_pins_are_offered_only_for_nodes_smooth_identities_can_pin():
    observed = deployed()
    result = identity_check(shard_topology(SWAPPED), observed, 'the expansion', pinnable=['db-a'])
    assert result['pins'] == {'db-a': {'server_id': 1, 'gtid_domain_id': 1, 'auto_increment_offset': 1}}
    assert 'db-b: {' not in result['message']
    result = identity_check(shard_topology(SWAPPED), observed, 'the expansion', pinnable=[])
    assert 'smooth_identities:' not in result['message'] and 'smooth_expansion_partners).' in result['message']
