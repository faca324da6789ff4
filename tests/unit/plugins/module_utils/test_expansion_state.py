# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The state of an expansion decided from the nodes' readings: module_utils/expansion_state.py,
its filters, and the readings of module_utils/server_reading.py that need no server (the marks)."""

from __future__ import annotations

import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.smooth.mariadb.plugins.filter.expansion import FilterModule
from ansible_collections.smooth.mariadb.plugins.module_utils.expansion import expansion_plan
from ansible_collections.smooth.mariadb.plugins.module_utils.expansion_state import (
    StateError,
    cleanup_marks,
    cleanup_report,
    done_mark_name,
    done_mark_text,
    expansion_state,
    gtid_domains,
    is_mark_name,
    link_to,
    mark_modulus,
    pair_state,
    rollback_refusal,
    settings_problem,
    split_links_problem,
    wrote_in_domain,
)
from ansible_collections.smooth.mariadb.plugins.module_utils import server_reading
from ansible_collections.smooth.mariadb.plugins.module_utils.server_reading import read_cleanup_marks, read_done_marks
from ansible_collections.smooth.mariadb.plugins.filter.topology import FilterModule as TopologyFilters

FILTERS = FilterModule().filters()
TOPOLOGY = TopologyFilters().filters()

ADDRESSES = {'a': '10.0.0.1', 'b': '10.0.0.2', 'c': '10.0.0.3', 'd': '10.0.0.4'}


def one_shard():
    # As the plan play computes it: the filter adds the addresses.
    fleet = TOPOLOGY['shard_topology']([{'vip': '10.0.0.200/24', 'nodes': ['a', 'b']}], {'a': '10.0.0.1', 'b': '10.0.0.2'})
    assert fleet['a']['partner_address'] == '10.0.0.2'
    plan = expansion_plan(fleet, {'a': 'c', 'b': 'd'}, ['10.0.0.201/24'], 1, addresses=ADDRESSES)
    return fleet, plan


def conn(name, host):
    return {name: {'connection_name': name, 'source_host': host, 'running': True}}


def current(connections=None, binlog_pos='1-1-10,2-2-7', marks=None, seeded=False):
    return {'running': True, 'source': 'server', 'connections': connections or {}, 'gtid_binlog_pos': binlog_pos,
            'cleanup_marks': marks or [], 'split_points': [], 'seeded': seeded}


def new(running=False, connections=None, seeded=False, holds_data=False):
    return {'running': running, 'source': 'server' if running else 'none', 'connections': connections or {},
            'seeded': seeded, 'holds_data': holds_data}


def joined_infos():
    return {'a': current(conn('b', '10.0.0.2')), 'b': current(conn('a', '10.0.0.1')), 'c': new(), 'd': new()}


# --- pieces -----------------------------------------------------------------

@pytest.mark.parametrize('own, partner, state', [
    ('b', 'a', 'joined'),
    (None, None, 'split'),
    ('b', None, 'half_split'),
    (None, 'a', 'half_split'),
    ('', None, 'half_split'),  # an unnamed default connection ('') is a link
])
def test_pair_state_counts_the_links_of_both_nodes(own, partner, state):
    assert pair_state(own, partner) == state


def test_link_to_finds_the_connection_by_its_source_address_not_its_name():
    connections = dict(conn('zeta', '10.0.0.2'), **conn('alpha', '10.0.0.9'))
    connections.update(conn('beta', '10.0.0.2'))
    assert link_to(connections, '10.0.0.2') == 'beta'
    assert link_to(connections, '10.0.0.7') is None
    assert link_to(connections, None) is None
    assert link_to(None, '10.0.0.2') is None


@pytest.mark.parametrize('name, is_mark', [
    ('expansion-2.cleanup', True), ('expansion-.cleanup', False), ('expansion-2.cleanup.bak', False),
    ('other-2.cleanup', False),
])
def test_mark_names(name, is_mark):
    assert is_mark_name(name) is is_mark


@pytest.mark.parametrize('text, modulus', [
    ('cleanup of map version 2 (modulus 4) began 2026-12-01T10:00:00Z', 4),
    ('modulus 16', 16), ('', None), (None, None), ('cleanup began', None), ('modulus four', None),
])
def test_mark_modulus(text, modulus):
    assert mark_modulus(text) == modulus


def test_marks_count_when_their_modulus_is_beyond_the_current_one_or_unreadable():
    marks = cleanup_marks([
        {'mark': 'expansion-3.cleanup', 'path': '/s/expansion-3.cleanup', 'modulus': 2},
        {'mark': 'expansion-9.cleanup', 'path': '/s/expansion-9.cleanup', 'modulus': None},
        {'mark': 'expansion-2.cleanup', 'path': '/s/expansion-2.cleanup', 'modulus': 4},
    ], previous_modulus=2)
    assert [(mark['mark'], mark['begun']) for mark in marks] == [
        ('expansion-2.cleanup', True), ('expansion-3.cleanup', False), ('expansion-9.cleanup', True)]
    assert cleanup_report(marks) == ('expansion-2.cleanup (modulus 4, begun), expansion-3.cleanup (modulus 2, an '
                                     'earlier expansion, ignored), expansion-9.cleanup (modulus unreadable, counted as begun)')
    assert cleanup_report([]) == 'no mark'


def test_gtid_domains_use_the_one_gtid_parser_and_refuse_garbage():
    assert gtid_domains('2-2-7,1-1-10') == [1, 2]
    assert gtid_domains('') == [] and gtid_domains(None) == []
    assert wrote_in_domain('1-1-10,3-3-1', 3) is True
    assert wrote_in_domain('1-1-10', '3') is False
    with pytest.raises(StateError, match='invalid GTID'):
        gtid_domains('1-1-10,x')
    with pytest.raises(AnsibleFilterError, match='wrote_in_domain'):
        FILTERS['wrote_in_domain']('1-1', 1)


# --- the links after the split (cleanup and verify) ----------------------------

OLD, NEW = '10.0.0.2', '10.0.0.3'


def link(name, host, running=True):
    return {name: {'connection_name': name, 'source_host': host, 'running': running}}


@pytest.mark.parametrize('connections, only_new, problem', [
    (link('c', NEW), False, ''),
    (link('c', NEW), True, ''),
    # The split has not run (or stopped half way): the old link is there, running or stopped.
    (dict(link('b', OLD), **link('c', NEW)), False, "it still has a replication connection from its old partner 10.0.0.2 ('b')"),
    (dict(link('b', OLD, running=False), **link('c', NEW)), False, "from its old partner 10.0.0.2 ('b')"),
    # The seed has not joined the new pair, or its connection stopped.
    ({}, False, 'it has 0 running replication connection(s) from its new partner 10.0.0.3 (needs 1; none from it)'),
    (link('c', NEW, running=False), False, "0 running replication connection(s) from its new partner 10.0.0.3 (needs 1; "
                                           "connections from it: 'c')"),
    (dict(link('c', NEW), **link('c2', NEW)), False, '2 running replication connection(s)'),
    # The verify phase also refuses any other source; the cleanup does not look at them.
    (dict(link('c', NEW), **link('x', '10.0.0.9')), False, ''),
    (dict(link('c', NEW), **link('x', '10.0.0.9')), True, "it also replicates from 10.0.0.9 ('x')"),
])
def test_split_links_problem(connections, only_new, problem):
    found = split_links_problem(connections, OLD, NEW, only_new)
    assert (found == '') if problem == '' else (problem in found), found


def test_split_links_problem_of_a_new_node_has_no_old_partner():
    # A new node (no old partner): only its link from the partner counts, and with only_new no other.
    assert split_links_problem(link('a', '10.0.0.1'), None, '10.0.0.1', True) == ''
    assert split_links_problem(dict(link('a', '10.0.0.1'), **link('', '')), None, '10.0.0.1', True) == \
        "it also replicates from  ('')"
    with pytest.raises(AnsibleFilterError, match='connections must be a dict'):
        FILTERS['split_links_problem']([], OLD, NEW)


# --- the whole state ----------------------------------------------------------

def test_a_joined_pair_before_the_expansion():
    fleet, plan = one_shard()
    state = expansion_state(joined_infos(), plan, fleet)
    assert state['ok'] and state['problems'] == []
    a = state['nodes']['a']
    assert (a['pair'], a['old_link'], a['new_link'], a['old_partner'], a['new_partner']) == ('joined', 'b', None, 'b', 'c')
    assert a['cleanup_begun'] is False and a['verified'] is False
    assert state['nodes']['b']['pair'] == 'joined'
    assert state['nodes']['c'] == {'role': 'new', 'running': False, 'partner': 'a', 'seed_link': None,
                                   'connections': {}, 'seeded': False, 'holds_data': False, 'pair': None,
                                   'old_link': None, 'new_link': None, 'cleanup_marks': [], 'cleanup_begun': False,
                                   'cleanup_report': '', 'settings_problem': '', 'data_bytes': None, 'verified': False}
    # Every node's state has the keys the playbooks read.
    assert set(state['nodes']['c']) <= set(a) | {'running', 'partner', 'holds_data'}
    assert state['cleanup_begun_on'] == [] and state['rollback_refusal'] == ''
    assert state['new_partner_links_on'] == []
    assert state['complete'] is False and 'a: no mark expansion-2.done' in state['complete_report']


def test_a_split_that_stopped_half_way_and_a_seeded_new_node():
    fleet, plan = one_shard()
    infos = joined_infos()
    infos['a'] = current(conn('c', '10.0.0.3'))   # a no longer replicates from b, but from its new partner c
    infos['c'] = new(running=True, connections=conn('a', '10.0.0.1'), seeded=True, holds_data=True)
    state = expansion_state(infos, plan, fleet)
    assert state['nodes']['a']['pair'] == 'half_split' and state['nodes']['b']['pair'] == 'half_split'
    assert state['nodes']['a']['old_link'] is None and state['nodes']['a']['new_link'] == 'c'
    assert state['nodes']['c']['seed_link'] == 'a' and state['nodes']['c']['seeded'] is True
    # verify in check mode runs only once a current node replicates from its new partner.
    assert state['new_partner_links_on'] == ['a']


def test_a_link_from_the_new_partner_on_the_unnamed_connection_counts():
    fleet, plan = one_shard()
    infos = joined_infos()
    infos['b'] = current(conn('', '10.0.0.4'))
    assert expansion_state(infos, plan, fleet)['new_partner_links_on'] == ['b']
    assert expansion_state(expanded_infos(plan), plan, fleet)['new_partner_links_on'] == ['a', 'b']


def test_a_stopped_new_node_has_no_link_whatever_its_reading_says():
    fleet, plan = one_shard()
    infos = joined_infos()
    infos['d'] = new(running=False, connections=conn('b', '10.0.0.2'))
    assert expansion_state(infos, plan, fleet)['nodes']['d']['seed_link'] is None


def test_a_split_pair_whose_new_partner_wrote():
    # rollback_2n.yml asks wrote_in_domain of the binary log position a node reports.
    fleet, plan = one_shard()
    infos = joined_infos()
    domain_c = plan['nodes']['c']['gtid_domain_id']
    infos['a'] = current(binlog_pos='1-1-10,2-2-7,%d-%d-3' % (domain_c, plan['nodes']['c']['server_id']))
    infos['b'] = current()
    state = expansion_state(infos, plan, fleet)
    assert state['nodes']['a']['pair'] == 'split'
    assert wrote_in_domain(state['nodes']['a']['gtid_binlog_pos'], domain_c) is True
    assert wrote_in_domain(state['nodes']['b']['gtid_binlog_pos'], domain_c) is False


# --- a verified (complete) expansion ------------------------------------------

def done(plan, version=None, modulus=None):
    version = plan['version'] if version is None else version
    modulus = plan['modulus'] if modulus is None else modulus
    name = done_mark_name(version)
    text = done_mark_text(version, modulus)
    return [{'mark': name, 'path': '/var/lib/smooth-mariadb/' + name, 'modulus': mark_modulus(text), 'text': text.strip()}]


def expanded_infos(plan, marks=True):
    infos = {'a': current(conn('c', '10.0.0.3')), 'b': current(conn('d', '10.0.0.4')),
             'c': new(running=True, connections=conn('a', '10.0.0.1'), seeded=True, holds_data=True),
             'd': new(running=True, connections=conn('b', '10.0.0.2'), seeded=True, holds_data=True)}
    for info in infos.values():
        info['done_marks'] = done(plan) if marks else []
    return infos


def test_an_expansion_verified_on_every_node_and_still_as_verified_is_complete():
    fleet, plan = one_shard()
    state = expansion_state(expanded_infos(plan), plan, fleet)
    assert all(node['verified'] for node in state['nodes'].values())
    assert state['complete'] is True
    # What the verify phase writes is what makes the state complete on the next run.
    assert done(plan)[0]['mark'] == state['done_mark']['name'] == 'expansion-2.done'
    assert mark_modulus(state['done_mark']['text']) == plan['modulus'] == 2
    assert state['complete_report'].startswith('the expansion to shard map version 2 (2 shards) was verified')


def test_an_expanded_fleet_without_the_marks_is_not_complete():
    # The verify phase has not passed yet (or ran on an older version of the collection).
    fleet, plan = one_shard()
    state = expansion_state(expanded_infos(plan, marks=False), plan, fleet)
    assert state['complete'] is False and state['complete_report'] == 'a: no mark expansion-2.done of a verified expansion'


@pytest.mark.parametrize('node, marks, why', [
    ('d', 'none', 'd: no mark expansion-2.done'),
    # The mark of another expansion (an earlier one, or one for another modulus) is not this one's.
    ('b', 'version 1', 'b: no mark expansion-2.done'),
    ('c', 'modulus 4', 'c: no mark expansion-2.done'),
])
def test_one_node_without_this_expansions_mark_keeps_it_from_complete(node, marks, why):
    fleet, plan = one_shard()
    infos = expanded_infos(plan)
    infos[node]['done_marks'] = {'none': [], 'version 1': done(plan, version=1), 'modulus 4': done(plan, modulus=4)}[marks]
    state = expansion_state(infos, plan, fleet)
    assert state['complete'] is False and state['complete_report'].startswith(why)


@pytest.mark.parametrize('change, why', [
    # An operator stopped the new pair's replication after the expansion.
    (lambda infos: infos['b'].update(connections={}),
     'b: it has 0 running replication connection(s) from its new partner 10.0.0.4 (needs 1; none from it)'),
    # Or stopped its threads (the connection is still there).
    (lambda infos: infos['a']['connections']['c'].update(running=False),
     "a: it has 0 running replication connection(s) from its new partner 10.0.0.3 (needs 1; connections from it: 'c')"),
    (lambda infos: infos['c']['connections']['a'].update(running=False), 'c: it has 0 running'),
    # A node that replicates from a source other than its new partner is not as verified either.
    (lambda infos: infos['d']['connections'].update(conn('x', '10.0.0.9')), "d: it also replicates from 10.0.0.9 ('x')"),
    # The old pair replicates again (someone joined it by hand).
    (lambda infos: infos['a']['connections'].update(conn('b', '10.0.0.2')),
     'a: the pair with b is half_split'),
    (lambda infos: infos['c'].update(running=False), 'c: runs False'),
    (lambda infos: infos['d'].update(connections={}), 'd: it has 0 running replication connection(s) from its new partner 10.0.0.2'),
    (lambda infos: infos['d'].update(seeded=False), 'd: runs True, seeded False'),
])
def test_a_verified_fleet_that_changed_since_is_not_complete(change, why):
    # The phases then run again and continue from the state they find.
    fleet, plan = one_shard()
    infos = expanded_infos(plan)
    change(infos)
    state = expansion_state(infos, plan, fleet)
    assert state['complete'] is False and state['complete_report'].startswith(why)


def test_an_unreadable_fleet_is_never_complete():
    fleet, plan = one_shard()
    infos = expanded_infos(plan)
    infos['a'].update(running=False)
    state = expansion_state(infos, plan, fleet)
    assert state['ok'] is False and state['complete'] is False
    assert state['complete_report'] == 'the state of the fleet cannot be read'


def test_read_done_marks_reads_only_done_marks(tmp_path):
    (tmp_path / 'expansion-2.done').write_text(done_mark_text(2, 4))
    (tmp_path / 'expansion-2.cleanup').write_text('cleanup of map version 2 (modulus 4) began')
    (tmp_path / 'expansion-.done').write_text('no version')
    marks = read_done_marks(str(tmp_path))
    assert [(mark['mark'], mark['modulus']) for mark in marks] == [('expansion-2.done', 4)]
    assert [mark['mark'] for mark in read_cleanup_marks(str(tmp_path))] == ['expansion-2.cleanup']
    assert read_done_marks(str(tmp_path / 'absent')) == []


def test_a_begun_cleanup_refuses_the_rollback_and_names_node_and_mark():
    fleet, plan = one_shard()
    infos = joined_infos()
    infos['b']['cleanup_marks'] = [
        {'mark': 'expansion-2.cleanup', 'path': '/var/lib/smooth-mariadb/expansion-2.cleanup', 'modulus': 1},
        {'mark': 'expansion-3.cleanup', 'path': '/var/lib/smooth-mariadb/expansion-3.cleanup', 'modulus': 2}]
    state = expansion_state(infos, plan, fleet)
    assert state['cleanup_begun_on'] == ['b']
    refusal = state['rollback_refusal']
    assert 'has begun on b (expansion-2.cleanup (modulus 1, an earlier expansion, ignored), expansion-3.cleanup' in refusal
    assert 'marks /var/lib/smooth-mariadb/expansion-3.cleanup)' in refusal
    assert 'expansion-2.cleanup)' not in refusal.split('marks ')[1]
    assert refusal.endswith('Nothing was changed.') and 'run playbooks/expand_2n.yml again' in refusal
    assert rollback_refusal(dict(state, cleanup_begun_on=[]), plan) == ''


def test_only_marks_of_an_earlier_expansion_do_not_refuse():
    fleet, plan = one_shard()
    infos = joined_infos()
    infos['a']['cleanup_marks'] = [{'mark': 'expansion-1.cleanup', 'path': '/x/expansion-1.cleanup', 'modulus': 1}]
    assert expansion_state(infos, plan, fleet)['rollback_refusal'] == ''


def test_a_current_node_that_does_not_run_is_a_problem_not_a_split_pair():
    fleet, plan = one_shard()
    infos = joined_infos()
    infos['b'] = {'running': False, 'source': 'option files'}
    state = expansion_state(infos, plan, fleet)
    assert not state['ok']
    assert state['problems'] == ['b: MariaDB does not run there (option files), so the state of its pair cannot be '
                                 'read; start it (systemctl start mariadb) and run the playbook again']
    assert 'b' not in state['nodes']
    # Its partner's pair is decided from its own link only: the plays stop on the problem first.
    assert state['nodes']['a']['pair'] == 'half_split'


def test_a_current_node_without_a_reading_is_a_problem():
    fleet, plan = one_shard()
    infos = joined_infos()
    del infos['a']
    assert expansion_state(infos, plan, fleet)['problems'] == ['a: no reading of its state (is it in the play?)']


def test_the_filter_wraps_bad_input_in_a_filter_error():
    fleet, plan = one_shard()
    infos = joined_infos()
    infos['a']['gtid_binlog_pos'] = 'garbage'
    state = FILTERS['expansion_state'](infos, plan, fleet)
    assert state['problems'] == ["a: invalid GTID 'garbage': expected domain-server_id-sequence, e.g. '0-1-100'"]
    with pytest.raises(AnsibleFilterError, match='cannot decide the state'):
        FILTERS['expansion_state'](infos, {}, fleet)


# --- reading the marks ----------------------------------------------------------

def test_read_cleanup_marks_reads_only_mark_files(tmp_path):
    (tmp_path / 'expansion-2.cleanup').write_text('cleanup of map version 2 (modulus 4) began 2026-12-03T10:00:00Z\n')
    (tmp_path / 'expansion-5.cleanup').write_text('\xff garbled')
    (tmp_path / 'expansion-7.cleanup').mkdir()
    (tmp_path / 'notes.txt').write_text('modulus 8')
    marks = read_cleanup_marks(str(tmp_path))
    assert [(mark['mark'], mark['modulus']) for mark in marks] == [('expansion-2.cleanup', 4), ('expansion-5.cleanup', None)]
    assert marks[0]['path'] == os.path.join(str(tmp_path), 'expansion-2.cleanup')
    assert marks[0]['text'] == 'cleanup of map version 2 (modulus 4) began 2026-12-03T10:00:00Z'
    assert read_cleanup_marks(str(tmp_path / 'absent')) == []


def test_an_unreadable_mark_is_an_error_not_no_mark(tmp_path, monkeypatch):
    (tmp_path / 'expansion-2.cleanup').write_text('modulus 4')

    def refuse(path, mode='r'):
        raise PermissionError(13, 'Permission denied', path)

    # The tests run as root, who reads every file: the refusal is simulated.
    monkeypatch.setattr(server_reading, 'open', refuse, raising=False)
    with pytest.raises(OSError, match='Permission denied'):
        server_reading.read_cleanup_marks(str(tmp_path))


# --- the settings a split needs -------------------------------------------------

GOOD_VARIABLES = {'binlog_format': 'ROW', 'log_bin': True, 'log_slave_updates': True, 'slave_skip_errors': 'OFF'}


@pytest.mark.parametrize('changes, problem', [
    ({}, ''),
    ({'slave_skip_errors': ''}, ''),
    ({'binlog_format': 'MIXED'}, 'binlog_format MIXED (needs ROW)'),
    ({'log_bin': False}, 'log_bin False (needs ON)'),
    ({'log_slave_updates': False, 'slave_skip_errors': 'ALL'},
     'log_slave_updates False (needs ON), slave_skip_errors ALL (needs OFF)'),
    ({'slave_skip_errors': '1062'}, 'slave_skip_errors 1062 (needs OFF)'),
])
def test_settings_problem_names_every_wrong_setting(changes, problem):
    assert settings_problem(dict(GOOD_VARIABLES, **changes)) == problem


def test_settings_problem_of_a_reading_without_variables_names_them_all():
    assert settings_problem(None) == ('binlog_format None (needs ROW), log_bin None (needs ON), '
                                      'log_slave_updates None (needs ON), slave_skip_errors None (needs OFF)')


def test_the_state_carries_settings_and_data_size_of_current_nodes_only():
    fleet, plan = one_shard()
    infos = joined_infos()
    infos['a']['variables'] = GOOD_VARIABLES
    infos['a']['data_bytes'] = 4096
    infos['b']['variables'] = dict(GOOD_VARIABLES, binlog_format='STATEMENT')
    nodes = expansion_state(infos, plan, fleet)['nodes']
    assert (nodes['a']['settings_problem'], nodes['a']['data_bytes']) == ('', 4096)
    assert nodes['b']['settings_problem'] == 'binlog_format STATEMENT (needs ROW)'
    assert (nodes['c']['settings_problem'], nodes['c']['data_bytes']) == ('', None)
