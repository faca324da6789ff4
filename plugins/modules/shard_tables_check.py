#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: shard_tables_check
short_description: Check the sharded tables of a node before an expansion changes anything
version_added: 0.1.0
description:
  - Reads, on one node, everything about its sharded tables that the cleanup of an expansion
    (M(smooth.mariadb.shard_purge)) would refuse later, and refuses it now, before anything has changed.
    It runs the purge's own checks (the same functions), so what it accepts the purge accepts.
  - B(Tables.) Every listed table exists, is a base table, has a primary key and the shard key column, and
    the key column has an integer type; no table is listed twice. Names are used exactly as written (a C(%)
    or a backtick in a name is part of the name).
  - B(Foreign keys and triggers.) Every foreign key whose child or parent is a listed table and every trigger
    on one is read and returned. Refused - a foreign key from an unlisted table into a listed one; a foreign
    key between listed tables that does not map the child's shard key onto the parent's; a table referencing
    itself and any cycle; a C(DELETE) trigger on a listed table unless O(allow_delete_triggers).
    RV(delete_order) is the order the purge deletes in, children first.
  - B(Rows.) With O(scan_rows), each table is read once and every row must belong to the node's shard now
    (O(modulus), O(owned_residues)) - a row with a NULL or negative key belongs to no shard, and a row of
    another shard has no owner the cleanup could find it on.
  - Reads only (C(information_schema) and C(SELECT COUNT)); never changes anything, also outside check mode.
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes
  - smooth.mariadb.mariadb
attributes:
  check_mode:
    support: full
    details:
      - The module only reads; check mode runs every check too.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  tables:
    description:
      - The sharded tables, each as C(database.table) (split at the first dot) or a dict with C(name) and C(key)
        (the shard key column), as for M(smooth.mariadb.shard_purge).
    type: list
    elements: raw
    required: true
  key_column:
    description: Shard key column of the tables that do not name their own.
    type: str
  modulus:
    description: Number of shards now; a row belongs to residue C(key MOD modulus).
    type: int
    required: true
  owned_residues:
    description: Residues of O(modulus) this node owns now.
    type: list
    elements: int
    required: true
  scan_rows:
    description:
      - Read every table once to count rows of no shard and of other shards (an index scan when the key is
        indexed). V(false) checks only the schema.
    type: bool
    default: true
  allow_delete_triggers:
    description: Accept C(DELETE) triggers on listed tables (see M(smooth.mariadb.shard_purge)).
    type: bool
    default: false
notes:
  - The login account needs C(SELECT) on the tables; C(information_schema) shows it only the foreign keys and
    triggers of tables it has privileges on, so use an account that can see every table of the databases.
seealso:
  - module: smooth.mariadb.shard_purge
'''

EXAMPLES = r'''
- name: Check the sharded tables of shard 0 of 2 before expanding
  smooth.mariadb.shard_tables_check:
    login_unix_socket: /run/mysqld/mysqld.sock
    tables:
      - name: shop.orders
        key: customer_id
      - name: shop.order_items
        key: customer_id
    modulus: 2
    owned_residues: [0]
  register: tables_check

- name: Show the order the cleanup will delete in
  ansible.builtin.debug:
    var: tables_check.delete_order
'''

RETURN = r'''
tables:
  description:
    - Per table (C(database.table)) that passed the table checks - C(primary_key), C(key_column), C(key_type),
      C(engine) and, with O(scan_rows), C(rows), C(no_shard_rows) (NULL or negative key) and C(other_shard_rows).
  returned: always
  type: dict
  sample:
    shop.orders:
      primary_key: [id]
      key_column: customer_id
      key_type: bigint(20)
      engine: InnoDB
      rows: 120000
      no_shard_rows: 0
      other_shard_rows: 0
delete_order:
  description: The listed tables in the order the cleanup purges them, children before their parents.
  returned: always
  type: list
  elements: str
foreign_keys:
  description: Every foreign key whose child or parent is a listed table, with the C(verdict) of the checks.
  returned: always
  type: list
  elements: dict
triggers:
  description: Every trigger on a listed table, with the C(verdict) of the checks.
  returned: always
  type: list
  elements: dict
report:
  description: The delete order, the foreign keys and the triggers with their verdicts, one line each, for people.
  returned: always
  type: list
  elements: str
  sample:
    - "delete order (children first): shop.order_items, shop.orders"
    - "foreign key fk_items_order: shop.order_items (customer_id, order_id) -> shop.orders (customer_id, id)
      ON DELETE RESTRICT - allowed: carries the shard key; shop.order_items is purged before shop.orders"
    - no trigger on a sharded table
problems:
  description: Every problem found (the module fails when there is one).
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    MariaDBQueryError,
    SqlSession,
    check_server_version,
    describe_target,
    mariadb_common_argument_spec,
    mariadb_connect,
    to_int,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.schema import check_tables, describe_schema
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import (
    find_column,
    invalid_key_condition,
    non_transactional_warning,
    owned_condition,
    ownership_problems,
    ownership_scan_statement,
    parse_tables,
)


def argument_spec():
    spec = mariadb_common_argument_spec()
    spec.update(
        tables=dict(type='list', elements='raw', required=True),
        key_column=dict(type='str', no_log=False),
        modulus=dict(type='int', required=True),
        owned_residues=dict(type='list', elements='int', required=True),
        scan_rows=dict(type='bool', default=True),
        allow_delete_triggers=dict(type='bool', default=False),
    )
    return spec


def scan_problem(name, key, modulus, residues, no_shard, other_shard):
    """The message for rows of no shard or of another shard (empty string when there are none)."""
    if not (no_shard or other_shard):
        return ''
    wanted = str(residues[0]) if len(residues) == 1 else 'in %s' % ', '.join(str(r) for r in residues)
    return ('sharded table %s holds %d row(s) with a NULL or negative %s (they belong to no shard) and %d row(s) '
            'whose %s %% %d is not %s (rows of another shard). The cleanup would refuse them; move each such row to '
            'the shard that owns it (or delete it) first'
            % (name, no_shard, key, other_shard, key, modulus, wanted))


def run(module, session):
    params = module.params
    specs, problems = parse_tables(params['tables'], params['key_column'])
    problems.extend(ownership_problems(params['modulus'], params['owned_residues']))
    problem = check_server_version(session.fetch_one('SELECT VERSION() AS version')['version'])
    if problem:
        problems.append(problem)
    found, infos, plan, usable = check_tables(session, specs, params['allow_delete_triggers'])
    problems.extend(found)
    tables = {}
    residues = sorted(set(params['owned_residues']))
    for spec in usable:
        info = infos[spec.name]
        warning = non_transactional_warning(spec, info)
        if warning:
            module.warn(warning)
        column = find_column(info, spec.key)
        entry = dict(primary_key=info['primary_key'], key_column=column['name'], key_type=column['column_type'],
                     engine=info['engine'])
        if params['scan_rows'] and not ownership_problems(params['modulus'], residues):
            sql, sql_params = ownership_scan_statement(spec, invalid_key_condition(spec.key, column),
                                                       owned_condition(spec.key, params['modulus'], residues))
            row = session.fetch_one(sql, sql_params)
            no_shard = to_int(row['no_shard_rows'])
            entry.update(rows=to_int(row['total_rows']), no_shard_rows=no_shard,
                         other_shard_rows=to_int(row['foreign_rows']) - no_shard)
            text = scan_problem(spec.name, spec.key, params['modulus'], residues, no_shard,
                                entry['other_shard_rows'])
            if text:
                problems.append(text)
        tables[spec.name] = entry
    return dict(changed=False, tables=tables, delete_order=plan['order'], foreign_keys=plan['foreign_keys'],
                triggers=plan['triggers'], report=describe_schema(plan), problems=problems)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    target = describe_target(module.params)
    connection = mariadb_connect(module)
    session = SqlSession(connection, read_only=True)
    try:
        result = run(module, session)
    except MariaDBQueryError as exc:
        module.fail_json(msg='Checking the sharded tables on %s: %s failed: %s' % (target, exc.statement, exc.message),
                         changed=False)
    finally:
        connection.close()
    if result['problems']:
        module.fail_json(msg='The sharded tables on %s cannot be expanded, nothing was changed. %d problem(s): %s'
                         % (target, len(result['problems']),
                            ' '.join('(%d) %s.' % (index + 1, text.rstrip('.'))
                                     for index, text in enumerate(result['problems']))),
                         **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
