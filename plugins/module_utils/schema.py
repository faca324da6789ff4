# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Foreign keys and triggers of sharded tables, and the order rows are deleted in.

The cleanup of an expansion deletes, on every node, the rows of the residues it
gave away. A foreign key or a trigger can turn such a delete into something else:

* a foreign key from a table that is not purged (not listed) into a listed one
  makes the delete fail (``RESTRICT``, error 1451, after thousands of chunks),
  delete rows the cleanup never looked at (``CASCADE``: a row that existed only
  there is lost) or change them (``SET NULL``);
* a foreign key between two listed tables must carry the shard key: the child's
  shard key column must reference the parent's shard key column, so that a child
  row always lives on the residue of its parent. Otherwise a child row can live on
  another shard than its parent;
* the tables must be purged children first, whatever the order they are listed
  in, and a cycle of foreign keys (a table referencing itself included) has no
  such order: rows are deleted in primary key chunks, so a row may go before a row
  that references it;
* a ``DELETE`` trigger on a listed table runs for every purged row and may change
  other tables; it is refused unless the operator allows it.

:func:`read_foreign_keys` and :func:`read_triggers` only read
``information_schema``; :func:`schema_plan` is pure and decides.
"""

from __future__ import annotations

from collections import namedtuple

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import to_text
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import read_table_info, table_problems

ForeignKey = namedtuple('ForeignKey', ['name', 'child', 'child_columns', 'parent', 'parent_columns',
                                       'on_delete', 'on_update'])
Trigger = namedtuple('Trigger', ['name', 'schema', 'table', 'event', 'timing'])

# What a delete of a parent row does to the rows of an unlisted child table.
_UNLISTED_CHILD_EFFECT = {
    'RESTRICT': 'makes the delete of every referenced row fail (error 1451) in the middle of the cleanup',
    'NO ACTION': 'makes the delete of every referenced row fail (error 1451) in the middle of the cleanup',
    'CASCADE': 'deletes the referencing rows there too, without checking that they exist on their owner',
    'SET NULL': 'sets the referencing columns there to NULL',
    'SET DEFAULT': 'changes the referencing columns there',
}


def _in_list(column, values):
    return '%s IN (%s)' % (column, ', '.join(['%s'] * len(values)))


def read_foreign_keys(session, schemas):
    """Every foreign key whose child or parent table is in one of ``schemas``.

    Returns a list of :class:`ForeignKey` with ``child`` and ``parent`` written
    ``database.table`` and the columns in the constraint's order.
    """
    schemas = sorted(set(schemas))
    if not schemas:
        return []
    rows = session.fetch_all(
        'SELECT rc.CONSTRAINT_SCHEMA AS child_schema, rc.TABLE_NAME AS child_table, '
        'rc.CONSTRAINT_NAME AS name, rc.UNIQUE_CONSTRAINT_SCHEMA AS parent_schema, '
        'rc.REFERENCED_TABLE_NAME AS parent_table, rc.DELETE_RULE AS on_delete, rc.UPDATE_RULE AS on_update, '
        'k.COLUMN_NAME AS child_column, k.REFERENCED_COLUMN_NAME AS parent_column '
        'FROM information_schema.REFERENTIAL_CONSTRAINTS rc '
        'JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA '
        'AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND k.TABLE_NAME = rc.TABLE_NAME '
        'AND k.REFERENCED_TABLE_NAME IS NOT NULL '
        'WHERE %s OR %s '
        'ORDER BY rc.CONSTRAINT_SCHEMA, rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION'
        % (_in_list('rc.CONSTRAINT_SCHEMA', schemas), _in_list('rc.UNIQUE_CONSTRAINT_SCHEMA', schemas)),
        tuple(schemas) * 2)
    keys = {}
    for row in rows:
        child = '%s.%s' % (to_text(row['child_schema']), to_text(row['child_table']))
        ident = (child, to_text(row['name']))
        entry = keys.get(ident)
        if entry is None:
            entry = keys[ident] = dict(
                name=to_text(row['name']), child=child, child_columns=[],
                parent='%s.%s' % (to_text(row['parent_schema']), to_text(row['parent_table'])), parent_columns=[],
                on_delete=to_text(row['on_delete']).upper(), on_update=to_text(row['on_update']).upper())
        entry['child_columns'].append(to_text(row['child_column']))
        entry['parent_columns'].append(to_text(row['parent_column']))
    return [ForeignKey(**entry) for entry in keys.values()]


def read_triggers(session, schemas):
    """Every trigger on a table of one of ``schemas`` (a list of :class:`Trigger`)."""
    schemas = sorted(set(schemas))
    if not schemas:
        return []
    rows = session.fetch_all(
        'SELECT TRIGGER_NAME AS name, EVENT_OBJECT_SCHEMA AS table_schema, EVENT_OBJECT_TABLE AS table_name, '
        'EVENT_MANIPULATION AS event, ACTION_TIMING AS timing FROM information_schema.TRIGGERS WHERE %s '
        'ORDER BY EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER'
        % _in_list('EVENT_OBJECT_SCHEMA', schemas), tuple(schemas))
    return [Trigger(to_text(row['name']), to_text(row['table_schema']), to_text(row['table_name']),
                    to_text(row['event']).upper(), to_text(row['timing']).upper()) for row in rows]


def _same_column(first, second):
    # Column names are not case-sensitive in MariaDB.
    return first.lower() == second.lower()


def carries_shard_key(fk, child_key, parent_key):
    """Whether the foreign key maps the child's shard key column onto the parent's."""
    return any(_same_column(child, child_key) and _same_column(parent, parent_key)
               for child, parent in zip(fk.child_columns, fk.parent_columns))


def _describe_fk(fk):
    return ('foreign key %s of %s (%s) references %s (%s) ON DELETE %s'
            % (fk.name, fk.child, ', '.join(fk.child_columns), fk.parent, ', '.join(fk.parent_columns), fk.on_delete))


def delete_order(names, edges):
    """The table names in an order that puts every child before its parents.

    ``edges`` is a set of ``(child, parent)`` pairs between names. Among the
    tables that may go next the first one listed goes first, so without
    foreign keys the order is the list's. Returns ``(order, cyclic)``:
    ``cyclic`` lists, in list order, the tables left over by a cycle (a table
    referencing itself included); they are not in ``order``.
    """
    remaining = list(names)
    order = []
    while remaining:
        for name in remaining:
            # A table may go when no table still to be purged references it.
            if not any(parent == name and child in remaining for child, parent in edges):
                order.append(name)
                remaining.remove(name)
                break
        else:
            return order, remaining
    return order, []


def schema_plan(specs, foreign_keys, triggers, allow_delete_triggers=False):
    """Decide whether the purge may run with these foreign keys and triggers, and in which order.

    :param specs: the listed tables (``TableSpec``: name, schema, table, key)
    :param foreign_keys: :class:`ForeignKey` list (any; those touching no listed table are ignored)
    :param triggers: :class:`Trigger` list (any; those on unlisted tables are ignored)
    :returns: dict with ``problems`` (messages), ``order`` (names, children first),
        ``foreign_keys`` and ``triggers`` (what touches the listed tables, as dicts for the result)
    """
    listed = dict((spec.name, spec) for spec in specs)
    problems = []
    edges = set()
    fk_report = []
    for fk in foreign_keys:
        child_listed = fk.child in listed
        parent_listed = fk.parent in listed
        if not (child_listed or parent_listed):
            continue
        entry = dict(name=fk.name, child=fk.child, child_columns=list(fk.child_columns), parent=fk.parent,
                     parent_columns=list(fk.parent_columns), on_delete=fk.on_delete, on_update=fk.on_update)
        fk_report.append(entry)
        if not child_listed:
            entry['verdict'] = 'refused: from a table that is not purged'
            problems.append('%s: a table that is not among the sharded tables references a sharded table; deleting '
                            'the rows of %s %s. List %s among the sharded tables with its shard key (the foreign '
                            'key must carry it) or drop the foreign key'
                            % (_describe_fk(fk), fk.parent,
                               _UNLISTED_CHILD_EFFECT.get(fk.on_delete, 'acts on ' + fk.child), fk.child))
            continue
        if not parent_listed:
            entry['verdict'] = 'allowed: deleting the child rows does not touch the parent'
            continue
        child_key = listed[fk.child].key
        parent_key = listed[fk.parent].key
        if fk.child == fk.parent:
            entry['verdict'] = 'refused: the table references itself'
            problems.append('%s: the table references itself; the purge deletes in primary key chunks, so a row '
                            'may go before a row that references it (a cycle of foreign keys has no safe delete '
                            'order). Drop the foreign key for the cleanup' % _describe_fk(fk))
            continue
        if not carries_shard_key(fk, child_key, parent_key):
            entry['verdict'] = 'refused: does not carry the shard key'
            problems.append('%s does not map the shard key %s of %s onto the shard key %s of %s: a child row can '
                            'live on another shard than its parent. Make the foreign key include both shard keys, '
                            'or shard both tables by the same column'
                            % (_describe_fk(fk), child_key, fk.child, parent_key, fk.parent))
            continue
        entry['verdict'] = 'allowed: carries the shard key; %s is purged before %s' % (fk.child, fk.parent)
        edges.add((fk.child, fk.parent))
    order, cyclic = delete_order([spec.name for spec in specs], edges)
    if cyclic:
        problems.append('the foreign keys between %s form a cycle: no order deletes children before parents. '
                        'Drop one of them for the cleanup' % ', '.join(cyclic))
    trigger_report = []
    for trigger in triggers:
        name = '%s.%s' % (trigger.schema, trigger.table)
        if name not in listed:
            continue
        entry = dict(name=trigger.name, table=name, event=trigger.event, timing=trigger.timing)
        trigger_report.append(entry)
        if trigger.event != 'DELETE':
            entry['verdict'] = 'allowed: does not run on delete'
        elif allow_delete_triggers:
            entry['verdict'] = 'allowed by the operator: runs for every purged row'
        else:
            entry['verdict'] = 'refused: runs for every purged row'
            problems.append('trigger %s runs %s DELETE on %s: it runs for every row the purge deletes and may '
                            'change other tables. Drop it for the cleanup, or allow it once you know what it does '
                            '(allow_delete_triggers; in expand_2n.yml smooth_purge_allow_delete_triggers)'
                            % (trigger.name, trigger.timing, name))
    return dict(problems=problems, order=order + cyclic, foreign_keys=fk_report, triggers=trigger_report)


def read_tables(session, specs):
    """Read every listed table and check it on its own (exists, base table, primary key, integer key).

    Returns ``(problems, infos, usable)``: messages, ``{name: read_table_info()}``
    and the specs of the tables without a problem, in list order.
    """
    problems = []
    infos = {}
    usable = []
    for spec in specs:
        infos[spec.name] = read_table_info(session, spec.schema, spec.table)
        found = table_problems(spec, infos[spec.name])
        problems.extend(found)
        if not found:
            usable.append(spec)
    return problems, infos, usable


def check_tables(session, specs, allow_delete_triggers=False):
    """Read and check every listed table and the foreign keys and triggers around them.

    The one check of the schema that the preflight and the purge share.
    Returns ``(problems, infos, plan, usable)``: messages, ``{name: read_table_info()}``,
    the :func:`schema_plan` and the specs of the tables that passed their own checks.
    """
    problems, infos, usable = read_tables(session, specs)
    schemas = [spec.schema for spec in specs]
    plan = schema_plan(specs, read_foreign_keys(session, schemas), read_triggers(session, schemas),
                       allow_delete_triggers)
    problems.extend(plan['problems'])
    return problems, infos, plan, usable


def describe_schema(plan):
    """Lines for people: the delete order, then every foreign key and trigger with its verdict."""
    lines = ['delete order (children first): %s' % ', '.join(plan['order'])]
    for fk in plan['foreign_keys']:
        lines.append('foreign key %s: %s (%s) -> %s (%s) ON DELETE %s - %s'
                     % (fk['name'], fk['child'], ', '.join(fk['child_columns']), fk['parent'],
                        ', '.join(fk['parent_columns']), fk['on_delete'], fk['verdict']))
    for trigger in plan['triggers']:
        lines.append('trigger %s: %s %s on %s - %s'
                     % (trigger['name'], trigger['timing'], trigger['event'], trigger['table'], trigger['verdict']))
    if not plan['foreign_keys']:
        lines.append('no foreign key touches a sharded table')
    if not plan['triggers']:
        lines.append('no trigger on a sharded table')
    return lines
