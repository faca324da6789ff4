#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: seed
short_description: Make a new MariaDB node a consistent copy of a source and return the coordinates to replicate from
version_added: 0.1.0
description:
  - Copies the user databases of a source server into a new (target) server and sets
    the target's C(@@GLOBAL.gtid_slave_pos) to the position of the copy, so that
    replication from the source can start exactly where the copy ends (for example
    with M(smooth.mariadb.replication) and RV(gtid_slave_pos)).
  - Runs where the C(mariadb-dump) and C(mariadb) client programs are, usually the
    target host, and connects to the target with the C(login_*) options and to the
    source with the C(source_*) options.
  - "Method V(dump): C(mariadb-dump --single-transaction --gtid --master-data=2) takes
    one consistent InnoDB snapshot without locking tables and writes, as comments,
    the binary log file and offset of that snapshot and its GTID position
    (C(BINLOG_GTID_POS()) of the snapshot's file/offset). Routines, triggers and events
    are included. The dump travels compressed from the source (C(--compress), the
    client protocol compression) when the link needs it (see O(compress)), and is piped through the module straight into the
    C(mariadb) client on the target: nothing is written to disk. The module counts
    the bytes and reads the coordinates from the comments on the way."
  - The restore runs with C(sql_log_bin=0) (the client's C(--init-command)), so
    nothing of it enters the target's binary log; otherwise it would replicate back
    to the source once the two replicate both ways. The module checks that the
    target's C(@@gtid_binlog_pos) did not move during the restore and fails if it did.
  - Copies every schema except C(mysql), C(sys), C(information_schema),
    C(performance_schema) and C(smooth_mariadb) (this collection's metadata), or the
    O(databases) given. Accounts and grants are not copied by the data copy of method V(dump);
    the ones named in O(accounts) are copied after it.
  - Refuses a target that holds user data (a database other than the excluded ones, with
    tables or without), naming the databases, unless O(force=true). Refuses while a replication
    connection runs on the target (C(gtid_slave_pos) cannot be set then).
  - Records the seed in the table C(smooth_mariadb.seed) on the target (written with
    C(sql_log_bin=0), never dumped), with the source's C(server_id), host name and port,
    the coordinates, rows, bytes and times. A target already seeded from the same
    source (same C(server_id), C(@@hostname) and C(@@port)) is left alone and the
    recorded coordinates are returned with C(changed=false), also with O(force=true).
  - When the dump or the restore fails, the module fails with the program's error
    output (passwords masked) and exit code, and the record says C(failed), so the
    target counts as not seeded. Running the task again replaces the partly restored schemas of
    that attempt without needing O(force).
  - "O(accounts): after the data copy, and also when the target was seeded before (a re-run
    converges the accounts, so an account added to the list later is copied), each account
    (user and host) of the source whose user name is listed is made to exist on the target
    exactly as on the source: same C(SHOW CREATE USER) output (authentication as the password
    hash or plugin string the source stores, TLS requirements, resource limits, lock and
    password expiry) and the same set of grants (C(SHOW GRANTS)). A missing account is created,
    a differing one updated (C(ALTER USER) with the source's authentication exactly as
    C(SHOW CREATE USER) gives it, then the grants that differ, object by object: new privileges
    granted before old ones are revoked, so a privilege the account keeps is never revoked,
    even for a moment), an equal one left alone. Each changed account is read again afterwards
    and the task fails if it still differs. The statements run with C(sql_log_bin=0): they
    never replicate (the target's partner gets its own copy when it is seeded). Accounts of the
    target with other user names are never touched; a host of a listed user that only the
    target has is left as it is, with a warning."
author:
  - smooth.mariadb developers (!UNKNOWN)
extends_documentation_fragment:
  - smooth.mariadb.attributes
  - smooth.mariadb.mariadb
attributes:
  check_mode:
    support: full
    details:
      - Connects to both servers, checks the client programs, the target's emptiness and
        its replication, and reports what would be copied (row estimates of the source);
        nothing is written anywhere.
      - Method V(mariabackup) also checks O(datadir), O(work_dir), O(mysql_user) and the C(mariabackup)
        and C(mbstream) programs and returns the command lines; no command is run.
      - With O(accounts), the accounts are compared with the target as it is when the task runs and
        reported as they would be created or updated (with method V(mariabackup) and a seed still to do,
        the backup would bring the source's accounts anyway).
  diff_mode:
    support: partial
    details:
      - Only the accounts of O(accounts) - per account, C(SHOW CREATE USER) (password hashes and other
        authentication strings masked) and the grants, before and after. Not the data copy.
  idempotent:
    support: full
options:
  method:
    description:
      - V(dump) copies with C(mariadb-dump) piped into C(mariadb).
      - V(mariabackup) copies the whole source instance with a physical backup streamed from the source
        (O(backup_command)), prepared in O(work_dir) and moved into O(datadir) of the stopped target.
        The previous datadir's content is kept, moved aside (see RV(old_datadir)).
      - V(auto) chooses V(mariabackup) when the schemas to copy hold O(mariabackup_from_bytes) or more (data and
        indexes, from the source's table statistics), O(backup_command) is given and O(databases) is not; else
        V(dump). RV(method) and RV(method_reason) say which and why.
    type: str
    choices: [dump, mariabackup, auto]
    default: dump
  mariabackup_from_bytes:
    description:
      - With O(method=auto), the size of the copied schemas from which V(mariabackup) is chosen.
      - The default, 256 MiB, is where the two methods take about the same time on a LAN. V(mariabackup) has a
        fixed cost of about 15 seconds (the target is stopped and started, the backup prepared) and copies
        7 to 8 times faster than the dump (C(tests/bench/bench_seed.py) prints both rates).
    type: int
    default: 268435456
  source:
    description:
      - The source server to copy, in the shape every module of the collection gives another server.
      - The option file (O(config_file)), timeout and TLS options apply to the source too.
    type: dict
    required: true
    suboptions:
      login_host:
        description: Host name or address of the source server.
        type: str
        required: true
      login_port:
        description: TCP port of the source server.
        type: int
        default: 3306
      login_user:
        description:
          - Account on the source. It needs C(SELECT) (global, so that every schema is listed, and on
            C(mysql.*) for O(accounts)), C(SHOW VIEW), C(TRIGGER) (without it mariadb-dump leaves the triggers
            out without an error) and C(EVENT); C(BINLOG MONITOR) for a source without user schemas (measured
            on 10.11; the dump takes its position from the snapshot and needs neither C(LOCK TABLES) nor
            C(RELOAD)).
          - Defaults to O(login_user).
        type: str
      login_password:
        description:
          - Password of O(source.login_user). When O(source.login_user) is not set, defaults to
            O(login_password).
        type: str
      login_unix_socket:
        description: Not used (the source is reached over TCP, also by mariadb-dump).
        type: str
  databases:
    description:
      - Databases to copy. Default is every database of the source except the system
        ones and C(smooth_mariadb).
      - System databases and C(smooth_mariadb) are refused.
    type: list
    elements: str
  force:
    description:
      - Seed a target that already holds user data. The copied databases are dropped and
        restored (C(--add-drop-database)); other databases are left as they are.
      - Does not seed again a target already seeded from the same source.
    type: bool
    default: false
  compress:
    description:
      - Compress the dump's traffic between the source and the host running the module (C(--compress)).
      - Not set (the default), the link decides. The dump is compressed when the route from the host running the
        module to the source goes through a router (C(ip route get) names a gateway, C(via)), or when no route
        or no C(ip) program is found; not when the source is on a network of this host or on this host.
        Compression costs CPU on both ends, which on a LAN slows the copy (by a third on loopback).
        RV(compress) and RV(compress_reason) say what was chosen.
      - Method V(dump) only.
    type: bool
  progress_file:
    description:
      - A file on the target where the copy's progress is kept while it runs (JSON - C(state), C(method), C(bytes)
        streamed, C(seconds), C(source_bytes)), replaced every second and removed when the task ends. Unset, none is
        kept.
      - For M(smooth.mariadb.seed_wait), which prints it while the task runs as an async job.
    type: path
  row_count:
    description:
      - V(exact) counts the rows of every copied table on the target after the restore
        (C(SELECT COUNT(*))); V(estimate) reports the table statistics instead (fast
        for large tables).
      - V(auto) counts after a dump and estimates after a mariabackup copy (large data, where
        counting reads every table once more only to report a number). RV(row_count) says which.
    type: str
    choices: [exact, estimate, auto]
    default: exact
  timeout:
    description:
      - Seconds the copy may take; both client programs are killed after that and the
        task fails.
    type: int
    default: 3600
  run_id:
    description:
      - The id of the playbook run that started this seed (see M(smooth.mariadb.run_lock)). The seed does not
        start, and a running copy is stopped (both programs killed, the task failed, the seed record
        C(failed) so that a later run resumes it), once the run lock (O(run_lock_path)) no longer names
        this run - its run is gone and another took the lock over, or an operator removed it. The lock is
        read once a second during the copy.
      - Not set (the default), the seed does not look at the lock.
    type: str
  run_lock_path:
    description: The run lock read with O(run_id).
    type: path
    default: /var/lib/smooth-mariadb/run.lock
  backup_command:
    description:
      - Method V(mariabackup) only, and required there. A command (a list of arguments, run on the target
        host without a shell) whose standard output is the source's C(mariabackup --backup --stream=xbstream).
      - "Typically C([ssh, -o, BatchMode=yes, root@SOURCE, mariabackup --backup --stream=xbstream --target-dir=/tmp])
        with an SSH key of the target's root trusted by the source's root, and mariabackup authenticating as
        C(root) over the source's unix socket. This gives the target host root on the source host: restrict the
        key on the source (C(command=) in C(authorized_keys)) or use a dedicated account that can read the datadir."
      - It is shown in RV(commands) with the passwords of the task masked; do not put other secrets in it.
    type: list
    elements: str
  datadir:
    description:
      - Method V(mariabackup) - the target server's data directory. Its content is moved into
        C(<datadir>.smooth-before-seed-<UTC timestamp>), never deleted; the operator removes it once satisfied.
        The directory itself stays (it may be a mount point, which cannot be renamed); across filesystems the
        move copies.
    type: path
    default: /var/lib/mysql
  work_dir:
    description:
      - Method V(mariabackup) - where the backup is extracted and prepared; needs room for the whole backup,
        ideally on the filesystem of O(datadir) (C(--move-back) then renames instead of copying).
      - Refused when it exists and is not empty, unless it is this module's own leftover (it holds a
        C(.smooth-mariadb-seed) marker file). Removed after a successful seed; kept after a failure.
    type: path
    default: /var/lib/smooth-mariadb-seed
  stop_command:
    description:
      - Method V(mariabackup) - command (list of arguments) that stops the target server; the module then waits
        until the target refuses connections.
    type: list
    elements: str
    default: [systemctl, stop, mariadb.service]
  start_command:
    description:
      - Method V(mariabackup) - command (list of arguments) that starts the target server; the module then
        reconnects with the C(login_*) options (bounded retries, 120 seconds).
    type: list
    elements: str
    default: [systemctl, start, mariadb.service]
  mysql_user:
    description:
      - Method V(mariabackup) - the account that owns the new datadir (C(chown -R)).
    type: str
    default: mysql
  dump_binary:
    description:
      - Path of C(mariadb-dump). Default is C(mariadb-dump), else C(mysqldump), from the C(PATH).
    type: path
  client_binary:
    description:
      - Path of the C(mariadb) client. Default is C(mariadb), else C(mysql), from the C(PATH).
    type: path
  accounts:
    description:
      - User names (without host) whose accounts are copied from the source to the target,
        every host of each name, with their password hashes, settings and grants; see the description.
      - For the application's accounts. Leave out the accounts this collection manages per node (the
        admin and replication accounts of the C(server) role, whose hosts differ per node).
      - Refused, before anything is changed and naming the name, are empty names, names with the
        C(%) wildcard, C(root), C(mariadb.sys), C(mysql) and the user names the module logs in with on
        either server. A name with no account on the source is an error naming it.
      - Roles are not copied; a role granted to a copied account must exist on the target. A grant on a
        table must find the table on the target (a table of a database that was not copied fails, naming it).
      - Valid for both methods; after method V(mariabackup), which copies the whole C(mysql) schema, the
        accounts are normally RV(accounts[].action=unchanged).
      - The source login needs C(SELECT) on the C(mysql) schema (C(GRANT SELECT ON mysql.*)) to list the
        accounts in C(mysql.user) and to read C(SHOW CREATE USER) and C(SHOW GRANTS) of other users. The
        target login needs C(CREATE USER), the privileges it grants C(WITH GRANT OPTION) and, for
        C(sql_log_bin), C(BINLOG ADMIN) (or C(SUPER)).
    type: list
    elements: str
    default: []
notes:
  - Needs MariaDB 10.6 or later on both servers and binary logging on the source.
  - Passwords reach the client programs through a temporary option file created with
    mode 0600 and passed with C(--defaults-file) (only that file is read, so a
    C(~/.my.cnf) cannot redirect the clients), removed at the end; they are never on
    a command line and never in results.
  - Events are restored as the dump defines them, enabled; with C(event_scheduler) on,
    they then run on both nodes of a pair.
  - "Only InnoDB tables are copied consistently: C(--single-transaction) does not
    protect other engines, nor DDL run on the source during the copy."
  - The target's login account needs the privileges to create the copied objects and
    C(BINLOG ADMIN) (or C(SUPER)) for C(sql_log_bin), and C(REPLICATION SLAVE ADMIN) for
    C(gtid_slave_pos).
  - "Method V(mariabackup) runs on the target host, as root. Steps: the same checks as V(dump) (seed record, no
    user data unless O(force), no replication running on the target, source reachable with binary logging and
    another server_id); O(backup_command) piped through the module into C(mbstream -x) in C(<work_dir>/backup) (bytes
    counted, bounded by O(timeout)); C(mariabackup --prepare); the coordinates from the backup's
    C(xtrabackup_binlog_info) (MariaDB 10.11; C(mariadb_backup_binlog_info) in later versions); O(stop_command);
    the content of O(datadir) moved aside; C(mariabackup --move-back); C(chown -R) O(mysql_user); O(start_command); reconnect;
    C(gtid_slave_pos) set; the seed record written with C(sql_log_bin=0); O(work_dir) removed."
  - "Method V(mariabackup) copies the whole instance, including the C(mysql) schema: after the seed the target
    has the source's accounts, passwords and grants (the C(login_*) account must exist on the source too), and
    the source's own C(smooth_mariadb) tables. Its binary log starts empty. O(force) lets it replace a target
    holding user data (the old datadir content is kept, moved aside)."
  - "When a step after O(stop_command) fails, the module stops the target if it runs, moves the failed datadir to
    C(<datadir>.smooth-failed-seed-<timestamp>), moves the old content back, starts the target and fails
    naming the step, the command's error output (passwords masked) and that the target was restored."
seealso:
  - module: smooth.mariadb.replication
  - module: smooth.mariadb.replication_wait
  - name: mariadb-dump
    description: MariaDB reference of the dump program.
    link: https://mariadb.com/kb/en/mariadb-dump/
  - name: SHOW CREATE USER
    description: MariaDB reference of the statement whose output O(accounts) copies.
    link: https://mariadb.com/kb/en/show-create-user/
'''

EXAMPLES = r'''
- name: Seed the new node from its future partner
  smooth.mariadb.seed:
    source:
      login_host: 10.0.0.11
      login_user: smooth_admin
      login_password: "{{ vault_admin_password }}"
    login_unix_socket: /run/mysqld/mysqld.sock
  register: seeded

- name: Replicate from the source, starting exactly after the copy
  smooth.mariadb.replication:
    connection_name: partner
    state: started
    source_host: 10.0.0.11
    source_user: smooth_repl
    source_password: "{{ vault_repl_password }}"
    gtid_slave_pos: "{{ seeded.gtid_slave_pos }}"
    login_unix_socket: /run/mysqld/mysqld.sock

- name: Copy two databases only, counting rows from the statistics
  smooth.mariadb.seed:
    source:
      login_host: 10.0.0.11
    databases: [shop, billing]
    row_count: estimate
    login_host: 10.0.0.21
    login_user: smooth_admin
    login_password: "{{ vault_admin_password }}"

- name: Seed a large node with a physical backup streamed over SSH from the source
  smooth.mariadb.seed:
    method: mariabackup
    source:
      login_host: 10.0.0.11
      login_user: smooth_admin
      login_password: "{{ vault_admin_password }}"
    login_unix_socket: /run/mysqld/mysqld.sock
    backup_command:
      - ssh
      - -o
      - BatchMode=yes
      - root@10.0.0.11
      - mariabackup --backup --stream=xbstream --target-dir=/tmp
  register: seeded

- name: Seed the new node and copy the application's accounts (every host of each name)
  smooth.mariadb.seed:
    source:
      login_host: 10.0.0.11
      login_user: smooth_admin
      login_password: "{{ vault_admin_password }}"
    login_unix_socket: /run/mysqld/mysqld.sock
    accounts: [smooth_lab_app, smooth_lab_report]
  register: seeded

- name: Show which accounts were created or updated
  ansible.builtin.debug:
    msg: "{{ seeded.accounts | selectattr('action', 'ne', 'unchanged') | list }}"
'''

RETURN = r'''
changed:
  description: Whether the target was seeded or an account of O(accounts) created or updated (in check mode, would be).
  returned: always
  type: bool
method:
  description: The method used (V(dump) or V(mariabackup); when unchanged, the one the seed record names).
  returned: always
  type: str
  sample: dump
method_reason:
  description: Why RV(method) was used (the size of the source against O(mariabackup_from_bytes) with O(method=auto)).
  returned: always
  type: str
  sample: "auto: the source holds 1.2 GiB, 256.0 MiB or more"
source_bytes:
  description: Data and index bytes of the schemas to copy, from the source's table statistics.
  returned: always
  type: int
  sample: 1288490188
compress:
  description: Whether the dump travelled compressed; null when no dump ran.
  returned: always
  type: bool
compress_reason:
  description: Why RV(compress) was chosen (the route to the source, when O(compress) is not set).
  returned: always
  type: str
  sample: "the source is on a network of this host (no router between): not compressed"
source:
  description: The source as it identifies itself.
  returned: always
  type: dict
  sample: {address: "10.0.0.11:3306", server_id: 11, hostname: db0a, port: 3306, version: 10.11.6-MariaDB-0+deb12u1-log}
databases:
  description: The databases copied (or to copy, in check mode; as recorded when unchanged).
  returned: always
  type: list
  elements: str
  sample: [shop]
gtid_slave_pos:
  description:
    - GTID position of the copy; the target's C(@@gtid_slave_pos) is set to it.
    - Empty in check mode, and when the source's binary log holds no GTID yet.
  returned: always
  type: str
  sample: 1-11-4711,2-12-815
source_log_file:
  description: Source binary log file of the copy (for replication without GTID).
  returned: always
  type: str
  sample: mysql-bin.000042
source_log_pos:
  description: Offset in source_log_file of the copy.
  returned: always
  type: int
  sample: 1337
tables:
  description:
    - Rows per copied table (C(db.table)), exact or estimated (see O(row_count)); in
      check mode the source's estimates.
  returned: always
  type: dict
  sample: {shop.orders: 1000000}
rows:
  description: Sum of RV(tables).
  returned: always
  type: int
row_count:
  description:
    - How RV(tables) were counted after this copy - V(exact) (C(SELECT COUNT(*))) or V(estimate) (table statistics), as
      O(row_count) decided for the method. Empty when nothing was copied (unchanged), in check mode the mode the copy
      would use (RV(tables) are then the source's estimates).
  returned: always
  type: str
  sample: estimate
old_datadir:
  description:
    - Method V(mariabackup) - where the content of the target's previous datadir was moved to; the operator removes it.
    - Empty for method V(dump), in check mode and when unchanged.
  returned: always
  type: str
  sample: /var/lib/mysql.smooth-before-seed-20260101120000
bytes:
  description: Bytes of SQL streamed from mariadb-dump into mariadb (uncompressed), or of the xbstream backup.
  returned: always
  type: int
seconds:
  description: Seconds the seed took (as recorded when unchanged).
  returned: always
  type: float
step_seconds:
  description:
    - Method V(mariabackup) - seconds of each step of the copy, in order - C(stream) (backup to the work directory),
      C(prepare) (and reading its coordinates), C(stop) (the target), C(move) (the old datadir aside, the backup in,
      its owner), C(start) (until the target accepts connections again), C(count) (RV(tables)). What the copy costs
      beside the stream.
    - Empty for method V(dump), in check mode and when unchanged.
  returned: always
  type: dict
  sample: {stream: 3.52, prepare: 0.61, stop: 1.02, move: 0.2, start: 1.31, count: 0.01}
record:
  description: The target's seed record (C(smooth_mariadb.seed)) after the task; empty in check mode before any seed.
  returned: always
  type: dict
commands:
  description: The command lines run (no secrets; the clients read an option file, passwords are masked).
  returned: always
  type: list
  elements: str
accounts:
  description:
    - The accounts of O(accounts) on the source (one item per user and host), in order, with what was done
      on the target (in check mode, would be done). Empty when O(accounts) is empty.
    - When the task fails while copying them, the accounts done before the failure.
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: User name.
      type: str
    host:
      description: Host part of the account.
      type: str
    action:
      description: V(created), V(updated) or V(unchanged).
      type: str
  sample: [{user: smooth_lab_app, host: 10.214.0.15, action: created}]
diff:
  description:
    - Per account of O(accounts) (key C(`user`@`host`)) its C(SHOW CREATE USER) statements, authentication
      strings masked, and its grants, before (accounts that exist on the target) and after.
  returned: when diff mode is on and O(accounts) is not empty
  type: dict
  sample:
    before: {accounts: {}}
    after:
      accounts:
        "`smooth_lab_app`@`10.214.0.15`":
          create_user: ["CREATE USER `smooth_lab_app`@`10.214.0.15` IDENTIFIED BY PASSWORD '********'"]
          grants: ["GRANT SELECT, INSERT, UPDATE ON `smooth_lab`.* TO `smooth_lab_app`@`10.214.0.15`",
                   "GRANT USAGE ON *.* TO `smooth_lab_app`@`10.214.0.15`"]
queries:
  description:
    - Statements run on the target through the module's own connection, in order.
    - Password hashes of copied accounts are masked (they are bound as parameters).
  returned: always
  type: list
  elements: str
'''

import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.smooth.mariadb.plugins.module_utils.gtid import (
    connect_params,
    read_config_file,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import (
    server_login_options,
    server_params,
    MariaDBConnectError,
    MariaDBQueryError,
    SqlSession,
    build_connect_kwargs,
    check_server_version,
    connect_with_params,
    describe_target,
    mariadb_common_argument_spec,
    mariadb_connect,
    mask_secrets,
    quote_identifier,
    to_int,
    to_text,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.replication import (
    active_connections,
    read_all_slaves_status,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.runlock import hold_work_lock, read_lock_file, run_still_holds
from ansible_collections.smooth.mariadb.plugins.module_utils.seed import (
    AUTO_MARIABACKUP_BYTES,
    LOCK_NAME,
    SCHEMATA_QUERY,
    CoordinateScanner,
    SeedError,
    choose_method,
    exact_row_count,
    describe_stream_failure,
    dump_command,
    needs_compression,
    plan_seed,
    read_record_query,
    record_databases,
    record_done_statement,
    record_exists_query,
    record_failed_statement,
    record_setup_statements,
    record_start_statement,
    restore_command,
    remove_progress,
    select_databases,
    source_size_query,
    stream_dump,
    write_progress,
    user_databases,
    write_option_file,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.seed_accounts import (
    account_differences,
    account_display,
    check_account_names,
    missing_account_names,
    plan_account,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.seed_backup import (
    BINLOG_INFO_FILES,
    FAILED_DATADIR_SUFFIX,
    OLD_DATADIR_SUFFIX,
    WORK_DIR_MARKER,
    Laps,
    NullScanner,
    aside_path,
    move_contents,
    describe_backup_stream_failure,
    extract_command,
    move_back_command,
    parse_binlog_info,
    prepare_command,
    work_dir_problem,
)

IDENTITY_QUERY = ('SELECT @@GLOBAL.server_id AS server_id, @@hostname AS hostname, @@GLOBAL.port AS port, '
                  'VERSION() AS version, @@GLOBAL.log_bin AS log_bin, @@GLOBAL.gtid_binlog_pos AS gtid_binlog_pos')


def source_params(params):
    """The login options of the source (option ``source``, over TCP), completed from the module's own."""
    return server_params(dict(params['source'], login_unix_socket=None), params)


def argument_spec():
    spec = mariadb_common_argument_spec()
    spec.update(source=dict(type='dict', required=True,
                            options=dict(server_login_options(), login_host=dict(type='str', required=True))))
    spec.update(
        method=dict(type='str', default='dump', choices=['dump', 'mariabackup', 'auto']),
        mariabackup_from_bytes=dict(type='int', default=AUTO_MARIABACKUP_BYTES),
        databases=dict(type='list', elements='str'),
        force=dict(type='bool', default=False),
        compress=dict(type='bool'),
        row_count=dict(type='str', default='exact', choices=['exact', 'estimate', 'auto']),
        progress_file=dict(type='path'),
        timeout=dict(type='int', default=3600),
        dump_binary=dict(type='path'),
        client_binary=dict(type='path'),
        backup_command=dict(type='list', elements='str'),
        datadir=dict(type='path', default='/var/lib/mysql'),
        work_dir=dict(type='path', default='/var/lib/smooth-mariadb-seed'),
        stop_command=dict(type='list', elements='str', default=['systemctl', 'stop', 'mariadb.service']),
        start_command=dict(type='list', elements='str', default=['systemctl', 'start', 'mariadb.service']),
        mysql_user=dict(type='str', default='mysql'),
        accounts=dict(type='list', elements='str', default=[]),
        run_id=dict(type='str'),
        run_lock_path=dict(type='path', default='/var/lib/smooth-mariadb/run.lock'),
    )
    return spec


def progress_writer(module, result):
    """The copy's progress hook, ``hook(bytes, seconds, state='copying')`` writing O(progress_file); None without it."""
    path = module.params.get('progress_file')
    if not path or module.check_mode:
        return None

    def hook(moved, seconds, state='copying'):
        try:
            write_progress(path, dict(state=state, method=result['method'], bytes=moved, seconds=round(seconds, 1),
                                      source_bytes=result.get('source_bytes') or 0))
        except OSError:
            pass  # the progress is for the operator's eyes; the copy goes on without it
    return hook


def run_stop_check(params):
    """The stop_check of the copy: why to stop ('' to go on), from the run lock; None without run_id."""
    run_id = params.get('run_id')
    if not run_id:
        return None

    def check():
        record = read_lock_file(params['run_lock_path'])
        if run_still_holds(record, run_id):
            return ''
        return ('the run lock %s names %s, not run %s that started this seed: that run is gone and another took '
                'the lock over, or the lock was removed'
                % (params['run_lock_path'], 'no run' if record is None else 'run %s' % record.get('run_id'), run_id))
    return check


class SeedFailed(Exception):
    """Ends the module with ``message``; ``extra`` goes into the result."""

    def __init__(self, message, **extra):
        super(SeedFailed, self).__init__(message)
        self.message = message
        self.extra = extra


def read_identity(session, label):
    row = session.fetch_one(IDENTITY_QUERY) or {}
    identity = dict(server_id=to_int(row.get('server_id')), hostname=to_text(row.get('hostname')),
                    port=to_int(row.get('port')), version=to_text(row.get('version')),
                    log_bin=to_int(row.get('log_bin')) == 1, gtid_binlog_pos=to_text(row.get('gtid_binlog_pos')))
    problem = check_server_version(identity['version'])
    if problem:
        raise SeedFailed('%s: %s' % (label, problem))
    return identity


def read_record(session):
    sql, params = record_exists_query()
    if not to_int(session.fetch_one(sql, params)['n']):
        return None
    sql, params = read_record_query()
    row = session.fetch_one(sql, params)
    if row is None:
        return None
    record = {}
    for key, value in row.items():
        if key in ('id', 'source_server_id', 'source_port', 'log_pos', 'rows_copied', 'bytes_streamed'):
            record[key] = to_int(value)
        elif key == 'seconds':
            record[key] = None if value is None else float(value)
        elif key in ('started_at', 'finished_at'):
            record[key] = None if value is None else str(value)
        elif key == 'databases':
            record[key] = record_databases(dict(databases=value))
        else:
            record[key] = to_text(value) if value is not None else None
    return record


def source_bytes(source, databases):
    """Data and index bytes of the databases to copy, from the source's table statistics."""
    if not databases:
        return 0
    return to_int(source.fetch_one(*source_size_query(databases))['bytes']) or 0


def compress_decision(module, source_host):
    """Option compress, or (not set) what the route from this host to the source needs: (bool, reason)."""
    if module.params['compress'] is not None:
        return module.params['compress'], 'asked for (compress=%s)' % module.params['compress']
    ip_bin = module.get_bin_path('ip')
    try:
        address = socket.getaddrinfo(source_host, None)[0][4][0]
    except (socket.error, IndexError) as exc:
        return True, 'the source %s did not resolve here (%s): compressed' % (source_host, to_native(exc))
    if not ip_bin:
        return True, 'no ip program here to find the route to the source: compressed'
    rc, out, err = module.run_command([ip_bin, '-o', 'route', 'get', address])
    return needs_compression(out if rc == 0 else '')


def list_schemas(session):
    return [to_text(row['name']) for row in session.fetch_all(SCHEMATA_QUERY)]


def list_tables(session, databases):
    if not databases:
        return []
    placeholders = ', '.join(['%s'] * len(databases))
    rows = session.fetch_all('SELECT TABLE_SCHEMA AS `schema`, TABLE_NAME AS `name`, TABLE_ROWS AS `estimate` '
                             'FROM information_schema.TABLES WHERE TABLE_TYPE = %%s AND TABLE_SCHEMA IN (%s) '
                             'ORDER BY TABLE_SCHEMA, TABLE_NAME' % placeholders, ['BASE TABLE'] + list(databases))
    return [(to_text(row['schema']), to_text(row['name']), to_int(row['estimate']) or 0) for row in rows]


def count_rows(session, databases, exact):
    counts = {}
    for schema, name, estimate in list_tables(session, databases):
        if exact:
            row = session.fetch_one('SELECT COUNT(*) AS n FROM %s.%s' % (quote_identifier(schema), quote_identifier(name)))
            counts['%s.%s' % (schema, name)] = to_int(row['n'])
        else:
            counts['%s.%s' % (schema, name)] = estimate
    return counts


def find_binary(module, option, names):
    if module.params[option]:
        path = module.params[option]
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise SeedFailed('%s %s is not an executable file' % (option, path))
        return path
    for name in names:
        path = module.get_bin_path(name)
        if path:
            return path
    raise SeedFailed('neither %s found in the PATH of the host running the module; install the MariaDB client '
                     '(Debian: mariadb-client) or set %s' % (' nor '.join(names), option))


def result_from_record(record, base):
    result = dict(base)
    result.update(
        databases=record_databases(record),
        gtid_slave_pos=record.get('gtid_pos') or '',
        source_log_file=record.get('log_file') or '',
        source_log_pos=record.get('log_pos'),
        rows=record.get('rows_copied') or 0,
        bytes=record.get('bytes_streamed') or 0,
        seconds=record.get('seconds') or 0.0,
        record=record,
    )
    return result


def run_seed(module, target, source, target_label, source_label):
    """Check both servers and the accounts to copy, seed (or not: already seeded), then copy the accounts."""
    params = module.params
    result = dict(changed=False, method=params['method'], method_reason='', source_bytes=0, compress=None,
                  compress_reason='', source={}, databases=[], gtid_slave_pos='',
                  source_log_file='', source_log_pos=None, tables={}, rows=0, row_count='', bytes=0, seconds=0.0, record={},
                  step_seconds={}, commands=[], old_datadir='', accounts=[], queries=target.queries)
    source_identity = check_servers(target, source, target_label, source_label, result)
    names = prepare_accounts(module, target, source, source_label, result)
    result = seed_data(module, target, source, source_identity, target_label, source_label, result)
    if names:
        # After the data copy, and also when the seed was done before: an account added to the
        # option later is copied by a re-run.
        result = copy_accounts(module, target, source, source_label, names, result)
    return result


def check_servers(target, source, target_label, source_label, result):
    """Both servers are MariaDB, the source logs binary and has another server_id; returns its identity."""
    source_identity = read_identity(source, source_label)
    result['source'] = dict(address=source_label, server_id=source_identity['server_id'],
                            hostname=source_identity['hostname'], port=source_identity['port'],
                            version=source_identity['version'])
    if not source_identity['log_bin']:
        raise SeedFailed('binary logging is off on the source %s: a copy without coordinates cannot be '
                         'replicated from' % source_label, **result)
    target_identity = read_identity(target, target_label)
    if target_identity['server_id'] == source_identity['server_id']:
        raise SeedFailed('the target %s and the source %s have the same server_id %d; refusing to seed a server '
                         'from itself or from a server with its id' % (target_label, source_label,
                                                                       source_identity['server_id']), **result)
    return source_identity


def seed_data(module, target, source, source_identity, target_label, source_label, result):
    """Seed the target from the source, unless already seeded from it (the seed record)."""
    params = module.params
    secrets = [params.get('login_password'), (params.get('source') or {}).get('login_password')]
    record = read_record(target)
    result['record'] = record or {}
    statuses = read_all_slaves_status(target)
    try:
        databases = select_databases(list_schemas(source), params['databases'])
    except SeedError as exc:
        raise SeedFailed('Source %s: %s' % (source_label, exc), **result)
    result['source_bytes'] = source_bytes(source, databases)
    result['method'], result['method_reason'] = choose_method(
        params['method'], result['source_bytes'], params['mariabackup_from_bytes'], params['backup_command'],
        params['databases'])
    try:
        plan = plan_seed(record, source_identity, user_databases(list_schemas(target)), force=params['force'],
                         active_connections=active_connections(statuses),
                         whole_instance=result['method'] == 'mariabackup')
    except SeedError as exc:
        raise SeedFailed('Target %s: %s' % (target_label, exc), **result)
    if plan.action == 'unchanged':
        result['method'] = record.get('method') or result['method']
        result['method_reason'] = 'already seeded from this source'
        return result_from_record(record, result)
    for warning in plan.warnings:
        module.warn(warning)

    result['databases'] = databases
    result['row_count'] = 'exact' if exact_row_count(params['row_count'], result['method']) else 'estimate'
    if result['method'] == 'mariabackup':
        return run_backup_seed(module, target, source, source_identity, source_label, databases, secrets, result)
    result['compress'], result['compress_reason'] = compress_decision(module, params['source']['login_host'])
    dump_bin = find_binary(module, 'dump_binary', ('mariadb-dump', 'mysqldump'))
    client_bin = find_binary(module, 'client_binary', ('mariadb', 'mysql'))
    result['commands'] = [' '.join(dump_command(dump_bin, '<source option file>', databases, result['compress'])),
                          ' '.join(restore_command(client_bin, '<target option file>'))]
    result['changed'] = True

    if module.check_mode:
        return with_estimates(result, source, databases)

    return apply_seed(module, target, source, source_identity, source_label, databases, dump_bin, client_bin,
                      secrets, result)


# ---------------------------------------------------------------------------
# Accounts (option accounts)
# ---------------------------------------------------------------------------

ACCOUNTS_QUERY = ("SELECT User AS user, Host AS host FROM mysql.user WHERE is_role = 'N' AND User IN (%s) "
                  "ORDER BY User, Host")
SOURCE_ACCOUNT_PRIVILEGE = ('the source login needs SELECT on the mysql schema (GRANT SELECT ON mysql.* ...) to '
                            'list accounts and read SHOW CREATE USER and SHOW GRANTS of other users')


def list_accounts(session, names):
    """(user, host) of the accounts (not roles) with these user names, from mysql.user."""
    if not names:
        return []
    rows = session.fetch_all(ACCOUNTS_QUERY % ', '.join(['%s'] * len(names)), list(names))
    return [(to_text(row['user']), to_text(row['host'])) for row in rows]


def _first_value(row):
    return to_text(list(row.values())[0])


def read_account(session, user, host):
    """SHOW CREATE USER rows and SHOW GRANTS lines of one account (they hold its password hash)."""
    return dict(create=[_first_value(row) for row in session.fetch_all('SHOW CREATE USER %s@%s', (user, host))],
                grants=[_first_value(row) for row in session.fetch_all('SHOW GRANTS FOR %s@%s', (user, host))])


def from_source(source_label, result, function, *args):
    """Run a read on the source; a failure names the source and the privilege the reads need."""
    try:
        return function(*args)
    except MariaDBQueryError as exc:
        raise SeedFailed('accounts: %s failed on the source %s: %s; %s'
                         % (exc.statement, source_label, exc.message, SOURCE_ACCOUNT_PRIVILEGE), **result)


def login_user_names(module, target, source):
    """The user names this module logs in with: configured, and as both servers see them."""
    names = set()
    for login in (module.params, source_params(module.params)):
        if login.get('login_user'):
            names.add(login['login_user'])
    for session in (target, source):
        account = to_text((session.fetch_one('SELECT CURRENT_USER() AS account') or {}).get('account'))
        if '@' in account:
            names.add(account.rsplit('@', 1)[0])
    return names


def prepare_accounts(module, target, source, source_label, result):
    """The names of the accounts option, checked before anything is changed (reads only)."""
    requested = module.params['accounts']
    if not requested:
        return []
    try:
        names = check_account_names(requested, login_user_names(module, target, source))
    except SeedError as exc:
        raise SeedFailed(str(exc), **result)
    missing = missing_account_names(names, from_source(source_label, result, list_accounts, source, names))
    if missing:
        raise SeedFailed('accounts: the source %s has no account named %s; nothing was changed'
                         % (source_label, ', '.join("'%s'" % name for name in missing)), **result)
    return names


def copy_accounts(module, target, source, source_label, names, result):
    """Create or update every (user, host) of the named users on the target, equal to the source.

    The statements run with sql_log_bin=0: they must not replicate (the
    target's partner is seeded with its own copy). Accounts of the target
    with other names are never read nor touched; a host of a named user that
    only the target has is left as it is, with a warning.
    """
    source_accounts = from_source(source_label, result, list_accounts, source, names)
    missing = missing_account_names(names, source_accounts)
    if missing:
        raise SeedFailed('accounts: %s disappeared from the source %s during the seed'
                         % (', '.join("'%s'" % name for name in missing), source_label), **result)
    target_accounts = set(list_accounts(target, names))
    for user, host in sorted(target_accounts - set(source_accounts)):
        module.warn('accounts: %s exists on the target only; left as it is' % account_display(user, host))

    plans = []
    for user, host in source_accounts:
        wanted = from_source(source_label, result, read_account, source, user, host)
        present = read_account(target, user, host) if (user, host) in target_accounts else None
        try:
            plans.append((plan_account(user, host, wanted, present), wanted))
        except SeedError as exc:
            raise SeedFailed('accounts: %s: %s' % (account_display(user, host), exc), **result)

    if module._diff:
        result['diff'] = dict(
            before=dict(accounts=dict((account_display(plan.user, plan.host), plan.before)
                                      for plan, dummy in plans if plan.before)),
            after=dict(accounts=dict((account_display(plan.user, plan.host), plan.after) for plan, dummy in plans)))
    entries = [dict(user=plan.user, host=plan.host, action=plan.action) for plan, dummy in plans]
    if not any(plan.statements for plan, dummy in plans):
        result['accounts'] = entries
        return result
    result['changed'] = True
    if module.check_mode:
        result['accounts'] = entries
        return result

    result['accounts'] = []   # filled as the accounts are done, so that a failure shows how far it got
    if to_int(target.fetch_one('SELECT @@SESSION.sql_log_bin AS value')['value']) != 0:
        target.execute('SET SESSION sql_log_bin = 0')
    for (plan, wanted), entry in zip(plans, entries):
        account = account_display(plan.user, plan.host)
        for sql, sql_params in plan.statements:
            try:
                target.execute(sql, sql_params)
            except MariaDBQueryError as exc:
                raise SeedFailed('accounts: %s: %s failed: %s' % (account, exc.statement, exc.message), **result)
        if plan.statements:
            # The server may normalise a statement; what counts is that both now show the same.
            problems = account_differences(wanted, read_account(target, plan.user, plan.host), plan.user, plan.host)
            if problems:
                raise SeedFailed('accounts: %s still differs from the source after it was %s: %s'
                                 % (account, plan.action, '; '.join(problems)), **result)
        result['accounts'].append(entry)
    return result


def with_estimates(result, source, databases):
    """Check mode: the tables and rows that would be copied, from the source's statistics."""
    result['tables'] = dict(('%s.%s' % (schema, name), estimate)
                            for schema, name, estimate in list_tables(source, databases))
    result['rows'] = sum(result['tables'].values())
    return result


def run_backup_seed(module, target, source, source_identity, source_label, databases, secrets, result):
    params = module.params
    result['old_datadir'] = ''
    plan = backup_plan(module)
    step = Step(secrets, 0)
    result['commands'] = [
        '%s | %s' % (step.show(params['backup_command']),
                     step.show(extract_command(plan['mbstream'], plan['backup_dir']))),
        step.show(prepare_command(plan['mariabackup'], plan['backup_dir'])),
        step.show(params['stop_command']),
        step.show(move_back_command(plan['mariabackup'], plan['backup_dir'], plan['datadir'])),
        'chown -R %s %s' % (params['mysql_user'], plan['datadir']),
        step.show(params['start_command']),
    ]
    result['changed'] = True
    if module.check_mode:
        return with_estimates(result, source, databases)
    return apply_backup_seed(module, target, source_identity, source_label, databases, plan, secrets, result)


def apply_seed(module, target, source, source_identity, source_label, databases, dump_bin, client_bin, secrets,
               result):
    started = time.monotonic()
    if to_int(target.fetch_one('SELECT GET_LOCK(%s, 0) AS got', (LOCK_NAME,))['got']) != 1:
        raise SeedFailed('another seed of this target is running (lock %s is held)' % LOCK_NAME, **result)
    target.execute('SET SESSION sql_log_bin = 0')
    target.execute_all(record_setup_statements())
    target.execute(*record_start_statement(result['method'], source_label, source_identity, databases))
    binlog_before = target.fetch_one('SELECT @@GLOBAL.gtid_binlog_pos AS pos')['pos']

    try:
        if databases:
            streamed, gtid_pos, log_file, log_pos = copy_with_dump(
                module, databases, dump_bin, client_bin, secrets, result['compress'], progress_writer(module, result))
        else:
            streamed, (gtid_pos, log_file, log_pos) = 0, position_without_data(source, source_label)
        binlog_after = target.fetch_one('SELECT @@GLOBAL.gtid_binlog_pos AS pos')['pos']
        if binlog_after != binlog_before:
            raise SeedFailed("the target's binary log moved during the restore (gtid_binlog_pos %r -> %r): something "
                             "wrote to the target, or the restore was logged; it would replicate back to the "
                             "source" % (binlog_before, binlog_after))
        running = active_connections(read_all_slaves_status(target))
        if running:
            raise SeedFailed('replication was started on the target during the seed (%s); gtid_slave_pos not set'
                             % ', '.join(running))
        target.execute('SET GLOBAL gtid_slave_pos = %s', (gtid_pos,))
        tables = count_rows(target, databases, result['row_count'] == 'exact')
        seconds = time.monotonic() - started
        target.execute(*record_done_statement(gtid_pos, log_file, log_pos, sum(tables.values()), streamed, seconds))
    except (SeedFailed, MariaDBQueryError, OSError) as exc:
        message = exc.message if isinstance(exc, SeedFailed) else (
            '%s failed: %s' % (exc.statement, exc.message) if isinstance(exc, MariaDBQueryError) else to_native(exc))
        try:
            target.execute(*record_failed_statement(message))
        except MariaDBQueryError as record_exc:
            message += ' (and marking the seed as failed failed too: %s)' % record_exc.message
        result['record'] = read_record(target) or {}
        raise SeedFailed(message, **result)
    finally:
        target.fetch_one('SELECT RELEASE_LOCK(%s) AS released', (LOCK_NAME,))

    result.update(gtid_slave_pos=gtid_pos, source_log_file=log_file, source_log_pos=log_pos, tables=tables,
                  rows=sum(tables.values()), bytes=streamed, seconds=round(seconds, 3),
                  record=read_record(target) or {})
    return result


def copy_with_dump(module, databases, dump_bin, client_bin, secrets, compress, progress=None):
    """Stream the dump into the target; returns (bytes, gtid, log_file, log_pos)."""
    params = module.params
    option_file = read_config_file(module)
    source_kwargs, dummy = build_connect_kwargs(source_params(params), option_file)
    target_kwargs, dummy = build_connect_kwargs(params, option_file)
    secrets = secrets + [source_kwargs.get('password'), target_kwargs.get('password')]
    workdir = tempfile.mkdtemp(prefix='smooth-mariadb-seed-', dir=getattr(module, 'tmpdir', None))
    try:
        source_file = write_option_file(workdir, 'source.cnf', source_kwargs)
        target_file = write_option_file(workdir, 'target.cnf', target_kwargs)
        stream = stream_dump(dump_command(dump_bin, source_file, databases, compress),
                             restore_command(client_bin, target_file), workdir, params['timeout'],
                             scanner=CoordinateScanner(), stop_check=run_stop_check(params), progress=progress)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    failure = describe_stream_failure(stream, secrets)
    if failure:
        raise SeedFailed(failure)
    gtid_pos, log_file, log_pos = stream.coordinates
    return stream.bytes, gtid_pos, log_file, log_pos


def position_without_data(source, source_label):
    """Coordinates when there is nothing to copy: read them, then make sure that is still so."""
    gtid_pos = to_text(source.fetch_one('SELECT @@GLOBAL.gtid_binlog_pos AS pos')['pos'])
    status = source.fetch_one('SHOW MASTER STATUS') or {}
    if user_databases(list_schemas(source)):
        raise SeedFailed('a database was created on the source %s during the seed; run it again' % source_label)
    return gtid_pos, to_text(status.get('File')), to_int(status.get('Position'))


# ---------------------------------------------------------------------------
# Method mariabackup
# ---------------------------------------------------------------------------

RECONNECT_TIMEOUT = 120.0   # seconds for the target to accept connections after start_command


class Step(object):
    """Runs the commands of a mariabackup seed, bounded by the overall deadline; remembers them masked."""

    def __init__(self, secrets, deadline, clock=time.monotonic):
        self.secrets = [to_text(secret) for secret in secrets if secret]
        self.deadline = deadline
        self.clock = clock
        self.commands = []

    def mask(self, text):
        return mask_secrets(text, self.secrets)

    def show(self, argv):
        return self.mask(' '.join(shlex.quote(to_text(arg)) for arg in argv))

    def run(self, name, argv, timeout=None):
        """Run argv; raise SeedFailed naming the step with its (masked) output when it fails."""
        self.commands.append(self.show(argv))
        remaining = self.deadline - self.clock()
        if timeout is not None:
            remaining = min(remaining, timeout)
        if remaining <= 0:
            raise SeedFailed('step %s: the timeout was reached before it could start' % name)
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=remaining, check=False)
        except subprocess.TimeoutExpired:
            raise SeedFailed('step %s: %s did not finish within %.0f s' % (name, self.show(argv), remaining))
        except OSError as exc:
            raise SeedFailed('step %s: cannot run %s: %s' % (name, self.show(argv), to_native(exc)))
        if done.returncode != 0:
            output = (done.stderr or done.stdout or b'').decode('utf-8', 'replace').strip()
            raise SeedFailed('step %s: %s failed with exit code %d: %s'
                             % (name, self.show(argv), done.returncode, self.mask(output[-4000:]) or '(no output)'))
        return done


def find_program(module, names):
    for name in names:
        path = module.get_bin_path(name)
        if path:
            return path
    raise SeedFailed('neither %s found in the PATH of the target host; install mariadb-backup'
                     % ' nor '.join(names))


def backup_plan(module):
    """Binaries, paths and the command lines of a mariabackup seed (checked, nothing run)."""
    params = module.params
    datadir = os.path.normpath(params['datadir'])
    work_dir = os.path.normpath(params['work_dir'])
    if not os.path.isdir(datadir):
        raise SeedFailed('datadir %s is not a directory on the target host' % datadir)
    entries = os.listdir(work_dir) if os.path.isdir(work_dir) else None
    if os.path.exists(work_dir) and entries is None:
        raise SeedFailed('work_dir %s exists and is not a directory' % work_dir)
    problem = work_dir_problem(work_dir, entries, datadir)
    if problem:
        raise SeedFailed(problem)
    try:
        pwd.getpwnam(params['mysql_user'])
    except KeyError:
        raise SeedFailed('mysql_user %s is not an account of the target host' % params['mysql_user'])
    mbstream = find_program(module, ('mbstream',))
    mariabackup = find_program(module, ('mariabackup', 'mariadb-backup'))
    # The backup goes into a subdirectory: --move-back moves every file of its
    # target dir, and the marker must stay in work_dir.
    return dict(datadir=datadir, work_dir=work_dir, backup_dir=os.path.join(work_dir, 'backup'), mbstream=mbstream,
                mariabackup=mariabackup)


def chown_tree(path, user):
    entry = pwd.getpwnam(user)
    uid, gid = entry.pw_uid, entry.pw_gid
    os.lchown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def read_binlog_info(work_dir):
    for name in BINLOG_INFO_FILES:
        path = os.path.join(work_dir, name)
        if os.path.exists(path):
            with open(path, 'rb') as handle:
                text = handle.read().decode('utf-8', 'replace')
            try:
                return parse_binlog_info(text)
            except SeedError as exc:
                raise SeedFailed('step binlog info: %s: %s' % (path, exc))
    raise SeedFailed('step binlog info: the prepared backup in %s has none of %s; is binary logging on at the source?'
                     % (work_dir, ', '.join(BINLOG_INFO_FILES)))


def reconnect(module, deadline, clock=time.monotonic):
    """A new connection to the target, retried (bounded) while it starts."""
    last = None
    for dummy in range(int(RECONNECT_TIMEOUT * 2) + 1):
        try:
            return connect_with_params(module.params)
        except MariaDBConnectError as exc:
            last = exc
        if clock() >= deadline:
            break
        time.sleep(0.5)
    raise SeedFailed('step reconnect: the target did not accept connections after start_command: %s' % last)


def wait_stopped(module, deadline, clock=time.monotonic):
    """Wait (bounded) until the target refuses connections after stop_command."""
    for dummy in range(int(RECONNECT_TIMEOUT * 2) + 1):
        try:
            connect_with_params(module.params).close()
        except MariaDBConnectError:
            return
        if clock() >= deadline:
            break
        time.sleep(0.5)
    raise SeedFailed('step stop: the target still accepts connections after stop_command')


def apply_backup_seed(module, target, source_identity, source_label, databases, plan, secrets, result):
    """Stream, prepare, swap the datadir, restart, set gtid_slave_pos, record. Restores the old datadir on failure."""
    params = module.params
    started = time.monotonic()
    step = Step(secrets, started + params['timeout'])
    result['commands'] = step.commands
    work_dir, datadir = plan['work_dir'], plan['datadir']
    stamp = time.strftime('%Y%m%d%H%M%S', time.gmtime())
    old_datadir = aside_path(datadir, OLD_DATADIR_SUFFIX, stamp)
    if os.path.exists(old_datadir):
        raise SeedFailed('%s exists already; try again in a second' % old_datadir)
    progress = progress_writer(module, result)
    laps = Laps(time.monotonic)
    result['step_seconds'] = laps.seconds

    # 1. Stream the backup into the work directory (the target server still runs).
    if os.path.isdir(work_dir):
        shutil.rmtree(work_dir)   # our own leftover: backup_plan checked the marker
    os.makedirs(work_dir, 0o700)
    with open(os.path.join(work_dir, WORK_DIR_MARKER), 'w') as handle:
        handle.write('work directory of smooth.mariadb.seed (method mariabackup); safe to remove\n')
    backup_dir = plan['backup_dir']
    os.mkdir(backup_dir, 0o700)
    logs = tempfile.mkdtemp(prefix='smooth-mariadb-seed-', dir=getattr(module, 'tmpdir', None))
    try:
        step.commands.append('%s | %s' % (step.show(params['backup_command']),
                                          step.show(extract_command(plan['mbstream'], backup_dir))))
        stream = stream_dump(params['backup_command'], extract_command(plan['mbstream'], backup_dir), logs,
                             params['timeout'], scanner=NullScanner(), stop_check=run_stop_check(params),
                             progress=progress, passthrough=True)
    finally:
        shutil.rmtree(logs, ignore_errors=True)
    laps.lap('stream')
    failure = describe_backup_stream_failure(stream, step.secrets)
    if failure:
        raise SeedFailed('step stream: %s. The target was not touched; %s holds the partial stream'
                         % (failure, work_dir))

    # 2. Prepare and read the coordinates (still nothing changed on the target).
    if progress is not None:
        progress(stream.bytes, stream.seconds, 'preparing')
    step.run('prepare', prepare_command(plan['mariabackup'], backup_dir))
    gtid_pos, log_file, log_pos = read_binlog_info(backup_dir)
    laps.lap('prepare')

    # 3. Swap the datadir; from the stop on, every failure restores the old one.
    moved = False
    try:
        try:
            target.connection.close()
        except Exception:  # already gone: it is being stopped anyway
            pass
        step.run('stop', params['stop_command'])
        wait_stopped(module, step.deadline)
        laps.lap('stop')
        move_contents(datadir, old_datadir)
        moved = True
        step.run('move-back', move_back_command(plan['mariabackup'], backup_dir, datadir))
        step.commands.append('chown -R %s %s' % (params['mysql_user'], datadir))
        chown_tree(datadir, params['mysql_user'])
        laps.lap('move')
        step.run('start', params['start_command'])
        target.connection = reconnect(module, time.monotonic() + RECONNECT_TIMEOUT)
        laps.lap('start')
        running = active_connections(read_all_slaves_status(target))
        if running:
            raise SeedFailed('step replication: replication connections started on the seeded target (%s)'
                             % ', '.join(running))
        target.execute('SET SESSION sql_log_bin = 0')
        target.execute('SET GLOBAL gtid_slave_pos = %s', (gtid_pos,))
        if progress is not None:
            progress(stream.bytes, time.monotonic() - started, 'counting')
        tables = count_rows(target, databases, result['row_count'] == 'exact')
        laps.lap('count')
        seconds = time.monotonic() - started
        target.execute_all(record_setup_statements())
        target.execute(*record_start_statement('mariabackup', source_label, source_identity, databases))
        target.execute(*record_done_statement(gtid_pos, log_file, log_pos, sum(tables.values()), stream.bytes,
                                              seconds))
    except (SeedFailed, MariaDBQueryError, OSError) as exc:
        message = exc.message if isinstance(exc, SeedFailed) else (
            'step SQL: %s failed: %s' % (exc.statement, exc.message) if isinstance(exc, MariaDBQueryError)
            else 'step %s: %s' % ('move-back' if moved else 'stop', to_native(exc)))
        raise SeedFailed('%s. %s' % (message, restore_datadir(module, step, datadir, old_datadir, moved, stamp)),
                         **result)
    shutil.rmtree(work_dir, ignore_errors=True)
    result.update(gtid_slave_pos=gtid_pos, source_log_file=log_file, source_log_pos=log_pos, tables=tables,
                  rows=sum(tables.values()), bytes=stream.bytes, seconds=round(seconds, 3), old_datadir=old_datadir,
                  record=read_record(target) or {})
    return result


def restore_datadir(module, step, datadir, old_datadir, moved, stamp):
    """Put the old datadir back and start the target; returns what was done, for the failure message."""
    params = module.params
    rescue = Step(step.secrets, time.monotonic() + RECONNECT_TIMEOUT * 2)
    done = []
    try:
        if moved:
            try:
                connect_with_params(params).close()
                rescue.run('rescue stop', params['stop_command'])
                wait_stopped(module, rescue.deadline)
            except MariaDBConnectError:
                pass
            if os.listdir(datadir):
                failed = aside_path(datadir, FAILED_DATADIR_SUFFIX, stamp)
                move_contents(datadir, failed)
                done.append('the failed datadir was moved to %s' % failed)
            for name in sorted(os.listdir(old_datadir)):
                shutil.move(os.path.join(old_datadir, name), os.path.join(datadir, name))
            os.rmdir(old_datadir)
            done.append('the old datadir was put back')
        try:
            connect_with_params(params).close()
        except MariaDBConnectError:
            rescue.run('rescue start', params['start_command'])
            reconnect(module, time.monotonic() + RECONNECT_TIMEOUT).close()
            done.append('the target was started again')
    except (SeedFailed, OSError) as exc:
        step.commands.extend(rescue.commands)
        return ('Restoring the target FAILED as well (%s): %s. Check it by hand: the old datadir is %s'
                % ('; '.join(done) or 'nothing restored', exc.message if isinstance(exc, SeedFailed)
                   else to_native(exc), old_datadir if moved else datadir))
    step.commands.extend(rescue.commands)
    return 'The target was restored: %s' % ('; '.join(done) or 'its datadir was never moved, it runs')


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if params['method'] == 'mariabackup' or (params['method'] == 'auto' and params['backup_command']):
        if params['method'] == 'mariabackup' and not params['backup_command']:
            module.fail_json(msg='method=mariabackup needs backup_command (a command run on the target host whose '
                                 'output is the source\'s mariabackup --backup --stream=xbstream)')
        if params['method'] == 'mariabackup' and params['databases'] is not None:
            module.fail_json(msg='databases cannot be used with method=mariabackup: a physical backup copies the '
                                 'whole instance')
        for option in ('stop_command', 'start_command'):  # also with auto, which may choose mariabackup
            if not params[option]:
                module.fail_json(msg='%s must not be empty' % option)
    if params['mariabackup_from_bytes'] < 0:
        module.fail_json(msg='mariabackup_from_bytes must be 0 or more, got %d' % params['mariabackup_from_bytes'])
    if params['timeout'] < 1:
        module.fail_json(msg='timeout must be at least 1 second, got %d' % params['timeout'])

    # Held until the module ends: a run that takes over the lock of a dead run waits for it.
    work_lock = None if module.check_mode else hold_work_lock()  # noqa: F841  pylint: disable=unused-variable
    stop_check = run_stop_check(params)
    reason = stop_check() if stop_check is not None and not module.check_mode else ''
    if reason:
        module.fail_json(msg='Seed not started: %s.' % reason)
    target_label = describe_target(params)
    target_connection = mariadb_connect(module)
    source_connection, source_label = connect_params(module, source_params(params))
    target = SqlSession(target_connection, read_only=module.check_mode)
    source = SqlSession(source_connection, read_only=True)
    try:
        result = run_seed(module, target, source, target_label, source_label)
    except SeedFailed as exc:
        extra = dict(exc.extra)
        extra['queries'] = list(target.queries)
        extra['changed'] = bool(target.queries)
        module.fail_json(msg='Seeding %s from %s: %s' % (target_label, source_label, exc.message), **extra)
    except MariaDBQueryError as exc:
        module.fail_json(msg='Seeding %s from %s: %s failed: %s' % (target_label, source_label, exc.statement,
                                                                    exc.message),
                         queries=list(target.queries), changed=bool(target.queries))
    finally:
        for connection in (target.connection, source_connection):
            try:
                connection.close()
            except Exception:  # closed already (method mariabackup restarts the target)
                pass
        if params['progress_file']:
            remove_progress(params['progress_file'])
    result['queries'] = list(target.queries)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
