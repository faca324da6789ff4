"""Shared helpers of the molecule scenarios' testinfra checks.

SQL runs on the nodes through ssh (testinfra, as root over the socket) and on
the VIPs over TCP (PyMySQL, the admin account). Every wait is bounded in count
and time.
"""

import json
import os
import subprocess
import sys
import time
import uuid

import pymysql
import testinfra.utils.ansible_runner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
HOSTS = sorted(RUNNER.get_hosts("smooth_mariadb"))
VARS = RUNNER.get_variables(HOSTS[0])
SHARDS = VARS["smooth_shards"]
ADMIN = ("smooth_admin", VARS["smooth_admin_password"])


def host(name):
    return testinfra.get_host("ansible://%s?ansible_inventory=%s" % (name, INVENTORY))


def sql(name, statement):
    """Run one statement as root over the socket on node 'name'; rows as lists."""
    out = host(name).check_output("mariadb --batch --skip-column-names -e %s" % _quote(statement))
    return [line.split("\t") for line in out.splitlines()]


def _quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def replication_status(name):
    """SHOW ALL SLAVES STATUS of node 'name' as a list of dicts."""
    out = host(name).check_output("mariadb -e 'SHOW ALL SLAVES STATUS\\G'")
    connections, current = [], None
    for line in out.splitlines():
        if line.startswith("*****"):
            current = {}
            connections.append(current)
        elif ":" in line and current is not None:
            key, _sep, value = line.partition(":")
            current[key.strip()] = value.strip()
    return connections


def vip_of(shard):
    return shard["vip"].split("/")[0]


def vip_connect(shard, timeout=2):
    return pymysql.connect(host=vip_of(shard), user=ADMIN[0], password=ADMIN[1], connect_timeout=timeout,
                           read_timeout=timeout, write_timeout=timeout, autocommit=True)


def vip_holder(shard):
    """Hostname of the node answering on the shard's VIP, or None."""
    try:
        conn = vip_connect(shard, timeout=1)
    except pymysql.MySQLError:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@hostname")
            return cur.fetchone()[0]
    except pymysql.MySQLError:
        return None
    finally:
        conn.close()


def wait_for(predicate, timeout, interval=0.1):
    """Poll predicate until it returns a truthy value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def fail_over(shard):
    """Kill mariadbd on the holder of the shard's VIP; the VIP must move to the
    partner (printed as a FIGURE), writes through it must work, the killed node
    must come back (systemd) and receive them, and the VIP must stay (nopreempt).
    Returns the seconds the VIP took to move."""
    holder = vip_holder(shard)
    assert holder in shard["nodes"]
    partner = [n for n in shard["nodes"] if n != holder][0]

    host(holder).check_output("pkill -KILL -x mariadbd")
    killed = time.monotonic()
    moved = wait_for(lambda: vip_holder(shard) == partner, 30)
    failover = time.monotonic() - killed
    assert moved, "VIP %s stayed away from %s for 30 s after mariadbd was killed on %s" % (
        vip_of(shard), partner, holder)
    print("\nFIGURE failover_seconds[%s] = %.2f (mariadbd killed on %s, VIP now on %s)"
          % (vip_of(shard), failover, holder, partner))

    # Writes through the VIP work again, and reach the killed node once
    # systemd has restarted it and replication has caught up.
    token = uuid.uuid4().hex
    conn = vip_connect(shard)
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS smoke")
        cur.execute("CREATE TABLE IF NOT EXISTS smoke.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, token CHAR(32), "
                    "written_on VARCHAR(64))")
        cur.execute("INSERT INTO smoke.t (token, written_on) VALUES (%s, @@hostname)", (token,))
        cur.execute("SELECT written_on FROM smoke.t WHERE token = %s", (token,))
        assert cur.fetchone()[0] == partner
    conn.close()

    def back_on_old_holder():
        try:
            return sql(holder, "SELECT written_on FROM smoke.t WHERE token = '%s'" % token)
        except AssertionError:
            return None  # mariadbd not restarted yet
    assert wait_for(back_on_old_holder, 60, interval=0.5) == [[partner]]
    # nopreempt: the VIP stays where it moved.
    assert vip_holder(shard) == partner
    return failover


# ---------------------------------------------------------------------------
# The load generator started by common/load_start.yml, and the ledger check.
# ---------------------------------------------------------------------------

EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]


def stop_load(timeout=60):
    """Stop the load generator (stop file), wait for its summary; return the summary."""
    summary = os.path.join(EPHEMERAL, "load.json")
    with open(os.path.join(EPHEMERAL, "load.stop"), "w") as handle:
        handle.write("stop\n")
    assert wait_for(lambda: os.path.exists(summary), timeout, interval=0.5), (
        "the load generator wrote no summary %d s after the stop file; see %s"
        % (timeout, os.path.join(EPHEMERAL, "loadgen.log")))
    with open(summary) as handle:
        return json.load(handle)


def copy_window(timeout=60):
    """The report of lab/app/copy_window.py (started by common/load_start.yml, stopped with the load)."""
    report = os.path.join(EPHEMERAL, "window.json")
    assert wait_for(lambda: os.path.exists(report), timeout, interval=0.5), (
        "the copy window monitor wrote no report %d s after the stop file; see %s"
        % (timeout, os.path.join(EPHEMERAL, "window.log")))
    with open(report) as handle:
        return json.load(handle)


def shards_after_expansion():
    """The shards after one doubling, from the inventory (independent of the planner):
    shard i keeps its VIP with its first node and that node's new partner;
    shard i + N gets pool VIP i with the second node and its new partner."""
    partners = VARS["smooth_expansion_partners"]
    pool = VARS["smooth_expansion_vip_pool"]
    first = [{"vip": s["vip"], "nodes": [s["nodes"][0], partners[s["nodes"][0]]]} for s in SHARDS]
    second = [{"vip": pool[i], "nodes": [s["nodes"][1], partners[s["nodes"][1]]]} for i, s in enumerate(SHARDS)]
    return first + second


def ledger_check(shards, name="check"):
    """Run lab/app/ledger_check.py against every node of the given shards; (rc, report)."""
    spec = {
        "modulus": len(shards), "database": "smooth_lab", "table": "t_trade_order",
        "user": ADMIN[0], "password": ADMIN[1],
        "shards": [{"index": index, "nodes": [
            {"name": node, "host": RUNNER.get_variables(node)["ansible_host"], "port": 3306}
            for node in shard["nodes"]]} for index, shard in enumerate(shards)],
    }
    spec_file = os.path.join(EPHEMERAL, "%s-shards.json" % name)
    report_file = os.path.join(EPHEMERAL, "%s-report.json" % name)
    with open(spec_file, "w") as handle:
        json.dump(spec, handle)
    os.chmod(spec_file, 0o600)
    proc = subprocess.run(
        [sys.executable, os.path.join(PROJECT, "lab", "app", "ledger_check.py"),
         "--ledger", os.path.join(EPHEMERAL, "ledger.jsonl"), "--shards", spec_file, "--report", report_file],
        capture_output=True, text=True, timeout=300, check=False)
    print(proc.stdout[-3000:], proc.stderr[-3000:])
    report = None
    if os.path.exists(report_file):
        with open(report_file) as handle:
            report = json.load(handle)
    return proc.returncode, report


def print_load_figures(summary):
    print("\nFIGURE load: %d attempts, %d acked (%d inserts), %d failed, %d unknown; "
          "longest acked write %.3f s, longest failed write %.3f s, longest outage %.3f s; versions %s"
          % (summary["attempts"], summary["acked"], summary["acked_inserts"], summary["failed"],
             summary["unknown"], summary["max_ack_latency_seconds"], summary["longest_failed_seconds"],
             summary["longest_outage_seconds"], summary["versions"]))


def print_slowest_writes(count=8):
    """Print the slowest attempts of the ledger with their UTC start time, to tell
    which step of the run a stall of writes coincided with."""
    with open(os.path.join(EPHEMERAL, "ledger.jsonl")) as handle:
        entries = [json.loads(line) for line in handle if line.strip()]
    entries.sort(key=lambda e: e["t_end"] - e["t_start"], reverse=True)
    for entry in entries[:count]:
        print("FIGURE slow write: started %s.%03d UTC, %.3f s, %s %s, map v%s, shard %s, %s" % (
            time.strftime("%H:%M:%S", time.gmtime(entry["t_start"])), int(entry["t_start"] % 1 * 1000),
            entry["t_end"] - entry["t_start"], entry["op"], entry["outcome"], entry["version"], entry["shard"],
            entry.get("error") or ""))


def run_playbook(playbook, *args, timeout=900):
    """Run one of the collection's playbooks against this scenario's inventory, as a user would."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(PROJECT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT, ".collections"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        ["ansible-playbook", "-i", INVENTORY, os.path.join(PROJECT, "playbooks", playbook)] + list(args),
        capture_output=True, text=True, timeout=timeout, check=False, env=env, cwd=PROJECT)
    return proc.returncode, proc.stdout + proc.stderr
