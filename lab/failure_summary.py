# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Say in a few lines what failed, from an Ansible log file (ANSIBLE_LOG_PATH).

    python lab/failure_summary.py build/ansible-expand_2n.log [--last 3] [--width 300]

"make molecule" writes one log per scenario (every ansible-playbook of the
scenario, nested runs included, logs into it) and prints this summary when
the scenario fails, so that the end of a long CI output names the task, the
host and the message instead of only "Ansible return code was 2".

A failure is a record with "fatal: [host]: FAILED!" or "failed: [host]"
that no "...ignoring" record follows in the same process. For each of the
last --last failures it prints the time, the process, the play, the task and
the host, then the message and the last lines of stdout/stderr it carried.
"""

import argparse
import re
import sys

import yaml

RECORD = re.compile(r'^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ p=(?P<pid>\d+) u=\S+ n=\S+ (?P<level>\w+)\| (?P<text>.*)$')
FAILURE = re.compile(r'^(?:fatal|failed): \[(?P<host>[^\]]+)\](?: \((?P<item>item=[^\n]*?)\))?(?:: FAILED!)? =>(?P<body>.*)$',
                     re.S)
ANSI = re.compile(r'\x1b\[[0-9;]*m')
BANNER = re.compile(r'^(?P<kind>PLAY|TASK|RUNNING HANDLER) \[(?P<name>.*)\] \**$')


def records(lines):
    """The log's records: dicts with time, pid, level and text (continuation lines joined)."""
    current = None
    for line in lines:
        line = line.rstrip('\n')
        match = RECORD.match(line)
        if match:
            if current is not None:
                yield current
            current = match.groupdict()
        elif current is not None:
            current['text'] += '\n' + line
    if current is not None:
        yield current


def _body(text):
    """The result a failure record carries, as a dict when it parses (JSON and YAML both)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return {'msg': text.strip()}
    return value if isinstance(value, dict) else {'msg': text.strip()}


def failures(lines):
    """Failures in log order, each with time, pid, play, task, host and result; ignored ones left out."""
    play, task, found = {}, {}, []
    for rec in records(lines):
        pid, text = rec['pid'], rec['text']
        banner = BANNER.match(text.strip())
        if banner:
            if banner.group('kind') == 'PLAY':
                play[pid] = banner.group('name')
            else:
                task[pid] = banner.group('name')
            continue
        if text.strip() == '...ignoring':
            if found and found[-1]['pid'] == pid:
                found.pop()
            continue
        match = FAILURE.match(text)
        if match:
            host = match.group('host') + (' (%s)' % match.group('item') if match.group('item') else '')
            found.append({'time': rec['time'], 'pid': pid, 'play': play.get(pid, '?'), 'task': task.get(pid, '?'),
                          'host': host, 'result': _body(match.group('body'))})
    return found


def _clip(text, width):
    text = ANSI.sub('', str(text))
    indent = text[:len(text) - len(text.lstrip())]
    text = indent + ' '.join(text.split())
    return text if len(text) <= width else text[:width - 3] + '...'


def summary_lines(found, last=3, width=300, tail=6):
    """The lines to print for the last `last` failures."""
    if not found:
        return ['no failed task in the log (the failure came from elsewhere: see the output above)']
    out = ['%d failed task(s) in the log; the last %d:' % (len(found), min(last, len(found)))]
    for item in found[-last:]:
        result = item['result']
        out.append(_clip('- %s p=%s [%s] %s / %s' % (item['time'], item['pid'], item['host'], item['play'],
                                                     item['task']), width))
        out.append(_clip('  msg: %s' % result.get('msg', '?'), width))
        for key in ('stdout', 'stderr'):
            value = result.get(key)
            if isinstance(value, str) and value.strip():
                kept = [line for line in value.splitlines() if line.strip()][-tail:]
                out.append('  %s, last %d line(s):' % (key, len(kept)))
                out.extend(_clip('    ' + line, width) for line in kept)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('log')
    parser.add_argument('--last', type=int, default=3)
    parser.add_argument('--width', type=int, default=300)
    args = parser.parse_args(argv)
    try:
        with open(args.log, encoding='utf-8', errors='replace') as handle:
            found = failures(handle)
    except OSError as exc:
        print('no Ansible log to summarise: %s' % exc)
        return 0
    print('\n'.join(summary_lines(found, last=args.last, width=args.width)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
