# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Check the load generator's ledger against every node of every shard.

Reads (order_no, account_no, amount) of every row of the orders table from
every node, each node separately and read-only, and checks:

- missing:      an acknowledged order (its insert, or any write of it, was
                acked) is absent from a node of the shard that owns it
                (account_no % modulus);
- duplicated:   an order_no appears more than once on one node;
- misplaced:    an order of the ledger sits on a node of a shard that does not
                own it, or with another account_no than the ledger's;
- wrong_amount: the amount of an order of the ledger is neither the amount of
                its last acked write nor that of a later attempt that was not
                acked (failed/unknown attempts may or may not have committed;
                an order with no acked write may hold any attempted amount);
- foreign_rows: any row, in the ledger or not, on a node of a shard that does
                not own it.
Orders whose insert was not acked may be absent; present, they must obey the
same placement rules. Rows not in the ledger (other runs) are counted.

    python lab/app/ledger_check.py --ledger ledger.jsonl --shards shards.json [--report report.json]

shards.json: {"modulus": M, "database": "smooth_lab", "table": "t_trade_order",
"user": ..., "password": ..., "shards": [{"index": i, "nodes": [{"name", "host",
"port"}, ...]}, ...]}. Exit 0 when everything checks, 1 when a problem was
found, 2 on a usage or connection error.
"""

from __future__ import annotations

import argparse
import decimal
import json
import re
import sys

import pymysql
import pymysql.cursors

ACK = 'ack'
PROBLEMS = ('missing', 'duplicated', 'misplaced', 'wrong_amount', 'foreign_rows')
EXAMPLES = 10
_IDENTIFIER = re.compile(r'^[A-Za-z0-9_]{1,64}$')
CENT = decimal.Decimal('0.01')


class CheckError(Exception):
    """A usage or connection error (exit 2)."""


def amount_of(value):
    """An amount as a Decimal with 2 decimals (ledger strings and DECIMAL columns alike)."""
    try:
        return decimal.Decimal(str(value)).quantize(CENT)
    except (decimal.InvalidOperation, ValueError):
        raise CheckError('not an amount: %r' % (value,))


# -- the ledger -------------------------------------------------------------------------------

def read_ledger(lines):
    """({order_no: {'account_no', 'writes': [(op, outcome, Decimal amount), ...]}}, info).

    Writes stay in ledger order, which is the order of the attempts for one
    order (one thread writes an order, one attempt at a time). A final line
    that is not JSON (the writer was killed while writing) is reported in info;
    a bad line elsewhere raises CheckError.
    """
    orders = {}
    info = {'lines': 0, 'truncated_last_line': False}
    lines = list(lines)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            order_no, op, outcome = record['order_no'], record['op'], record['outcome']
            account_no = record['account_no']
            amount = amount_of(record['amount'])
            if op not in ('insert', 'update') or outcome not in ('ack', 'failed', 'unknown'):
                raise ValueError('op %r / outcome %r' % (op, outcome))
            if not isinstance(account_no, int) or isinstance(account_no, bool) or account_no < 0:
                raise ValueError('account_no %r' % (account_no,))
        except (ValueError, KeyError, TypeError, CheckError) as exc:
            if number == len(lines):
                info['truncated_last_line'] = True
                continue
            raise CheckError('ledger line %d is not a ledger record (%s): %.200s' % (number, exc, line))
        info['lines'] += 1
        order = orders.setdefault(order_no, {'account_no': account_no, 'writes': []})
        order['writes'].append((op, outcome, amount))
    return orders, info


def expectation(order):
    """{'must_exist', 'acked_insert', 'allowed'}: must the row exist, and which amounts may it hold."""
    writes = order['writes']
    last_ack = max([i for i, (op, outcome, amount) in enumerate(writes) if outcome == ACK] or [-1])
    if last_ack < 0:
        allowed = set(amount for op, outcome, amount in writes)
    else:
        allowed = set([writes[last_ack][2]] + [amount for op, outcome, amount in writes[last_ack + 1:]])
    return {'must_exist': last_ack >= 0,
            'acked_insert': any(op == 'insert' and outcome == ACK for op, outcome, amount in writes),
            'allowed': allowed}


# -- the check --------------------------------------------------------------------------------

def _example(report, problem, example):
    examples = report['examples'][problem]
    if len(examples) < EXAMPLES:
        examples.append(example)


def check(orders, modulus, shards):
    """The report for ledger orders (from read_ledger) against the rows of every node.

    shards: [{'index': i, 'nodes': [{'name': n, 'rows': iterable of (order_no, account_no, amount)}, ...]}, ...]
    """
    expected = dict((order_no, expectation(order)) for order_no, order in orders.items())
    report = {
        'ok': True, 'modulus': modulus,
        'acked_inserts': sum(1 for e in expected.values() if e['acked_insert']),
        'must_exist': sum(1 for e in expected.values() if e['must_exist']),
        'checked_rows': 0, 'rows_not_in_ledger': 0, 'not_acked_present': 0,
        'examples': dict((problem, []) for problem in PROBLEMS),
        'nodes': {},
    }
    for problem in PROBLEMS:
        report[problem] = 0
    seen_not_acked = set()

    def problem(node_report, name, example):
        report[name] += 1
        node_report[name] += 1
        _example(report, name, example)

    for shard in shards:
        index = shard['index']
        for node in shard['nodes']:
            name = node['name']
            node_report = dict(shard=index, rows=0, rows_not_in_ledger=0, **dict((p, 0) for p in PROBLEMS))
            report['nodes'][name] = node_report
            present = {}
            for order_no, account_no, amount in node['rows']:
                node_report['rows'] += 1
                present[order_no] = present.get(order_no, 0) + 1
                at = dict(order_no=order_no, account_no=account_no, node=name, shard=index)
                if account_no % modulus != index:
                    problem(node_report, 'foreign_rows', dict(at, owner=account_no % modulus))
                order = orders.get(order_no)
                if order is None:
                    node_report['rows_not_in_ledger'] += 1
                    continue
                owner = order['account_no'] % modulus
                if account_no != order['account_no']:
                    problem(node_report, 'misplaced', dict(at, ledger_account_no=order['account_no'],
                                                           reason='account_no differs from the ledger'))
                elif owner != index:
                    reason = 'in shard %d, owned by shard %d' % (index, owner)
                    problem(node_report, 'misplaced', dict(at, owner=owner, reason=reason))
                if amount_of(amount) not in expected[order_no]['allowed']:
                    problem(node_report, 'wrong_amount', dict(
                        at, amount=str(amount_of(amount)),
                        allowed=sorted(str(value) for value in expected[order_no]['allowed'])))
                if not expected[order_no]['must_exist']:
                    seen_not_acked.add(order_no)
            for order_no, times in present.items():
                if times > 1:
                    problem(node_report, 'duplicated', dict(order_no=order_no, node=name, shard=index, times=times))
            for order_no, order in orders.items():
                if expected[order_no]['must_exist'] and order['account_no'] % modulus == index \
                        and order_no not in present:
                    problem(node_report, 'missing', dict(order_no=order_no, account_no=order['account_no'],
                                                         node=name, shard=index))
            report['checked_rows'] += node_report['rows']
            report['rows_not_in_ledger'] += node_report['rows_not_in_ledger']
    report['not_acked_present'] = len(seen_not_acked)
    report['ok'] = not any(report[p] for p in PROBLEMS)
    return report


def human_summary(report, info=None):
    lines = []
    if info is not None:
        truncated = ' (last line truncated, ignored)' if info.get('truncated_last_line') else ''
        lines.append('ledger: %d records%s' % (info['lines'], truncated))
    lines.append('acked inserts: %d; orders that must exist: %d; rows checked: %d (not in the ledger: %d); '
                 'not-acked orders present: %d'
                 % (report['acked_inserts'], report['must_exist'], report['checked_rows'],
                    report['rows_not_in_ledger'], report['not_acked_present']))
    for name, node in sorted(report['nodes'].items()):
        problems = ', '.join('%s %d' % (p, node[p]) for p in PROBLEMS if node[p]) or 'ok'
        lines.append('  %s (shard %d): %d rows, %s' % (name, node['shard'], node['rows'], problems))
    if report['ok']:
        lines.append('OK: every acked write is present exactly once in its owning shard, on every node; '
                     'no row is misplaced')
    else:
        lines.append('PROBLEMS: ' + ', '.join('%s %d' % (p, report[p]) for p in PROBLEMS if report[p]))
        for name in PROBLEMS:
            for example in report['examples'][name][:3]:
                lines.append('  %s: %s' % (name, json.dumps(example, sort_keys=True)))
    return '\n'.join(lines)


# -- the shards file and the database --------------------------------------------------------------

def read_shards(doc):
    """The validated shards document with defaults (database, table, port)."""
    if not isinstance(doc, dict):
        raise CheckError('the shards file must be a JSON object {modulus, shards, user, password, ...}')
    modulus = doc.get('modulus')
    if not isinstance(modulus, int) or isinstance(modulus, bool) or modulus < 1:
        raise CheckError('modulus must be an integer >= 1, got %r' % (modulus,))
    config = {'modulus': modulus, 'database': doc.get('database', 'smooth_lab'),
              'table': doc.get('table', 't_trade_order'), 'user': doc.get('user'), 'password': doc.get('password')}
    for key in ('database', 'table'):
        if not isinstance(config[key], str) or not _IDENTIFIER.match(config[key]):
            raise CheckError('%s must be a name of letters, digits and _, got %r' % (key, config[key]))
    if not isinstance(config['user'], str) or not isinstance(config['password'], str):
        raise CheckError('user and password (a read account for every node) are required')
    shards = doc.get('shards')
    indexes = [s.get('index') if isinstance(s, dict) else None for s in shards] if isinstance(shards, list) else []
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in indexes) or sorted(indexes) != list(range(modulus)):
        raise CheckError('shards must list every shard index 0 .. %d exactly once, each {index, nodes}' % (modulus - 1))
    names = set()
    config['shards'] = []
    for shard in sorted(shards, key=lambda s: s['index']):
        nodes = shard.get('nodes')
        if not isinstance(nodes, list) or not nodes:
            raise CheckError('shard %d has no nodes' % shard['index'])
        checked = []
        for node in nodes:
            if not isinstance(node, dict) or not isinstance(node.get('name'), str) or not node.get('host'):
                raise CheckError('shard %d: every node needs a name and a host, got %r' % (shard['index'], node))
            if node['name'] in names:
                raise CheckError('node %s is listed twice' % node['name'])
            names.add(node['name'])
            port = node.get('port', 3306)
            if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
                raise CheckError('node %s: port must be an integer from 1 to 65535' % node['name'])
            checked.append({'name': node['name'], 'host': str(node['host']), 'port': port})
        config['shards'].append({'index': shard['index'], 'nodes': checked})
    return config


def fetch_rows(config, node, connect=pymysql.connect):
    """Every (order_no, account_no, amount) of the table on one node, in a read-only transaction."""
    where = 'node %s (%s:%d)' % (node['name'], node['host'], node['port'])
    sql = 'SELECT order_no, account_no, amount FROM `%s`.`%s`' % (config['database'], config['table'])
    try:
        connection = connect(host=node['host'], port=node['port'], user=config['user'],
                             password=config['password'], connect_timeout=5, read_timeout=300,
                             autocommit=True, cursorclass=pymysql.cursors.SSCursor)
    except pymysql.err.MySQLError as exc:
        raise CheckError('%s: cannot connect: %s' % (where, exc))
    try:
        with connection.cursor() as cursor:
            cursor.execute('START TRANSACTION READ ONLY')
            cursor.execute(sql)
            rows = [(row[0], int(row[1]), row[2]) for row in cursor]
        connection.rollback()
        return rows
    except pymysql.err.MySQLError as exc:
        raise CheckError('%s: %s failed: %s' % (where, sql, exc))
    finally:
        connection.close()


def main(argv=None, connect=pymysql.connect):
    parser = argparse.ArgumentParser(description='Check a load generator ledger against every node of every shard.')
    parser.add_argument('--ledger', required=True)
    parser.add_argument('--shards', required=True, help='JSON file: modulus, shards with their nodes, account')
    parser.add_argument('--report', help='write the JSON report here (default: print it)')
    args = parser.parse_args(argv)
    try:
        with open(args.shards) as stream:
            config = read_shards(json.load(stream))
        with open(args.ledger, encoding='utf-8') as stream:
            orders, info = read_ledger(stream)
        shards = [{'index': shard['index'],
                   'nodes': [dict(node, rows=fetch_rows(config, node, connect)) for node in shard['nodes']]}
                  for shard in config['shards']]
    except (OSError, ValueError, CheckError) as exc:
        sys.stderr.write('ledger_check: %s\n' % exc)
        return 2
    report = check(orders, config['modulus'], shards)
    report['ledger'] = info
    for shard in config['shards']:
        for node in shard['nodes']:
            report['nodes'][node['name']].update(host=node['host'], port=node['port'])
    print(human_summary(report, info))
    text = json.dumps(report, sort_keys=True, indent=2) + '\n'
    if args.report:
        with open(args.report, 'w', encoding='utf-8') as stream:
            stream.write(text)
    else:
        sys.stdout.write(text)
    return 0 if report['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
