# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shard map the application routes by: its digest, and what an application reports.

A version number alone does not prove which map an application runs: an
application that refuses a map whose version it already has with other
content keeps that version, and reports it. So every published map carries
the digest of its content, and an application host counts as having loaded a
map only when it reports that map's version *and* digest.

The digest (``map_digest``), for application authors:

1. take the map's ``modulus`` and its ``datasources``, each datasource with
   exactly the keys ``name``, ``shard``, ``host`` and ``port`` (not the
   ``version``, not the ``digest``, no other key);
2. write ``{"datasources": [...], "modulus": m}`` as JSON with the keys of
   every object sorted, no whitespace (separators ``,`` and ``:``), integers
   as integers, strings with non-ASCII characters escaped (``\\uXXXX``);
3. the digest is the SHA-256 of that text (UTF-8), as 64 lower-case
   hexadecimal digits.

In Python: ``hashlib.sha256(json.dumps({'modulus': m, 'datasources': ds},
sort_keys=True, separators=(',', ':'), ensure_ascii=True).encode('utf-8')).hexdigest()``.
For ``{"version": 1, "modulus": 1, "datasources": [{"name": "ds_0", "shard": 0,
"host": "10.0.0.200", "port": 3306}]}`` the text is
``{"datasources":[{"host":"10.0.0.200","name":"ds_0","port":3306,"shard":0}],"modulus":1}``
(see ``EXAMPLE_DIGEST``).

An application reports the map it has loaded (``smooth_route_version_url``
answers, ``smooth_route_version_command`` prints) as a JSON object with
``version`` and ``digest`` (other keys are ignored), or as the whole map it
has loaded (``version``, ``modulus``, ``datasources``; its digest is computed
here), or, from a command, as the two words ``<version> <digest>``.

Everything here is pure.
"""

from __future__ import annotations

import hashlib
import json
import re

from ansible_collections.smooth.mariadb.plugins.module_utils.expansion import read_shard_map
from ansible_collections.smooth.mariadb.plugins.module_utils.topology import TopologyError

DIGEST_KEYS = ('modulus', 'datasources')
DATASOURCE_KEYS = ('name', 'shard', 'host', 'port')
EXAMPLE_MAP = {'version': 1, 'modulus': 1,
               'datasources': [{'name': 'ds_0', 'shard': 0, 'host': '10.0.0.200', 'port': 3306}]}
EXAMPLE_CANONICAL = '{"datasources":[{"host":"10.0.0.200","name":"ds_0","port":3306,"shard":0}],"modulus":1}'
EXAMPLE_DIGEST = '574cdb4564f41eb87ec28a25effd2bf9dafb34d88936c914b4addf7008eedcd4'

# The states of an application host relative to a plan (app_map_state).
STATE_PREVIOUS = 'previous'        # the map the plan replaces: previous_version, the old layout
STATE_NEW = 'new'                  # the plan's new map: version, the new layout
STATE_ROLLED_BACK = 'rolled_back'  # the plan's rollback map: version + 1, the old layout
STATE_OTHER = 'other'              # a map of none of these (version, content) pairs
STATE_UNREADABLE = 'unreadable'    # no usable answer (no digest, no version, not JSON, ...)
STATES = (STATE_PREVIOUS, STATE_NEW, STATE_ROLLED_BACK, STATE_OTHER, STATE_UNREADABLE)

_DIGEST = re.compile(r'^[0-9a-fA-F]{64}$')
_VERSION = re.compile(r'^[0-9]{1,18}$')

WHAT_TO_REPORT = ('the application must report the map it has loaded: JSON with "version" and "digest" (the SHA-256 '
                  'of the canonical JSON of its modulus and datasources, see the README: "The digest of a shard map"), '
                  'or the whole map it has loaded (version, modulus, datasources), or, from a command, the two words '
                  '"<version> <digest>"; a version alone does not prove which map it runs (an application keeps its '
                  'version when it refuses a map of that version with other content)')


class RouteError(ValueError):
    """A map or a plan that cannot be used; the message is for the user."""


def map_content(shard_map):
    """The part of a map the digest covers: ``{modulus, datasources}``, each datasource with DATASOURCE_KEYS only."""
    checked = read_shard_map(shard_map)
    return {'modulus': checked['modulus'],
            'datasources': [dict((key, source[key]) for key in DATASOURCE_KEYS) for source in checked['datasources']]}


def canonical_content(shard_map):
    """The text the digest is taken of (module docstring, steps 1 and 2)."""
    return json.dumps(map_content(shard_map), sort_keys=True, separators=(',', ':'), ensure_ascii=True)


def map_digest(shard_map):
    """The digest of a map's content (or of an expansion plan's ``shard_map``): 64 lower-case hex digits.

    Raises ExpansionError (a TopologyError) on a map that is not valid. A
    ``digest`` key in the map is not trusted: the digest is always computed.
    """
    return hashlib.sha256(canonical_content(shard_map).encode('utf-8')).hexdigest()


def published_map(shard_map):
    """The map as published: ``{version, modulus, datasources, digest}``.

    Refuses a map that carries a digest of other content (a map edited by
    hand after it was rendered, or a digest computed another way).
    """
    checked = read_shard_map(shard_map)
    source = shard_map['shard_map'] if isinstance(shard_map, dict) and 'shard_map' in shard_map else shard_map
    digest = map_digest(checked)
    given = source.get('digest')
    if given is not None and (not isinstance(given, str) or given.lower() != digest):
        raise RouteError('shard map version %d carries the digest %r, but its content (modulus and datasources) has the '
                         'digest %s: the map was changed after its digest was taken, or the digest was computed '
                         'another way' % (checked['version'], given, digest))
    return dict(checked, digest=digest)


def _version(value):
    """A version from an int or digit text; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and _VERSION.match(value.strip()):
        return int(value.strip())
    return None


def read_app_answer(answer, source):
    """What an application reports: ``(version, digest, modulus, problem)``.

    ``answer`` is the JSON of a URL's answer (a dict), the text of a command's
    output or of a map file, or None (no answer). ``source`` names where it
    came from, for the message (for example ``smooth_route_version_url
    (http://127.0.0.1:8080/version)``). ``problem`` is None when version and
    digest were both read; modulus is known only from a whole map.
    """
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        return None, None, None, '%s gave no answer; %s' % (source, WHAT_TO_REPORT)
    if isinstance(answer, bytes):
        answer = answer.decode('utf-8', 'replace')
    if isinstance(answer, str):
        text = answer.strip()
        if text.startswith('{'):
            try:
                answer = json.loads(text)
            except ValueError as exc:
                return None, None, None, '%s answered text that is not JSON (%s): %r; %s' % (
                    source, exc, text[:200], WHAT_TO_REPORT)
        else:
            words = text.split()
            if len(words) == 2 and _version(words[0]) is not None and _DIGEST.match(words[1]):
                return _version(words[0]), words[1].lower(), None, None
            version = _version(words[0]) if len(words) == 1 else None
            if version is not None:
                return version, None, None, '%s printed the version %d without a digest; %s' % (
                    source, version, WHAT_TO_REPORT)
            return None, None, None, '%s printed %r, which is neither "<version> <digest>" nor JSON; %s' % (
                source, text[:200], WHAT_TO_REPORT)
    if not isinstance(answer, dict):
        return None, None, None, '%s answered %r, not a JSON object; %s' % (source, answer, WHAT_TO_REPORT)
    if answer.get('version') is None:
        return None, None, None, ('%s reports no loaded shard map (version %r%s); %s'
                                  % (source, answer.get('version'),
                                     ', last error: %s' % answer['last_error'] if answer.get('last_error') else '',
                                     WHAT_TO_REPORT))
    version = _version(answer.get('version'))
    if version is None:
        return None, None, None, '%s reports the version %r, not a whole number; %s' % (
            source, answer.get('version'), WHAT_TO_REPORT)
    digest = answer.get('digest')
    if digest is not None and (not isinstance(digest, str) or not _DIGEST.match(digest)):
        return version, None, None, '%s reports the digest %r, not 64 hexadecimal digits; %s' % (
            source, digest, WHAT_TO_REPORT)
    digest = digest.lower() if digest is not None else None
    modulus = None
    if 'datasources' in answer:
        try:
            content_digest = map_digest(answer)
        except TopologyError as exc:
            return version, None, None, '%s reports a map that is not valid (%s); %s' % (source, exc, WHAT_TO_REPORT)
        if digest is not None and digest != content_digest:
            return version, None, None, ('%s reports the digest %s with a map whose content has the digest %s: '
                                         'the application computes the digest another way; %s'
                                         % (source, digest, content_digest, WHAT_TO_REPORT))
        digest = content_digest
        modulus = answer.get('modulus')
    if digest is None:
        return version, None, None, '%s reports the version %d without a digest; %s' % (source, version, WHAT_TO_REPORT)
    if isinstance(answer.get('modulus'), int) and not isinstance(answer.get('modulus'), bool):
        modulus = answer['modulus']
    return version, digest, modulus, None


def plan_maps(plan):
    """The (state, version, digest, modulus) of the maps a plan knows: the new one, the one it replaces, the rollback."""
    needed = ('shard_map', 'rollback_shard_map', 'previous_version')
    if not isinstance(plan, dict) or any(key not in plan for key in needed):
        raise RouteError('expected an expansion plan (smooth.mariadb.expansion_plan) with shard_map, rollback_shard_map '
                         'and previous_version, got %r' % (plan,))
    new = read_shard_map(plan['shard_map'], where='the plan\'s shard_map')
    rollback = read_shard_map(plan['rollback_shard_map'], where='the plan\'s rollback_shard_map')
    previous_version = _version(plan['previous_version'])
    if previous_version is None:
        raise RouteError('the plan\'s previous_version %r is not a whole number' % (plan['previous_version'],))
    old_digest = map_digest(rollback)
    return [
        (STATE_NEW, new['version'], map_digest(new), new['modulus']),
        (STATE_PREVIOUS, previous_version, old_digest, rollback['modulus']),
        (STATE_ROLLED_BACK, rollback['version'], old_digest, rollback['modulus']),
    ]


def app_map_state(answer, plan, source, accept=(STATE_PREVIOUS, STATE_NEW)):
    """Where an application host stands relative to a plan, decided on version and digest.

    Returns a dict: ``state`` (one of STATES), ``accepted`` (state in
    ``accept``), ``version`` and ``digest`` as reported (None when not read),
    ``fix_version`` (the smooth_shard_map_version that would make a plan
    fit what the application runs, when that can be told; else None), and
    ``problem`` (None when accepted; otherwise what is wrong and what to do,
    for the user). A host is in state ``new`` only when it reports the new
    map's version and digest; the same version with another digest is not.
    """
    unknown = [state for state in accept if state not in STATES]
    if unknown:
        raise RouteError('accept lists unknown state(s) %s; known: %s' % (', '.join(unknown), ', '.join(STATES)))
    maps = plan_maps(plan)
    (new_state, new_version, new_digest, new_modulus), (prev_state, prev_version, old_digest, old_modulus) = maps[:2]
    version, digest, modulus, problem = read_app_answer(answer, source)
    result = dict(version=version, digest=digest, fix_version=None, new_digest=new_digest, previous_digest=old_digest)
    if problem is not None:
        return dict(result, state=STATE_UNREADABLE, accepted=STATE_UNREADABLE in accept, problem=problem)
    state = STATE_OTHER
    for name, map_version, map_digest_value, _modulus in maps:
        if version == map_version and digest == map_digest_value:
            state = name
            break
    accepted = state in accept
    result.update(state=state, accepted=accepted)
    if accepted:
        return dict(result, problem=None)
    plan_text = ('this plan goes from version %d (modulus %d) to version %d (modulus %d)'
                 % (prev_version, old_modulus, new_version, new_modulus))
    if state == STATE_PREVIOUS:
        problem = ('the application still runs the map this plan replaces (version %d, modulus %d, digest %s), '
                   'not the new map version %d (modulus %d, digest %s)'
                   % (version, old_modulus, digest, new_version, new_modulus, new_digest))
    elif state == STATE_NEW:
        problem = ('the application already runs the new map version %d (modulus %d, digest %s)'
                   % (version, new_modulus, digest))
    elif digest == old_digest:
        clash = ''
        if version == new_version:
            clash = (' (an application that has version %d with other content refuses this plan\'s new map, and '
                     'keeps reporting version %d)' % (version, version))
        if state == STATE_ROLLED_BACK:
            clash = ' (a rollback of this plan published it)'
        result['fix_version'] = version
        problem = ('the application runs shard map version %d with the content of the map this plan replaces '
                   '(modulus %d, digest %s), but %s%s: smooth_shard_map_version must be the version the '
                   'application runs; set smooth_shard_map_version=%d (the version the application runs) and run again'
                   % (version, old_modulus, digest, plan_text, clash, version))
    elif digest == new_digest:
        result['fix_version'] = version - 1 if version >= 1 else None
        problem = ('the application runs shard map version %d with the content of this plan\'s new map (modulus %d, '
                   'digest %s), but %s: another run published it under another version%s'
                   % (version, new_modulus, digest, plan_text,
                      '; set smooth_shard_map_version=%d to continue that expansion' % (version - 1)
                      if version >= 1 else ''))
    else:
        problem = ('the application runs shard map version %d with a content (%sdigest %s) that is neither the map '
                   'this plan replaces (digest %s) nor its new map (digest %s); %s. The inventory '
                   '(smooth_shards, smooth_expansion_vip_pool, smooth_shard_map_version) does not describe the map the '
                   'application routes by: make it describe that map, or make the application load version %d'
                   % (version, 'modulus %s, ' % modulus if modulus is not None else '', digest, old_digest, new_digest,
                      plan_text, prev_version))
    return dict(result, problem=problem)


def unacknowledged(reports, shard_map):
    """The hosts (sorted) whose report is not the map's version and digest.

    ``reports`` maps a host to what app_map_state returned for it in this
    run, or to None (not read: left out by --limit, or its play not selected).
    Decided on the reported version and digest, not on a state or a message.
    """
    if not isinstance(reports, dict):
        raise RouteError('expected {host: the result of app_map_state or None}, got %r' % (reports,))
    checked = read_shard_map(shard_map)
    digest = map_digest(checked)
    missing = []
    for host in sorted(reports):
        report = reports[host]
        if not isinstance(report, dict) or report.get('version') != checked['version'] or report.get('digest') != digest:
            missing.append(host)
    return missing


# ---------------------------------------------------------------------------
# The rollback's route
# ---------------------------------------------------------------------------

def rollback_route_state(app_map, file_map, file_known):
    """Where one application host stands for a rollback: ``previous``, ``rolled_back`` or ``other``.

    app_map: what app_map_state says of the application's answer; file_map:
    the same of its map file (None when the file is not known); file_known:
    whether the map reaches the application through a file this run can read
    (without smooth_route_map_path a map sent over HTTP leaves the file to the
    application). ``previous``: the application and its file both run the map
    the plan replaced (the route phase never got that far); ``rolled_back``:
    both run the rollback map already (a re-run); ``other`` for anything else,
    such as the file at the new map while the application still reports the
    old one (its next reload would route to the VIPs the rollback removes).
    """
    app_state = (app_map or {}).get('state')
    file_state = (file_map or {}).get('state') if file_known else None
    if app_state == STATE_PREVIOUS and file_known and file_state == STATE_PREVIOUS:
        return STATE_PREVIOUS
    if app_state == STATE_ROLLED_BACK and (not file_known or file_state == STATE_ROLLED_BACK):
        return STATE_ROLLED_BACK
    return STATE_OTHER


def rollback_publish(own_state, all_states):
    """Whether the rollback publishes its map on a host: unless this host already runs it, or every
    application host still runs the map the plan replaced (nothing was ever routed)."""
    if own_state == STATE_ROLLED_BACK:
        return False
    return not all(state == STATE_PREVIOUS for state in (all_states or []))
