#!/usr/bin/env bash
# Benchmark (issue 12, item 5 "Fast orchestration"): how long the orchestration
# of playbooks/expand_2n.yml takes on the demo fleet, apart from the work it
# orders (copying, deleting). It prints figures and asserts nothing about speed.
#
#   tests/bench/bench_orchestration.sh          (or: make bench-orchestration)
#
# On the lab network "lab" (10.214.0.0/24) it makes the demo fleet as
# lab/demo.sh does, without the load generator: fresh hosts lab-1..lab-5
# (lab/lab.sh down lab; up lab 5), playbooks/site.yml (shard 0 = lab-1 + lab-2)
# and lab/app/deploy.yml (the lab application on lab-5), inventory
# inventories/demo. Then it times, each REPEAT times (default 3), with the
# median:
#   1. plan + preflight: expand_2n.yml --tags preflight, on the fleet before the
#      expansion (the plan plays and the other plays tagged always run too: the
#      list of plays that ran tasks is printed);
#   2. after one whole expansion (expand_2n.yml, 1 -> 2 shards), a re-run of
#      expand_2n.yml that changes nothing; the changed= counts of PLAY RECAP
#      are printed, and every task that reported a change is named.
# Every timed run starts with no ssh connection open (its own
# ANSIBLE_SSH_CONTROL_PATH_DIR), as a fresh command of an operator does; the
# connections are then kept for the run by ControlPersist (ansible.cfg).
# For one run of each (the median one) it prints the 15 slowest tasks
# (callback ansible.posix.profile_tasks); one more, untimed run of each with
# -vvv counts the tasks executed and the remote round trips (ssh executions)
# per host. Baselines: one ssh login, an ad-hoc ping of the 5 hosts with and
# without open connections.
#
# It prints nproc, the load average (at the start and before every timed run)
# and the commit measured; per timed run also the CPU seconds used by the
# controller (ansible-playbook and its forks) and by the lab hosts (their
# cgroups), which depend less on what else the machine runs than the times. Every ansible-playbook run has a timeout; the lab
# hosts are removed at the end, also on failure or Ctrl-C (lab/lab.sh down lab).
# Logs of the runs: $BENCH_ORCH_OUT (default build/bench-orchestration/).
#
# Environment: BENCH_ORCH_REPEAT (3), BENCH_ORCH_OUT, BENCH_ORCH_KEEP_LAB=1
# (leave the hosts up), BENCH_ORCH_COMMIT (the commit to print when this is
# not a git checkout, e.g. a snapshot made with git archive).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
INV=inventories/demo
REPEAT=${BENCH_ORCH_REPEAT:-3}
OUT=${BENCH_ORCH_OUT:-$ROOT/build/bench-orchestration}
export PATH=$ROOT/.venv/bin:$PATH
export ANSIBLE_CONFIG=$ROOT/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$ROOT/.collections
# The phase table of the collection, the task times and the total time.
export ANSIBLE_CALLBACKS_ENABLED=smooth.mariadb.phase_report,ansible.posix.profile_tasks,ansible.posix.timer
export PROFILE_TASKS_TASK_OUTPUT_LIMIT=all PROFILE_TASKS_SORT_ORDER=descending
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 COLUMNS=120
PY=$ROOT/.venv/bin/python
HOSTS_IPS=(10.214.0.11 10.214.0.12 10.214.0.13 10.214.0.14 10.214.0.15)

[[ $EUID -eq 0 ]] || { echo "run as root (rootful podman)" >&2; exit 1; }
[[ -x $PY ]] || { echo "no venv in $ROOT/.venv: run 'make setup' (lab/lab.sh setup) first" >&2; exit 1; }
[[ "$REPEAT" =~ ^[1-9][0-9]?$ ]] || { echo "BENCH_ORCH_REPEAT must be 1..99" >&2; exit 1; }

rm -rf "$OUT" && mkdir -p "$OUT"
CPBASE=$(mktemp -d /tmp/bo-cp.XXXXXX) # short: ssh control sockets have a path limit
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"

say() { printf '[bench-orch %(%H:%M:%S)T] %s\n' -1 "$*"; }
fig() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ "${BENCH_ORCH_KEEP_LAB:-0}" == 1 ]]; then
    say "leaving the lab hosts up (BENCH_ORCH_KEEP_LAB=1); 'lab/lab.sh down lab' removes them"
  else
    say "removing the lab hosts (lab/lab.sh down lab)"
    timeout 120 lab/lab.sh down lab >/dev/null 2>&1 || say "lab/lab.sh down lab failed: remove lab-1..lab-5 by hand"
  fi
  rm -rf "$CPBASE"
  ((rc == 0)) || say "FAILED (rc=$rc); logs in $OUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# CPU seconds the lab hosts (their containers: MariaDB, keepalived and the
# modules Ansible runs there) have used so far, from their cgroups (v1 cpuacct
# or v2 cpu.stat); "n/a" where neither is found.
host_cpu() {
  local name id f total=0 ns
  for name in lab-1 lab-2 lab-3 lab-4 lab-5; do
    id=$(podman inspect --format '{{.Id}}' "$name" 2>/dev/null) || { echo n/a; return; }
    f=$(ls -d /sys/fs/cgroup/cpuacct/libpod_parent/libpod-"$id"/cpuacct.usage \
      /sys/fs/cgroup/cpuacct/machine.slice/libpod-"$id".scope/cpuacct.usage \
      /sys/fs/cgroup/machine.slice/libpod-"$id".scope/cpu.stat 2>/dev/null | head -1)
    [[ -n "$f" ]] || { echo n/a; return; }
    if [[ "$f" == *cpu.stat ]]; then
      ns=$(($(sed -n 's/^usage_usec //p' "$f") * 1000))
    else
      ns=$(cat "$f")
    fi
    total=$((total + ns))
  done
  echo "$total"
}

# run NAME TIMEOUT ARGS...: ansible-playbook with a fresh ssh control directory
# and its own log; prints nothing, sets ELAPSED (seconds, 0.01), RC and CPU
# (the CPU seconds of the controller's ansible-playbook and its children, and
# of the lab hosts, during the run).
run() {
  local name=$1 limit=$2 t0 t1 h0 h1
  shift 2
  local cp=$CPBASE/$name
  mkdir -p "$cp"
  h0=$(host_cpu)
  t0=$(date +%s.%N)
  RC=0
  ANSIBLE_SSH_CONTROL_PATH_DIR=$cp SMOOTH_PHASE_REPORT_FILE=$OUT/$name.phases.json \
    /usr/bin/time -f '%U %S' -o "$OUT/$name.cpu" \
    timeout -k 30 "$limit" ansible-playbook -i "$INV" "$@" >"$OUT/$name.log" 2>&1 || RC=$?
  t1=$(date +%s.%N)
  h1=$(host_cpu)
  ELAPSED=$("$PY" -c "print(f'{$t1 - $t0:.2f}')")
  CPU=$("$PY" - "$OUT/$name.cpu" "$h0" "$h1" "${HOST_IDLE_RATE:-}" "$ELAPSED" <<'PYEOF'
import sys
try:
    user, system = open(sys.argv[1]).read().split()[-2:]
    ctl = f"{float(user) + float(system):.1f} s"
except (OSError, ValueError):
    ctl = "n/a"
try:
    hosts = f"{(int(sys.argv[3]) - int(sys.argv[2])) / 1e9:.1f} s"
    if sys.argv[4]:
        hosts += f" (of which about {float(sys.argv[4]) * float(sys.argv[5]):.1f} s at their idle rate)"
except ValueError:
    hosts = "n/a"
print(f"CPU: controller {ctl}, lab hosts {hosts}")
PYEOF
)
  # The control masters of this run exit after ControlPersist (60 s) idle.
}

must() { # NAME: stop when the last run failed
  if ((RC != 0)); then
    say "$1 failed (rc=$RC$( ((RC == 124)) && echo ', timeout')): last lines of $OUT/$1.log"
    tail -40 "$OUT/$1.log" | cut -c1-200
    exit 1
  fi
}

median() { "$PY" -c 'import statistics,sys; print(f"{statistics.median(float(a) for a in sys.argv[1:]):.2f}")' "$@"; }
minimum() { "$PY" -c 'import sys; print(f"{min(float(a) for a in sys.argv[1:]):.2f}")' "$@"; }

# The analysis of one log (the default callback's output plus profile_tasks).
analyse() { # LOG MODE(top|recap|plays|changed)
  "$PY" - "$@" <<'PYEOF'
import re
import sys
from collections import OrderedDict

log, mode = sys.argv[1], sys.argv[2]
lines = open(log, encoding='utf-8', errors='replace').read().splitlines()
if mode == 'plays':
    plays = OrderedDict()
    play = None
    for line in lines:
        m = re.match(r'^PLAY \[(.*)\] \*', line)
        if m:
            play = m.group(1)
            plays.setdefault(play, {'tasks': 0, 'results': 0})
            continue
        if play is None:
            continue
        if re.match(r'^(TASK|RUNNING HANDLER) \[', line):
            plays[play]['tasks'] += 1
        elif re.match(r'^(ok|changed|failed|fatal|skipping): \[', line):
            plays[play]['results'] += 1
    for name, c in plays.items():
        ran = 'ran' if c['tasks'] else 'no task'
        print(f"    {c['tasks']:3d} task(s), {c['results']:4d} host result line(s)  [{ran}]  {name[:110]}")
elif mode == 'top':
    start = None
    for i, line in enumerate(lines):
        if re.match(r'^TASKS RECAP \*', line):
            start = i
    rows = []
    if start is not None:
        for line in lines[start + 1:]:
            m = re.match(r'^(.*?) -+ ?-* ([0-9]+\.[0-9]+)s$', line)
            if m:
                rows.append((m.group(1), float(m.group(2))))
    banners = sum(1 for line in lines if re.match(r'^(TASK|RUNNING HANDLER) \[', line))
    total = sum(t for _, t in rows)
    print(f"    {banners} task banners (a task included for several hosts counts once per include), "
          f"{len(rows)} distinct tasks timed, sum of task times {total:.1f} s")
    for name, t in rows[:15]:
        print(f"    {t:7.2f} s  {name[:100]}")
    slow = sum(1 for _, t in rows if t >= 1.0)
    small = [t for _, t in rows if t < 1.0]
    print(f"    tasks >= 1 s: {slow} ({sum(t for _, t in rows if t >= 1.0):.1f} s); "
          f"tasks < 1 s: {len(small)} ({sum(small):.1f} s, mean {(sum(small) / len(small)) if small else 0:.2f} s)")
elif mode == 'recap':
    on = False
    for line in lines:
        if re.match(r'^PLAY RECAP \*', line):
            on = True
            continue
        if on:
            if not line.strip():
                break
            print('    ' + re.sub(r'\s+', ' ', line.strip()))
elif mode == 'changed':
    task = None
    found = 0
    for line in lines:
        m = re.match(r'^(TASK|RUNNING HANDLER) \[(.*)\] \*', line)
        if m:
            task = m.group(2)
            continue
        m = re.match(r'^changed: \[([^\]]+)\]( => \(item=(.*)\))?', line)
        if m:
            found += 1
            item = f" (item {m.group(3)[:60]})" if m.group(3) else ''
            print(f"    changed on {m.group(1)}: {task}{item}")
    if not found:
        print("    no task reported changed")
PYEOF
}

# Round trips per host in a -vvv log: one "SSH: EXEC" is one ssh command run
# through the connection's master: a module (pipelined: one exec), or a helper
# of an action (home directory, temporary directory made and removed: copy and
# template run 5 execs for a file that does not change). Then the time of the
# timed run (its profile_tasks table) split between the tasks that ran
# something on a host and those that ran on the controller only.
roundtrips() { # VVVLOG TIMEDLOG
  "$PY" - "$1" "$2" <<'PYEOF'
import re
import sys
from collections import Counter, defaultdict

names = {'10.214.0.11': 'lab-1', '10.214.0.12': 'lab-2', '10.214.0.13': 'lab-3',
         '10.214.0.14': 'lab-4', '10.214.0.15': 'lab-5'}
lines = open(sys.argv[1], encoding='utf-8', errors='replace').read().splitlines()
execs, kinds, local = Counter(), Counter(), 0
per_task = defaultdict(Counter)
task = None
banners = 0
results = Counter()
for line in lines:
    m = re.match(r'^(TASK|RUNNING HANDLER) \[(.*)\] \*', line)
    if m:
        task = m.group(2)
        banners += 1
        continue
    m = re.match(r'^<([0-9.]+)> SSH: EXEC ', line)
    if m and m.group(1) in names:
        execs[names[m.group(1)]] += 1
        per_task[task][names[m.group(1)]] += 1
        if 'echo FOUND' in line:
            kinds['interpreter discovery'] += 1
        elif 'echo ~' in line:
            kinds['home directory (echo ~)'] += 1
        elif 'mkdir -p' in line:
            kinds['temporary directory made'] += 1
        elif 'rm -f -r' in line:
            kinds['temporary directory removed'] += 1
        elif re.search(r'python[0-9.]* && sleep 0', line):
            kinds['module run (pipelined)'] += 1
        else:
            kinds['other'] += 1
        continue
    if re.match(r'^<(127\.0\.0\.1|localhost)> EXEC ', line):
        local += 1
        per_task[task]['controller'] += 1
        continue
    m = re.match(r'^(ok|changed|skipping|failed|fatal): \[([^\]]+?)(?: -> [^\]]+)?\]', line)
    if m:
        results[(m.group(2), m.group(1))] += 1
hosts = sorted(set(h for h, _ in results) | set(execs))
print(f"    {banners} task banners; ssh executions (remote round trips, serial per host) and task results per host:")
for h in hosts:
    ok, ch, sk = results[(h, 'ok')], results[(h, 'changed')], results[(h, 'skipping')]
    print(f"      {h:8s} ssh execs {execs[h]:4d}   results ok {ok:4d} changed {ch:3d} skipped {sk:4d}")
print(f"    total ssh execs {sum(execs.values())}: " + ', '.join(f"{k} {v}" for k, v in kinds.most_common()))
print(f"    local executions on the controller (delegate_to localhost): {local}")
print("    task names with the most executions (all hosts, all their includes):")
for name, c in sorted(per_task.items(), key=lambda kv: -sum(kv[1].values()))[:10]:
    print(f"      {sum(c.values()):4d}  {(name or '?')[:100]}")
# The timed run's task times, split by whether the task ran something on a host.
timed = open(sys.argv[2], encoding='utf-8', errors='replace').read().splitlines()
start = max([i for i, line in enumerate(timed) if re.match(r'^TASKS RECAP \*', line)] or [len(timed)])
rows = []
for line in timed[start + 1:]:
    m = re.match(r'^(.*?) -+ ?-* ([0-9]+\.[0-9]+)s$', line)
    if m:
        rows.append((m.group(1), float(m.group(2))))
remote = [t for n, t in rows if sum(per_task.get(n, {}).values()) > 0]
ctrl = [t for n, t in rows if sum(per_task.get(n, {}).values()) == 0]
print(f"    time of the timed run: tasks that ran something on a host or delegated: {len(remote)} tasks, {sum(remote):.1f} s; "
      f"tasks on the controller only (set_fact, assert, debug, include_*, meta, skipped everywhere): {len(ctrl)} tasks, "
      f"{sum(ctrl):.1f} s (mean {(sum(ctrl) / len(ctrl)) if ctrl else 0:.2f} s)")
PYEOF
}

COMMIT=${BENCH_ORCH_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
DIRTY=""
if git rev-parse --git-dir >/dev/null 2>&1 && [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  DIRTY=" (with uncommitted changes in $ROOT)"
fi
fig "== bench-orchestration: expand_2n.yml orchestration on the demo fleet (issue 12, item 5)"
fig "commit:        ${COMMIT}${DIRTY}"
fig "checkout:      $ROOT"
fig "date:          $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
fig "nproc:         $(nproc)"
fig "load at start: $(load)"
fig "ansible:       $(ansible-playbook --version 2>/dev/null | sed -n 1p)"
fig "ansible.cfg:   forks=$(sed -n 's/^forks *= *//p' ansible.cfg) pipelining=$(sed -n 's/^pipelining *= *//p' ansible.cfg)" \
  "ssh_args=$(sed -n 's/^ssh_args *= *//p' ansible.cfg)"
fig "callbacks:     $ANSIBLE_CALLBACKS_ENABLED"
fig "repeats:       $REPEAT (each timed run with no ssh connection open at its start)"

say "fresh lab hosts (lab/lab.sh down lab; up lab 5)"
timeout 120 lab/lab.sh down lab >/dev/null 2>&1 || true
timeout -k 10 400 lab/lab.sh up lab 5

say "deploy the starting fleet: one shard (playbooks/site.yml)"
run site 1200 playbooks/site.yml
must site
fig "site.yml (setup, not a figure of the goal): ${ELAPSED} s"
say "deploy the lab application on lab-5 (lab/app/deploy.yml)"
run app 600 lab/app/deploy.yml
must app
fig "lab/app/deploy.yml (setup): ${ELAPSED} s"

# Baselines: what the lab hosts use by themselves (keepalived's checks every
# second, the fence, MariaDB, the application), one ssh login, one module
# round trip.
say "baselines: lab hosts idle for 10 s, ssh login, ad-hoc ping"
HOST_IDLE_RATE=""
h0=$(host_cpu)
sleep 10
h1=$(host_cpu)
if [[ "$h0" != n/a && "$h1" != n/a ]]; then
  HOST_IDLE_RATE=$("$PY" -c "print(f'{($h1 - $h0) / 1e9 / 10:.3f}')")
  fig "baseline: CPU of the 5 lab hosts while no playbook runs: ${HOST_IDLE_RATE} s per second"
fi
t0=$(date +%s.%N)
timeout 30 ssh -q -i .lab/id_ed25519 -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no \
  -o UserKnownHostsFile=/dev/null -o ControlMaster=no -o ControlPath=none root@10.214.0.11 true
t1=$(date +%s.%N)
fig "baseline: one ssh login + 'true' to lab-1 (no master): $("$PY" -c "print(f'{$t1 - $t0:.2f}')") s"
mkdir -p "$CPBASE/ping"
for kind in cold warm; do
  t0=$(date +%s.%N)
  ANSIBLE_SSH_CONTROL_PATH_DIR=$CPBASE/ping timeout 120 ansible -i "$INV" all -m ansible.builtin.ping >"$OUT/ping-$kind.log" 2>&1 ||
    { tail -20 "$OUT/ping-$kind.log"; exit 1; }
  t1=$(date +%s.%N)
  fig "baseline: ansible all -m ping (5 hosts, $kind ssh connections, with interpreter discovery and ansible's start): $("$PY" -c "print(f'{$t1 - $t0:.2f}')") s"
done
t0=$(date +%s.%N)
timeout 120 ansible-playbook -i "$INV" --list-tasks playbooks/expand_2n.yml >"$OUT/list-tasks.log" 2>&1 || { tail -20 "$OUT/list-tasks.log"; exit 1; }
t1=$(date +%s.%N)
fig "baseline: ansible-playbook --list-tasks expand_2n.yml (start-up and parsing, no host contacted): $("$PY" -c "print(f'{$t1 - $t0:.2f}')") s"

# 1. plan + preflight, on the fleet before the expansion.
say "plan + preflight: expand_2n.yml --tags preflight, $REPEAT times"
pre=()
pre_load=()
for ((i = 1; i <= REPEAT; i++)); do
  l=$(load)
  run "preflight-$i" 600 playbooks/expand_2n.yml --tags preflight
  must "preflight-$i"
  pre+=("$ELAPSED")
  pre_load+=("${l%% *}")
  fig "plan+preflight run $i: ${ELAPSED} s   (load before: $l; $CPU)"
done
PRE_MED=$(median "${pre[@]}")
fig "plan+preflight median: ${PRE_MED} s, fastest $(minimum "${pre[@]}") s   (goal: 15 s on an idle machine)"
# The median run (its log) for the task profile.
pre_med_run=1
for ((i = 1; i <= REPEAT; i++)); do [[ ${pre[i - 1]} == "$PRE_MED" ]] && pre_med_run=$i; done
fig "plays of a --tags preflight run (tasks tagged always run too):"
analyse "$OUT/preflight-1.log" plays | tee -a "$SUMMARY"
if grep -q '^TASK \[smooth.mariadb.smooth : Take the lock of the fleet on every node' "$OUT/preflight-1.log"; then
  fig "    -> the lock play (tags always) runs with --tags preflight: it reads the locks (a run that changes nothing takes none)"
else
  fig "    -> the lock play does not run with --tags preflight"
fi
fig "PLAY RECAP of plan+preflight run 1:"
analyse "$OUT/preflight-1.log" recap | tee -a "$SUMMARY"
fig "phases of plan+preflight run $pre_med_run (phase_report):"
awk '/^PHASE REPORT/{on=1; next} on && /^$/{exit} on' "$OUT/preflight-$pre_med_run.log" | head -30 | sed 's/^/    /' | tee -a "$SUMMARY" || true
fig "15 slowest tasks of plan+preflight run $pre_med_run (profile_tasks; wall time from a task's start to the next's, all hosts):"
analyse "$OUT/preflight-$pre_med_run.log" top | tee -a "$SUMMARY"
say "plan + preflight once more with -vvv (untimed): round trips per host"
run preflight-vvv 600 playbooks/expand_2n.yml --tags preflight -vvv
must preflight-vvv
fig "round trips of plan+preflight (-vvv run, untimed; it took ${ELAPSED} s with the verbose output):"
roundtrips "$OUT/preflight-vvv.log" "$OUT/preflight-$pre_med_run.log" | tee -a "$SUMMARY"

# 2. the whole expansion once, then re-runs that change nothing.
say "the whole expansion once (expand_2n.yml)"
run expand 1800 playbooks/expand_2n.yml
must expand
fig "expand_2n.yml, the expansion itself (setup, not a figure of the goal): ${ELAPSED} s ($CPU); PLAY RECAP:"
analyse "$OUT/expand.log" recap | tee -a "$SUMMARY"
say "re-runs of expand_2n.yml that change nothing, $REPEAT times"
rer=()
rer_load=()
changed_any=0
for ((i = 1; i <= REPEAT; i++)); do
  l=$(load)
  run "rerun-$i" 900 playbooks/expand_2n.yml
  must "rerun-$i"
  rer+=("$ELAPSED")
  rer_load+=("${l%% *}")
  changed=$(analyse "$OUT/rerun-$i.log" recap | sed -n 's/.* changed=\([0-9]*\).*/\1/p' | paste -sd, -)
  fig "no-op re-run $i: ${ELAPSED} s   (load before: $l; $CPU; changed= per host: $changed)"
  if analyse "$OUT/rerun-$i.log" recap | grep -q ' changed=[1-9]'; then
    changed_any=1
    fig "  re-run $i CHANGED something, tasks that reported changed:"
    analyse "$OUT/rerun-$i.log" changed | tee -a "$SUMMARY"
  fi
done
RER_MED=$(median "${rer[@]}")
fig "no-op re-run median: ${RER_MED} s, fastest $(minimum "${rer[@]}") s   (goal: 45 s on an idle machine)"
rer_med_run=1
for ((i = 1; i <= REPEAT; i++)); do [[ ${rer[i - 1]} == "$RER_MED" ]] && rer_med_run=$i; done
fig "PLAY RECAP of no-op re-run $rer_med_run:"
analyse "$OUT/rerun-$rer_med_run.log" recap | tee -a "$SUMMARY"
((changed_any)) || fig "    -> no re-run reported a change (changed=0 on every host)"
fig "phases of no-op re-run $rer_med_run (phase_report):"
awk '/^PHASE REPORT/{on=1; next} on && /^$/{exit} on' "$OUT/rerun-$rer_med_run.log" | head -30 | sed 's/^/    /' | tee -a "$SUMMARY" || true
fig "plays of a no-op re-run:"
analyse "$OUT/rerun-$rer_med_run.log" plays | tee -a "$SUMMARY"
fig "15 slowest tasks of no-op re-run $rer_med_run (profile_tasks):"
analyse "$OUT/rerun-$rer_med_run.log" top | tee -a "$SUMMARY"
say "a no-op re-run once more with -vvv (untimed): round trips per host"
run rerun-vvv 900 playbooks/expand_2n.yml -vvv
must rerun-vvv
fig "round trips of a no-op re-run (-vvv run, untimed; it took ${ELAPSED} s with the verbose output):"
roundtrips "$OUT/rerun-vvv.log" "$OUT/rerun-$rer_med_run.log" | tee -a "$SUMMARY"

fig ""
fig "== summary (commit ${COMMIT:0:12}, nproc $(nproc), load now $(load))"
fig "plan+preflight: ${pre[*]} s -> median ${PRE_MED} s (goal 15 s); load before each: ${pre_load[*]}"
fig "no-op re-run:   ${rer[*]} s -> median ${RER_MED} s (goal 45 s); load before each: ${rer_load[*]}"
fig "(the load average counts every process of this machine: with 2 cores, a load over 2 means the runs waited for CPU)"
fig "(figures only, nothing asserted; logs and this summary in $OUT)"
