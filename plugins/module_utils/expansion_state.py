# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The state of an expansion, decided from what every node reports.

``smooth.mariadb.expansion_info`` reads, in one call per node, what the
phases of ``expand_2n.yml`` and ``rollback_2n.yml`` decide on: the
replication connections, the GTID domains of the binary log, the seed record,
the split points and the marks the cleanup leaves before it deletes anything.
The functions here turn those readings into decisions; they are pure (no I/O)
and unit tested, and the filter ``smooth.mariadb.expansion_state`` exposes
:func:`expansion_state` to the playbooks.

The states:

- a pair (current node and its old partner) is ``joined`` while both nodes
  replicate from each other, ``split`` once neither does, ``half_split`` in
  between (a split that stopped half way);
- the cleanup of an expansion has ``begun`` on a node when one of its marks
  names a modulus greater than the fleet's current one, whatever map version
  it was for (an operator may have moved ``smooth_shard_map_version`` since),
  or when its modulus cannot be read (fail safe); marks of an earlier,
  finished expansion (modulus <= N) do not count;
- a new node is ``linked`` when it replicates from its partner (the node it
  is seeded from) and ``seeded`` when its seed record exists;
- the expansion is ``complete`` when the verify phase left its mark
  (``expansion-<version>.done``, naming the new modulus) on every node of the
  plan and the fleet still is as verified: every old pair split, every new
  pair replicating both ways, every new node seeded. A re-run then skips the
  phases that change things (their work is done) and verifies again.
"""

from __future__ import annotations

import re

from ansible_collections.smooth.mariadb.plugins.module_utils.replication import parse_gtid_list

PAIR_JOINED = 'joined'
PAIR_HALF_SPLIT = 'half_split'
PAIR_SPLIT = 'split'

MARK_PREFIX = 'expansion-'
MARK_SUFFIX = '.cleanup'
DONE_SUFFIX = '.done'
_MODULUS_RE = re.compile(r'modulus ([0-9]+)')


class StateError(ValueError):
    """A reading the state cannot be decided from."""


def is_mark_name(name, suffix=MARK_SUFFIX):
    """Whether a file name is a mark: ``expansion-<version><suffix>`` (the cleanup's by default)."""
    return name.startswith(MARK_PREFIX) and name.endswith(suffix) and len(name) > len(MARK_PREFIX + suffix)


def done_mark_name(version):
    """File name of the mark the verify phase leaves for the expansion to shard map ``version``."""
    return '%s%d%s' % (MARK_PREFIX, int(version), DONE_SUFFIX)


def done_mark_text(version, modulus):
    """What that mark says (read back by :func:`mark_modulus`)."""
    return 'expansion to shard map version %d (modulus %d) verified\n' % (int(version), int(modulus))


def verified(done_marks, plan):
    """Whether one of a node's done marks is the one of this plan: its version's name, naming its modulus."""
    name = done_mark_name(plan['version'])
    return any(mark.get('mark') == name and mark.get('modulus') == int(plan['modulus']) for mark in done_marks or [])


def mark_modulus(text):
    """The modulus a cleanup mark names (``"... (modulus 4) began"``), None when it names none."""
    found = _MODULUS_RE.search(text or '')
    return int(found.group(1)) if found else None


def cleanup_marks(marks, previous_modulus):
    """Decide which marks count: ``[{mark, path, modulus}]`` -> the same with ``begun``, sorted by path."""
    previous_modulus = int(previous_modulus)
    decided = []
    for mark in sorted(marks, key=lambda item: item.get('path') or item['mark']):
        modulus = mark.get('modulus')
        decided.append(dict(mark, begun=modulus is None or int(modulus) > previous_modulus))
    return decided


def cleanup_report(marks):
    """One line on the marks, for the operator."""
    parts = []
    for mark in marks:
        if mark['modulus'] is None:
            what = 'modulus unreadable, counted as begun'
        elif mark['begun']:
            what = 'modulus %d, begun' % mark['modulus']
        else:
            what = 'modulus %d, an earlier expansion, ignored' % mark['modulus']
        parts.append('%s (%s)' % (mark['mark'], what))
    return ', '.join(parts) or 'no mark'


def link_to(connections, address):
    """Name of the replication connection whose source is ``address`` (the first by name), None if none."""
    if not address:
        return None
    names = sorted(name for name, status in (connections or {}).items() if status.get('source_host') == address)
    return names[0] if names else None


def split_links_problem(connections, old_address, new_address, only_new=False):
    """What keeps a node's replication from being as the split and the seed leave it; '' when nothing.

    A node whose pair is split and whose new pair is joined replicates from its
    new partner (exactly one running connection from ``new_address``) and not
    from its old partner (no connection from ``old_address``, running or not).
    With ``only_new`` (the verify phase) it replicates from no other source
    either.
    """
    connections = connections or {}

    def named(names):
        return ', '.join("'%s'" % name for name in names)

    from_old = sorted(name for name, status in connections.items()
                      if old_address and status.get('source_host') == old_address)
    from_new = sorted(name for name, status in connections.items() if status.get('source_host') == new_address)
    running_new = [name for name in from_new if connections[name].get('running')]
    problems = []
    if from_old:
        problems.append('it still has a replication connection from its old partner %s (%s)' % (old_address, named(from_old)))
    if len(running_new) != 1:
        problems.append('it has %d running replication connection(s) from its new partner %s (needs 1; %s)'
                        % (len(running_new), new_address,
                           'connections from it: %s' % named(from_new) if from_new else 'none from it'))
    if only_new:
        others = sorted(name for name, status in connections.items()
                        if status.get('source_host') != new_address and name not in from_old)
        if others:
            problems.append('it also replicates from %s' % ', '.join(
                "%s ('%s')" % (connections[name].get('source_host'), name) for name in others))
    return '; '.join(problems)


def pair_state(own_link, partner_link):
    """``joined``, ``half_split`` or ``split`` from the links of both nodes of a pair to each other."""
    linked = len([link for link in (own_link, partner_link) if isinstance(link, str)])
    return {2: PAIR_JOINED, 0: PAIR_SPLIT}.get(linked, PAIR_HALF_SPLIT)


def gtid_domains(position):
    """The GTID domains of a position such as ``@@gtid_binlog_pos``, sorted."""
    try:
        return sorted(parse_gtid_list(position or ''))
    except ValueError as exc:
        raise StateError(str(exc))


def wrote_in_domain(position, domain):
    """Whether ``position`` holds a GTID of ``domain``: the server owning that domain wrote something."""
    return int(domain) in gtid_domains(position)


def settings_problem(variables):
    """What is wrong with the replication settings of a current node, '' when nothing.

    A pair splits safely only with row-based binary logs that hold what the node
    applied from its partner, and no replication error skipped.
    """
    variables = variables or {}
    wrong = []
    if variables.get('binlog_format') != 'ROW':
        wrong.append('binlog_format %s (needs ROW)' % variables.get('binlog_format'))
    if variables.get('log_bin') is not True:
        wrong.append('log_bin %s (needs ON)' % variables.get('log_bin'))
    if variables.get('log_slave_updates') is not True:
        wrong.append('log_slave_updates %s (needs ON)' % variables.get('log_slave_updates'))
    if variables.get('slave_skip_errors') not in ('OFF', ''):
        wrong.append('slave_skip_errors %s (needs OFF)' % variables.get('slave_skip_errors'))
    return ', '.join(wrong)


def _node(plan, name):
    try:
        return plan['nodes'][name]
    except (KeyError, TypeError):
        raise StateError('%s is not a node of the plan' % name)


def _position(position):
    """A binary log position as read, once it parses as a GTID list (StateError if not)."""
    gtid_domains(position)
    return position or ''


def _current_state(name, info, fleet_node, target, plan):
    connections = info.get('connections') or {}
    marks = cleanup_marks(info.get('cleanup_marks') or [], plan['previous_modulus'])
    return {
        'role': 'existing',
        'running': True,
        'old_partner': fleet_node['partner'],
        'new_partner': target['partner'],
        'old_link': link_to(connections, fleet_node.get('partner_address')),
        'new_link': link_to(connections, target.get('partner_address')),
        'connections': connections,
        'cleanup_marks': marks,
        'cleanup_begun': any(mark['begun'] for mark in marks),
        'cleanup_report': cleanup_report(marks),
        'gtid_binlog_pos': _position(info.get('gtid_binlog_pos')),
        'split_points': info.get('split_points') or [],
        'seeded': bool(info.get('seeded')),
        'seed_link': None,
        'settings_problem': settings_problem(info.get('variables')),
        'data_bytes': info.get('data_bytes'),
        'verified': verified(info.get('done_marks'), plan),
    }


def _new_state(name, info, target, plan):
    running = bool(info.get('running'))
    connections = (info.get('connections') or {}) if running else {}
    # The keys of a current node's state too, so that every node has the same shape.
    return {
        'role': 'new',
        'running': running,
        'partner': target['partner'],
        'seed_link': link_to(connections, target.get('partner_address')),
        'connections': connections,
        'seeded': bool(info.get('seeded')),
        'holds_data': bool(info.get('holds_data')),
        'pair': None,
        'old_link': None,
        'new_link': None,
        'cleanup_marks': [],
        'cleanup_begun': False,
        'cleanup_report': '',
        'settings_problem': '',
        'data_bytes': None,
        'verified': verified(info.get('done_marks'), plan),
    }


def expansion_state(infos, plan, fleet):
    """Decide the state of every node and pair of an expansion.

    infos: ``{node: result of smooth.mariadb.expansion_info}`` for the current
    and the new nodes; plan: the result of ``expansion_plan``; fleet: the
    current fleet (``shard_topology``). Returns ``{'nodes': {node: state},
    'problems': [text], 'cleanup_begun_on': [node], 'new_partner_links_on': [current
    node that replicates from its new partner], 'rollback_refusal': text,
    'ok': bool, 'complete': bool, 'complete_report': text, 'done_mark':
    {'name', 'text'}}`` (see :func:`completion`). A current
    node whose server does not run, or whose reading is missing, is a problem:
    the state of its pair cannot be known.
    """
    problems = []
    nodes = {}
    infos = infos or {}
    for name in sorted(fleet):
        info = infos.get(name)
        if info is None:
            problems.append('%s: no reading of its state (is it in the play?)' % name)
            continue
        if not info.get('running'):
            problems.append('%s: MariaDB does not run there (%s), so the state of its pair cannot be read; '
                            'start it (systemctl start mariadb) and run the playbook again'
                            % (name, info.get('source') or 'no server'))
            continue
        try:
            nodes[name] = _current_state(name, info, fleet[name], _node(plan, name), plan)
        except StateError as exc:
            problems.append('%s: %s' % (name, exc))
    for name in sorted(plan['nodes']):
        if name in fleet:
            continue
        target = plan['nodes'][name]
        nodes[name] = _new_state(name, infos.get(name) or {}, target, plan)
    for name in sorted(fleet):
        if name not in nodes:
            continue
        partner = fleet[name]['partner']
        partner_state = nodes.get(partner)
        nodes[name]['pair'] = pair_state(nodes[name]['old_link'], partner_state['old_link'] if partner_state else None)
    begun = sorted(name for name, state in nodes.items() if state.get('cleanup_begun'))
    # The current nodes that replicate from their new partner already (a connection, named '' or not).
    joined = sorted(name for name in fleet if name in nodes and nodes[name]['new_link'] is not None)
    state = {'ok': not problems, 'problems': problems, 'nodes': nodes, 'cleanup_begun_on': begun,
             'new_partner_links_on': joined}
    state['rollback_refusal'] = rollback_refusal(state, plan)
    state['complete'], state['complete_report'] = completion(state, plan, fleet)
    state['done_mark'] = {'name': done_mark_name(plan['version']), 'text': done_mark_text(plan['version'], plan['modulus'])}
    return state


def completion(state, plan, fleet):
    """``(complete, why)``: whether the expansion of ``plan`` is done and the fleet still is as verified.

    Complete only when nothing is in doubt: the state was read on every node,
    every node of the plan carries the verify phase's mark of this version and
    modulus, every old pair is split, every node replicates from its new
    partner (the connection running) and from no other source, and every new
    node is seeded. Anything else leaves the phases to run (they continue from the
    state they find); ``why`` then names the first node that is not as verified.
    """
    if not state['ok']:
        return False, 'the state of the fleet cannot be read'
    nodes = state['nodes']
    for name in sorted(plan['nodes']):
        node = nodes.get(name)
        if node is None:
            return False, '%s: no reading of its state' % name
        if not node['verified']:
            return False, '%s: no mark %s of a verified expansion' % (name, done_mark_name(plan['version']))
        if name in fleet:
            if node['pair'] != PAIR_SPLIT:
                return False, '%s: the pair with %s is %s' % (name, node['old_partner'], node['pair'])
            old_address = fleet[name].get('partner_address')
        else:
            if not (node['running'] and node['seeded']):
                return False, '%s: runs %s, seeded %s' % (name, node['running'], node['seeded'])
            old_address = None
        # Running, from the new partner only: what the verify phase checks (a stopped thread is not as verified).
        problem = split_links_problem(node['connections'], old_address, plan['nodes'][name].get('partner_address'), True)
        if problem:
            return False, '%s: %s' % (name, problem)
    why = ('the expansion to shard map version %d (%d shards) was verified on every node (marks %s), and every pair '
           'still replicates as verified' % (int(plan['version']), int(plan['modulus']), done_mark_name(plan['version'])))
    return True, why


def rollback_refusal(state, plan):
    """Why a rollback must not start (the cleanup has begun somewhere), or '' when it may."""
    begun = state['cleanup_begun_on']
    if not begun:
        return ''
    where = ', '.join('%s (%s)' % (name, state['nodes'][name]['cleanup_report']) for name in begun)
    paths = sorted(set(mark['path'] for name in begun for mark in state['nodes'][name]['cleanup_marks']
                       if mark['begun'] and mark.get('path')))
    return ('The cleanup of an expansion beyond %d shard(s) has begun on %s (marks %s): rows the other half owns are '
            'being (or were) deleted there, so one pair can no longer serve the old modulus %d and a rollback would '
            'lose them. Finish the expansion instead: run playbooks/expand_2n.yml again (with the '
            'smooth_shard_map_version of that expansion), it continues from the state it finds. Nothing was changed.'
            % (plan['previous_modulus'], where, ', '.join(paths) or 'unknown', plan['previous_modulus']))
