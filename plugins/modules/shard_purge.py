#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: shard_purge
short_description: Delete the rows a shard node no longer owns, in small throttled chunks
version_added: 0.1.0
description:
  - After a modulo-sharded fleet grows from N to 2N shards, each node still holds
    the rows of the residue it gave away. This module deletes, from every listed
    table, the rows whose shard key C(key MOD modulus) is not in O(owned_residues).
  - Rows are deleted in chunks that follow the primary key. A chunk is the next
    O(chunk_size) rows to delete after the previous chunk, found with an index
    range scan of C(PRIMARY); it is deleted with one C(DELETE) bounded by that
    primary key range (plus the ownership condition) and committed on its own
    (autocommit). There is never one big C(DELETE).
  - The session uses C(READ COMMITTED) (unless the binary log format is
    C(STATEMENT)), so rows of the node's own residue that a chunk's range scan
    passes are not kept locked. With O(owners) a chunk is a transaction of its own
    (see the owner check), committed before the next one starts.
  - Deletes are written to the binary log (see O(binlog)), so they replicate to the
    node's partner, the seeded copy that owns the same residues, which thereby loses the same rows.
    Run the module on one node of a pair only. With C(ROW) binary logging, a delete
    replicated to a partner that has already deleted the row by itself stops the
    partner's SQL thread (error 1032).
  - Before the first chunk and after each one the module makes sure the replication lag of O(partner) behind
    this node stays within O(max_lag) until the next chunk commits, and pauses while it would not, for at
    most O(max_pause) seconds in total; then it fails with the lag. See O(max_lag) for how it is measured.
  - Resumable. The module keeps no state of its own; each run walks the tables from
    the first primary key again. A rerun after a failure or an interruption
    continues with what is left and, when nothing is left, reports no change.
  - B(Refusals.) Before deleting anything the module checks, and refuses in one
    message listing every problem - the options (O(modulus) of at least 1,
    O(owned_residues) not empty, within C(0..modulus-1), no duplicates); every table
    exists, is a base table, has a primary key and the key column, and the key
    column has an integer type; no row has a NULL or negative key (such a row
    belongs to no shard, see notes); and the safety interlock below.
  - B(Foreign keys and triggers.) Before deleting anything (also in check mode) the module reads every
    foreign key whose child or parent is a listed table and every trigger on one, and refuses - a foreign
    key from a table that is not listed into a listed one (C(RESTRICT) would fail in the middle of the purge,
    C(CASCADE) would delete rows nobody checked, C(SET NULL) would change them); a foreign key between two
    listed tables that does not map the child's shard key column onto the parent's (a child row could live
    on another shard than its parent); a table that references itself, and any cycle of foreign keys; a
    C(DELETE) trigger on a listed table, unless O(allow_delete_triggers). Foreign keys from a listed table
    into an unlisted one are allowed (deleting a child row never touches its parent). The tables are then
    purged children first, whatever the order of O(tables) (RV(delete_order)); without foreign keys in the
    order they are listed.
  - B(Safety interlock.) Purging a node that still replicates to or from a node owning
    other residues would delete that node's rows too. Before deleting anything the
    module proves, from the server's own state, that this node replicates only with
    allowed peers - O(allowed_peers) and O(partner) - and refuses naming every
    connection or replica that is not one. What is checked on this node (and, when
    O(partner) is given, on the partner too, where this node is the allowed peer)
    is, in order -
  - (1) every replication connection in C(SHOW ALL SLAVES STATUS), running or stopped,
    must point at an allowed peer. A connection matches a peer given with a host when
    its C(Master_Host) and C(Master_Port) equal the peer's host and port (compared as
    text, case-insensitively; no name resolution), and, when the peer also has a
    O(allowed_peers[].server_id) and the connection's IO thread runs, the source
    must report that server_id. A connection matches a peer given by server_id only
    when its IO thread runs and its C(Master_Server_Id) is that server_id (a stopped
    connection's C(Master_Server_Id) is only the last one seen and proves nothing).
  - (2) every replica registered with this node in C(SHOW SLAVE HOSTS) must have the
    server_id of an allowed peer or, for a peer given without server_id, its reported
    host and port.
  - (3) C(information_schema.PROCESSLIST) may not hold more binlog dump threads than
    there are registered replicas; a surplus is an unidentified reader of the binary
    log (for example C(mariadb-binlog --read-from-remote-server), a CDC tool) and is
    refused, since it would receive the deletes too.
  - (4) the node is not a Galera member (C(wsrep_on)), and the login account has the
    C(PROCESS) privilege, without which other accounts' dump threads are invisible.
  - B(Owner check.) With O(owners), every row is looked up on the shard that owns it before it is deleted.
    Each chunk is one transaction. Its rows are read with a locking read (C(FOR UPDATE)) that returns, per
    residue, their count and the sum of 64-bit hashes of their primary key and shard key; the owner of that
    residue is asked for the same over the same primary key range at the same time. When both agree the
    chunk is deleted with one C(DELETE) of the range, and committed only when that C(DELETE) deleted exactly
    the rows counted - a row another client wrote into the range meanwhile (the session takes no gap locks)
    makes the counts differ, and the chunk is rolled back. When they do not agree, or after such a rollback,
    the chunk's rows are read one by one (locked), looked up on their owner, and only rows the owner holds
    are deleted, by primary key (C(DELETE ... WHERE pk IN (...))). A row the owner lacks (or of a residue no
    owner covers) stops the purge before its chunk, naming the table, residue, owner and first keys - for
    example a row a writer that still routes by the old shard map wrote after the split, which exists
    nowhere else. Rows that were checked stay locked until their chunk commits, so nobody can change their
    keys in between. In check mode every row that would be deleted is looked up the same way (without
    locks), and the module fails when one is missing, so a check run proves the whole purge up front.
    A row counts as held by the owner only when the owner has a row with the same primary key
    B(and) the same shard key - after a split both new pairs hand out the same auto-increment ids, so the
    owner's row with that id may be another account's. The content of the other columns is not compared
    (the owner's copy may be newer). Rows the application deleted on the owner after the split are missing
    too; O(allow_missing_on_owner) deletes those.
  - Limits of the interlock - it sees only direct replication of this node (and of
    the partner, when given); a replica of a replica is not seen. Host names are
    compared as written, not resolved; a peer spelled differently (name versus
    address) is refused, never wrongly accepted. The check is made once, before the
    first delete; replication configured during the run is not seen. A replica that
    stopped replicating a moment ago stays registered until its dump thread notices
    (next binlog event or heartbeat), and is refused meanwhile. The module cannot
    know which residues a peer owns; listing a peer in O(allowed_peers) is the
    operator's statement that it owns the same residues.
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes
  - smooth.mariadb.mariadb
attributes:
  check_mode:
    support: full
    details:
      - All checks and the interlock run; per table the rows that would be deleted are
        counted (RV(tables)) and nothing is deleted.
  diff_mode:
    support: full
    details:
      - Row counts and foreign row counts per table before and after.
  idempotent:
    support: full
options:
  tables:
    description:
      - The sharded tables, each as C(database.table) (the name is split at its first dot)
        or as a dict with C(name) (C(database.table)) and C(key) (the shard key column).
      - A table given as a string, or without C(key), uses O(key_column).
    type: list
    elements: raw
    required: true
  key_column:
    description:
      - Shard key column of the tables that do not name their own.
    type: str
  modulus:
    description:
      - Number of shards after the expansion (2N); a row belongs to residue C(key MOD modulus).
    type: int
    required: true
  owned_residues:
    description:
      - Residues this node keeps, each from 0 to O(modulus) - 1. Rows of every other residue are deleted.
    type: list
    elements: int
    required: true
  chunk_size:
    description:
      - Rows deleted per chunk (one transaction, one C(DELETE) statement), from 1 to 100000.
    type: int
    default: 1000
  max_lag:
    description:
      - Largest replication lag of O(partner), in seconds, at which the purge goes on; from 0 to 3600.
      - Checked before the first chunk and after every chunk. The lag is the age of
        the oldest chunk of this run the partner has not applied yet, to the
        millisecond - the chunk's GTID (C(@@last_gtid) after its commit) compared with
        the partner's C(gtid_slave_pos). The chunks replicate in the same stream as
        the application's writes, so a backlog of those delays them too.
      - The next chunk starts when the lag plus the time a chunk takes (the longest of the last five) is
        at most O(max_lag), or when the partner has applied every chunk. The partner is asked only when the
        age of the oldest chunk not yet seen applied there, plus that time, could exceed O(max_lag); a
        healthy partner is asked about once per O(max_lag) seconds.
      - Before the first chunk, and when the deletes are not binary-logged
        (O(binlog=false)), the partner's C(Seconds_Behind_Master) for its connection
        from this node is used instead (whole seconds).
      - A partner connection whose IO or SQL thread does not run has an unknown lag
        and counts as too far behind.
    type: float
    default: 5
  max_pause:
    description:
      - Most seconds the module may pause, in total over the run, waiting for the lag
        to fall to O(max_lag). When they are used up the module fails with the lag;
        the chunks committed so far stay deleted and a rerun continues.
      - While pausing the lag is measured again after 20 ms, then at growing intervals up to half a second.
    type: float
    default: 600
  partner:
    description:
      - Login to the node's partner, the server that replicates from this node and owns
        the same residues. Its lag throttles the purge, it is an allowed peer of this
        node (identified by its C(@@server_id), read from it), and the interlock is
        also checked on it, with this node as its allowed peer.
      - Credentials, option file, timeout and TLS options not set here are taken from
        the module's own login options; the address is not.
      - Without it the purge is not throttled.
    type: dict
    suboptions:
      login_host:
        description: Host name or address of the partner.
        type: str
      login_port:
        description: TCP port of the partner.
        type: int
        default: 3306
      login_user:
        description: Account on the partner; defaults to O(login_user).
        type: str
      login_password:
        description: Password of the account on the partner; when the entry sets no login_user, defaults to O(login_password).
        type: str
      login_unix_socket:
        description: Unix socket of the partner, when it runs on the host running the module.
        type: str
      connection_name:
        description:
          - Name of the partner's replication connection from this node.
          - By default the connection whose C(Master_Server_Id) is this node's server_id,
            or whose source is this node's O(login_host) and O(login_port).
        type: str
  allowed_peers:
    description:
      - Servers this node may replicate to or from during the purge, besides O(partner), that is
        the servers that own the same residues. Each needs O(allowed_peers[].host) (and
        O(allowed_peers[].port)) or O(allowed_peers[].server_id), or both (then both must match).
      - Empty (the default) with no O(partner) means the node must not replicate at all.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: Host as written in the replication connection (C(Master_Host)) or reported by the replica.
        type: str
      port:
        description: TCP port; V(3306) when O(allowed_peers[].host) is given without it.
        type: int
      server_id:
        description: C(@@server_id) of the peer.
        type: int
  owners:
    description:
      - The servers that own the residues this node gives away (for a doubling, one node or the VIP of the
        shard that now owns them), each with the residues it owns. See the owner check in the description.
      - A residue may have one owner, which may not be this node or O(partner) (compared by C(@@server_id)),
        and every table must exist there with the same primary key; otherwise the module refuses.
      - Credentials, option file, timeout and TLS options not set here are taken from the module's own
        login options; the address is not.
      - Without it (the default) rows are deleted without this proof, and the module warns.
    type: list
    elements: dict
    suboptions:
      residues:
        description: Residues of O(modulus) the owner holds.
        type: list
        elements: int
        required: true
      login_host:
        description: Host name or address of the owner.
        type: str
      login_port:
        description: TCP port of the owner.
        type: int
        default: 3306
      login_user:
        description: Account on the owner; defaults to O(login_user). Needs C(SELECT) on the tables.
        type: str
      login_password:
        description: Password of the account on the owner; when the entry sets no login_user, defaults to O(login_password).
        type: str
      login_unix_socket:
        description: Unix socket of the owner, when it runs on the host running the module.
        type: str
  allow_missing_on_owner:
    description:
      - With O(owners), also delete rows their owner no longer holds because it deleted them since the split
        (listed in O(deleted_on_owner), which this option needs); they are still listed in RV(missing_on_owner)
        with reason V(deleted).
      - Never deletes a row the owner never deleted (reason V(absent)), a row of a residue no owner covers, nor a
        row whose primary key the owner holds with another shard key (another row); those always stop the purge.
    type: bool
    default: false
  deleted_on_owner:
    description:
      - The rows the owners deleted since the split, each with C(table), C(key) (primary key values) and
        C(shard_key), as M(smooth.mariadb.shard_binlog_check) returns them with
        O(smooth.mariadb.shard_binlog_check#module:mode=owner_deletes) (RV(smooth.mariadb.shard_binlog_check#module:deleted_rows)).
      - A row missing on its owner is one of them (reason V(deleted)) only with the same table, primary key and
        shard key.
    type: list
    elements: dict
  allow_delete_triggers:
    description:
      - Purge tables that have a C(DELETE) trigger. Such a trigger runs for every purged row and may change
        other tables (an audit table, a counter), so by default the module refuses them. Allow them only
        once you know what they do.
    type: bool
    default: false
  binlog:
    description:
      - Write the deletes to the binary log (V(true)), so that they replicate to the
        partner, which owns the same residues and must lose the same rows.
      - V(false) sets C(sql_log_bin=0) for the module's session; the partner then still
        holds the rows and must be purged on its own. Needs the C(BINLOG ADMIN) or
        C(SUPER) privilege.
    type: bool
    default: true
  lock_wait_timeout:
    description:
      - Seconds one chunk waits for row locks (C(innodb_lock_wait_timeout) of the session).
        A chunk that times out or is chosen as a deadlock victim is retried twice.
    type: int
    default: 10
  run_id:
    description:
      - The id of the playbook run that started this purge (see M(smooth.mariadb.run_lock)). Between two
        chunks, and while it pauses, the purge reads the run lock (O(run_lock_path)) at most once a second
        and stops, failing with what it deleted so far, as soon as the lock no longer names this run - the
        run is gone and another took the lock over, or an operator removed it. Rows deleted so far stay
        deleted; the purge is resumable.
      - Not set (the default), the purge does not look at the lock.
    type: str
  run_lock_path:
    description: The run lock read with O(run_id).
    type: path
    default: /var/lib/smooth-mariadb/run.lock
  progress_file:
    description:
      - File on the host running the module to append progress to, one JSON object per
        line - at the start and end of each table, after a chunk at most once a second,
        and at the end of the run or at a failure.
    type: path
notes:
  - Needs MariaDB 10.6 or later. The login account needs C(SELECT) and C(DELETE) on the
    tables, C(PROCESS), C(REPLICATION MASTER ADMIN) (for C(SHOW SLAVE HOSTS)) and
    C(SLAVE MONITOR); on the partner C(SLAVE MONITOR) and C(PROCESS) and
    C(REPLICATION MASTER ADMIN).
  - The residue of a row is the mathematical one. A NULL or negative key belongs to no
    shard (C(-3 % 2) is C(-1) in SQL and Java but C(1) in Python), so the module refuses
    a table holding such rows rather than guess; its deletes also never match them.
  - Every chunk is found and deleted along the primary key, so tables need one; the key
    column need not be part of it.
  - Run it only once the application writes with the new shard map, so that no new
    rows of the other residues arrive; rows that do are counted at the end
    (RV(tables.remaining_foreign_rows)) and make the module fail.
seealso:
  - module: smooth.mariadb.shard_verify
  - module: smooth.mariadb.replication
'''

EXAMPLES = r'''
- name: Node A keeps residue 0 of 4; A's new partner A2 purges the same rows through replication
  smooth.mariadb.shard_purge:
    login_host: 10.0.0.11
    login_user: admin
    login_password: "{{ vault_admin_password }}"
    tables:
      - shop.orders
      - shop.order_items
      - name: shop.customers
        key: id
    key_column: customer_id
    modulus: 4
    owned_residues: [0]
    chunk_size: 2000
    max_lag: 2
    max_pause: 900
    partner:
      login_host: 10.0.0.21
    # Residues 1, 2 and 3 now live on other shards: delete only what is found there.
    owners:
      - residues: [1]
        login_host: 10.0.0.201
      - residues: [2]
        login_host: 10.0.0.202
      - residues: [3]
        login_host: 10.0.0.203
    progress_file: /var/tmp/purge-shop-a.jsonl
  register: purge

- name: Count what would be deleted, delete nothing
  smooth.mariadb.shard_purge:
    login_unix_socket: /run/mysqld/mysqld.sock
    tables: [shop.orders]
    key_column: customer_id
    modulus: 4
    owned_residues: [0]
    allowed_peers:
      - host: 10.0.0.21
        port: 3306
        server_id: 21
  check_mode: true
'''

RETURN = r'''
changed:
  description: Whether rows were deleted (in check mode, whether some would be).
  returned: always
  type: bool
reason:
  description:
    - Why the module failed, a stable token to branch on (the message may be reworded) -
      V(bad_options) - the options are invalid;
      V(cannot_connect) - this node, the partner or an owner cannot be logged in to;
      V(unsupported_server) - the MariaDB version is not supported;
      V(tables_refused) - a table cannot be purged safely (missing here or on an owner, no primary key, key
      column, NULL or negative keys, foreign keys, triggers, no C(DELETE) privilege);
      V(peers_refused) - the partner or an owner is not the server it must be (no connection from this node,
      the server_id of this node or of the partner);
      V(interlock) - the safety interlock refuses a replication connection, unidentified binlog readers,
      Galera or a login without C(PROCESS);
      V(replica_registered) - every problem of the refusal is a replica registered with this node (or the
      partner) that is not an allowed peer; a replica that stopped replicating a moment ago stays registered
      until its dump thread notices (next event or heartbeat), so this refusal may pass by itself;
      V(missing_on_owner) - rows it would delete are not on the shard that owns them;
      V(chunk_changed) - a chunk's rows changed between their check and their delete (rolled back);
      V(partner_lag) - the partner's lag stayed above O(max_lag) for O(max_pause) seconds;
      V(rows_arriving) - rows of other residues keep arriving (is the application still writing them here?);
      V(run_lock_lost) - the run lock no longer names O(run_id);
      V(query_failed) - a statement failed;
      V(progress_file) - O(progress_file) cannot be written.
    - A refusal with problems of several kinds (RV(problems)) names the first one that does not pass by itself.
  returned: when the module fails, except on options Ansible itself rejects
  type: str
  sample: replica_registered
  version_added: 0.2.0
retryable:
  description:
    - Whether the same call may pass when run again after a short wait, with nothing fixed - V(true) for
      V(replica_registered), V(chunk_changed), V(partner_lag), and V(query_failed) after a lock wait timeout,
      a deadlock or a lost connection (errors 1205, 1213, 2006, 2013); V(false) otherwise.
    - Rows deleted before the failure stay deleted; a rerun continues either way.
  returned: when the module fails, except on options Ansible itself rejects
  type: bool
  version_added: 0.2.0
problems:
  description: When the module refuses before deleting anything, every problem, each with its C(reason) (as RV(reason)) and C(msg).
  returned: when the module refuses
  type: list
  elements: dict
  sample:
    - reason: replica_registered
      msg: "replica server_id 12 (reported as 10.0.0.12:3306) replicates from 10.0.0.11:3306, and is not an allowed peer; ..."
  version_added: 0.2.0
deleted:
  description: Rows deleted by this run, all tables together (0 in check mode).
  returned: always
  type: int
  sample: 499870
chunks:
  description: Chunks (DELETE statements) run, all tables together.
  returned: always
  type: int
  sample: 500
elapsed:
  description: Seconds the purge took, checks included.
  returned: always
  type: float
rows_per_second:
  description: Rows deleted per second of purging (pauses included).
  returned: always
  type: float
tables:
  description: Per table, keyed by C(database.table).
  returned: always
  type: dict
  sample:
    shop.orders:
      foreign_rows_at_start: 499870
      deleted: 499870
      chunks: 500
      elapsed: 41.3
      rows_per_second: 12103.4
      remaining_rows: 500130
      remaining_foreign_rows: 0
  contains:
    foreign_rows_at_start:
      description: Rows of other residues before the purge (in check mode, the rows that would be deleted).
      type: int
    deleted:
      description: Rows deleted.
      type: int
    chunks:
      description: Chunks run (in check mode, chunks it would take).
      type: int
    elapsed:
      description: Seconds spent on the table.
      type: float
    rows_per_second:
      description: Rows deleted per second on the table.
      type: float
    remaining_rows:
      description: Rows in the table after the purge, counted.
      type: int
    remaining_foreign_rows:
      description: Rows of other residues left after the purge, counted; 0 unless the module fails.
      type: int
    missing_on_owner:
      description: Check mode with O(owners) - rows that would be deleted but are not on their owner.
      type: int
max_partner_lag:
  description:
    - Largest lag of the partner measured during the run, in seconds (see O(max_lag)); null without O(partner).
    - The partner is not asked after every chunk; between two measurements the lag stays below the bound the
      module keeps (the age of the oldest chunk not yet seen applied), which is at most O(max_lag).
  returned: always
  type: float
max_partner_seconds_behind_master:
  description:
    - Largest C(Seconds_Behind_Master) of the partner's connection read during the run; null without O(partner).
  returned: always
  type: int
paused:
  description: Seconds spent pausing for the partner's lag.
  returned: always
  type: float
partner:
  description: The partner and its connection from this node; empty without O(partner).
  returned: always
  type: dict
  sample:
    target: 10.0.0.21:3306
    server_id: 21
    connection: partner
owners:
  description: The servers of O(owners), each with its C(@@server_id) and residues; empty without O(owners).
  returned: always
  type: list
  elements: dict
  sample:
    - target: 10.0.0.201:3306
      server_id: 12
      residues: [2]
missing_on_owner:
  description:
    - With O(owners) - the first rows (at most 5) found missing on their owner, each with C(table), C(key)
      (primary key values), C(residue), C(owner) (null for a residue no owner covers), C(reason) (V(absent) - the
      owner has no row with that primary key and did not delete it since the split, as far as
      O(deleted_on_owner) tells; V(deleted) - the owner deleted it since the split (O(deleted_on_owner));
      V(other_row) - the owner's row with that primary key has another shard key, C(owner_shard_key);
      V(no_owner) - no owner covers the residue).
  returned: always
  type: list
  elements: dict
interlock:
  description: What the safety interlock found on this node (and on the partner) - every
    replication connection and registered replica with the peer it was allowed as.
  returned: always
  type: dict
delete_order:
  description: The listed tables in the order they are (or would be) purged - children before their parents.
  returned: always
  type: list
  elements: str
  sample: [shop.order_items, shop.orders]
foreign_keys:
  description:
    - Every foreign key whose child or parent is a listed table - C(name), C(child), C(child_columns),
      C(parent), C(parent_columns), C(on_delete), C(on_update) and the C(verdict) of the checks.
  returned: always
  type: list
  elements: dict
triggers:
  description: Every trigger on a listed table - C(name), C(table), C(event), C(timing) and the C(verdict).
  returned: always
  type: list
  elements: dict
queries:
  description:
    - Statements that changed the server, summarised - the session settings, the first
      chunk statements of each table and its last one, with a line counting those left out.
  returned: always
  type: list
  elements: str
queries_total:
  description: Number of statements that changed the server (chunks plus session settings).
  returned: always
  type: int
diff:
  description: Row counts per table before and after.
  returned: when diff mode is on
  type: dict
'''

import json
import time
from concurrent.futures import ThreadPoolExecutor, wait

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    server_login_options,
    server_params,
    MariaDBConnectError,
    MariaDBQueryError,
    SqlSession,
    check_server_version,
    connect_with_params,
    describe_target,
    mariadb_common_argument_spec,
    to_int,
    to_text,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.replication import (
    read_all_slaves_status,
    read_connection_status,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.runlock import hold_work_lock, read_lock_file, run_still_holds
from ansible_collections.smooth.mariadb.plugins.module_utils.schema import check_tables
from ansible_collections.smooth.mariadb.plugins.module_utils.sharding import (
    LagTracker,
    Peer,
    QueryLog,
    ShardingError,
    TRANSIENT_ERRNOS,
    check_interlock,
    chunk_digest_statement,
    chunk_digests,
    delete_privilege_statement,
    connect_server,
    count_statement,
    describe_pk,
    describe_range,
    digests_prove_chunk,
    find_column,
    find_partner_connection,
    invalid_key_condition,
    invalid_key_count_statement,
    json_value,
    keys_missing_on_owners,
    non_transactional_warning,
    owner_keys_statement,
    owned_condition,
    owners_argument_spec,
    ownership_problems,
    parse_owners,
    parse_peers,
    parse_tables,
    pk_values,
    purge_bound_statement,
    purge_setting_problems,
    purge_condition,
    purge_delete_statement,
    purge_range_rows_statement,
    purge_rows_delete_statement,
    read_dump_threads,
    read_process_privilege,
    read_replicas,
    read_table_info,
    read_wsrep_on,
    row_identity,
    parse_deleted_rows,
    shorten_statement,
)

POLL_INTERVAL = 0.5
FIRST_POLL = 0.02
RETRY_ERRNOS = (1205, 1213)  # lock wait timeout, deadlock
CHUNK_ATTEMPTS = 3
MISSING_SHOWN = 5
CHUNK_TIMES_KEPT = 5

# RV(reason) of a failure -> whether the same call may pass when run again with nothing fixed (RV(retryable)).
# query_failed is retryable only after a transient server error (TRANSIENT_ERRNOS).
RETRYABLE = dict(
    bad_options=False,
    cannot_connect=False,
    unsupported_server=False,
    tables_refused=False,
    peers_refused=False,
    interlock=False,
    replica_registered=True,
    missing_on_owner=False,
    chunk_changed=True,
    partner_lag=True,
    rows_arriving=False,
    run_lock_lost=False,
    query_failed=False,
    progress_file=False,
)


def refusal_outcome(problems):
    """``(reason, retryable)`` of a refusal from its ``(reason, text)`` problems (pure).

    Retryable only when every problem may pass by itself (RETRYABLE); the reason is then the
    first problem's, otherwise the first problem's that does not pass by itself.
    """
    lasting = [reason for reason, dummy in problems if not RETRYABLE[reason]]
    return (lasting[0] if lasting else problems[0][0]), not lasting


def json_key(key):
    """A primary key tuple as a JSON list (for the result)."""
    return [json_value(value) for value in key]


def identity_types(info, spec):
    """The column types of a table's primary key and shard key, as read_table_info reports them."""
    types = []
    for name in list(info['primary_key']) + [spec.key]:
        column = find_column(info, name)
        types.append(None if column is None else column['column_type'])
    return types


def argument_spec():
    spec = mariadb_common_argument_spec()
    spec.update(
        tables=dict(type='list', elements='raw', required=True),
        key_column=dict(type='str', no_log=False),
        modulus=dict(type='int', required=True),
        owned_residues=dict(type='list', elements='int', required=True),
        chunk_size=dict(type='int', default=1000),
        max_lag=dict(type='float', default=5),
        max_pause=dict(type='float', default=600),
        partner=dict(type='dict', options=dict(server_login_options(), connection_name=dict(type='str'))),
        allowed_peers=dict(type='list', elements='dict', default=[], options=dict(
            host=dict(type='str'),
            port=dict(type='int'),
            server_id=dict(type='int'),
        )),
        owners=owners_argument_spec(),
        allow_missing_on_owner=dict(type='bool', default=False),
        deleted_on_owner=dict(type='list', elements='dict'),
        allow_delete_triggers=dict(type='bool', default=False),
        binlog=dict(type='bool', default=True),
        lock_wait_timeout=dict(type='int', default=10),
        progress_file=dict(type='path'),
        run_id=dict(type='str'),
        run_lock_path=dict(type='path', default='/var/lib/smooth-mariadb/run.lock'),
    )
    return spec


class Progress(object):
    """Append JSON lines to the progress file (if any); chunk lines at most once a second."""

    def __init__(self, path, interval=1.0, clock=time.monotonic):
        self.path = path
        self.interval = interval
        self.clock = clock
        self.last = None

    def write(self, event, force=True, **data):
        if not self.path:
            return
        now = self.clock()
        if not force and self.last is not None and now - self.last < self.interval:
            return
        self.last = now
        line = dict(time=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), event=event)
        line.update(data)
        with open(self.path, 'a') as handle:
            handle.write(json.dumps(line, sort_keys=True) + '\n')


class Purge(object):
    """One run of the module: checks, then the chunked purge."""

    def __init__(self, module, session, clock=time.monotonic, sleep=time.sleep):
        self.module = module
        self.params = module.params
        self.session = session
        self.clock = clock
        self.sleep = sleep
        self.node = describe_target(module.params)
        self.started = clock()
        self.queries = QueryLog()
        self.tracker = LagTracker()
        self.progress = Progress(module.params['progress_file'], clock=clock)
        self.paused = 0.0
        self.run_checked_at = None
        self.partner_session = None
        self.partner_connection = None
        self.partner_target = None
        self.partner_info = {}
        self.tables = {}
        self.owners = []
        self.owner_of_residue = {}
        # Rows not found on their owner: (table, residue, owner index or -1, reason) -> [count, first
        # (key, owner's shard key) pairs].
        self.missing = {}
        self.missing_total = 0
        # Whether a row not proven on its owner may not be deleted (check mode).
        self.blocked = False
        self.specs = []
        self.spec_of = {}
        self.schema = dict(order=[], foreign_keys=[], triggers=[])
        self.infos = {}
        self.interlock = {}
        self.deleted = 0
        self.chunks = 0
        self.chunk_times = []
        self.pool = None  # threads reading the owners, see ask_owners
        self.owner_reads = []

    # -- results -------------------------------------------------------------

    def result(self, **extra):
        elapsed = self.clock() - self.started
        result = dict(
            changed=self.deleted > 0,
            deleted=self.deleted,
            chunks=self.chunks,
            elapsed=round(elapsed, 3),
            rows_per_second=round(self.deleted / elapsed, 1) if elapsed > 0 else 0.0,
            tables=self.tables,
            max_partner_lag=None if self.tracker.max_seen is None else round(self.tracker.max_seen, 3),
            max_partner_seconds_behind_master=self.tracker.max_behind,
            paused=round(self.paused, 3),
            partner=self.partner_info,
            owners=[dict(target=owner['target'], server_id=owner['server_id'], residues=owner['residues'])
                    for owner in self.owners],
            missing_on_owner=[dict(table=table, key=json_key(key), residue=residue, reason=reason,
                                   owner=None if owner < 0 else self.owners[owner]['target'],
                                   owner_shard_key=owner_key)
                              for (table, residue, owner, reason), (dummy, keys) in sorted(self.missing.items())
                              for key, owner_key in keys][:MISSING_SHOWN],
            interlock=self.interlock,
            delete_order=self.schema['order'],
            foreign_keys=self.schema['foreign_keys'],
            triggers=self.schema['triggers'],
            queries=self.queries.summary(),
            queries_total=self.queries.total,
        )
        result.update(extra)
        return result

    def fail(self, msg, reason, retryable=None, **extra):
        """End the module with msg, RV reason and RV retryable (by default RETRYABLE[reason])."""
        retryable = RETRYABLE[reason] if retryable is None else retryable
        self.progress.write('failed', message=msg, reason=reason, retryable=retryable, deleted=self.deleted,
                            chunks=self.chunks)
        self.module.fail_json(msg=msg, reason=reason, retryable=retryable, **self.result(**extra))

    # -- checks --------------------------------------------------------------

    def check_options(self):
        params = self.params
        specs, problems = parse_tables(params['tables'], params['key_column'])
        problems.extend(ownership_problems(params['modulus'], params['owned_residues']))
        problems.extend(purge_setting_problems(params['chunk_size'], params['max_lag']))
        if params['max_pause'] < 0:
            problems.append('max_pause must not be negative, got %s' % params['max_pause'])
        if params['lock_wait_timeout'] < 1:
            problems.append('lock_wait_timeout must be at least 1 second, got %d' % params['lock_wait_timeout'])
        peers, peer_problems = parse_peers(params['allowed_peers'])
        problems.extend(peer_problems)
        partner = params['partner']
        if partner is not None and not (partner.get('login_host') or partner.get('login_unix_socket')):
            problems.append('partner: give login_host (and login_port) or login_unix_socket')
        self.owner_of_residue, owner_problems = parse_owners(params['owners'], params['modulus'],
                                                             params['owned_residues'])
        problems.extend(owner_problems)
        self.owner_deleted, deleted_problems = parse_deleted_rows(params['deleted_on_owner'])
        problems.extend(deleted_problems)
        if params['allow_missing_on_owner'] and params['deleted_on_owner'] is None:
            problems.append('allow_missing_on_owner needs deleted_on_owner: the rows the owner deleted since the '
                            'split (smooth.mariadb.shard_binlog_check mode=owner_deletes on the owner), so that only '
                            'those are deleted here')
        self.specs = specs
        self.spec_of = dict((spec.name, spec) for spec in specs)
        return peers, problems

    def check_tables(self):
        problems, self.infos, self.schema, usable = check_tables(self.session, self.specs,
                                                                 self.params['allow_delete_triggers'])
        for spec in usable:
            info = self.infos[spec.name]
            try:
                self.session.fetch_all(*delete_privilege_statement(spec))
            except MariaDBQueryError as exc:
                problems.append('the login account may not delete from %s: %s (grant it DELETE on the table)'
                                % (spec.name, exc.message))
            warning = non_transactional_warning(spec, info)
            if warning:
                self.module.warn(warning)
            condition = invalid_key_condition(spec.key, find_column(info, spec.key))
            if condition is not None:
                sql, sql_params = invalid_key_count_statement(spec, condition)
                invalid = to_int(self.session.fetch_one(sql, sql_params)['invalid_rows'])
                if invalid:
                    problems.append('table %s has %d row(s) with a NULL or negative key %s: they belong to no '
                                    'shard; fix them first' % (spec.name, invalid, spec.key))
        if not problems:
            # Children before their parents (foreign keys), whatever the list order.
            self.specs = [self.spec_of[name] for name in self.schema['order']]
        return problems

    def connect_partner(self, node_vars):
        """Log in to the partner and find its connection from this node. Returns ``(reason, text)`` problems."""
        partner = self.params['partner']
        if partner is None:
            return []
        params = server_params(partner, self.params)
        self.partner_target = describe_target(params)
        try:
            connection = connect_server(params)
        except ShardingError as exc:
            return [('cannot_connect', 'partner: %s' % exc)]
        self.partner_session = SqlSession(connection, read_only=True)
        row = self.partner_session.fetch_one('SELECT @@GLOBAL.server_id AS server_id')
        partner_id = to_int(row['server_id'])
        statuses = read_all_slaves_status(self.partner_session)
        name, status, problem = find_partner_connection(
            statuses, node_vars['server_id'],
            node_host=None if self.params['login_unix_socket'] else self.params['login_host'],
            node_port=self.params['login_port'], name=partner.get('connection_name'))
        self.partner_info = dict(target=self.partner_target, server_id=partner_id, connection=name)
        if problem:
            return [('peers_refused', 'partner %s %s' % (self.partner_target, problem))]
        if partner_id == node_vars['server_id']:
            return [('peers_refused', 'partner %s has the same server_id %s as this node'
                     % (self.partner_target, partner_id))]
        self.partner_connection = name
        return []

    def connect_owners(self, node_vars):
        """Log in to every owner; it must be another server than this node and its partner and hold the tables.

        Returns ``(reason, text)`` problems.
        """
        problems = []
        for owner in self.params['owners'] or []:
            if not (owner.get('login_host') or owner.get('login_unix_socket')):
                continue  # refused in check_options
            params = server_params(owner, self.params)
            target = describe_target(params)
            try:
                connection = connect_server(params)
            except ShardingError as exc:
                problems.append(('cannot_connect', 'owner %s: %s' % (target, exc)))
                continue
            session = SqlSession(connection, read_only=True)
            server_id = to_int(session.fetch_one('SELECT @@GLOBAL.server_id AS server_id')['server_id'])
            self.owners.append(dict(session=session, target=target, server_id=server_id,
                                    residues=sorted(owner['residues']), digest_tables=set()))
            if server_id in (node_vars['server_id'], self.partner_info.get('server_id')):
                problems.append(('peers_refused',
                                 'owner %s has the server_id %s of %s: the rows this node deletes must be proven '
                                 'on a server of the shard that owns them'
                                 % (target, server_id,
                                    'this node' if server_id == node_vars['server_id'] else 'the partner')))
            for spec in self.specs:
                local = self.infos.get(spec.name)
                if not local:
                    continue
                info = read_table_info(session, spec.schema, spec.table)
                if info is None:
                    problems.append(('tables_refused', 'owner %s has no table %s' % (target, spec.name)))
                elif info['primary_key'] != local['primary_key']:
                    problems.append(('tables_refused', 'owner %s: the primary key of %s is (%s), here (%s)'
                                     % (target, spec.name, ', '.join(info['primary_key']),
                                        ', '.join(local['primary_key']))))
                elif identity_types(info, spec) == identity_types(local, spec):
                    # Same column types: equal digests mean equal values, as the row by row comparison sees them.
                    self.owners[-1]['digest_tables'].add(spec.name)
        # An owner left out above is a refusal, so self.owners lines up with the option when the purge runs.
        return problems

    def check_interlock(self, peers, node_vars):
        problems = []
        node_peers = list(peers)
        partner_id = self.partner_info.get('server_id')
        if self.partner_session is not None:
            node_peers.append(Peer(None, None, partner_id, 'partner %s' % self.partner_target))
        found, report = check_interlock(
            self.node, read_all_slaves_status(self.session), read_replicas(self.session),
            read_dump_threads(self.session), node_peers,
            sees_all_threads=read_process_privilege(self.session), wsrep_on=read_wsrep_on(self.session), tagged=True)
        problems.extend(found)
        self.interlock = dict(node=report)
        if self.partner_session is not None:
            # On the partner, this node is the allowed peer (plus the allowed peers).
            partner_peers = list(peers)
            node_host = None if self.params['login_unix_socket'] else self.params['login_host']
            partner_peers.append(Peer(node_host.lower() if node_host else None,
                                      self.params['login_port'] if node_host else None,
                                      node_vars['server_id'], 'this node'))
            found, report = check_interlock(
                'partner %s' % self.partner_target, read_all_slaves_status(self.partner_session),
                read_replicas(self.partner_session), read_dump_threads(self.partner_session), partner_peers,
                sees_all_threads=read_process_privilege(self.partner_session),
                wsrep_on=read_wsrep_on(self.partner_session), tagged=True)
            problems.extend(found)
            self.interlock['partner'] = report
        return problems

    # -- lag -----------------------------------------------------------------

    def measure_lag(self):
        applied = self.partner_session.fetch_one('SELECT @@GLOBAL.gtid_slave_pos AS pos')['pos']
        status = read_connection_status(self.partner_session, self.partner_connection)
        return self.tracker.measure(to_text(applied), status, self.clock())

    def chunk_ahead(self):
        """Seconds the next chunk is expected to take: the longest of the last few."""
        return max(self.chunk_times) if self.chunk_times else 0.0

    def lag_allows(self, lag, ahead):
        """Whether the next chunk may start at this measured lag.

        The lag is the age of the oldest chunk the partner has not applied; while
        the next chunk runs it grows by the chunk's duration. So the next chunk
        starts when the lag plus ``ahead`` stays within max_lag, or when the
        partner has applied every chunk (the next one is then the oldest). Before
        a chunk can be followed (Seconds_Behind_Master), when the lag is at most max_lag.
        """
        if lag is None:
            return False
        if not self.tracker.tracking:
            return lag <= self.params['max_lag']
        return not self.tracker.pending or lag + ahead <= self.params['max_lag']

    def throttle(self, table):
        if self.partner_session is None:
            return
        max_lag = self.params['max_lag']
        max_pause = self.params['max_pause']
        ahead = self.chunk_ahead()
        if self.tracker.tracking and self.tracker.bound(self.clock()) + ahead <= max_lag:
            # Even if the partner applied nothing since the last measurement the lag stays
            # within max_lag until the next chunk is committed: no need to ask it now.
            return
        lag, reason = self.measure_lag()
        # Poll quickly first (a healthy partner applies a chunk within
        # milliseconds), then every POLL_INTERVAL; bounded by max_pause.
        polls = int(max_pause / POLL_INTERVAL) + 10
        for attempt in range(polls):
            if self.lag_allows(lag, ahead):
                return
            remaining = max_pause - self.paused
            if remaining <= 0:
                break
            self.progress.write('pause', force=False, table=table, lag=lag, reason=reason, paused=self.paused)
            step = min(POLL_INTERVAL, FIRST_POLL * 2 ** min(attempt, 10), remaining)
            before = self.clock()
            self.sleep(step)
            self.paused += self.clock() - before
            self.check_run()
            lag, reason = self.measure_lag()
        if self.lag_allows(lag, ahead):
            return
        shown = 'unknown' if lag is None else '%.1f s' % lag
        if lag is not None and lag <= max_lag:
            shown += ' (%.1f s more by the end of the next chunk)' % ahead
        self.fail('Partner %s (connection %s) lag %s exceeds max_lag %s s (%s); paused %.1f s in total, '
                  'max_pause %s s used up. %d row(s) deleted so far in %d chunk(s) are committed; '
                  'a rerun continues where this one stopped.'
                  % (self.partner_target, self.partner_connection, shown, max_lag, reason, self.paused,
                     max_pause, self.deleted, self.chunks), 'partner_lag')

    def check_run(self, force=False):
        """Stop when the run lock no longer names the run that started this purge (read at most once a second)."""
        run_id = self.params.get('run_id')
        if not run_id or self.module.check_mode:
            return
        now = self.clock()
        if not force and self.run_checked_at is not None and now - self.run_checked_at < 1.0:
            return
        self.run_checked_at = now
        record = read_lock_file(self.params['run_lock_path'])
        if run_still_holds(record, run_id):
            return
        holder = 'no run (the lock was removed)' if record is None else 'run %s' % record.get('run_id')
        self.fail('Purge on %s stopped: the run lock %s names %s, not run %s that started this purge (that run is '
                  'gone and another took the lock over, or the lock was removed). %d row(s) deleted so far in %d '
                  'chunk(s) are committed; a rerun continues where this one stopped.'
                  % (self.node, self.params['run_lock_path'], holder, run_id, self.deleted, self.chunks), 'run_lock_lost')

    # -- purge ---------------------------------------------------------------

    def session_settings(self, node_vars):
        statements = []
        if (node_vars['binlog_format'] or '').upper() != 'STATEMENT':
            statements.append(('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', None))
        statements.append(('SET SESSION innodb_lock_wait_timeout = %s', (self.params['lock_wait_timeout'],)))
        if not self.params['binlog']:
            statements.append(('SET SESSION sql_log_bin = 0', None))
        for sql, sql_params in statements:
            self.session.execute(sql, sql_params)
            self.queries.add(self.session.queries.pop())

    def count(self, spec):
        owned = owned_condition(spec.key, self.params['modulus'], self.params['owned_residues'])
        sql, sql_params = count_statement(spec, owned)
        row = self.session.fetch_one(sql, sql_params)
        return to_int(row['total_rows']), to_int(row['foreign_rows'])

    def chunk_failed(self, spec, lower, upper, exc):
        self.fail('Purge of %s on %s failed on the chunk %s: %s (statement: %s). %d row(s) deleted so '
                  'far are committed; a rerun continues.'
                  % (spec.name, self.node, describe_range(self.infos[spec.name]['primary_key'], lower, upper),
                     exc.message, shorten_statement(exc.statement), self.deleted),
                  'query_failed', retryable=exc.errno in TRANSIENT_ERRNOS)

    def delete_chunk(self, spec, lower, upper):
        """Without owners: delete the rows to purge in (lower, upper] with one autocommitted DELETE."""
        pk, predicate = self.pk_and_predicate(spec)
        sql, sql_params = purge_delete_statement(spec, pk, predicate, lower, upper)
        for attempt in range(1, CHUNK_ATTEMPTS + 1):
            try:
                self.session.execute(sql, sql_params)
                break
            except MariaDBQueryError as exc:
                if exc.errno in RETRY_ERRNOS and attempt < CHUNK_ATTEMPTS:
                    continue
                self.chunk_failed(spec, lower, upper, exc)
        committed = self.clock()
        row = self.session.fetch_one('SELECT ROW_COUNT() AS deleted, @@SESSION.last_gtid AS gtid')
        self.queries.add(self.session.queries.pop(), table=spec.name)
        self.tracker.committed(to_text(row['gtid']), committed)
        return to_int(row['deleted']) or 0

    # -- purge with owners -----------------------------------------------------
    #
    # Safety: a row is deleted only when its owner was seen holding it (same
    # primary key and same shard key) while the row was locked here. Each chunk
    # (lower, upper] is one transaction on this node:
    #   1. a locking read (FOR UPDATE) of the chunk's rows to delete, returning
    #      per residue their count and the sum of 64-bit hashes of (primary
    #      key, shard key). Every row it counts is locked until the transaction
    #      ends: nobody can delete it, change its key or shard key meanwhile;
    #   2. the same aggregates of the same primary key range on the owner (read
    #      at the same time, on another connection: the owner's rows are what
    #      they are at that moment either way);
    #   3. when they are equal, the owner holds exactly these rows, and the DELETE
    #      of the range with the purge predicate deletes every locked row. Under
    #      READ COMMITTED there are no gap locks, so a row another client wrote
    #      into the range after step 1 (inserted, or updated into the purge
    #      predicate) would be deleted too - but then the DELETE reports more
    #      rows than step 1 counted (it deletes all of them plus the newcomer).
    #      So the chunk is committed only when the DELETE's affected rows equal
    #      the count of step 1; otherwise it is rolled back;
    #   4. otherwise (aggregates differ, counts differ, a residue no owner
    #      covers) the chunk is compared row by row as before, still in a
    #      transaction: the rows are read with their keys FOR UPDATE, looked up
    #      on their owner, and deleted by primary key - locked rows, so exactly
    #      the rows looked up. A row the owner lacks stops the purge, naming it.

    def transaction(self, statement):
        """START TRANSACTION, COMMIT or ROLLBACK on this node (not listed among the queries)."""
        self.session.execute(statement)
        self.session.queries.pop()

    def rollback(self):
        try:
            self.transaction('ROLLBACK')
        except MariaDBQueryError:
            pass  # a lost connection rolls back by itself

    def affected_rows(self):
        """Rows the last statement on this node changed, from its own reply (no extra round trip)."""
        return to_int(self.session.connection.affected_rows()) or 0

    def ask_owners(self, spec, lower, upper):
        """Start reading every owner's digests of (lower, upper], each on its own connection, in the background.

        Returns ``{owner index: future}``; the node is read meanwhile. Owners holding the
        table with other column types are left out (only the row by row comparison decides there).
        """
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=len(self.owners))
        # A connection serves one statement at a time: reads left over from a failed chunk end first.
        wait(self.owner_reads)
        pk = self.infos[spec.name]['primary_key']
        modulus = self.params['modulus']
        asked = {}
        for index, owner in enumerate(self.owners):
            if spec.name in owner['digest_tables']:
                owned = owned_condition(spec.key, modulus, owner['residues'])
                sql, sql_params = chunk_digest_statement(spec, pk, owned, lower, upper, modulus)
                asked[index] = self.pool.submit(owner['session'].fetch_all, sql, sql_params)
        self.owner_reads = list(asked.values())
        return asked

    def digests_agree(self, node, asked):
        """Whether the owners' digests (futures of ask_owners) prove the node's chunk digests (see digests_prove_chunk)."""
        by_owner = dict((index, chunk_digests(future.result())) for index, future in asked.items())
        return digests_prove_chunk(node, by_owner, self.owner_of_residue)

    def node_digests(self, spec, lower, upper, lock):
        pk, predicate = self.pk_and_predicate(spec)
        sql, sql_params = chunk_digest_statement(spec, pk, predicate, lower, upper, self.params['modulus'], lock=lock)
        return chunk_digests(self.session.fetch_all(sql, sql_params))

    def rows_on_owners(self, spec, lower, upper, lock):
        """Row by row: the chunk's primary keys in order and those rows their owner does not hold.

        The second list has ``(key, residue, owner index or None, owner's shard key)``
        per row, see keys_missing_on_owners.
        """
        pk, predicate = self.pk_and_predicate(spec)
        modulus = self.params['modulus']
        sql, sql_params = purge_range_rows_statement(spec, pk, predicate, lower, upper, lock=lock)
        rows = self.session.fetch_all(sql, sql_params)
        keys = [pk_values(row, pk) for row in rows]
        wanted = set(int(row[spec.key]) % modulus for row in rows)
        held = {}
        for index, owner in enumerate(self.owners):
            if not wanted.intersection(owner['residues']):
                continue
            owned = owned_condition(spec.key, modulus, owner['residues'])
            sql, sql_params = owner_keys_statement(spec, pk, owned, lower, upper)
            held[index] = dict(row_identity(row, pk, spec.key) for row in owner['session'].fetch_all(sql, sql_params))
        shard_keys = dict(row_identity(row, pk, spec.key) for row in rows)
        return keys, [(values, residue, owner, owner_key,
                       owner is not None and owner_key is None
                       and (spec.name, tuple(json_key(values)), shard_keys[values]) in self.owner_deleted)
                      for values, residue, owner, owner_key in keys_missing_on_owners(
                          rows, pk, spec.key, modulus, self.owner_of_residue, held)]

    def checked_delete(self, spec, lower, upper):
        """With owners: delete the rows of (lower, upper] proven on their owner, in one transaction.

        Retries a chunk that hit a lock wait timeout or a deadlock; returns the rows deleted.
        """
        for attempt in range(1, CHUNK_ATTEMPTS + 1):
            try:
                return self.checked_delete_once(spec, lower, upper)
            except MariaDBQueryError as exc:
                self.rollback()
                if exc.errno in RETRY_ERRNOS and attempt < CHUNK_ATTEMPTS:
                    continue
                self.chunk_failed(spec, lower, upper, exc)
        return 0  # not reached: the last attempt returns or fails

    def checked_delete_once(self, spec, lower, upper):
        pk, predicate = self.pk_and_predicate(spec)
        asked = self.ask_owners(spec, lower, upper)
        self.transaction('START TRANSACTION')
        node = self.node_digests(spec, lower, upper, lock=True)
        locked = sum(digest[0] for digest in node.values())
        if self.digests_agree(node, asked) and locked:
            sql, sql_params = purge_delete_statement(spec, pk, predicate, lower, upper)
            self.session.execute(sql, sql_params)
            statement = self.session.queries.pop()
            if self.affected_rows() == locked:
                return self.commit(spec, statement, locked)
            # The DELETE met rows the locking read did not count: written into the range since.
            self.rollback()
            self.transaction('START TRANSACTION')
        keys, found = self.rows_on_owners(spec, lower, upper, lock=True)
        if self.blocks(found):
            self.rollback()
            self.note_missing(spec.name, found)
            self.fail(self.missing_message(
                'Stopped the purge of %s before the chunk %s (%d row(s) deleted so far, each found on its owner '
                'first, are committed)' % (spec.name, describe_range(pk, lower, keys[-1] if keys else upper),
                                           self.deleted)), 'missing_on_owner')
        if not keys:
            self.rollback()
            return 0
        sql, sql_params = purge_rows_delete_statement(spec, pk, predicate, keys)
        self.session.execute(sql, sql_params)
        statement = self.session.queries.pop()
        deleted = self.affected_rows()
        if deleted != len(keys):
            self.rollback()
            self.fail('Purge of %s on %s: the chunk %s would have deleted %d row(s) where %d were locked and looked '
                      'up on their owner; rolled back. %d row(s) deleted so far are committed; a rerun continues.'
                      % (spec.name, self.node, describe_range(pk, lower, upper), deleted, len(keys), self.deleted),
                      'chunk_changed')
        self.commit(spec, statement, deleted)
        self.note_missing(spec.name, found)  # absent on their owner, deleted by allow_missing_on_owner
        return deleted

    def commit(self, spec, statement, deleted):
        self.transaction('COMMIT')
        committed = self.clock()
        self.queries.add(statement, table=spec.name)
        self.tracker.committed(to_text(self.session.fetch_one('SELECT @@SESSION.last_gtid AS gtid')['gtid']),
                               committed)
        return deleted

    def pk_and_predicate(self, spec):
        """The table's primary key columns and the condition of the rows the purge deletes."""
        return (self.infos[spec.name]['primary_key'],
                purge_condition(spec.key, self.params['modulus'], self.params['owned_residues']))

    def max_chunks(self, foreign):
        """Bound on the chunks of a table: each moves the lower bound strictly forward; rows of other
        residues written during the run may add chunks, within this bound."""
        return 2 * (foreign // self.params['chunk_size']) + 10

    def chunk_bounds(self, spec, max_chunks):
        """Yield ``(lower, upper)`` per chunk: the next chunk_size rows to delete after lower end at upper.

        Found with an index range scan of PRIMARY; ends when no row is left, fails after max_chunks.
        """
        pk, predicate = self.pk_and_predicate(spec)
        lower = None
        for dummy in range(max_chunks):
            sql, sql_params = purge_bound_statement(spec, pk, predicate, lower, self.params['chunk_size'])
            row = self.session.fetch_one(sql, sql_params)
            if row is None:
                return
            upper = pk_values(row, pk)
            yield lower, upper
            lower = upper
        self.too_many_chunks(spec, max_chunks)

    def blocks(self, found):
        """Whether a row of ``found`` may not be deleted: only a row its owner deleted since the split may be,
        and only with allow_missing_on_owner; never a row the owner never had, a row of a residue no owner
        covers, nor one whose primary key the owner holds for another row (another shard key)."""
        return any(not (deleted_there and self.params['allow_missing_on_owner'])
                   for dummy, dummy_residue, dummy_owner, dummy_key, deleted_there in found)

    def note_missing(self, table, found):
        """Count the rows of ``found`` (from rows_on_owners) by reason and keep the first keys of each group.

        Returns whether one of them may not be deleted (see blocks).
        """
        for key, residue, owner, owner_key, deleted_there in found:
            reason = ('no_owner' if owner is None else 'other_row' if owner_key is not None
                      else 'deleted' if deleted_there else 'absent')
            group = self.missing.setdefault((table, residue, -1 if owner is None else owner, reason), [0, []])
            group[0] += 1
            if len(group[1]) < MISSING_SHOWN:
                group[1].append((key, owner_key))
            self.missing_total += 1
        return self.blocks(found)

    def missing_message(self, what):
        """The refusal for rows not proven on their owner, grouped by table, residue, owner and reason."""
        parts = []
        for (table, residue, owner, reason), (number, keys) in sorted(self.missing.items()):
            pk = self.infos[table]['primary_key']
            key_column = self.spec_of[table].key
            if reason == 'no_owner':
                where = 'which none of the owners given holds'
            elif reason == 'absent':
                where = 'not on their owner %s' % self.owners[owner]['target']
                if self.params['deleted_on_owner'] is not None:
                    where += ', which did not delete them since the split either'
            elif reason == 'deleted':
                where = 'deleted on their owner %s since the split' % self.owners[owner]['target']
            else:
                where = ('whose primary key the owner %s holds for another row (another %s): ids handed out on '
                         'both shards since the split' % (self.owners[owner]['target'], key_column))
            parts.append('%s: %d row(s) of residue %d %s, first %s'
                         % (table, number, residue, where,
                            '; '.join(describe_pk(pk, key) + ('' if owner_key is None or reason != 'other_row'
                                                              else ' (%s %s there)' % (key_column, owner_key))
                                      for key, owner_key in keys)))
        return ('%s on %s: %d row(s) it would delete are not found on the shard that owns them - %s. '
                'They may exist only on this node and its partner: a writer that still routes by the old shard map '
                'may have written them after the split. Find and stop it, copy these rows to their owner (same '
                'primary key and shard key; a row whose primary key the owner already uses for another row needs '
                'a new primary key there, and the application must learn it), then run again. If the application '
                'itself deleted them on the owner, allow_missing_on_owner=true deletes those the owner deleted since '
                'the split (deleted_on_owner, read from its binary log); it never deletes a row the owner never had, '
                'a row of a residue no owner covers, nor one whose primary key the owner uses for another row.'
                % (what, self.node, self.missing_total, '; '.join(parts)))

    def too_many_chunks(self, spec, max_chunks):
        self.fail('Purge of %s on %s stopped after %d chunks: more rows of other residues than the %d counted at '
                  'the start keep arriving; is the application still writing them here?'
                  % (spec.name, self.node, max_chunks, self.tables[spec.name]['foreign_rows_at_start']),
                  'rows_arriving')

    def purge_table(self, spec):
        started = self.clock()
        total, foreign = self.count(spec)
        entry = dict(foreign_rows_at_start=foreign, deleted=0, chunks=0)
        self.tables[spec.name] = entry
        self.progress.write('table_start', table=spec.name, rows=total, foreign_rows=foreign)
        delete = self.checked_delete if self.owners else self.delete_chunk
        begun = self.clock()
        for lower, upper in self.chunk_bounds(spec, self.max_chunks(foreign)):
            deleted = delete(spec, lower, upper)
            # How long a chunk takes, from the end of the last throttle to its commit (see throttle).
            self.chunk_times = self.chunk_times[-(CHUNK_TIMES_KEPT - 1):] + [self.clock() - begun]
            entry['deleted'] += deleted
            entry['chunks'] += 1
            self.deleted += deleted
            self.chunks += 1
            self.progress.write('chunk', force=False, table=spec.name, deleted=entry['deleted'],
                                chunks=entry['chunks'], foreign_rows_at_start=foreign,
                                elapsed=round(self.clock() - started, 3),
                                max_partner_lag=self.tracker.max_seen)
            self.check_run()
            self.throttle(spec.name)
            begun = self.clock()
        elapsed = self.clock() - started
        remaining, remaining_foreign = self.count(spec)
        entry.update(elapsed=round(elapsed, 3),
                     rows_per_second=round(entry['deleted'] / elapsed, 1) if elapsed > 0 else 0.0,
                     remaining_rows=remaining, remaining_foreign_rows=remaining_foreign)
        self.progress.write('table_done', table=spec.name, **entry)
        return total, foreign, remaining, remaining_foreign

    def check_mode_table(self, spec):
        started = self.clock()
        total, foreign = self.count(spec)
        chunk_size = self.params['chunk_size']
        self.tables[spec.name] = dict(
            foreign_rows_at_start=foreign, deleted=0, chunks=(foreign + chunk_size - 1) // chunk_size,
            elapsed=round(self.clock() - started, 3), rows_per_second=0.0,
            remaining_rows=total - foreign, remaining_foreign_rows=0)
        if self.owners:
            # Every row that would be deleted is looked up on its owner now, chunk by chunk as the real run
            # will: by digest, and row by row where the digests differ.
            before = self.missing_total
            for lower, upper in self.chunk_bounds(spec, self.max_chunks(foreign)):
                asked = self.ask_owners(spec, lower, upper)
                node = self.node_digests(spec, lower, upper, lock=False)
                if not self.digests_agree(node, asked):
                    dummy, found = self.rows_on_owners(spec, lower, upper, lock=False)
                    self.blocked = self.note_missing(spec.name, found) or self.blocked
            self.tables[spec.name].update(missing_on_owner=self.missing_total - before,
                                          elapsed=round(self.clock() - started, 3))
        return total, foreign

    def run(self):
        peers, problems = self.check_options()
        self.check_run(force=True)
        version = self.session.fetch_one('SELECT VERSION() AS version')['version']
        problem = check_server_version(version)
        if problem:
            self.fail(problem, 'unsupported_server')
        node_vars = self.session.fetch_one(
            'SELECT @@GLOBAL.server_id AS server_id, @@GLOBAL.log_bin AS log_bin, '
            '@@GLOBAL.binlog_format AS binlog_format')
        node_vars = dict(server_id=to_int(node_vars['server_id']), log_bin=to_int(node_vars['log_bin']),
                         binlog_format=to_text(node_vars['binlog_format']))
        problems = [('bad_options', text) for text in problems]
        problems.extend(('tables_refused', text) for text in self.check_tables())
        problems.extend(self.connect_partner(node_vars))
        problems.extend(self.connect_owners(node_vars))
        problems.extend(self.check_interlock(peers, node_vars))
        if problems:
            reason, retryable = refusal_outcome(problems)
            self.fail('Refusing to purge on %s, nothing was deleted. %d problem(s): %s'
                      % (self.node, len(problems),
                         ' '.join('(%d) %s.' % (index + 1, text.rstrip('.'))
                                  for index, (dummy, text) in enumerate(problems))),
                      reason, retryable=retryable, problems=[dict(reason=kind, msg=text) for kind, text in problems])
        if self.params['binlog'] and not node_vars['log_bin']:
            self.module.warn('binary logging is off on %s: the deletes do not replicate; purge the partner on its own'
                             % self.node)
        if self.partner_session is None:
            self.module.warn('no partner given: the purge is not throttled on replication lag')
        if not self.owners:
            self.module.warn('no owners given: rows are deleted without looking them up on the shard that owns them')

        before = {}
        after = {}
        if self.module.check_mode:
            for spec in self.specs:
                total, foreign = self.check_mode_table(spec)
                before[spec.name] = dict(rows=total, foreign_rows=foreign)
                after[spec.name] = dict(rows=total - foreign, foreign_rows=0)
            if self.partner_session is not None:
                self.measure_lag()
            if self.blocked:
                self.fail(self.missing_message('Refusing to purge (check mode, nothing was deleted)'), 'missing_on_owner')
            would = sum(entry['foreign_rows_at_start'] for entry in self.tables.values())
            result = self.result(changed=would > 0)
        else:
            self.session_settings(node_vars)
            self.progress.write('start', node=self.node, tables=[spec.name for spec in self.specs],
                                modulus=self.params['modulus'], owned_residues=self.params['owned_residues'])
            self.throttle(None)
            leftovers = []
            for spec in self.specs:
                total, foreign, remaining, remaining_foreign = self.purge_table(spec)
                before[spec.name] = dict(rows=total, foreign_rows=foreign)
                after[spec.name] = dict(rows=remaining, foreign_rows=remaining_foreign)
                if remaining_foreign:
                    leftovers.append('%s still holds %d row(s) of other residues' % (spec.name, remaining_foreign))
            self.progress.write('done', deleted=self.deleted, chunks=self.chunks, paused=round(self.paused, 3),
                                max_partner_lag=self.tracker.max_seen)
            if leftovers:
                self.fail('Purge on %s finished but %s: rows written during the purge (is the application still '
                          'writing them here?); rerun' % (self.node, '; '.join(leftovers)), 'rows_arriving')
            result = self.result()
        if self.module._diff:
            result['diff'] = dict(before=before, after=after)
        return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    # Held until the module ends: a run that takes over the lock of a dead run waits for it.
    work_lock = None if module.check_mode else hold_work_lock()  # noqa: F841  pylint: disable=unused-variable
    try:
        connection = connect_with_params(module.params)
    except MariaDBConnectError as exc:
        module.fail_json(msg=str(exc), changed=False, reason='cannot_connect', retryable=RETRYABLE['cannot_connect'])
    session = SqlSession(connection, read_only=module.check_mode)
    purge = Purge(module, session)
    try:
        result = purge.run()
    except MariaDBQueryError as exc:
        purge.fail('Purge on %s: %s failed: %s' % (purge.node, shorten_statement(exc.statement), exc.message),
                   'query_failed', retryable=exc.errno in TRANSIENT_ERRNOS)
    except (OSError, IOError) as exc:
        purge.progress.path = None
        purge.fail('Purge on %s: cannot write the progress file: %s' % (purge.node, to_native(exc)), 'progress_file')
    finally:
        connection.close()
        if purge.partner_session is not None:
            purge.partner_session.connection.close()
        if purge.pool is not None:
            purge.pool.shutdown(wait=True)
        for owner in purge.owners:
            owner['session'].connection.close()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
