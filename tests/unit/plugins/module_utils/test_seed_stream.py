# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight of a mariabackup seed's ssh stream: the readings and the problems (seed_backup.py)."""

from __future__ import annotations

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils.seed import SeedError
from ansible_collections.smooth.mariadb.plugins.module_utils.seed_backup import (
    parse_stream_readings,
    stream_problems,
)

# What the preflight's script printed on a lab host whose authorized_keys is a read-only bind mount.
LAB_READ_ONLY = ('user=yes\nhost_key=yes\nkeys_path=/root/.ssh/authorized_keys\nkeys_writable=no\n'
                 'backup=/usr/bin/mariabackup\n')
GOOD = dict(user='yes', host_key='yes', keys_path='/root/.ssh/authorized_keys2', keys_writable='yes',
            backup='/usr/bin/mariabackup')
SETTINGS = dict(new_node='lab-3', source='lab-1', ssh_user='root', authorized_keys='/root/.ssh/authorized_keys',
                backup_command='mariabackup --backup --stream=xbstream --target-dir=/tmp')


def problems(readings, sshd_open=True, ssh_client=True, **settings):
    return stream_problems(readings, sshd_open=sshd_open, ssh_client=ssh_client, **dict(SETTINGS, **settings))


def test_the_readings_are_parsed_and_a_missing_one_is_named():
    readings = parse_stream_readings(LAB_READ_ONLY)
    assert readings == dict(user='yes', host_key='yes', keys_path='/root/.ssh/authorized_keys', keys_writable='no',
                            backup='/usr/bin/mariabackup')
    assert parse_stream_readings('user=no\nhost_key=no\nkeys_path=/\nkeys_writable=no\nbackup=\nnoise\n')['backup'] == ''
    with pytest.raises(SeedError, match='lacks host_key, backup'):
        parse_stream_readings('user=yes\nkeys_path=/root\nkeys_writable=yes\n')


def test_nothing_to_say_when_the_stream_has_what_it_needs():
    assert problems(GOOD) == []


def test_a_read_only_authorized_keys_names_the_setting_the_file_and_the_fix():
    said = problems(parse_stream_readings(LAB_READ_ONLY))
    assert said == ['lab-1 cannot write smooth_seed_authorized_keys /root/.ssh/authorized_keys '
                    '(/root/.ssh/authorized_keys is on a read-only file system or not writable): the seed allows its '
                    'key there for the copy and removes it after; set smooth_seed_authorized_keys to another file '
                    'sshd reads for root (for example ~/.ssh/authorized_keys2), or set smooth_seed_method: dump']


def test_a_missing_file_is_judged_by_the_directory_it_would_be_made_in():
    said = problems(dict(GOOD, keys_path='/home', keys_writable='no'), authorized_keys='/home/backup/.ssh/keys')
    assert len(said) == 1
    assert said[0].startswith('lab-1 cannot write smooth_seed_authorized_keys /home/backup/.ssh/keys (/home is ')


@pytest.mark.parametrize('change, words', [
    (dict(sshd_open=False), ['lab-3 cannot reach the ssh server of lab-1 (port 22)', 'open port 22 from lab-3']),
    (dict(ssh_client=False), ['lab-3 has no ssh client (ssh, ssh-keygen)', 'install openssh-client there']),
    (dict(readings=dict(GOOD, user='no'), ssh_user='backup'),
     ["lab-1 has no account 'backup' (smooth_seed_ssh_user)"]),
    (dict(readings=dict(GOOD, host_key='no')), ['lab-1 has no /etc/ssh/ssh_host_ed25519_key.pub', 'ssh-keygen -A']),
    (dict(readings=dict(GOOD, backup=''), backup_command='/opt/mb/bin/mariabackup --backup'),
     ['lab-1 cannot run /opt/mb/bin/mariabackup (the first word of smooth_seed_backup_command, not found)']),
])
def test_each_problem_names_the_host_and_the_fix(change, words):
    change = dict(change)
    readings = change.pop('readings', GOOD)
    said = problems(readings, **change)
    assert len(said) == 1, said
    for word in words:
        assert word in said[0]
    assert said[0].endswith('smooth_seed_method: dump') or 'smooth_seed_ssh_user to an account' in said[0]


def test_every_problem_is_said_at_once():
    said = problems(dict(user='no', host_key='no', keys_path='/', keys_writable='no', backup=''),
                    sshd_open=False, ssh_client=False)
    assert len(said) == 6
