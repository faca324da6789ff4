# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Divergence of the two nodes of a dual-master pair, judged while they take writes.

The decisions behind ``smooth.mariadb.pair_compare``, pure: the module reads,
these functions decide.

A pair's two nodes are compared chunk by chunk (primary key ranges, row count
and checksum, as ``smooth.mariadb.shard_verify`` compares mirrors). Under
writes a chunk read on one node and then on the other may differ only because
replication has not carried the newest write across yet. A chunk that differs
is read again, in attempts; each attempt

1. lets both nodes apply everything the other had when the last reading ended
   (``MASTER_GTID_WAIT``, bounded) and reads the chunk again on both, as
   before (a *plain* reading);
2. if that still differs, reads it *locked*: the chunk's rows are read with
   ``LOCK IN SHARE MODE`` on one node, so that nobody changes them there; the
   other node applies everything the first had at that moment, and reads its
   rows locked too; then the first node applies everything the other had.
   When both catch-ups complete, both readings reflect every write either node
   made to these rows, and no write to them is on its way: they must agree.
   The locks are held for the two catch-ups only (bounded) and released at
   once; the attempts alternate which node locks first, so rows written on
   either node can be frozen where they are written.

Verdicts (:func:`chunk_verdict`):

* the nodes agree in a reading: the chunk is **equal** (first reading) or
  **settled** (the difference was replication lag);
* a complete locked reading differs: **diverged**. So are :data:`CONFIRMATIONS`
  + 1 plain readings in a row with the same two different figures, each after
  a successful catch-up (when locking is off): each node applied every
  transaction behind the other's figures and neither changed. A write that
  replication did not carry (``sql_log_bin=0``, a write by hand on one node) or
  one that overwrote a newer value (both nodes written during a partition) made
  the rows differ, and replication will not repair them;
* after the last attempt neither: **unsettled**. The chunk kept changing under
  writes on both nodes at once (a locked reading cannot complete while the
  other node's writes to the same rows wait for the lock), or replication did
  not catch up in time, so its equality could not be proven. That is
  reported, never passed silently; the caller decides (refuse, or accept with
  a warning).
"""

from __future__ import annotations

from collections import namedtuple

from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import describe_pk

EQUAL = 'equal'
SETTLED = 'settled'
DIVERGED = 'diverged'
UNSETTLED = 'unsettled'

# Plain readings after the one that first saw the difference that must repeat
# it, unchanged on both nodes and each after a successful catch-up, before a
# chunk counts as diverged without a locked reading. Two, not one: a row
# flipping between two values while the other node lags by exactly one flip
# would repeat a difference once.
CONFIRMATIONS = 2

# Chunks and schema differences named in a message (the result lists them all).
SHOWN = 3

# Reading of one chunk on both nodes: ``first`` and ``second`` are (row count,
# checksum) tuples. For a plain reading (``locked`` False) ``caught_up`` says
# whether, before it, both nodes applied everything the other had when the
# previous reading ended (always False for the first reading). For a locked
# reading it says whether both catch-ups under the locks completed.
Reading = namedtuple('Reading', ['first', 'second', 'caught_up', 'locked'])


def plain(first, second, caught_up):
    return Reading(first, second, caught_up, False)


def locked(first, second, complete):
    return Reading(first, second, complete, True)


def chunk_verdict(readings, last_attempt):
    """``(verdict, cause)`` of a chunk after its readings so far; ``(None, None)``: read it again.

    :param readings: list of :class:`Reading`, oldest first (at least one)
    :param last_attempt: whether no attempt follows (an open verdict becomes unsettled)
    """
    last = readings[-1]
    if last.first == last.second:
        return (EQUAL if len(readings) == 1 else SETTLED), None
    if last.locked and last.caught_up:
        return DIVERGED, ('read with its rows locked on both nodes, each after it had applied everything the other '
                          'had, so no write on its way explains the difference')
    run = 1
    for previous, current in zip(reversed(readings[:-1]), reversed(readings)):
        if current.locked or previous.locked or not current.caught_up \
                or current.first != previous.first or current.second != previous.second:
            break
        run += 1
    if run > CONFIRMATIONS:
        return DIVERGED, ('the same difference in %d readings in a row, each after both nodes had applied '
                          'everything the other had' % run)
    if last_attempt:
        return UNSETTLED, unsettled_cause(readings)
    return None, None


def unsettled_cause(readings):
    """Why readings neither settled nor proved a difference (text)."""
    rechecks = [reading for reading in readings[1:] if not reading.locked]
    held = [reading for reading in readings if reading.locked]
    lagging = sum(1 for reading in rechecks if not reading.caught_up)
    changed_first = sum(1 for before, after in zip(readings, readings[1:]) if before.first != after.first)
    changed_second = sum(1 for before, after in zip(readings, readings[1:]) if before.second != after.second)
    parts = []
    if changed_first or changed_second:
        parts.append('it kept changing under writes (between its %d readings the first node changed it %d '
                     'time(s), the second %d time(s))' % (len(readings), changed_first, changed_second))
    if held:
        parts.append('%d of %d reading(s) with its rows locked could not complete (the other node did not apply '
                     'everything in time: both nodes write these rows, or replication lags)'
                     % (sum(1 for reading in held if not reading.caught_up), len(held)))
    if lagging:
        parts.append('replication did not catch up in time before %d of the %d rereadings'
                     % (lagging, len(rechecks)))
    if not parts:
        parts.append('the difference did not repeat often enough to be confirmed')
    return ' and '.join(parts)


def row_differences(reads, limit):
    """The primary keys whose rows differ between the nodes in every read, the same way, in key order (pure).

    ``reads`` is a list of ``(first_rows, second_rows)``, each mapping a
    primary key tuple to its row hash on that node. A key counts when its
    pair of hashes (None: absent) differs and is the same in every read: a hot
    row that differed only because one read caught it in flight is left out.
    Returns ``(differences, total)``: at most ``limit`` dicts ``{key, where}``
    (``where``: ``values differ``, ``only on the first node``, ``only on the
    second node``) and how many keys differ in all.
    """
    seen = None
    for first_rows, second_rows in reads:
        found = {}
        for key in set(first_rows) | set(second_rows):
            pair = (first_rows.get(key), second_rows.get(key))
            if pair[0] != pair[1]:
                found[key] = pair
        seen = found if seen is None else dict((key, pair) for key, pair in found.items() if seen.get(key) == pair)
    differing = []
    for key, (first, second) in (seen or {}).items():
        if second is None:
            differing.append((key, 'only on the first node'))
        elif first is None:
            differing.append((key, 'only on the second node'))
        else:
            differing.append((key, 'values differ'))
    differing.sort(key=lambda item: _sort_key(item[0]))
    return [dict(key=list(key), where=where) for key, where in differing[:max(limit, 0)]], len(differing)


def _sort_key(key):
    """Order primary keys of mixed types (NULL never occurs in a primary key) without TypeError."""
    return tuple((type(value).__name__, value) if not isinstance(value, (int, float)) else ('', value)
                 for value in key)


def tally(chunks):
    """Counts over the verdicts of every chunk: ``{compared, rechecked, equal, settled, diverged, unsettled}``.

    ``chunks`` is a list of ``(verdict, readings)`` pairs; a chunk is rechecked when it was read more than once.
    """
    counts = dict(compared=0, rechecked=0, rereads=0, equal=0, settled=0, diverged=0, unsettled=0)
    for verdict, readings in chunks:
        counts['compared'] += 1
        if len(readings) > 1:
            counts['rechecked'] += 1
            counts['rereads'] += len(readings) - 1
        counts[verdict] += 1
    return counts


def outcome(counts, schema_differences, incomplete, accept_unsettled):
    """``(reason, refused, retryable)`` of a comparison (pure).

    Diverged rows and tables the nodes define differently refuse for good
    (repair first); unsettled chunks refuse unless accepted, and a comparison
    cut short by its time limit refuses; both of those may pass when run again.
    """
    if counts['diverged'] or schema_differences:
        return DIVERGED, True, False
    if incomplete:
        return 'incomplete', True, True
    if counts['unsettled']:
        return UNSETTLED, not accept_unsettled, True
    return EQUAL, False, False


def describe_rows(pk, rows, names):
    """``id = 7 (values differ), id = 9 (only on db0b)`` for the rows of :func:`row_differences`."""
    shown = []
    for row in rows:
        where = row['where'].replace('the first node', names[0]).replace('the second node', names[1])
        shown.append('%s (%s)' % (describe_pk(pk, row['key']), where))
    return ', '.join(shown)


def describe_difference(names, difference):
    """One sentence naming a chunk that differs: table, key range, rows per node, the differing rows."""
    text = '%s, key range %s (rows %s=%s, %s=%s' % (
        difference['table'], difference['range'], names[0], difference['rows'][names[0]],
        names[1], difference['rows'][names[1]])
    if difference.get('rows_differing'):
        text += '; rows that differ: %s%s' % (
            describe_rows(difference['primary_key'], difference['rows_differing'], names),
            ' and %d more' % (difference['rows_differing_total'] - len(difference['rows_differing']))
            if difference['rows_differing_total'] > len(difference['rows_differing']) else '')
    return text + ')'


def refusal_message(names, reason, differences, schema_differences, counts, incomplete=None):
    """The message of a comparison that found a divergence, unsettled chunks or could not finish (pure).

    Names the pair, every table and key range concerned (the first few), what
    was compared and what to do.
    """
    pair = 'pair %s / %s' % (names[0], names[1])
    compared = ('%d chunk(s) compared, %d read again after both nodes applied what the other had, %d of them '
                'settled (replication lag)' % (counts['compared'], counts['rechecked'], counts['settled']))
    diverged = [item for item in differences if item['verdict'] == DIVERGED]
    unsettled = [item for item in differences if item['verdict'] == UNSETTLED]
    parts = []
    if reason == DIVERGED:
        if schema_differences:
            parts.append('The nodes of %s define their tables differently: %s.'
                         % (pair, '; '.join(schema_differences[:SHOWN])))
        if diverged:
            parts.append(
                'The nodes of %s hold different rows although replication runs without error (%s); '
                'diverged: %s%s. Replication will not repair this: it overwrites rows by primary key without '
                'comparing them, and the expansion would make the difference permanent on both halves.'
                % (pair, compared, '; '.join(describe_difference(names, item) for item in diverged[:SHOWN]),
                   ' and %d more chunk(s)' % (len(diverged) - SHOWN) if len(diverged) > SHOWN else ''))
            parts.append(
                'To repair: read the rows of each range on both nodes (%s; the statement of every range is in '
                'differences[].select), decide which node holds the right values, write them on the other node '
                'with SET SESSION sql_log_bin = 0 so that the repair does not replicate back (or re-seed the wrong '
                'node from the right one), then run again.' % diverged[0]['select'])
    elif reason == 'incomplete':
        parts.append('The comparison of %s did not finish within its time limit (%s; stopped in %s). Run again with '
                     'more time or at a quieter moment.' % (pair, compared, incomplete))
    if unsettled:
        parts.append(
            '%d chunk(s) of %s could not be proven equal: %s%s. Run again (the comparison only reads), at a '
            'quieter moment or with smaller chunks; unsettled=warn accepts them with a warning.'
            % (len(unsettled), pair,
               '; '.join('%s: %s' % (describe_difference(names, item), item['cause']) for item in unsettled[:SHOWN]),
               ' and %d more' % (len(unsettled) - SHOWN) if len(unsettled) > SHOWN else ''))
    return ' '.join(parts + ['Nothing was changed.'])
