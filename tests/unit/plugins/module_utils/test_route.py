# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shard map's digest and the acknowledgement of a map by an application (module_utils/route.py)."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils.expansion import ExpansionError, expansion_plan
from ansible_collections.smooth.mariadb.plugins.module_utils.route import (
    EXAMPLE_CANONICAL,
    EXAMPLE_DIGEST,
    EXAMPLE_MAP,
    RouteError,
    app_map_state,
    canonical_content,
    map_digest,
    published_map,
    read_app_answer,
    rollback_publish,
    rollback_route_state,
    unacknowledged,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.topology import shard_topology

URL = 'smooth_route_version_url (http://127.0.0.1:8080/version)'


def plan_for(version, shards=1):
    fleet = shard_topology([{'vip': '10.0.0.%d/24' % (200 + i), 'nodes': ['n%da' % i, 'n%db' % i]}
                            for i in range(shards)])
    partners = dict((node, 'x' + node) for node in fleet)
    pool = ['10.0.0.%d/24' % (220 + i) for i in range(shards)]
    return expansion_plan(fleet, partners, pool, version)


def old_map(version, shards=1):
    return {'version': version, 'modulus': shards,
            'datasources': [{'name': 'ds_%d' % i, 'shard': i, 'host': '10.0.0.%d' % (200 + i), 'port': 3306}
                            for i in range(shards)]}


def report(shard_map, **extra):
    """What the lab application answers on GET /version for a loaded map."""
    return dict({'version': shard_map['version'], 'modulus': shard_map['modulus'], 'digest': map_digest(shard_map),
                 'loaded_at': 1.0, 'last_error': None, 'in_flight': 0, 'switching': False}, **extra)


# -- the digest --------------------------------------------------------------------------------------

def test_digest_is_the_documented_algorithm():
    assert canonical_content(EXAMPLE_MAP) == EXAMPLE_CANONICAL
    assert map_digest(EXAMPLE_MAP) == EXAMPLE_DIGEST
    assert EXAMPLE_DIGEST == hashlib.sha256(EXAMPLE_CANONICAL.encode('utf-8')).hexdigest()
    by_hand = json.dumps({'modulus': 1, 'datasources': EXAMPLE_MAP['datasources']}, sort_keys=True,
                         separators=(',', ':'), ensure_ascii=True)
    assert by_hand == EXAMPLE_CANONICAL


def test_digest_leaves_out_the_version_and_other_keys_but_not_the_content():
    base = old_map(1, shards=2)
    assert map_digest(base) == map_digest(dict(base, version=11))
    extra = copy.deepcopy(base)
    extra['datasources'][0]['weight'] = 3
    extra['digest'] = 'f' * 64   # never trusted
    extra['comment'] = 'anything'
    assert map_digest(extra) == map_digest(base)
    for change in (lambda m: m['datasources'][1].update(host='10.0.0.250'),
                   lambda m: m['datasources'][0].update(port=3307),
                   lambda m: m.update(modulus=1, datasources=m['datasources'][:1])):
        other = copy.deepcopy(base)
        change(other)
        assert map_digest(other) != map_digest(base)


def test_digest_of_a_plan_is_that_of_its_new_map_and_the_rollback_has_the_old_content():
    plan = plan_for(11)
    assert map_digest(plan) == map_digest(plan['shard_map'])
    assert map_digest(plan['rollback_shard_map']) == map_digest(old_map(11))
    assert map_digest(plan) != map_digest(old_map(11))


def test_digest_refuses_an_invalid_map():
    with pytest.raises(ExpansionError):
        map_digest({'version': 1, 'modulus': 2, 'datasources': []})


def test_published_map_carries_the_digest_and_refuses_another():
    plan = plan_for(3)
    published = published_map(plan)
    assert published == dict(plan['shard_map'], digest=map_digest(plan))
    assert published_map(published) == published
    assert published_map(dict(published, digest=published['digest'].upper())) == published
    with pytest.raises(RouteError) as err:
        published_map(dict(published, digest=map_digest(old_map(3))))
    assert 'carries the digest' in str(err.value) and 'changed after its digest was taken' in str(err.value)


# -- reading what the application reports -----------------------------------------------------------------------

def test_read_app_answer_forms():
    digest = map_digest(old_map(1))
    assert read_app_answer({'version': 1, 'digest': digest}, URL) == (1, digest, None, None)
    assert read_app_answer(report(old_map(1)), URL) == (1, digest, 1, None)
    assert read_app_answer({'version': 1, 'digest': digest.upper()}, URL)[:2] == (1, digest)
    # the whole map: its digest is computed
    assert read_app_answer(old_map(7), URL) == (7, digest, 1, None)
    # text: JSON, or "<version> <digest>"
    assert read_app_answer(json.dumps(report(old_map(1))) + '\n', URL)[:2] == (1, digest)
    assert read_app_answer('  2 %s\n' % digest, 'smooth_route_version_command (x)') == (2, digest, None, None)
    assert read_app_answer(b'2 ' + digest.encode(), 'cmd')[:2] == (2, digest)


@pytest.mark.parametrize('answer, said', [
    ({'version': 1, 'modulus': 1}, 'reports the version 1 without a digest'),
    ('1', 'printed the version 1 without a digest'),
    ('1\n', 'printed the version 1 without a digest'),
    (None, 'gave no answer'),
    ('', 'gave no answer'),
    ('{"version": ', 'not JSON'),
    ('version one', 'neither "<version> <digest>" nor JSON'),
    ([1], 'not a JSON object'),
    ({'version': None, 'last_error': 'boom'}, 'reports no loaded shard map (version None, last error: boom)'),
    ({'version': 'x', 'digest': 'a' * 64}, "reports the version 'x', not a whole number"),
    ({'version': -1, 'digest': 'a' * 64}, 'not a whole number'),
    ({'version': True, 'digest': 'a' * 64}, 'not a whole number'),
    ({'version': 1, 'digest': 'abc'}, "reports the digest 'abc', not 64 hexadecimal digits"),
    (dict(old_map(1), digest='a' * 64), 'with a map whose content has the digest'),
    ({'version': 1, 'modulus': 2, 'datasources': []}, 'reports a map that is not valid'),
])
def test_read_app_answer_refuses_what_does_not_name_a_map(answer, said):
    version, digest, _modulus, problem = read_app_answer(answer, URL)
    assert digest is None
    assert said in problem
    assert problem.startswith(URL)
    assert 'the application must report the map it has loaded: JSON with "version" and "digest"' in problem


# -- the acknowledgement decision ----------------------------------------------------------------------------

def test_states_of_a_plan():
    plan = plan_for(1)
    assert app_map_state(report(old_map(1)), plan, URL)['state'] == 'previous'
    assert app_map_state(report(plan['shard_map']), plan, URL)['state'] == 'new'
    assert app_map_state(report(plan['rollback_shard_map']), plan, URL,
                         accept=['previous', 'new', 'rolled_back'])['state'] == 'rolled_back'
    new = app_map_state(report(plan['shard_map']), plan, URL, accept=['new'])
    assert new['accepted'] is True and new['problem'] is None
    assert new['version'] == 2 and new['digest'] == map_digest(plan) == new['new_digest']
    assert new['previous_digest'] == map_digest(old_map(1))


def test_the_version_one_below_what_the_application_runs_is_refused_with_the_fix():
    # The DBA's case: the application runs version 11 with modulus 1; the inventory says 10, so the plan's
    # new map is version 11 with modulus 2, which the application refuses and keeps reporting version 11.
    plan = plan_for(10)
    assert plan['version'] == 11
    state = app_map_state(report(old_map(11)), plan, URL)
    assert state['state'] == 'other' and state['accepted'] is False
    assert state['version'] == 11 and state['fix_version'] == 11
    assert ('the application runs shard map version 11 with the content of the map this plan replaces (modulus 1, '
            'digest %s), but this plan goes from version 10 (modulus 1) to version 11 (modulus 2)'
            % map_digest(old_map(11))) in state['problem']
    assert 'refuses this plan\'s new map, and keeps reporting version 11' in state['problem']
    assert state['problem'].endswith('set smooth_shard_map_version=11 (the version the application runs) and run again')
    # After the route phase published version 11 (modulus 2), the application still reports 11: not acknowledged.
    ack = app_map_state(report(old_map(11)), plan, URL, accept=['new'])
    assert ack['accepted'] is False and ack['state'] == 'other'
    assert unacknowledged({'app1': ack}, plan) == ['app1']


def test_a_version_above_what_the_application_runs_names_the_version_too():
    plan = plan_for(12)
    state = app_map_state(report(old_map(11)), plan, URL)
    assert state['state'] == 'other' and state['fix_version'] == 11
    assert 'set smooth_shard_map_version=11' in state['problem']
    assert 'keeps reporting' not in state['problem']


def test_a_rolled_back_application_is_refused_by_an_expansion_and_named():
    plan = plan_for(1)
    state = app_map_state(report(plan['rollback_shard_map']), plan, URL)
    assert state['state'] == 'rolled_back' and not state['accepted']
    assert 'a rollback of this plan published it' in state['problem'] and 'smooth_shard_map_version=3' in state['problem']


def test_the_new_layout_under_another_version():
    plan = plan_for(1)
    state = app_map_state(report(dict(plan['shard_map'], version=5)), plan, URL)
    assert state['state'] == 'other' and state['fix_version'] == 4
    assert 'set smooth_shard_map_version=4 to continue that expansion' in state['problem']


def test_a_map_of_another_layout():
    plan = plan_for(1)
    elsewhere = old_map(1)
    elsewhere['datasources'][0]['host'] = '10.9.9.9'
    state = app_map_state(report(elsewhere), plan, URL)
    assert state['state'] == 'other' and state['fix_version'] is None
    assert 'neither the map this plan replaces' in state['problem']
    assert 'does not describe the map the application routes by' in state['problem']
    assert '(modulus 1, digest %s)' % map_digest(elsewhere) in state['problem']


def test_the_previous_map_is_not_the_new_one():
    plan = plan_for(1)
    state = app_map_state(report(old_map(1)), plan, URL, accept=['new'])
    assert state['state'] == 'previous' and not state['accepted']
    assert 'still runs the map this plan replaces (version 1' in state['problem']


def test_a_version_only_answer_is_never_acknowledged():
    plan = plan_for(1)
    for accept in (['new'], ['previous', 'new']):
        state = app_map_state({'version': 2, 'modulus': 2}, plan, URL, accept=accept)
        assert state['state'] == 'unreadable' and state['accepted'] is False
        assert state['problem'].startswith(URL + ' reports the version 2 without a digest')
    assert unacknowledged({'a': app_map_state('2', plan, 'smooth_route_version_command (cat v)')}, plan) == ['a']


def test_a_map_file_is_placed_too():
    plan = plan_for(1)
    text = json.dumps(published_map(plan['shard_map']), sort_keys=True, indent=2) + '\n'
    assert app_map_state(text, plan, 'the map file /etc/x.json', accept=[])['state'] == 'new'
    assert app_map_state(json.dumps(old_map(1)), plan, 'the map file /etc/x.json')['state'] == 'previous'


def test_app_map_state_refuses_a_bad_plan_or_state():
    with pytest.raises(RouteError) as err:
        app_map_state({'version': 1, 'digest': 'a' * 64}, {'version': 2}, URL)
    assert 'expected an expansion plan' in str(err.value)
    with pytest.raises(RouteError) as err:
        app_map_state({'version': 1, 'digest': 'a' * 64}, plan_for(1), URL, accept=['acked'])
    assert 'unknown state(s) acked' in str(err.value)


def test_unacknowledged_decides_on_version_and_digest():
    plan = plan_for(1)
    new = app_map_state(report(plan['shard_map']), plan, URL, accept=['new'])
    same_version_other_content = dict(new, digest=map_digest(old_map(1)))
    reports = {'b': new, 'a': new, 'c': None, 'd': same_version_other_content, 'e': dict(new, version=1),
               'f': 'new'}
    assert unacknowledged(reports, plan) == ['c', 'd', 'e', 'f']
    assert unacknowledged({'a': new}, plan['shard_map']) == []
    assert unacknowledged({}, plan) == []
    with pytest.raises(RouteError):
        unacknowledged(['a'], plan)


# --- the rollback's route ------------------------------------------------------------

@pytest.mark.parametrize('app, file_state, file_known, state', [
    ('previous', 'previous', True, 'previous'),
    ('previous', 'new', True, 'other'),          # the file already holds the new map: a reload would route to 2N
    ('previous', None, True, 'other'),           # no file (or no map in it) while one is expected
    ('previous', None, False, 'other'),          # over HTTP the file is the application's: never counted as previous
    ('rolled_back', 'rolled_back', True, 'rolled_back'),
    ('rolled_back', 'new', True, 'other'),
    ('rolled_back', None, False, 'rolled_back'),
    ('new', 'new', True, 'other'),
    ('unreadable', 'previous', True, 'other'),
])
def test_rollback_route_state(app, file_state, file_known, state):
    file_map = {'state': file_state} if file_state else None
    assert rollback_route_state({'state': app}, file_map, file_known) == state


@pytest.mark.parametrize('own, states, publish', [
    ('previous', ['previous', 'previous'], False),   # nothing was ever routed
    ('previous', ['previous', 'other'], True),       # another host got further: every host gets the rollback map
    ('other', ['other', 'previous'], True),
    ('rolled_back', ['rolled_back', 'other'], False),  # a re-run: this host has it already
    ('other', ['rolled_back', 'other'], True),
])
def test_rollback_publish(own, states, publish):
    assert rollback_publish(own, iter(states)) is publish
