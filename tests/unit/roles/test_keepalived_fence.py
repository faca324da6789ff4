"""roles/keepalived/files/keepalived_fence.py (installed as keepalived-fence): the decisions of the fence, and one
reconcile step against fakes of the host (addresses, ARP, MariaDB)."""

import importlib.machinery
import importlib.util
import json
import os
import socket
import struct

import pytest

FENCE_PATH = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'keepalived', 'files', 'keepalived_fence.py')
_loader = importlib.machinery.SourceFileLoader('keepalived_fence', FENCE_PATH)
_spec = importlib.util.spec_from_loader('keepalived_fence', _loader)
fence = importlib.util.module_from_spec(_spec)
_loader.exec_module(fence)

OUR_MAC = bytes.fromhex('020000000001')
OTHER_MAC = bytes.fromhex('020000000002')
INSTANCES = {
    'VI_SHARD0': {'interface': 'eth0', 'vips': ['10.0.0.200/24']},
    'VI_SHARD2': {'interface': 'eth0', 'vips': ['10.0.0.202/24']},
}


@pytest.mark.parametrize('line, expected', [
    ('INSTANCE "VI_SHARD0" MASTER 150', ('INSTANCE', 'VI_SHARD0', 'MASTER')),
    ('INSTANCE "VI_SHARD0" MASTER_RX_LOWER_PRI 150\n', ('INSTANCE', 'VI_SHARD0', 'MASTER_RX_LOWER_PRI')),
    ('GROUP "g" FAULT 0', ('GROUP', 'g', 'FAULT')),
    ('VS "x" UP', None),
    ('INSTANCE "unterminated MASTER', None),
    ('', None),
])
def test_parse_event(line, expected):
    assert fence.parse_event(line) == expected


def test_held_instances_are_those_with_a_vip_on_this_host():
    assert fence.held_instances(INSTANCES, {'10.0.0.11', '10.0.0.202'}) == ['VI_SHARD2']
    assert fence.held_instances(INSTANCES, {'10.0.0.11'}) == []
    # 10.0.0.20 is not 10.0.0.200: addresses compare whole.
    assert fence.held_instances(INSTANCES, {'10.0.0.20'}) == []


@pytest.mark.parametrize('held, standoff, read_only, expected', [
    (['VI_SHARD0'], set(), True, fence.PROMOTE),
    (['VI_SHARD0'], set(), False, None),
    ([], set(), False, fence.DEMOTE),
    ([], set(), True, None),
    # The server does not answer: nothing to switch (it starts read-only).
    (['VI_SHARD0'], set(), None, None),
    ([], set(), None, None),
    # A VIP another host answers for: never writable, even beside a VIP it serves.
    (['VI_SHARD0'], {'VI_SHARD0'}, True, None),
    (['VI_SHARD0'], {'VI_SHARD0'}, False, fence.DEMOTE),
    (['VI_SHARD0', 'VI_SHARD2'], {'VI_SHARD0'}, False, fence.DEMOTE),
    (['VI_SHARD0', 'VI_SHARD2'], {'VI_SHARD0'}, True, None),
    # A standoff of an instance it no longer holds does not matter.
    (['VI_SHARD2'], {'VI_SHARD0'}, True, fence.PROMOTE),
])
def test_decide(held, standoff, read_only, expected):
    assert fence.decide(held, standoff, read_only) == expected


@pytest.mark.parametrize('received, applied, own, expected', [
    ('1-1-10', '1-1-10', 2, ''),
    ('1-1-10', '1-1-7', 2, '1-1-10'),
    ('1-1-10', '', 2, '1-1-10'),
    # Its own domain comes back from the partner and is skipped, never applied.
    ('1-1-10,2-2-50', '1-1-10', 2, ''),
    ('0-1-3,1-1-10', '0-1-3,1-1-9', 2, '1-1-10'),
    # Two connections naming the same domain: the further position counts.
    ('1-1-10,1-1-12', '1-1-11', 2, '1-1-12'),
    ('', '1-1-5', 2, ''),
])
def test_pending_gtids(received, applied, own, expected):
    assert fence.pending_gtids(received, applied, own) == expected


def _arp(op, sha, spa, tpa):
    eth = b'\xff' * 6 + sha + struct.pack('!H', 0x0806)
    return eth + struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, op, sha, socket.inet_aton(spa), b'\0' * 6,
                             socket.inet_aton(tpa))


def test_the_probe_asks_for_the_vip_from_0_0_0_0():
    frame = fence.arp_probe(OUR_MAC, '10.0.0.200')
    assert frame[:6] == b'\xff' * 6 and frame[6:12] == OUR_MAC and frame[12:14] == b'\x08\x06'
    _htype, _ptype, _hlen, _plen, op, sha, spa, _tha, tpa = struct.unpack('!HHBBH6s4s6s4s', frame[14:42])
    assert (op, sha, spa, tpa) == (1, OUR_MAC, b'\0' * 4, socket.inet_aton('10.0.0.200'))
    # Our own probe, seen on the socket, is no claim.
    assert fence.claimant(frame, OUR_MAC, '10.0.0.200') is None


@pytest.mark.parametrize('frame, expected', [
    (_arp(2, OTHER_MAC, '10.0.0.200', '0.0.0.0'), True),     # the holder answers the probe
    (_arp(1, OTHER_MAC, '10.0.0.200', '10.0.0.200'), True),  # the holder's gratuitous ARP
    (_arp(2, OUR_MAC, '10.0.0.200', '0.0.0.0'), False),      # this host itself
    (_arp(2, OTHER_MAC, '10.0.0.201', '0.0.0.0'), False),    # another address
    (_arp(2, OTHER_MAC, '10.0.0.200', '0.0.0.0')[:40], False),  # truncated
    (b'\0' * 12 + b'\x08\x00' + b'\0' * 40, False),           # not ARP
])
def test_claims(frame, expected):
    assert (fence.claimant(frame, OUR_MAC, '10.0.0.200') is not None) is expected


def test_the_claimant_is_named_by_its_mac_address():
    mac = ':'.join('%02x' % byte for byte in OTHER_MAC)
    assert fence.claimant(_arp(2, OTHER_MAC, '10.0.0.200', '0.0.0.0'), OUR_MAC, '10.0.0.200') == mac
    assert fence.claimant(_arp(2, OUR_MAC, '10.0.0.200', '0.0.0.0'), OUR_MAC, '10.0.0.200') is None
    assert fence.claimant(_arp(2, OTHER_MAC, '10.0.0.201', '0.0.0.0'), OUR_MAC, '10.0.0.200') is None


@pytest.mark.parametrize('answered_by, answered', [(None, False), ('02:00:00:00:00:02', True)])
def test_probe_report(answered_by, answered):
    assert fence.probe_report('eth0', '10.0.0.200', answered_by) == {
        'interface': 'eth0', 'vip': '10.0.0.200', 'answered': answered, 'answered_by': answered_by}


def test_probe_needs_an_interface(capsys):
    with pytest.raises(SystemExit) as exc:
        fence.main(['--probe', '10.0.0.200'])
    assert exc.value.code == 2
    assert '--probe needs --interface' in capsys.readouterr().err


@pytest.mark.parametrize('value, age, expected', [
    (0, 1, 'off'),
    (1, 3, 'on'),
    (1, 10, 'expired'),
    (1, None, 'expired'),
])
def test_standoff_state(value, age, expected):
    now = 1000.0
    written = None if age is None else now - age
    assert fence.standoff_state(value, written, now, 10) == expected


# ---------------------------------------------------------------------------
# One reconcile step, with the host faked.
# ---------------------------------------------------------------------------

class FakeServer:
    socket_path = '/run/mysqld/mysqld.sock'

    def __init__(self, read_only):
        self.value = read_only
        self.calls = []

    def read_only(self):
        return self.value

    def set_read_only(self, value):
        self.calls.append(('read_only', value))
        self.value = value

    def catch_up(self, timeout):
        self.calls.append(('catch_up', timeout))
        return ''


@pytest.fixture(name='make_fence')
def fixture_make_fence(tmp_path, monkeypatch):
    config = {'socket': '/run/mysqld/mysqld.sock', 'state_dir': str(tmp_path), 'tick': 0.25, 'dad_probes': 3,
              'dad_wait': 0.3, 'catchup_timeout': 1.0, 'standoff_seconds': 10, 'instances': INSTANCES}
    path = tmp_path / 'fence.json.conf'
    path.write_text(json.dumps(config))
    monkeypatch.setattr(fence, 'log', lambda *args, **kwargs: None)

    def make(addresses, read_only, answers):
        monkeypatch.setattr(fence, 'host_addresses', lambda: set(addresses))

        def probe(interface, vip, probes, wait):
            if isinstance(answers, Exception):
                raise answers
            return vip in answers
        monkeypatch.setattr(fence, 'someone_else_answers', probe)
        made = fence.Fence(str(path))
        made.server = FakeServer(read_only)
        return made
    return make


def _flag(tmp_path, name):
    return (tmp_path / name).read_text().strip()


def test_a_new_holder_nobody_else_answers_for_catches_up_then_takes_writes(make_fence, tmp_path):
    made = make_fence({'10.0.0.12', '10.0.0.200'}, True, set())
    made.reconcile('test')
    assert made.server.calls == [('catch_up', 1.0), ('read_only', False)]
    assert _flag(tmp_path, 'mariadb.down') == '0'
    assert not (tmp_path / 'VI_SHARD0.standoff').exists()
    assert json.loads((tmp_path / 'fence.json').read_text())['read_only'] is False


def test_a_new_holder_another_host_answers_for_stays_read_only_and_gives_the_vip_up(make_fence, tmp_path):
    made = make_fence({'10.0.0.12', '10.0.0.200'}, True, {'10.0.0.200'})
    made.reconcile('test')
    assert made.server.calls == []
    assert _flag(tmp_path, 'VI_SHARD0.standoff') == '1'
    # Still holding it on the next tick (keepalived has not removed it yet): no probe, no writes.
    made.reconcile('tick')
    assert made.server.calls == []


def test_a_probe_that_cannot_run_counts_as_another_holder(make_fence, tmp_path):
    made = make_fence({'10.0.0.200'}, True, OSError('Operation not permitted'))
    made.reconcile('test')
    assert made.server.calls == []
    assert _flag(tmp_path, 'VI_SHARD0.standoff') == '1'


def test_a_writable_node_that_lost_its_vip_turns_read_only(make_fence):
    made = make_fence({'10.0.0.12'}, False, set())
    made.reconcile('test')
    assert made.server.calls == [('read_only', True)]


def test_a_writable_node_found_holding_a_contested_vip_turns_read_only(make_fence, tmp_path):
    (tmp_path / 'VI_SHARD0.standoff').write_text('1\n')
    made = make_fence({'10.0.0.200', '10.0.0.202'}, False, set())
    made.reconcile('test')
    assert made.server.calls == [('read_only', True)]


def test_an_expired_standoff_is_cleared(make_fence, tmp_path):
    flag = tmp_path / 'VI_SHARD0.standoff'
    flag.write_text('1\n')
    os.utime(flag, (1, 1))
    made = make_fence({'10.0.0.12'}, True, set())
    made.reconcile('test')
    assert _flag(tmp_path, 'VI_SHARD0.standoff') == '0'


def test_a_server_that_does_not_answer_is_reported_down_and_left_alone(make_fence, tmp_path):
    made = make_fence({'10.0.0.200'}, None, set())
    made.reconcile('test')
    assert _flag(tmp_path, 'mariadb.down') == '1'
    assert made.server.calls == []
    made.server.value = True  # restarted, read-only from its configuration
    made.reconcile('tick')
    assert _flag(tmp_path, 'mariadb.down') == '0'
    assert made.server.calls == [('catch_up', 1.0), ('read_only', False)]


def test_a_standoff_ends_early_once_no_other_host_answers_for_the_vip(make_fence, tmp_path):
    (tmp_path / 'VI_SHARD0.standoff').write_text('1\n')
    made = make_fence({'10.0.0.12'}, True, set())
    made.reconcile('tick')
    assert _flag(tmp_path, 'VI_SHARD0.standoff') == '0'


def test_a_standoff_lasts_while_the_other_host_still_answers(make_fence, tmp_path):
    (tmp_path / 'VI_SHARD0.standoff').write_text('1\n')
    made = make_fence({'10.0.0.12'}, True, {'10.0.0.200'})
    made.reconcile('tick')
    assert _flag(tmp_path, 'VI_SHARD0.standoff') == '1'
