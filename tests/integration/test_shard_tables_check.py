# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smooth.mariadb.shard_tables_check against a real server, through Ansible: the preflight refuses
what the cleanup would refuse, before anything changes, and changes nothing itself."""

from __future__ import annotations

from test_shard_purge import MODULE as PURGE, count, create_family, family_args, scratch_database

MODULE = 'smooth.mariadb.shard_tables_check'


def check_args(server, tables, **extra):
    args = dict(server.login_args(), tables=tables, key_column='account_no', modulus=1, owned_residues=[0])
    args.update(extra)
    return args


def test_accepts_a_clean_schema_reports_order_and_counts(ansible, servers, waiter):
    a = servers.a
    with scratch_database(servers, waiter, 'check') as db:
        create_family(a, db)
        tables = ['%s.parent' % db, '%s.child' % db]
        done = ansible(MODULE, check_args(a, tables))
        assert done.get('failed') is not True, done.get('msg')
        assert done['changed'] is False
        assert done['problems'] == []
        assert done['delete_order'] == ['%s.child' % db, '%s.parent' % db]
        expected = dict(primary_key=['id'], key_column='account_no', key_type='int(11)', engine='InnoDB', rows=40,
                        no_shard_rows=0, other_shard_rows=0)
        assert done['tables']['%s.parent' % db] == expected
        assert done['report'][0] == 'delete order (children first): %s.child, %s.parent' % (db, db)
        assert done['report'][1].startswith('foreign key fk_child_parent: %s.child (account_no, parent_id) -> '
                                            '%s.parent (account_no, id) ON DELETE RESTRICT - allowed' % (db, db))
        # Whatever the preflight accepts, the purge's own check accepts too (same order).
        purge = ansible(PURGE, family_args(a, db), check=True)
        assert purge.get('failed') is not True, purge.get('msg')
        assert purge['delete_order'] == done['delete_order']


def test_refuses_everything_the_cleanup_would_refuse_and_changes_nothing(ansible, servers, waiter):
    a = servers.a
    with scratch_database(servers, waiter, 'check') as db:
        create_family(a, db, on_delete='CASCADE')
        a.setup_sql([
            'CREATE TABLE %s.textkey (id INT PRIMARY KEY, account_no VARCHAR(8) NOT NULL) ENGINE=InnoDB' % db,
            'CREATE TABLE %s.`t%%` (id INT PRIMARY KEY, account_no INT NULL) ENGINE=InnoDB' % db,
            'INSERT INTO %s.`t%%` VALUES (1, 4), (2, 5), (3, NULL), (4, -2)' % db,
            "CREATE TRIGGER %s.audit AFTER DELETE ON %s.parent FOR EACH ROW SET @gone = 1" % (db, db),
        ])
        tables = ['%s.parent' % db, '%s.textkey' % db, '%s.t%%' % db, '%s.parent' % db]
        refused = ansible(MODULE, check_args(a, tables, modulus=2, owned_residues=[0]), check=True)
        assert refused['failed'] is True
        msg = refused['msg']
        assert msg.startswith('The sharded tables on 127.0.0.1:%d cannot be expanded, nothing was changed. 6 problem(s):'
                              % a.port), msg
        assert 'table %s.parent is listed twice' % db in msg
        assert 'key column account_no of table %s.textkey is varchar(8), not an integer type' % db in msg
        assert ('foreign key fk_child_parent of %s.child (account_no, parent_id) references %s.parent (account_no, '
                'id) ON DELETE CASCADE: a table that is not among the sharded tables references a sharded table'
                % (db, db)) in msg
        assert 'trigger audit runs AFTER DELETE on %s.parent' % db in msg
        assert ('sharded table %s.t%% holds 2 row(s) with a NULL or negative account_no (they belong to no shard) '
                'and 1 row(s) whose account_no %% 2 is not 0 (rows of another shard)' % db) in msg
        odd = count(a, 'SELECT COUNT(*) FROM %s.parent WHERE account_no %% 2 = 1' % db)
        assert ('sharded table %s.parent holds 0 row(s) with a NULL or negative account_no (they belong to no shard) '
                'and %d row(s) whose account_no %% 2 is not 0' % (db, odd)) in msg
        assert refused['tables']['%s.t%%' % db]['rows'] == 4
        assert refused['changed'] is False
        assert count(a, 'SELECT COUNT(*) FROM %s.child' % db) == 80

        # The trigger, once allowed, is no longer a problem; the rest still is.
        allowed = ansible(MODULE, check_args(a, ['%s.parent' % db, '%s.child' % db], allow_delete_triggers=True))
        assert allowed.get('failed') is not True, allowed.get('msg')
        assert [t['verdict'] for t in allowed['triggers']] == ['allowed by the operator: runs for every purged row']

        schema_only = ansible(MODULE, check_args(a, ['%s.t%%' % db], scan_rows=False))
        assert schema_only.get('failed') is not True, schema_only.get('msg')
        assert 'rows' not in schema_only['tables']['%s.t%%' % db]
