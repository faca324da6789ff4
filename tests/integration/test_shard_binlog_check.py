# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smooth.mariadb.shard_binlog_check against real servers, through Ansible.

A plays the old node that keeps residue 1 of 3 after the split; B plays the owner of residues 0 and 2.
Both start with the same rows (written without binary logging). A writer that still routes by the old
map then inserts, updates and deletes rows of B's residues on A: the cleanup check must name each of
them, accept them once they are carried over to B, accept the purge's own deletes, and the rollback
check must refuse once the purge has deleted rows.
"""

from __future__ import annotations

import json

import pytest

from mariadb_lab import ADMIN_PASSWORD
from test_shard_purge import MODULE as PURGE, count, create_tables, owner_args, purge_args, scratch_database

MODULE = 'smooth.mariadb.shard_binlog_check'


@pytest.fixture
def shard_db(servers, waiter):
    """The purge tests' three tables, the same rows on A and B; replication reset and dropped afterwards."""
    with scratch_database(servers, waiter, 'binlog') as db:
        for server in (servers.a, servers.b):
            create_tables(server, db)
        yield db


def check_args(a, db, since, mode='cleanup', **extra):
    args = dict(a.login_args(), mode=mode, tables=['%s.orders' % db], key_column='customer_id',
                modulus=3, owned_residues=[1])
    if since is not None:
        args['since'] = since
    args.update(extra)
    return args


def position(server):
    return server.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')[0]['pos']


def test_writes_since_the_split_to_rows_given_away_are_named_until_carried_over(ansible, servers, shard_db):
    a, b = servers.a, servers.b
    db = shard_db
    since = position(a)
    owners = [owner_args(b, [0, 2])]
    stray_update = a.query('SELECT MIN(id) AS id FROM %s.orders WHERE customer_id %% 3 = 0' % db)[0]['id']
    stray_delete = a.query('SELECT MIN(id) AS id FROM %s.orders WHERE customer_id %% 3 = 2' % db)[0]['id']
    # The forgotten writer, on A after the split (binary-logged, as any client's writes).
    a.query("INSERT INTO %s.orders VALUES (1001, 5, 7.00, 'stray')" % db)
    a.query('UPDATE %s.orders SET amount = 250 WHERE id = %%s' % db, (stray_update,))
    a.query('DELETE FROM %s.orders WHERE id = %%s' % db, (stray_delete,))
    # A write of A's own residue is no business of the check.
    a.query("INSERT INTO %s.orders VALUES (1002, 4, 1.00, 'own')" % db)

    refused = ansible(MODULE, check_args(a, db, since, owners=owners), check=True)
    assert refused['failed'] is True
    msg = refused['msg']
    assert msg.startswith('Refusing the cleanup on 127.0.0.1:%d: 3 row(s) it no longer owns were written since the '
                          'split (3 write(s)) and their owner does not hold what was written' % a.port), msg
    assert refused['counts'] == dict(insert=1, update=1, delete=1)
    assert sorted((w['kind'], w['key'][0]) for w in refused['writes']) == sorted(
        [('insert', 1001), ('update', stray_update), ('delete', stray_delete)])
    insert = [w for w in refused['writes'] if w['kind'] == 'insert'][0]
    assert insert['statement'] == "INSERT INTO %s.orders VALUES (1001, 5, 7.00, 'stray')" % db
    # The GTID of A's own domain; MariaDB logs row changes without the connection id (no BEGIN event).
    domain = a.query('SELECT @@GLOBAL.gtid_domain_id AS d')[0]['d']
    assert insert['gtid'].startswith('%d-%d-' % (domain, a.server_id)), insert['gtid']
    assert insert['thread_id'] is None and insert['by_purge'] is False
    assert 'insert of %s.orders id = 1001 in GTID %s at ' % (db, insert['gtid']) in msg
    assert ADMIN_PASSWORD not in json.dumps(refused.result)
    # The reader's binlog dump thread is gone when the module returns (the purge's interlock counts them).
    assert count(a, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%%'") == 0

    # The operator carries the writes over to the owner; each row then matches (or is gone on both).
    b.query("INSERT INTO %s.orders VALUES (1001, 5, 7.00, 'stray')" % db)
    # Meanwhile the application (new map) changed another column of that row on its owner: only what the
    # stray update changed (amount) has to be carried over.
    b.query("UPDATE %s.orders SET note = 'paid' WHERE id = %%s" % db, (stray_update,))
    still = ansible(MODULE, check_args(a, db, since, owners=owners))
    assert still['failed'] is True and still['settled_rows'] == 1
    b.query('UPDATE %s.orders SET amount = 250 WHERE id = %%s' % db, (stray_update,))
    half = ansible(MODULE, check_args(a, db, since, owners=owners))
    assert half['failed'] is True and half['foreign_rows'] == 1 and half['settled_rows'] == 2
    assert [w['key'][0] for w in half['writes']] == [stray_delete]
    b.query('DELETE FROM %s.orders WHERE id = %%s' % db, (stray_delete,))
    settled = ansible(MODULE, check_args(a, db, since, owners=owners))
    assert settled.get('failed') is not True, settled.get('msg')
    assert (settled['foreign_writes'], settled['settled_rows'], settled['changed']) == (0, 3, False)

    # Without owners nothing counts as carried over.
    assert ansible(MODULE, check_args(a, db, since))['failed'] is True

    # The purge's own deletes are told apart by its mark; for a rollback every delete counts.
    purged = ansible(PURGE, purge_args(a, db, tables=['%s.orders' % db], owners=owners))
    assert purged.get('failed') is not True, purged.get('msg')
    after = ansible(MODULE, check_args(a, db, since, owners=owners))
    assert after.get('failed') is not True, after.get('msg')
    assert after['purge_deletes'] == purged['deleted']
    # (The stray row 1001 was inserted here since the split: the purge's delete of it takes nothing from B.)
    rollback = ansible(MODULE, check_args(a, db, since, mode='rollback'))
    assert rollback['failed'] is True
    assert rollback['msg'].startswith('Refusing the rollback on 127.0.0.1:%d: %d row(s) it no longer owns were deleted '
                                      'here since the split (%d by the purge)'
                                      % (a.port, purged['deleted'], purged['deleted'] - 1)), rollback['msg']
    assert count(a, 'SELECT COUNT(*) FROM %s.orders WHERE customer_id %% 3 <> 1' % db) == 0


def test_a_stray_row_moved_to_its_owner_under_a_new_id_is_settled(ansible, servers, shard_db):
    """Both shards hand out the same auto-increment ids since the split: the owner already used the stray
    row's id for another row, so the operator copies the stray row there under a new id and deletes it here."""
    a, b = servers.a, servers.b
    db = shard_db
    since = position(a)
    owners = [owner_args(b, [0, 2])]
    b.query("INSERT INTO %s.orders VALUES (1001, 8, 3.00, 'owner')" % db)
    a.query("INSERT INTO %s.orders VALUES (1001, 5, 7.00, 'stray')" % db)
    refused = ansible(MODULE, check_args(a, db, since, owners=owners))
    assert refused['failed'] is True and [(w['kind'], w['key'], w['shard_key']) for w in refused['writes']] == [
        ('insert', [1001], 5)], refused['writes']
    # Copied under a new id, but still here: not yet settled (the owner's 1001 is another row).
    b.query("INSERT INTO %s.orders VALUES (1003, 5, 7.00, 'stray')" % db)
    assert ansible(MODULE, check_args(a, db, since, owners=owners))['failed'] is True
    a.query('DELETE FROM %s.orders WHERE id = 1001' % db)
    moved = ansible(MODULE, check_args(a, db, since, owners=owners))
    assert moved.get('failed') is not True, moved.get('msg')
    assert (moved['foreign_rows'], moved['settled_rows']) == (0, 1)
    # Had the owner kept the stray row under its id too, the delete here would not be settled.
    b.query('UPDATE %s.orders SET customer_id = 5 WHERE id = 1001' % db)
    kept = ansible(MODULE, check_args(a, db, since, owners=owners))
    assert kept['failed'] is True and [(w['kind'], w['key']) for w in kept['writes']] == [('delete', [1001])]


def test_rollback_check_passes_without_deletes_and_bad_input_is_named(ansible, servers, shard_db):
    a = servers.a
    db = shard_db
    since = position(a)
    a.query("INSERT INTO %s.orders VALUES (1001, 5, 7.00, 'stray')" % db)
    # With the module's default option file (~/.my.cnf, absent here), as a playbook runs it.
    args = check_args(a, db, since, mode='rollback')
    del args['config_file']
    fine = ansible(MODULE, args)
    assert fine.get('failed') is not True, fine.get('msg')
    assert fine['foreign_writes'] == 0 and fine['counts']['insert'] == 0 and fine['events'] >= 1

    # A row a stray writer inserted here since the split and deleted again takes nothing from the other half.
    a.query("DELETE FROM %s.orders WHERE id = 1001" % db)
    fine = ansible(MODULE, check_args(a, db, since, mode='rollback'))
    assert fine.get('failed') is not True, fine.get('msg')
    # A row the other half owned since before the split, deleted here, is lost to it.
    victim = a.query('SELECT MIN(id) AS id FROM %s.orders WHERE customer_id %% 3 = 2' % db)[0]['id']
    a.query('DELETE FROM %s.orders WHERE id = %%s' % db, (victim,))
    deleted = ansible(MODULE, check_args(a, db, since, mode='rollback'))
    assert deleted['failed'] is True and deleted['counts']['delete'] == 1
    assert [w['key'] for w in deleted['writes']] == [[victim]]
    # Writes that originated on the old partner (replicated here before the split) are passed over.
    ignored = ansible(MODULE, check_args(a, db, since, mode='rollback', ignore_server_ids=[a.server_id]))
    assert ignored.get('failed') is not True, ignored.get('msg')
    assert ignored['counts']['delete'] == 0

    bad = ansible(MODULE, check_args(a, db, 'yesterday', tables=['%s.ghost' % db]))
    assert bad['failed'] is True
    assert "since must be a GTID position such as 0-1-100,1-2-50, got 'yesterday'" in bad['msg']
    assert 'table %s.ghost does not exist' % db in bad['msg']

    # A position the binary log does not hold (it was purged, or it is not this node's): nothing can be
    # proven, and the check fails with the server's word.
    domain = a.query('SELECT @@GLOBAL.gtid_domain_id AS d')[0]['d']
    missing = ansible(MODULE, dict(check_args(a, db, None), split_version=7))
    assert missing['failed'] is True
    assert missing['msg'].startswith('No split point of the expansion to shard map version 7 is recorded on '
                                     '127.0.0.1:%d' % a.port), missing['msg']
    a.setup_sql(['CREATE DATABASE IF NOT EXISTS smooth_mariadb',
                 'CREATE TABLE IF NOT EXISTS smooth_mariadb.split_point (version INT NOT NULL PRIMARY KEY, '
                 'modulus INT NOT NULL, gtid_binlog_pos TEXT NOT NULL, recorded_at DATETIME NOT NULL)',
                 "REPLACE INTO smooth_mariadb.split_point VALUES (7, 3, '%s', UTC_TIMESTAMP())" % since])
    recorded = ansible(MODULE, dict(check_args(a, db, None, mode='rollback'), split_version=7))
    assert recorded['failed'] is True
    assert (recorded['since'], recorded['counts']['delete']) == (since, 1)
    unknown = '%d-%d-999999999' % (domain, a.server_id)
    gone = ansible(MODULE, check_args(a, db, unknown))
    assert gone['failed'] is True
    assert gone['msg'].startswith('Reading the binary log of 127.0.0.1:%d since %s failed: (1236)'
                                  % (a.port, unknown)), gone['msg']


def test_owner_deletes_lists_the_rows_the_owner_deleted_since_the_split(ansible, servers, shard_db):
    """Read on B, the owner of residues 0 and 2: the rows of its own residues deleted there since the split."""
    b = servers.b
    db = shard_db
    since = position(b)
    ids = dict((r, b.query('SELECT id FROM %s.orders WHERE customer_id %% 3 = %d ORDER BY id LIMIT 2' % (db, r)))
               for r in (0, 1, 2))
    gone = [ids[0][0]['id'], ids[2][0]['id']]
    b.query('DELETE FROM %s.orders WHERE id IN (%d, %d)' % (db, gone[0], gone[1]))
    # A row of residue 1 is not B's own; a row deleted and written again is there.
    b.query('DELETE FROM %s.orders WHERE id = %d' % (db, ids[1][0]['id']))
    back = b.query('SELECT * FROM %s.orders WHERE id = %d' % (db, ids[0][1]['id']))[0]
    b.query('DELETE FROM %s.orders WHERE id = %d' % (db, back['id']))
    b.query('INSERT INTO %s.orders VALUES (%%s, %%s, %%s, %%s)' % db,
            (back['id'], back['customer_id'], back['amount'], back['note']))
    b.query('UPDATE %s.orders SET amount = amount + 1 WHERE id = %d' % (db, ids[2][1]['id']))
    found = ansible(MODULE, dict(check_args(b, db, since, mode='owner_deletes'), owned_residues=[0, 2]))
    assert found.get('failed') is not True, found.get('msg')
    assert sorted((row['table'], row['key']) for row in found['deleted_rows']) == sorted([
        ('%s.orders' % db, [gone[0]]), ('%s.orders' % db, [gone[1]])]), found['deleted_rows']
    assert all(row['shard_key'] % 3 in (0, 2) for row in found['deleted_rows'])
    assert found['counts']['delete'] == 3 and found['foreign_writes'] == 0 and found['changed'] is False


def test_a_stray_update_the_purge_deleted_is_found_with_its_values(ansible, servers, shard_db):
    """A forgotten writer updates a row of B's residue on A after the check before the mark passed; the purge
    finds the row on B (primary key and shard key) and deletes it. The check after the purge names the update
    and gives the row as the purge deleted it - the only copy of what was written."""
    a, b = servers.a, servers.b
    db = shard_db
    since = position(a)
    owners = [owner_args(b, [0, 2])]
    before = ansible(MODULE, check_args(a, db, since, owners=owners))
    assert before.get('failed') is not True, before.get('msg')
    victim = a.query('SELECT MIN(id) AS id FROM %s.orders WHERE customer_id %% 3 = 0' % db)[0]['id']
    a.query('UPDATE %s.orders SET amount = 250 WHERE id = %%s' % db, (victim,))
    purged = ansible(PURGE, purge_args(a, db, tables=['%s.orders' % db], owners=owners))
    assert purged.get('failed') is not True, purged.get('msg')
    assert count(a, 'SELECT COUNT(*) FROM %s.orders WHERE id = %d' % (db, victim)) == 0
    after = ansible(MODULE, check_args(a, db, since, owners=owners))
    assert after['failed'] is True, after
    assert [(w['kind'], w['key'], w['by_purge']) for w in after['writes']] == [('update', [victim], True)]
    # Read from where the check before the purge ended (as expand_2n.yml does): the same finding.
    window = ansible(MODULE, check_args(a, db, before['end_gtid_pos'], owners=owners))
    assert window['failed'] is True and window['since'] == before['end_gtid_pos']
    assert [(w['kind'], w['key'], w['by_purge']) for w in window['writes']] == [('update', [victim], True)]
    assert window['purge_deletes'] == purged['deleted']
    assert after['writes'][0]['purged_image']['amount'] == 250
    assert 'update of %s.orders id = %d in GTID ' % (db, victim) in after['msg']
    assert ', then deleted by the purge in GTID ' in after['msg'] and 'amount=250' in after['msg']
    # Written on the owner as the operator is told: settled.
    b.query('UPDATE %s.orders SET amount = 250 WHERE id = %%s' % db, (victim,))
    settled = ansible(MODULE, check_args(a, db, since, owners=owners))
    assert settled.get('failed') is not True, settled.get('msg')
    assert (settled['settled_rows'], settled['purge_deletes']) == (1, purged['deleted'])


def test_the_cleanup_check_needs_annotated_row_events(ansible, servers, shard_db):
    """Without binlog_annotate_row_events the purge's mark is not in the binary log: its deletes would look
    like a forgotten writer's, and the check after the purge would refuse them all. Refused up front."""
    a = servers.a
    db = shard_db
    a.setup_sql(['SET GLOBAL binlog_annotate_row_events = OFF'])
    try:
        refused = ansible(MODULE, check_args(a, db, position(a)))
        assert refused['failed'] is True
        assert refused['msg'].startswith('binlog_annotate_row_events is OFF on 127.0.0.1:%d: the purge marks its '
                                         'deletes' % a.port), refused['msg']
        # A rollback counts every delete, marked or not: it does not need the marks.
        rollback = ansible(MODULE, check_args(a, db, position(a), mode='rollback'))
        assert rollback.get('failed') is not True, rollback.get('msg')
    finally:
        a.setup_sql(['SET GLOBAL binlog_annotate_row_events = ON'])
