# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""smooth.mariadb.shard_verify (with shard_purge) against the two real servers, through Ansible.

The scenario of a 1 -> 2 expansion on two servers: A and B start as a
dual-master pair holding the same rows; the baseline is recorded; replication
is stopped; A keeps residue 0 and B residue 1 of modulus 2, each purged by
shard_purge; the union of the two shards must equal the baseline, and a row
copied into the wrong shard must be caught.
"""

from __future__ import annotations

import json
import socket

import pytest

from mariadb_lab import ADMIN_PASSWORD
from test_shard_purge import caught_up, count, create_tables, kill_dump_threads, replicate, running, scratch_database

MODULE = 'smooth.mariadb.shard_verify'
PURGE = 'smooth.mariadb.shard_purge'


@pytest.fixture
def verify_db(servers, waiter):
    with scratch_database(servers, waiter, 'verify') as db:
        yield db


def server_entry(server, name, **extra):
    entry = dict(name=name, login_host=server.host, login_port=server.port)
    entry.update(extra)
    return entry


def verify_args(pair, db, **extra):
    a, b = pair.a, pair.b
    args = dict(login_user='admin', login_password=ADMIN_PASSWORD, config_file='',
                servers=[server_entry(a, 'a'), server_entry(b, 'b')],
                tables=['%s.orders' % db, {'name': '%s.items' % db, 'key': 'order_id'},
                        {'name': '%s.accounts' % db, 'key': 'id'}],
                key_column='customer_id')
    args.update(extra)
    return args


def purge_args(server, db, owned):
    return dict(server.login_args(), tables=['%s.orders' % db, {'name': '%s.items' % db, 'key': 'order_id'},
                                             {'name': '%s.accounts' % db, 'key': 'id'}],
                key_column='customer_id', modulus=2, owned_residues=owned, chunk_size=25)


def test_record_split_purge_and_verify_the_union(ansible, servers, verify_db, tmp_path, waiter):
    a, b = servers.a, servers.b
    db = verify_db
    # A <=> B dual master; the rows are written on A and replicate to B.
    replicate(a, b, 'peer', start=False)
    replicate(b, a, 'peer', start=False)
    a.query("START SLAVE 'peer'")
    b.query("START SLAVE 'peer'")
    waiter(lambda: running(a, 'peer') and running(b, 'peer'), what='dual master running')
    create_tables(a, db)  # not binlogged: create on both
    create_tables(b, db)
    a.query('UPDATE %s.orders SET amount = amount + 1 WHERE id <= 10' % db)  # replicated
    caught_up(b, a)

    baseline_file = tmp_path / 'baseline.json'
    recorded = ansible(MODULE, verify_args(servers, db, mode='record', baseline_file=str(baseline_file)), diff=True)
    assert recorded.get('failed') is not True, recorded.get('msg')
    assert recorded['changed'] is True
    assert recorded['failures'] == []
    tables = recorded['baseline']['tables']
    assert tables['%s.orders' % db]['rows'] == 200
    assert tables['%s.items' % db]['rows'] == 300
    assert tables['%s.items' % db]['primary_key'] == ['order_id', 'line']
    assert len(tables['%s.accounts' % db]['pk_checksum']) == 16
    assert json.loads(baseline_file.read_text()) == recorded['baseline']
    assert recorded['diff']['before'] == ''
    # A and B own everything: one ownership class, compared as mirrors.
    assert recorded['report']['ownership']['classes'][0]['servers'] == ['a', 'b']
    mirror = recorded['report']['mirrors'][0]
    assert mirror['servers'] == ['a', 'b']
    assert mirror['tables']['%s.orders' % db]['equal'] is True
    assert recorded['report']['servers']['b']['snapshot']['binlog_file'].startswith('mysql-bin.')

    # Same content again: the file is not rewritten.
    again = ansible(MODULE, verify_args(servers, db, mode='record', baseline_file=str(baseline_file)))
    assert again.get('failed') is not True, again.get('msg')
    assert again['changed'] is False
    assert again['baseline'] == recorded['baseline']

    # Split: stop replication between them, then each keeps its own residue.
    for server in (a, b):
        server.reset_replication()
    for server in (a, b):
        kill_dump_threads(server, waiter)
    for server, owned in ((a, [0]), (b, [1])):
        purged = ansible(PURGE, purge_args(server, db, owned))
        assert purged.get('failed') is not True, purged.get('msg')
        assert purged['changed'] is True
    assert count(a, 'SELECT COUNT(*) FROM %s.accounts' % db) == 75
    assert count(b, 'SELECT COUNT(*) FROM %s.accounts' % db) == 75

    split = dict(modulus=2, servers=[server_entry(a, 'a', owned_residues=[0]),
                                     server_entry(b, 'b', owned_residues=[1])])
    verified = ansible(MODULE, verify_args(servers, db, mode='verify', baseline_file=str(baseline_file), **split))
    assert verified.get('failed') is not True, verified.get('msg')
    assert verified['changed'] is False
    assert verified['failures'] == []
    union = verified['report']['union']['%s.orders' % db]
    assert union['equal'] is True and union['rows'] == 200
    assert union['pk_checksum'] == union['baseline_pk_checksum'] == tables['%s.orders' % db]['pk_checksum']
    assert verified['report']['servers']['a']['tables']['%s.orders' % db]['foreign_rows'] == 0
    assert verified['report']['mirrors'] == []

    # A copy of one of A's rows lands on B: B holds a row it does not own.
    b.setup_sql(["INSERT INTO %s.accounts VALUES (42, 'acct-42')" % db])
    wrong = ansible(MODULE, verify_args(servers, db, mode='verify', baseline=recorded['baseline'], **split))
    assert wrong['failed'] is True
    assert wrong['failures'] == [
        'server b (127.0.0.1:%d) holds 1 row(s) of %s.accounts it does not own (modulus 2, owned residues 1): '
        'id = 42' % (b.port, db)]
    assert wrong['msg'].startswith('1 assertion(s) failed: (1) server b')
    assert wrong['report']['servers']['b']['tables']['%s.accounts' % db]['foreign_examples'] == ['id = 42']
    assert wrong['report']['union']['%s.accounts' % db]['equal'] is True
    # A foreign row does not go away by reading again.
    assert (wrong['reason'], wrong['retryable'], wrong['failed_checks']) == ('assertions_failed', False, ['ownership'])

    # A primary key present in both shards (the shard key is not part of the
    # orders primary key): both own their copy, the union counts it twice.
    b.setup_sql(['DELETE FROM %s.accounts WHERE id = 42' % db,
                 "INSERT INTO %s.orders VALUES (2, 1, 9.99, 'dup')" % db])
    assert count(a, 'SELECT COUNT(*) FROM %s.orders WHERE id = 2' % db) == 1
    dup = ansible(MODULE, verify_args(servers, db, mode='verify', baseline_file=str(baseline_file), **split))
    assert dup['failed'] is True
    assert len(dup['failures']) == 2
    assert dup['failures'][0] == ('%s.orders: the shards together hold 201 rows, the baseline 200 '
                                  '(+1: rows duplicated across shards or written since)' % db)
    assert dup['failures'][1].startswith('%s.orders: primary key checksum of the union is ' % db)
    assert dup['report']['union']['%s.orders' % db]['equal'] is False
    assert (dup['reason'], dup['retryable'], dup['failed_checks']) == ('assertions_failed', False, ['union'])

    # Check mode records nothing to the file.
    other_file = tmp_path / 'other.json'
    checked = ansible(MODULE, verify_args(servers, db, mode='record', baseline_file=str(other_file), **split),
                      check=True)
    assert checked.get('failed') is not True, checked.get('msg')
    assert checked['changed'] is True
    assert not other_file.exists()


def test_mirrors_that_differ_name_the_first_differing_chunk(ansible, servers, verify_db):
    a, b = servers.a, servers.b
    db = verify_db
    create_tables(a, db)
    create_tables(b, db)
    b.setup_sql(["UPDATE %s.orders SET note = NULL WHERE id = 57" % db,
                 'DELETE FROM %s.items WHERE order_id = 33 AND line = 4' % db])

    result = ansible(MODULE, verify_args(servers, db, mode='record', mirrors=[['a', 'b']], chunk_size=10))
    assert result['failed'] is True
    failures = result['failures']
    assert len(failures) == 2
    assert failures[0].startswith(
        'mirrors a, b differ in %s.orders (rows a=200, b=200); first differing chunk from after id = 50 '
        'up to id = 60: rows a=10, b=10, checksums a=' % db), failures[0]
    assert failures[1].startswith(
        'mirrors a, b differ in %s.items (rows a=300, b=299); first differing chunk from after '
        '(order_id, line) = (32, 5) up to (order_id, line) = (34, 5): rows a=10, b=9' % db), failures[1]
    orders = result['report']['mirrors'][0]['tables']['%s.orders' % db]
    assert orders['first_difference']['lower'] == [50] and orders['first_difference']['upper'] == [60]
    assert orders['chunks_compared'] == 6
    checksums = orders['first_difference']['checksums']
    assert checksums['a'] != checksums['b']
    assert result['report']['mirrors'][0]['tables']['%s.accounts' % db]['equal'] is True
    assert result['changed'] is False
    # Mirrors read one after the other may agree when read again (the playbook retries on retryable).
    assert (result['reason'], result['retryable'], result['failed_checks']) == ('assertions_failed', True, ['mirrors'])


def test_bad_input_is_refused_with_every_problem(ansible, servers, verify_db):
    a, b = servers.a, servers.b
    db = verify_db
    create_tables(a, db)
    create_tables(b, db, names=('orders',))
    b.setup_sql(['CREATE TABLE %s.items (order_id VARCHAR(8) PRIMARY KEY, line INT) ENGINE=InnoDB' % db,
                 'CREATE TABLE %s.accounts (id BIGINT, name TEXT) ENGINE=InnoDB' % db])

    wrong = ansible(MODULE, verify_args(servers, db, servers=[server_entry(a, 'a'),
                                                              server_entry(b, 'b', login_password='wrong')]))
    assert wrong['failed'] is True
    assert ("server b: Unable to connect to MariaDB at 127.0.0.1:%d as user 'admin': (1045) Access denied"
            % b.port) in wrong['msg']
    assert 'mode=verify needs baseline or baseline_file' in wrong['msg']
    assert (wrong['reason'], wrong['retryable']) == ('cannot_run', False)

    refused = ansible(MODULE, verify_args(servers, db, mode='record',
                                          tables=['%s.orders' % db, '%s.missing' % db,
                                                  {'name': '%s.items' % db, 'key': 'order_id'},
                                                  {'name': '%s.accounts' % db, 'key': 'id'}]))
    assert refused['failed'] is True
    msg = refused['msg']
    assert 'server a (127.0.0.1:%d): table %s.missing does not exist' % (a.port, db) in msg
    assert 'server b (127.0.0.1:%d): key column order_id of table %s.items is varchar(8), not an integer type' % (
        b.port, db) in msg
    assert 'server b (127.0.0.1:%d): table %s.accounts has no primary key' % (b.port, db) in msg
    assert (refused['reason'], refused['retryable']) == ('cannot_run', False)

    overlap = ansible(MODULE, verify_args(servers, db, mode='record', modulus=4,
                                          servers=[server_entry(a, 'a', owned_residues=[0, 1]),
                                                   server_entry(b, 'b', modulus=2, owned_residues=[1])]))
    assert overlap['failed'] is True
    assert 'a and b both own residue(s) 1 of modulus 4' in overlap['msg']
    assert 'no server owns residue(s) 2 of modulus 4' in overlap['msg']


def closed_port():
    """A loopback port nothing listens on (bound, then closed): connecting to it is refused at once."""
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_a_server_that_does_not_answer_is_retryable_a_wrong_password_is_not(ansible, servers, verify_db):
    """The verify phase reads every node; one that is restarting (mariadbd killed, a failover) refuses the
    connection for a few seconds: the module says the same call may pass (retryable), and verify.yml reads
    again. A wrong password beside it is a problem no wait fixes."""
    a = servers.a
    db = verify_db
    create_tables(a, db)
    port = closed_port()
    down = dict(name='down', login_host='127.0.0.1', login_port=port, owned_residues=[1])

    restarting = ansible(MODULE, verify_args(servers, db, mode='record', modulus=2,
                                             servers=[server_entry(a, 'a', owned_residues=[0]), down]))
    assert restarting['failed'] is True
    assert "server down: Unable to connect to MariaDB at 127.0.0.1:%d as user 'admin': (2003)" % port in restarting['msg']
    assert 'The server(s) down did not answer: if they are restarting, the same call may pass' in restarting['msg']
    assert (restarting['reason'], restarting['retryable']) == ('cannot_run', True)

    both = ansible(MODULE, verify_args(servers, db, mode='record', modulus=2,
                                       servers=[server_entry(a, 'a', owned_residues=[0], login_password='wrong'),
                                                down]))
    assert both['failed'] is True
    assert '(1045) Access denied' in both['msg'] and '(2003)' in both['msg']
    assert 'did not answer' not in both['msg']
    assert (both['reason'], both['retryable']) == ('cannot_run', False)
