"""lab/demo_report.py: the report's lines from the three JSON documents."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'lab'))
import demo_report  # noqa: E402  pylint: disable=wrong-import-position


PHASES = {'ok': True, 'total_seconds': 50.0, 'rows_purged': 1113, 'rows_seeded': 2433,
          'phases': [{'phase': 'seed', 'seconds': 10.0, 'rows_seeded': 2433},
                     {'phase': 'cleanup', 'seconds': 2.0, 'rows_purged': 1113}]}
LOAD = {'duration_seconds': 71, 'attempts': 10, 'acked': 9, 'failed': 1, 'unknown': 0,
        'insert': {'acked': 6}, 'update': {'acked': 3}, 'max_ack_latency_seconds': 1.25,
        'acked_slower': 2, 'acked_slower_than_seconds': 1.0, 'longest_failed_seconds': 0.5,
        'longest_outage_seconds': 0.7, 'versions': {'1': 4, '2': 5}}
CHECK = {'ok': True, 'acked_inserts': 6, 'checked_rows': 12, 'missing': 0, 'duplicated': 0, 'misplaced': 0,
         'wrong_amount': 0, 'foreign_rows': 0}


def test_report_names_the_figures_of_each_part():
    text = '\n'.join(demo_report.report_lines(PHASES, LOAD, CHECK))
    assert 'seed              10.0  2433 rows copied' in text
    assert 'cleanup            2.0  1113 rows deleted' in text
    assert 'expansion         50.0  ok' in text
    assert '10 attempted, 9 acknowledged (6 inserts, 3 updates), 1 failed, 0 unknown outcome' in text
    assert 'longest wait of an acknowledged write: 1.250 s (2 acknowledged after more than 1 s)' in text
    assert 'v1: 4, v2: 5' in text
    assert 'ledger check against every node: OK' in text


def test_a_missing_file_is_reported_and_fails(tmp_path):
    missing = str(tmp_path / 'none.json')
    assert demo_report.main(['--phases', missing, '--load', missing, '--check', missing]) == 1


def _write(tmp_path, check):
    paths = []
    for name, doc in (('phases', PHASES), ('load', LOAD), ('check', check)):
        path = tmp_path / ('%s.json' % name)
        path.write_text(json.dumps(doc))
        paths += ['--%s' % name, str(path)]
    return paths


def test_the_exit_status_follows_the_ledger_check(tmp_path):
    assert demo_report.main(_write(tmp_path, CHECK)) == 0
    assert demo_report.main(_write(tmp_path, dict(CHECK, ok=False, missing=1))) == 1


def test_the_single_copy_window_over_the_run_and_per_phase():
    phases = {'phases': [{'phase': 'seed', 'started_at': 100.0, 'ended_at': 130.0},
                         {'phase': 'split', 'started_at': 130.0, 'ended_at': 150.0},
                         {'phase': 'ha', 'started_at': 150.0, 'ended_at': 160.0}]}
    window = {'longest_seconds': 12.5, 'longest_node': 'lab-1', 'readings': 120, 'interval': 0.5,
              'timeline': [{'wall': 131.0, 'windows': {'lab-1': 0.5}}, {'wall': 149.0, 'windows': {'lab-1': 12.5}},
                           {'wall': 151.0, 'windows': {'lab-2': 1.25, 'lab-1': 0.5}}]}
    assert demo_report.window_lines(phases, window) == [
        'longest time a write had one up-to-date copy only: 12.50 s (on lab-1; 120 readings of every node, every '
        '0.5 s or so)',
        'longest single-copy window per phase (s): seed 0.0, split 12.5, ha 1.2']
    assert demo_report.window_lines(phases, {'_error': 'w.json: gone'}) == ['single-copy window: w.json: gone']
