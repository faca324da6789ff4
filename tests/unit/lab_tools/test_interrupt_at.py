"""molecule/common/interrupt_at.py: Ctrl-C at a line, again while the command ignores it."""

import os
import re
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'molecule', 'common'))
import interrupt_at  # noqa: E402  pylint: disable=wrong-import-position

# Prints banners like ansible-playbook; drops the first LOSE SIGINTs (as Ansible
# does when one arrives while it forks a worker), then exits 99 on the next.
FAKE = '''\
import signal, sys, time
lose = int(sys.argv[1])
seen = []
def handler(*_):
    seen.append(1)
    if len(seen) > lose:
        print("interrupted", flush=True)
        sys.exit(99)
signal.signal(signal.SIGINT, handler)
for line in ["TASK [a]", "PLAY [x]", "TASK [a]", "TASK [b]", "TASK [c]", "TASK [d]", "PLAY RECAP"]:
    print(line, flush=True)
    time.sleep(0.2)
'''


@pytest.fixture(name='fake')
def fake_command(tmp_path):
    path = tmp_path / 'fake.py'
    path.write_text(FAKE)
    return lambda lose: [sys.executable, str(path), str(lose)]


def run(capsys, argv):
    """The exit status and the script's own lines, the seconds since the start taken out of them."""
    rc = interrupt_at.main(argv)
    said = [line for line in capsys.readouterr().out.splitlines() if line.startswith('[interrupt_at]')]
    for line in said:
        if 'sending' in line:
            assert re.match(r'\[interrupt_at\] \d+ s: sending ', line), line
    return rc, [re.sub(r'^\[interrupt_at\] \d+ s: ', '[interrupt_at] ', line) for line in said]


def test_interrupts_at_the_line_after_the_first_one(capsys, fake):
    rc, said = run(capsys, ['--after', 'PLAY [x', '--at', 'TASK [a', '--'] + fake(0))
    assert rc == 0
    assert said == ['[interrupt_at] sending SIGINT (1 of at most 5) at: TASK [a]',
                    '[interrupt_at] the command was interrupted and ended with status 99']


def test_sends_again_at_the_next_banner_when_a_signal_was_lost(capsys, fake):
    rc, said = run(capsys, ['--after', 'PLAY [x', '--at', 'TASK [a', '--'] + fake(2))
    assert rc == 0
    assert said[2] == '[interrupt_at] sending SIGINT (3 of at most 5, the one before was lost) at: TASK [c]'
    assert len(said) == 4


def test_fails_when_every_signal_was_lost_or_the_line_never_came(capsys, fake):
    rc, said = run(capsys, ['--after', 'PLAY [x', '--at', 'TASK [a', '--tries', '2', '--'] + fake(9))
    assert rc == 4
    assert said[-1].endswith('after the interrupt (expected a failure status)')
    rc, said = run(capsys, ['--after', 'PLAY [x', '--at', 'TASK [zz', '--'] + fake(0))
    assert rc == 3
    assert said == ["[interrupt_at] the command ended (status 0) before a line with 'TASK [zz' after 'PLAY [x'"]


# Like ansible-playbook with a worker: a child keeps the output open for 20 s after the parent is killed.
FAKE_WITH_CHILD = '''\
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(20)"])
for line in ["PLAY [x]", "TASK [a]", "TASK [b]", "TASK [c]", "PLAY RECAP"]:
    print(line, flush=True)
    time.sleep(0.2)
'''


def test_kill_at_a_line_returns_at_once_although_a_child_keeps_the_output(tmp_path, capsys):
    path = tmp_path / 'fake_child.py'
    path.write_text(FAKE_WITH_CHILD)
    started = time.monotonic()
    rc, said = run(capsys, ['--after', 'PLAY [x]', '--at', 'TASK [b]', '--signal', 'KILL', '--timeout', '60',
                            '--', sys.executable, str(path)])
    assert rc == 0
    assert said == ['[interrupt_at] sending SIGKILL at: TASK [b]', '[interrupt_at] the command was killed (kill -9)']
    assert time.monotonic() - started < 10


# Like ansible-playbook in CI (stop 23): the SIGINT is dropped (raised inside a weakref
# callback) and the run then prints nothing more; the next SIGINT ends it.
FAKE_QUIET = '''\
import signal, sys, time
seen = []
def handler(*_):
    seen.append(1)
    if len(seen) > 1:
        print("interrupted", flush=True)
        sys.exit(99)
signal.signal(signal.SIGINT, handler)
for line in ["PLAY [x]", "TASK [a]"]:
    print(line, flush=True)
for _ in range(300):
    time.sleep(0.1)
'''


def test_sends_again_when_the_command_goes_quiet_after_a_lost_signal(tmp_path, capsys):
    path = tmp_path / 'fake_quiet.py'
    path.write_text(FAKE_QUIET)
    rc, said = run(capsys, ['--after', 'PLAY [x]', '--at', 'TASK [a]', '--quiet', '1', '--timeout', '20',
                            '--', sys.executable, str(path)])
    assert rc == 0
    assert said[1] == ('[interrupt_at] sending SIGINT (2 of at most 5, the one before was lost) '
                       'after 1 s without output')
    assert said[-1] == '[interrupt_at] the command was interrupted and ended with status 99'
