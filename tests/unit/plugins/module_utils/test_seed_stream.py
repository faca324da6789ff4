# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight of a mariabackup seed's ssh stream: the readings and the problems (seed_backup.py)."""

from __future__ import annotations

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils.seed import SeedError
from ansible_collections.smooth.mariadb.plugins.module_utils.seed_backup import (
    Laps,
    keys_files,
    parse_stream_readings,
    sshd_problems,
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
                            backup='/usr/bin/mariabackup', sshd={})
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


# sshd -T as Debian 12's openssh-server prints it for root (the lines the preflight keeps).
DEBIAN_SSHD = ('sshd=pubkeyauthentication yes\nsshd=permitrootlogin without-password\n'
               'sshd=authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2\n')
READ = 'user=yes\nhost_key=yes\nkeys_path=/root/.ssh/authorized_keys2\nkeys_writable=yes\nbackup=/usr/bin/mariabackup\n'


def sshd(text):
    return parse_stream_readings(READ + 'home=/root\ngroups=root\n' + text)


def test_the_lines_of_sshd_are_read_by_keyword_and_every_entry_kept():
    readings = sshd(DEBIAN_SSHD + 'sshd=allowusers backup@10.0.0.*\nsshd=allowusers root\nsshd=port 22\n')
    assert readings['sshd'] == {'pubkeyauthentication': ['yes'], 'permitrootlogin': ['without-password'],
                                'authorizedkeysfile': ['.ssh/authorized_keys .ssh/authorized_keys2'],
                                'allowusers': ['backup@10.0.0.*', 'root']}
    assert readings['home'] == '/root' and readings['groups'] == 'root'


def test_the_keys_files_sshd_reads():
    assert keys_files(['.ssh/authorized_keys .ssh/authorized_keys2'], 'root', '/root') == [
        '/root/.ssh/authorized_keys', '/root/.ssh/authorized_keys2']
    assert keys_files(['/etc/ssh/keys/%u %h/.ssh/k 100%%/x'], 'backup', '/home/backup') == [
        '/etc/ssh/keys/backup', '/home/backup/.ssh/k', '/home/backup/100%/x']
    assert keys_files(['none'], 'root', '/root') == []
    assert keys_files(['/etc/ssh/keys/%U'], 'root', '/root') is None
    assert keys_files(['.ssh/authorized_keys'], 'root', '') is None


def test_debian_defaults_let_the_seed_in_with_either_file():
    for keys in ('/root/.ssh/authorized_keys', '/root/.ssh/authorized_keys2'):
        assert sshd_problems(sshd(DEBIAN_SSHD)['sshd'], 'root', '/root', 'root', keys, '10.0.0.3') == []
    # sshd -T could not be read: nothing to say from it.
    assert sshd_problems({}, 'root', '/root', 'root', '/root/x', '10.0.0.3') == []


@pytest.mark.parametrize('lines, reason', [
    ('sshd=permitrootlogin no\n', 'its sshd refuses root (PermitRootLogin no;'),
    ('sshd=pubkeyauthentication no\n', 'its sshd accepts no keys (PubkeyAuthentication no)'),
    ('sshd=authorizedkeysfile .ssh/authorized_keys\n',
     'its sshd reads the keys of root from /root/.ssh/authorized_keys only (AuthorizedKeysFile), not from '
     'smooth_seed_authorized_keys /root/.ssh/authorized_keys2'),
    ('sshd=allowusers admin\nsshd=allowusers root@10.9.0.0/16\n', 'its sshd lets in only AllowUsers admin root@10.9.0.0/16'),
    ('sshd=denyusers r*@10.0.0.0/24\n', 'its sshd refuses root (DenyUsers r*@10.0.0.0/24)'),
    ('sshd=allowgroups sshusers\n', 'its sshd lets in only AllowGroups sshusers, and root is in root'),
    ('sshd=denygroups ro*\n', 'its sshd refuses the groups of root (DenyGroups ro*)'),
])
def test_each_sshd_refusal_is_named(lines, reason):
    # Debian's lines, the one of the same keyword replaced (sshd -T prints each keyword once, lists one per entry).
    keyword = lines.split('=', 1)[1].split()[0]
    base = ''.join(line + '\n' for line in DEBIAN_SSHD.splitlines() if line.split('=', 1)[1].split()[0] != keyword)
    said = sshd_problems(sshd(base + lines)['sshd'], 'root', '/root', 'root', '/root/.ssh/authorized_keys2', '10.0.0.3')
    assert len(said) == 1 and said[0].startswith(reason), said


def test_entries_that_let_the_new_node_in_are_not_refusals():
    lines = 'sshd=allowusers admin\nsshd=allowusers root@10.0.0.0/24\nsshd=denyusers root@10.9.*\n'
    assert sshd_problems(sshd(DEBIAN_SSHD + lines)['sshd'], 'root', '/root', 'root', '/root/.ssh/authorized_keys2',
                         '10.0.0.3') == []
    # PermitRootLogin no does not concern another account.
    assert sshd_problems(sshd('sshd=permitrootlogin no\n')['sshd'], 'backup', '/home/backup', 'backup',
                         '/home/backup/.ssh/authorized_keys', '10.0.0.3') == []


def test_the_sshd_reasons_make_one_problem_with_the_fix():
    readings = sshd(DEBIAN_SSHD.replace('without-password', 'no'))
    said = stream_problems(readings, 'lab-3', 'lab-1', 'root', '/root/.ssh/authorized_keys2', 'mariabackup', True, True,
                           '10.0.0.3')
    assert said == ['lab-1 would refuse the seed key of lab-3 as root: its sshd refuses root (PermitRootLogin no; the '
                    'seed key needs prohibit-password or forced-commands-only, or set smooth_seed_ssh_user to another '
                    'account that can read the datadir); change the ssh server there or these settings, or set '
                    'smooth_seed_method: dump']


# What the preflight's script printed in the lab image (Debian 12, OpenSSH 9.2) with "Match Address 10.0.0.0/24" /
# "PermitRootLogin no" appended to sshd_config: sshd -T -C applied the block for the new node's address.
LAB_MATCH = ('user=yes\nhost_key=yes\nkeys_path=/root/.ssh\nkeys_writable=yes\nbackup=/usr/bin/mariabackup\n'
             'home=/root\ngroups=root\nsshd=permitrootlogin no\nsshd=pubkeyauthentication yes\n'
             'sshd=authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2\n')
# The same image with an option sshd does not know: sshd -T fails, and nothing is judged from it.
LAB_BROKEN = ('user=yes\nhost_key=yes\nkeys_path=/root/.ssh\nkeys_writable=yes\nbackup=/usr/bin/mariabackup\n'
              'home=/root\ngroups=root\nsshd_error=/etc/ssh/sshd_config: line 123: Bad configuration option: NoSuchOption\n')


def test_what_the_lab_image_printed_is_judged():
    said = stream_problems(parse_stream_readings(LAB_MATCH), 'lab-3', 'lab-1', 'root', '/root/.ssh/authorized_keys2',
                           'mariabackup --backup', True, True, '10.0.0.3')
    assert len(said) == 1 and 'its sshd refuses root (PermitRootLogin no;' in said[0]
    broken = parse_stream_readings(LAB_BROKEN)
    assert broken['sshd'] == {} and broken['sshd_error'].endswith('Bad configuration option: NoSuchOption')
    assert stream_problems(broken, 'lab-3', 'lab-1', 'root', '/root/.ssh/authorized_keys2', 'mariabackup --backup',
                           True, True, '10.0.0.3') == []


def test_laps_name_the_seconds_of_each_step_in_order_and_add_up_a_repeated_one():
    ticks = iter([100.0, 103.5, 104.25, 104.25, 106.0])
    laps = Laps(lambda: next(ticks))
    laps.lap('stream')
    laps.lap('prepare')
    laps.lap('stop')
    laps.lap('prepare')
    assert laps.seconds == {'stream': 3.5, 'prepare': 2.5, 'stop': 0.0}
    assert list(laps.seconds) == ['stream', 'prepare', 'stop']
