"""Fenced pairs under a partition and under the loss of the holder's network,
with the lab application writing through the VIP all along.

The faults run once (module fixture ``faults``), in this order:
1. the two nodes of the pair cannot reach each other for 20 s (static bogus
   ARP entries for the partner on both: VRRP adverts and replication stop,
   both still reach the witnesses and the clients);
2. the VIP holder loses its whole network for 20 s (its interface goes down).
Then the checks: the ledger (no acknowledged write lost or overwritten), the
binary logs (read with mariadb-binlog on the nodes: the two nodes never took
client writes at the same time), the
pair replicating both ways, and both nodes holding the same rows.

Last, with the load stopped: a node whose path to the controller is cut for
60 s while a module runs on it (issue 11: such a host once hung a run for
14 minutes, the kernel's TCP timeout) must be reported unreachable before the
path comes back, so the run stops instead of waiting.
"""

import calendar
import os
import re
import shlex
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "molecule", "common"))
from fleet import (  # noqa: E402  pylint: disable=wrong-import-position
    PROJECT, RUNNER, SHARDS, host, ledger_check, print_load_figures, print_slowest_writes, replication_status,
    sql, stop_load, vip_holder, vip_of, wait_for,
)

SHARD = SHARDS[0]
NODES = SHARD["nodes"]
CUT_SECONDS = 20
BOGUS_MAC = "02:00:5e:00:00:%02x"


def address(name):
    return RUNNER.get_variables(name)["ansible_host"]


def partner_of(name):
    return [n for n in NODES if n != name][0]


def replicating(name):
    status = replication_status(name)
    return (len(status) == 1 and status[0]["Slave_IO_Running"] == "Yes" and status[0]["Slave_SQL_Running"] == "Yes"
            and status[0]["Seconds_Behind_Master"] == "0")


def applied_from_partner(name, timeout):
    """Wait until node 'name' has applied every transaction its partner wrote itself
    (the partner's own GTID domain of its gtid_binlog_pos): True, or False after timeout s."""
    partner = partner_of(name)
    domain, binlog_pos = sql(partner, "SELECT @@gtid_domain_id, @@gtid_binlog_pos")[0]
    own = ",".join(g for g in binlog_pos.split(",") if g and g.split("-")[0] == domain)
    if not own:
        return True
    return sql(name, "SELECT MASTER_GTID_WAIT('%s', %d)" % (own, timeout)) == [["0"]]


def caught_up(timeout=120):
    """Both nodes replicate and each has applied all its partner wrote: seconds it took."""
    began = time.monotonic()
    for name in NODES:
        left = max(1, int(timeout - (time.monotonic() - began)))
        assert applied_from_partner(name, left), "%s has not applied what %s wrote after %d s" % (
            name, partner_of(name), timeout)
    assert wait_for(lambda: all(replicating(n) for n in NODES), 30, interval=1), "the pair does not replicate both ways"
    return time.monotonic() - began


def reachable(name):
    try:
        return host(name).run("true").rc == 0
    # ssh fails while the node is cut off
    except Exception:  # pylint: disable=broad-except
        return False


def watch(seconds, interval=0.5):
    """Who answers on the VIP, every interval for 'seconds': [(t, holder)]."""
    seen, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        seen.append((time.time(), vip_holder(SHARD)))
        time.sleep(interval)
    return seen


def changes(seen):
    out = []
    for at, holder in seen:
        if not out or out[-1][1] != holder:
            out.append((round(at, 1), holder))
    return out


@pytest.fixture(name="faults", scope="module")
def fixture_faults():
    began = time.time()
    try:
        return run_faults()
    except BaseException:
        print_transitions(int(began) - 5)
        raise


def run_faults():
    windows = {}
    caught_up(60)

    # 1. Partition between the two nodes of the pair.
    holder = vip_holder(SHARD)
    assert holder in NODES
    start = time.time()
    for index, name in enumerate(NODES):
        host(name).check_output("ip neigh replace %s lladdr %s dev eth0 nud permanent"
                                % (address(partner_of(name)), BOGUS_MAC % (index + 1)))
    seen = watch(CUT_SECONDS)
    for name in NODES:
        host(name).check_output("ip neigh del %s dev eth0" % address(partner_of(name)))
    windows["partition"] = (start, time.time(), holder)
    windows["start"] = start
    print("\nFIGURE partition: VIP %s held by %s before; who answered during the cut: %s"
          % (vip_of(SHARD), holder, changes(seen)))
    print("FIGURE partition: both nodes had applied all the other wrote %.1f s after it ended" % caught_up())
    print("FIGURE standoffs on %s: %s" % (partner_of(holder), host(partner_of(holder)).run(
        "journalctl -t keepalived-smooth --no-pager -o cat | grep -c 'another host answers for VIP'").stdout.strip()))

    # 2. The VIP holder loses its whole network.
    holder = vip_holder(SHARD)
    other = partner_of(holder)
    start = time.time()
    host(holder).check_output("systemd-run --unit=smooth-cut --collect sh -c 'ip link set eth0 down; sleep %d; "
                              "ip link set eth0 up'" % CUT_SECONDS)
    moved = wait_for(lambda: vip_holder(SHARD) == other, 15)
    took = time.time() - start
    assert moved, "VIP %s stayed away from %s for 15 s after %s lost its network" % (vip_of(SHARD), other, holder)
    print("FIGURE network loss: %s lost its network, VIP on %s after %.2f s" % (holder, other, took))
    time.sleep(max(0.0, start + CUT_SECONDS + 2 - time.time()))
    assert wait_for(lambda: reachable(holder), 60, interval=1), "%s did not come back after its network" % holder
    windows["network_loss"] = (start, time.time(), holder)
    print("FIGURE network loss: both nodes had applied all the other wrote %.1f s after %s was reachable again"
          % (caught_up(), holder))
    assert vip_holder(SHARD) == other, "the VIP went back to %s (nopreempt)" % holder
    return windows


def print_transitions(since):
    """What keepalived and the fence did on both nodes since 'since' (for the log of a failed run)."""
    for name in NODES:
        out = host(name).run("journalctl --no-pager -o short-precise --since @%d -t Keepalived_vrrp -t keepalived-smooth "
                             "| grep -v ': INSTANCE ' | tail -40" % since).stdout
        print("\nFIGURE transitions on %s:\n%s" % (name, out))


@pytest.fixture(name="load", scope="module")
def fixture_load(faults):
    time.sleep(3)  # writes after the faults, through the new holder
    print_transitions(int(faults["start"]) - 5)
    summary = stop_load()
    print_load_figures(summary)
    print_slowest_writes()
    return summary


def test_no_acknowledged_write_is_lost_or_overwritten(faults, load):
    assert load["acked"] > 500, "too little load to prove anything: %s" % load
    caught_up(60)
    rc, report = ledger_check([SHARD], name="partition")
    assert report is not None, "ledger_check wrote no report"
    assert rc == 0, report


# A GTID event's header as mariadb-binlog prints it (timestamps in the TZ it runs with):
# #261203  8:02:08 server id 1  end_log_pos 372 CRC32 0xf484ea8f <TAB>GTID 1-1-1 ddl
GTID_HEADER = re.compile(r"^#(\d{6})\s+(\d{1,2}:\d{2}:\d{2}) server id (\d+)\s.*\tGTID \d+-\d+-\d+")


def client_write_seconds(name, since, until):
    """Seconds (binary log timestamps) in which node 'name' committed transactions
    of its own (client writes: their GTID carries its server_id), within [since, until].

    Read with mariadb-binlog, MariaDB's own reader, on the node, in UTC, bounded
    in time. (This test used python-mysql-replication's non-blocking read over the
    network: MariaDB resets a non-blocking dump while the server is written to,
    module_utils/binlog.py says, and the reader then asks again from the start of
    the binary log; in two runs it restarted ~8 times a second for minutes.)"""
    own, basename = sql(name, "SELECT @@server_id, @@log_bin_basename")[0]
    own = int(own)
    files = " ".join(shlex.quote(os.path.join(os.path.dirname(basename), row[0]))
                     for row in sql(name, "SHOW BINARY LOGS"))
    # The whole read must succeed (pipefail): a read cut short would hide writes.
    done = host(name).run("bash -o pipefail -c %s" % shlex.quote(
        "TZ=UTC timeout 120 mariadb-binlog %s | grep -a 'GTID [0-9]'" % files))
    assert done.rc == 0, "mariadb-binlog %s on %s: exit %d, %s" % (files, name, done.rc, done.stderr[-500:])
    seconds, count = set(), 0
    for line in done.stdout.splitlines():
        match = GTID_HEADER.match(line)
        if not match:
            continue
        count += 1
        stamp = calendar.timegm(time.strptime("%s %s" % match.group(1, 2), "%y%m%d %H:%M:%S"))
        if int(match.group(3)) == own and since - 1 <= stamp <= until + 1:
            seconds.add(stamp)
    assert count > 0, "read no GTID event from %s's binary log (%s)" % (name, files)
    return seconds


@pytest.mark.parametrize("fault, switches", [("partition", 0), ("network_loss", 1)])
def test_the_two_nodes_never_took_client_writes_at_the_same_time(faults, load, fault, switches):
    since, until, holder = faults[fault]
    other = partner_of(holder)
    kept = client_write_seconds(holder, since, until)
    taken = client_write_seconds(other, since, until)
    both = sorted(kept & taken)
    print("\nFIGURE %s: client writes in %d s on %s (holder before), %d s on %s; seconds with both: %s"
          % (fault, len(kept), holder, len(taken), other, both))
    if switches == 0:
        # The partner never became writable: no client write of its own at all.
        assert not taken, "%s took client writes during the partition at %s" % (other, sorted(taken))
        assert kept, "%s took no client write during the partition (was there load?)" % holder
    else:
        # One switch: every client write of the old holder before every one of the new.
        assert kept and taken, (kept, taken)
        assert max(kept) <= min(taken), "client writes interleave: %s on %s, %s on %s" % (
            sorted(kept), holder, sorted(taken), other)
        assert len(both) <= 1


def test_the_pair_replicates_both_ways_and_holds_the_same_rows(faults, load):
    caught_up(60)
    for name in NODES:
        status = replication_status(name)[0]
        assert status["Last_IO_Errno"] == "0" and status["Last_SQL_Errno"] == "0", status

    def checksums():
        return [sql(n, "CHECKSUM TABLE smooth_lab.t_trade_order EXTENDED")[0][1] for n in NODES]
    equal = wait_for(lambda: len(set(checksums())) == 1, 30, interval=1)
    counts = [sql(n, "SELECT COUNT(*) FROM smooth_lab.t_trade_order")[0][0] for n in NODES]
    print("\nFIGURE rows: %s" % dict(zip(NODES, counts)))
    assert equal, "the nodes hold different rows: checksums %s, counts %s" % (checksums(), counts)


def test_only_the_holder_is_writable_after_the_faults(faults, load):
    holder = vip_holder(SHARD)
    assert sql(holder, "SELECT @@read_only") == [["0"]]
    assert sql(partner_of(holder), "SELECT @@read_only") == [["1"]]


CONTROLLER_CUT_SECONDS = 60


def test_a_node_cut_from_the_controller_is_unreachable_before_the_path_returns(faults, load, tmp_path):
    # The backup node: the VIP and the clients are not affected.
    name = partner_of(vip_holder(SHARD))
    # The controller's address as the node sees it (the lab networks have no default route).
    controller = host(name).check_output("echo $SSH_CONNECTION").split()[0]
    # ansible as a user runs it: the project's ansible.cfg (its ssh_args), a
    # fresh ssh master connection of its own.
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(PROJECT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT, ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp_path / "cp"))
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    run = subprocess.Popen(["ansible", "-i", inventory, name, "-m", "ansible.builtin.command", "-a", "sleep 150"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=PROJECT)
    try:
        assert wait_for(lambda: host(name).run("pgrep -fx 'sleep 150'").rc == 0, 60, interval=1), (
            "the module did not start on %s" % name)
        # The cut and its end run on the node, detached: no connection from the
        # controller could end it. It starts 2 s later, once this command has returned.
        host(name).check_output(
            "setsid sh -c 'sleep 2; date +%%s.%%N > /run/controller-cut; "
            "ip neigh replace %s lladdr %s dev eth0 nud permanent; sleep %d; ip neigh del %s dev eth0' "
            "</dev/null >/dev/null 2>&1 &" % (controller, BOGUS_MAC % 9, CONTROLLER_CUT_SECONDS, controller))
        output = run.communicate(timeout=CONTROLLER_CUT_SECONDS + 120)[0]
        ended = time.time()
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert wait_for(lambda: reachable(name), CONTROLLER_CUT_SECONDS + 60, interval=2), (
        "%s is still unreachable %d s after the run ended" % (name, CONTROLLER_CUT_SECONDS + 60))
    cut = float(host(name).check_output("cat /run/controller-cut"))
    host(name).run("pkill -fx 'sleep 150'")
    print("\nFIGURE controller cut: %s reported after %.1f s of a %d s cut, exit status %d: %s"
          % (name, ended - cut, CONTROLLER_CUT_SECONDS, run.returncode,
             " ".join(line.strip() for line in output.splitlines() if "UNREACHABLE" in line or "msg" in line)[:300]))
    assert run.returncode != 0 and "UNREACHABLE" in output, output
    assert ended > cut, "ansible ended before the cut began: not the cut made it unreachable:\n%s" % output
    assert ended - cut < CONTROLLER_CUT_SECONDS, (
        "ansible waited %.1f s, until the path came back, to tell that %s is cut off:\n%s" % (ended - cut, name, output))
    caught_up()
