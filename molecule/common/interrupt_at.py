"""Run a command and press Ctrl-C (SIGINT) on it at a chosen line of its output.

    python interrupt_at.py --after 'PLAY [Phase split' --at 'TASK [x : y]' --timeout 600 -- ansible-playbook ...

The command's output is copied to stdout. Once a line containing --after has
been seen, the first line containing --at makes this script send SIGINT to the
command, as an operator's Ctrl-C would, and wait (bounded) for it to end.

Ansible can lose a SIGINT: when the signal arrives while it forks a worker,
its handler runs inside Python's after-fork callback, where the exception it
raises is printed ("Exception ignored in: <function _releaseLock ...>
KeyboardInterrupt") and dropped, and the run goes on. An operator would press
Ctrl-C again; so does this script, at every later line containing --again
(a task banner by default), up to --tries signals in all. A lost SIGINT can
also leave the run printing nothing more (CI, stop 23: it was raised inside a
weakref callback, and the run was silent until killed 590 s later); so after
--quiet seconds without output the signal is sent again too.

--fault TEXT::COMMAND (repeatable) runs COMMAND beside the command at the
first line containing TEXT, without interrupting it (kill_holder.py: a VIP
holder's mariadbd killed at a chosen step of the expansion); its output is
copied to stdout after "[fault] ". Without --at, the command is only watched
for its faults.

With --signal KILL the command is killed instead (kill -9 of ansible-playbook:
what a lost controller looks like to the hosts); its workers and ssh sessions
are left running, as they would be, and the script returns at once.

Exit status: 0 when the command was interrupted at that line and ended with a
failure status; 3 when the line never came (the command ended first, status
in the last line printed); 4 when the command ignored the interrupt or ran past
--timeout (it is then killed); 5 when a fault's line never came or its
command failed. Without --at: the command's own status (or 4, or 5).
"""

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after", default="", help="text of a line that must come first")
    parser.add_argument("--at", help="text of the line at which SIGINT is sent (none: only the faults)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds the command may run in all")
    parser.add_argument("--grace", type=float, default=60.0, help="seconds it may take to end after SIGINT")
    parser.add_argument("--again", default="TASK [",
                        help="text of the lines at which SIGINT is sent again while the command goes on")
    parser.add_argument("--tries", type=int, default=5, help="SIGINTs to send at most")
    parser.add_argument("--quiet", type=float, default=30.0,
                        help="seconds without output after a SIGINT before it is sent again")
    parser.add_argument("--signal", choices=["INT", "KILL"], default="INT",
                        help="INT (Ctrl-C, the default) or KILL (kill -9, sent once)")
    parser.add_argument("--delay", type=float, default=0.0,
                        help="seconds to wait after the --at line before the first signal (a task's modules start)")
    parser.add_argument("--fault", action="append", default=[], metavar="TEXT::COMMAND",
                        help="run COMMAND beside the command at the first line containing TEXT (repeatable)")
    parser.add_argument("--fault-timeout", type=float, default=180.0, help="seconds a fault's command may run")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    faults = []
    for spec in args.fault:
        text, sep, fault_command = spec.partition("::")
        if not sep or not text or not fault_command.strip():
            parser.error("--fault %r: expected TEXT::COMMAND" % spec)
        faults.append({"text": text, "argv": shlex.split(fault_command), "thread": None, "rc": None})

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    # Whatever happens to the output, the command ends within --timeout.
    watchdog = threading.Timer(args.timeout, proc.kill)
    watchdog.start()
    seen_after = False
    started = time.monotonic()
    state = {"sent": 0, "last": started}
    lock = threading.Lock()

    def interrupt(where):
        # Called with the lock held.
        state["sent"] += 1
        state["last"] = time.monotonic()
        sys.stdout.write("[interrupt_at] %.0f s: sending SIGINT (%d of at most %d%s) %s\n"
                         % (state["last"] - started, state["sent"], args.tries,
                            ", the one before was lost" if state["sent"] > 1 else "", where))
        sys.stdout.flush()
        proc.send_signal(signal.SIGINT)

    def resend_when_quiet():
        while proc.poll() is None:
            time.sleep(min(0.2, args.quiet / 4))
            with lock:
                if (0 < state["sent"] < args.tries and proc.poll() is None
                        and time.monotonic() - state["last"] >= args.quiet):
                    interrupt("after %.0f s without output" % args.quiet)

    def run_fault(fault):
        try:
            done = subprocess.run(fault["argv"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=args.fault_timeout, env=env, check=False)
            fault["rc"], output = done.returncode, done.stdout
        except subprocess.TimeoutExpired as exc:
            fault["rc"], output = "timeout", exc.stdout or ""
            output = output.decode(errors="replace") if isinstance(output, bytes) else output
        with lock:
            for text in output.splitlines():
                sys.stdout.write("[fault] %s\n" % text)
            sys.stdout.write("[interrupt_at] %.0f s: fault at %r ended (status %s)\n"
                             % (time.monotonic() - started, fault["text"], fault["rc"]))
            sys.stdout.flush()

    def start_faults(line):
        for fault in faults:
            if fault["thread"] is None and fault["text"] in line:
                sys.stdout.write("[interrupt_at] %.0f s: fault at: %s\n" % (time.monotonic() - started, line.strip()))
                sys.stdout.flush()
                fault["thread"] = threading.Thread(target=run_fault, args=(fault,), daemon=True)
                fault["thread"].start()

    quiet_watch = threading.Thread(target=resend_when_quiet, daemon=True)
    try:
        for line in proc.stdout:
            with lock:
                sys.stdout.write(line)
                state["last"] = time.monotonic()
                start_faults(line)
                if args.at is None:
                    continue
                if not seen_after and args.after in line:
                    seen_after = True
                elif (seen_after and state["sent"] < args.tries
                      and (args.again if state["sent"] else args.at) in line):
                    if not state["sent"] and args.delay > 0:
                        time.sleep(args.delay)
                    if args.signal == "KILL":
                        state["sent"] += 1
                        sys.stdout.write("[interrupt_at] %.0f s: sending SIGKILL at: %s\n"
                                         % (time.monotonic() - started, line.strip()))
                        sys.stdout.flush()
                        proc.kill()
                        # Its workers keep the output open while their modules run: do not wait for its end.
                        break
                    interrupt("at: %s" % line.strip())
                    if state["sent"] == 1:
                        quiet_watch.start()
        interrupted = state["sent"] > 0
        try:
            rc = proc.wait(timeout=args.grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            print("[interrupt_at] the command did not end within %.0f s of the interrupt: killed" % args.grace)
            return 4
    finally:
        watchdog.cancel()
    for fault in faults:
        if fault["thread"] is not None:
            fault["thread"].join(args.fault_timeout + 10)
    failed = [fault for fault in faults if fault["rc"] != 0]
    for fault in failed:
        print("[interrupt_at] the fault at %r %s" % (fault["text"], "never came" if fault["thread"] is None
                                                     else "failed (status %s)" % fault["rc"]))
    if rc == -signal.SIGKILL and not (args.signal == "KILL" and interrupted):
        print("[interrupt_at] the command ran past %.0f s: killed" % args.timeout)
        return 4
    if failed:
        return 5
    if args.at is None:
        print("[interrupt_at] the command ended with status %d" % rc)
        return rc
    if rc == -signal.SIGKILL and args.signal == "KILL" and interrupted:
        print("[interrupt_at] the command was killed (kill -9)")
        return 0
    if not interrupted:
        print("[interrupt_at] the command ended (status %d) before a line with %r after %r"
              % (rc, args.at, args.after))
        return 3
    if rc == 0:
        print("[interrupt_at] the command ended with status %d after the interrupt (expected a failure status)" % rc)
        return 4
    print("[interrupt_at] the command was interrupted and ended with status %d" % rc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
