# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Print the short report of the demo (lab/demo.sh) from its three JSON files.

    python lab/demo_report.py --phases phases.json --load load.json --check check.json [--window window.json]

phases.json: the phase_report callback's file (phases with durations, rows
copied and deleted); load.json: lab/app/loadgen.py's summary (writes as the
application saw them); check.json: lab/app/ledger_check.py's report;
window.json: lab/app/copy_window.py's (how long a write had one copy only).
"""

from __future__ import annotations

import argparse
import json
import sys


def _load(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        return {'_error': '%s: %s' % (path, exc)}


def report_lines(phases, load, check):
    lines = ['', '== smooth.mariadb demo: 1 shard -> 2 shards under live writes ==', '']
    if '_error' in phases:
        lines.append('phases: %s' % phases['_error'])
    else:
        lines.append('%-12s %9s  %s' % ('phase', 'seconds', 'what it did'))
        for phase in phases.get('phases', []):
            notes = []
            if phase.get('rows_seeded'):
                notes.append('%d rows copied' % phase['rows_seeded'])
            if phase.get('rows_purged'):
                notes.append('%d rows deleted' % phase['rows_purged'])
            if phase.get('failed_hosts'):
                notes.append('FAILED on %s' % ', '.join(phase['failed_hosts']))
            lines.append('%-12s %9.1f  %s' % (phase['phase'][:12], phase['seconds'], '; '.join(notes)))
        verdict = 'ok' if phases.get('ok') else 'FAILED'
        lines.append('%-12s %9.1f  %s' % ('expansion', phases.get('total_seconds', 0.0), verdict))
    lines.append('')
    if '_error' in load:
        lines.append('load: %s' % load['_error'])
    else:
        insert, update = load.get('insert', {}), load.get('update', {})
        lines.append('writes seen by the application over %.0f s: %d attempted, %d acknowledged '
                     '(%d inserts, %d updates), %d failed, %d unknown outcome'
                     % (load.get('duration_seconds') or 0, load.get('attempts', 0), load.get('acked', 0),
                        insert.get('acked', 0), update.get('acked', 0), load.get('failed', 0), load.get('unknown', 0)))
        lines.append('longest wait of an acknowledged write: %.3f s (%d acknowledged after more than %.0f s); '
                     'longest failed write: %.3f s; longest time a writer had no success: %.3f s'
                     % (load.get('max_ack_latency_seconds', 0), load.get('acked_slower', 0),
                        load.get('acked_slower_than_seconds', 1.0), load.get('longest_failed_seconds', 0),
                        load.get('longest_outage_seconds', 0)))
        lines.append('acknowledged writes per shard map version: %s'
                     % ', '.join('v%s: %s' % item for item in sorted(load.get('versions', {}).items())))
    if '_error' not in phases:
        lines.append('rows deleted by the cleanup: %d; rows copied to the new nodes: %d'
                     % (phases.get('rows_purged', 0), phases.get('rows_seeded', 0)))
    lines.append('')
    if '_error' in check:
        lines.append('ledger check: %s' % check['_error'])
    else:
        problems = ['missing', 'duplicated', 'misplaced', 'wrong_amount', 'foreign_rows']
        lines.append('ledger check against every node: %s - %d acknowledged orders, %d rows read; %s'
                     % ('OK' if check.get('ok') else 'PROBLEMS', check.get('acked_inserts', 0),
                        check.get('checked_rows', 0), ', '.join('%s %s' % (p, check.get(p, '?')) for p in problems)))
    return lines


def window_lines(phases, window):
    """The longest time a write had one up-to-date copy only, over the run and per phase."""
    if '_error' in window:
        return ['single-copy window: %s' % window['_error']]
    lines = ['longest time a write had one up-to-date copy only: %.2f s (on %s; %d readings of every node, '
             'every %.1f s or so)' % (window.get('longest_seconds', 0.0), window.get('longest_node') or '-',
                                      window.get('readings', 0), window.get('interval', 0.5))]
    if '_error' in phases:
        return lines
    per_phase = []
    for phase in phases.get('phases', []):
        began, ended = phase.get('started_at'), phase.get('ended_at')
        if began is None or ended is None:
            continue
        inside = [max(entry['windows'].values()) for entry in window.get('timeline', [])
                  if began <= entry.get('wall', 0) <= ended and entry.get('windows')]
        per_phase.append('%s %.1f' % (phase['phase'], max(inside or [0.0])))
    if per_phase:
        lines.append('longest single-copy window per phase (s): %s' % ', '.join(per_phase))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--phases', required=True)
    parser.add_argument('--load', required=True)
    parser.add_argument('--check', required=True)
    parser.add_argument('--window')
    args = parser.parse_args(argv)
    phases, load, check = _load(args.phases), _load(args.load), _load(args.check)
    lines = report_lines(phases, load, check)
    if args.window:
        lines.extend([''] + window_lines(phases, _load(args.window)))
    print('\n'.join(lines))
    good = phases.get('ok') and check.get('ok') and '_error' not in load
    return 0 if good else 1


if __name__ == '__main__':
    sys.exit(main())
