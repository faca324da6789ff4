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


def _fault(tmp_path, name, code):
    path = tmp_path / name
    path.write_text(code)
    return '%s %s' % (sys.executable, path)


def test_a_fault_runs_beside_the_command_at_its_line_and_the_commands_status_is_returned(tmp_path, capsys, fake):
    marker = tmp_path / 'ran'
    fault = _fault(tmp_path, 'fault.py', 'import sys; open(sys.argv[1], "w").write("x"); print("FIGURE done")')
    rc = interrupt_at.main(['--fault', 'TASK [b]::%s %s' % (fault, marker), '--'] + fake(0))
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert marker.read_text() == 'x'
    assert '[fault] FIGURE done' in out
    # The fault started at its line, not before: the lines before it are printed first.
    assert out.index('TASK [b]') < [i for i, line in enumerate(out) if 'fault at: TASK [b]' in line][0]
    assert out[-1] == '[interrupt_at] the command ended with status 0'


def test_a_fault_that_fails_or_whose_line_never_comes_fails_the_run(tmp_path, capsys, fake):
    failing = _fault(tmp_path, 'failing.py', 'import sys; print("no move"); sys.exit(1)')
    rc = interrupt_at.main(['--fault', 'TASK [b]::%s' % failing, '--'] + fake(0))
    out = capsys.readouterr().out.splitlines()
    assert rc == 5
    assert "[interrupt_at] the fault at 'TASK [b]' failed (status 1)" in out
    rc = interrupt_at.main(['--fault', 'TASK [zz]::%s' % failing, '--'] + fake(0))
    assert rc == 5
    assert "[interrupt_at] the fault at 'TASK [zz]' never came" in capsys.readouterr().out.splitlines()


def test_faults_and_an_interrupt_together(tmp_path, capsys, fake):
    fault = _fault(tmp_path, 'fault.py', 'print("ok")')
    rc, said = run(capsys, ['--fault', 'PLAY [x]::%s' % fault, '--after', 'PLAY [x', '--at', 'TASK [c', '--']
                   + fake(0))
    assert rc == 0
    assert said[-1] == '[interrupt_at] the command was interrupted and ended with status 99'
    assert any(line.startswith("[interrupt_at] fault at 'PLAY [x]' ended (status 0)") for line in said)


def test_a_fault_without_its_command_is_refused(capsys, fake):
    with pytest.raises(SystemExit):
        interrupt_at.main(['--fault', 'TASK [b]', '--'] + fake(0))
