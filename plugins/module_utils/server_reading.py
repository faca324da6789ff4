# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a node's modules read from the server and the node's files.

Shared by ``smooth.mariadb.server_identity`` (identity and data of a server,
running or stopped) and ``smooth.mariadb.expansion_info`` (that, plus the
state of an expansion). The decisions on these readings are pure functions
elsewhere (module_utils/identity.py, module_utils/expansion_state.py).
"""

from __future__ import annotations

import os

from ansible_collections.smooth.mariadb.plugins.module_utils.expansion_state import DONE_SUFFIX, MARK_SUFFIX, is_mark_name, mark_modulus
from ansible_collections.smooth.mariadb.plugins.module_utils.identity import (
    IdentityError,
    data_evidence,
    datadir_databases,
    identity_from_options,
    parse_print_defaults,
)
from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import quote_identifier, to_int, to_text
from ansible_collections.smooth.mariadb.plugins.module_utils.seed import (
    EXCLUDED_SCHEMAS,
    METADATA_SCHEMA,
    METADATA_TABLE,
    SCHEMATA_QUERY,
    user_databases,
)

DEFAULT_DATADIR = '/var/lib/mysql'
SPLIT_POINT_TABLE = 'split_point'
# A mark is one line; more than this is not a mark of ours, and is not read whole.
MARK_READ_LIMIT = 4096


def read_running(session):
    """Identity, databases and GTID positions of a running server."""
    row = session.fetch_one(
        'SELECT @@GLOBAL.server_id AS server_id, @@GLOBAL.gtid_domain_id AS gtid_domain_id, '
        '@@GLOBAL.auto_increment_increment AS auto_increment_increment, '
        '@@GLOBAL.auto_increment_offset AS auto_increment_offset, @@GLOBAL.gtid_binlog_state AS gtid_binlog_state, '
        '@@GLOBAL.gtid_binlog_pos AS gtid_binlog_pos, '
        '@@GLOBAL.gtid_slave_pos AS gtid_slave_pos, @@datadir AS datadir, VERSION() AS version')
    schemas = session.fetch_all(SCHEMATA_QUERY)
    seeded = session.fetch_one(
        'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = %s AND table_name = %s',
        [METADATA_SCHEMA, METADATA_TABLE])
    identity = dict((key, to_int(row[key])) for key in
                    ('server_id', 'gtid_domain_id', 'auto_increment_increment', 'auto_increment_offset'))
    databases = user_databases(to_text(item['name']) for item in schemas)
    binlog_state, slave_pos = to_text(row['gtid_binlog_state'] or ''), to_text(row['gtid_slave_pos'] or '')
    evidence = data_evidence(databases, binlog_state, slave_pos)
    return dict(running=True, installed=True, source='server', identity=identity, datadir=to_text(row['datadir']),
                user_databases=databases, seeded=bool(to_int(seeded['n'])), gtid_binlog_state=binlog_state,
                gtid_binlog_pos=to_text(row['gtid_binlog_pos'] or ''),
                gtid_slave_pos=slave_pos, holds_data=bool(evidence), evidence=evidence,
                server_version=to_text(row['version']))


def list_datadir(path):
    """{directory: [files]} of the directories directly in a datadir."""
    entries = {}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            entries[name] = sorted(os.listdir(full))
    return entries


def read_stopped(module, datadir=None):
    """Identity from the option files, data from the datadir, of a server that does not run."""
    binary = module.get_bin_path('my_print_defaults')
    options = {}
    if binary:
        rc, out, err = module.run_command([binary, '--mysqld'])
        if rc != 0:
            module.fail_json(msg='my_print_defaults --mysqld failed (rc %d): %s' % (rc, (err or out).strip()))
        options = parse_print_defaults(out.splitlines())
    datadir = datadir or module.params.get('datadir') or options.get('datadir') or DEFAULT_DATADIR
    installed = bool(binary) or os.path.isdir(datadir)
    user_databases, seeded = [], False
    if os.path.isdir(datadir):
        try:
            user_databases, seeded = datadir_databases(list_datadir(datadir))
        except OSError as exc:
            module.fail_json(msg='Cannot read the data directory %s: %s' % (datadir, exc))
    identity = None
    if installed:
        try:
            identity = identity_from_options(options)
        except IdentityError as exc:
            module.fail_json(msg=str(exc))
    evidence = data_evidence(user_databases)
    return dict(running=False, installed=installed, source='option files' if installed else 'none',
                identity=identity, datadir=datadir, user_databases=user_databases, seeded=seeded,
                gtid_binlog_state='', gtid_binlog_pos='', gtid_slave_pos='', holds_data=bool(evidence),
                evidence=evidence, server_version='')


def read_data_bytes(session):
    """Bytes of data and indexes in the user schemas (what a new node receives), as information_schema counts them."""
    row = session.fetch_one(
        'SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS CHAR) AS bytes FROM information_schema.tables '
        'WHERE table_schema NOT IN (%s)' % ', '.join(['%s'] * len(EXCLUDED_SCHEMAS)), list(EXCLUDED_SCHEMAS))
    return to_int(row['bytes'])


def free_space(path):
    """``{path, free_bytes}`` of the file system where path is (or, when it does not exist yet, will be made)."""
    path = os.path.abspath(path or DEFAULT_DATADIR)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    stats = os.statvfs(path)
    return dict(path=path, free_bytes=stats.f_bavail * stats.f_frsize)


def read_split_points(session):
    """The rows of smooth_mariadb.split_point (one per expansion this node split in), oldest first."""
    exists = session.fetch_one(
        'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = %s AND table_name = %s',
        [METADATA_SCHEMA, SPLIT_POINT_TABLE])
    if not to_int(exists['n']):
        return []
    rows = session.fetch_all(
        'SELECT version, modulus, gtid_binlog_pos, recorded_at FROM %s.%s ORDER BY version'
        % (quote_identifier(METADATA_SCHEMA), quote_identifier(SPLIT_POINT_TABLE)))
    return [dict(version=to_int(row['version']), modulus=to_int(row['modulus']),
                 gtid_binlog_pos=to_text(row['gtid_binlog_pos']), recorded_at=to_text(row['recorded_at']))
            for row in rows]


def read_marks(state_dir, suffix=MARK_SUFFIX):
    """The marks ``expansion-<version><suffix>`` in state_dir: ``[{mark, path, modulus, text}]``; [] without the directory.

    The cleanup leaves ``.cleanup`` marks before it deletes anything, the
    verify phase ``.done`` marks once the expansion is verified. Raises
    OSError when the directory or a mark cannot be read (a mark that cannot be
    read must not be taken for no mark).
    """
    if not os.path.isdir(state_dir):
        return []
    marks = []
    for name in sorted(os.listdir(state_dir)):
        path = os.path.join(state_dir, name)
        if not is_mark_name(name, suffix) or not os.path.isfile(path):
            continue
        with open(path, 'rb') as handle:
            text = handle.read(MARK_READ_LIMIT).decode('utf-8', 'replace')
        marks.append(dict(mark=name, path=path, modulus=mark_modulus(text), text=text.strip()))
    return marks


def read_cleanup_marks(state_dir):
    """The marks the cleanup left in state_dir (see :func:`read_marks`)."""
    return read_marks(state_dir, MARK_SUFFIX)


def read_done_marks(state_dir):
    """The marks the verify phase left in state_dir (see :func:`read_marks`)."""
    return read_marks(state_dir, DONE_SUFFIX)
