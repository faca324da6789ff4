"""Checks of the deployed fleet: two shards, each a dual-master pair behind a VIP."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import pymysql
import pytest

sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "molecule", "common"))
from fleet import (  # noqa: E402  pylint: disable=wrong-import-position
    HOSTS, SHARDS, fail_over, host, replication_status, run_playbook, sql, vip_connect, vip_holder, vip_of,
    wait_for,
)


@pytest.mark.parametrize("name", HOSTS)
def test_replicates_from_its_partner_without_errors(name):
    shard = next(s for s in SHARDS if name in s["nodes"])
    partner = [n for n in shard["nodes"] if n != name][0]
    status = replication_status(name)
    assert [c["Connection_name"] for c in status] == [partner]
    conn = status[0]
    assert conn["Slave_IO_Running"] == "Yes", conn["Last_IO_Error"]
    assert conn["Slave_SQL_Running"] == "Yes", conn["Last_SQL_Error"]
    assert conn["Last_IO_Errno"] == "0" and conn["Last_SQL_Errno"] == "0"
    assert conn["Using_Gtid"] == "Slave_Pos"
    assert conn["Seconds_Behind_Master"] == "0"


@pytest.mark.parametrize("name", HOSTS)
def test_server_settings(name):
    rows = dict(sql(name, "SELECT 'binlog_format', @@binlog_format UNION ALL SELECT 'log_slave_updates', "
                          "@@log_slave_updates UNION ALL SELECT 'skip', @@slave_skip_errors UNION ALL "
                          "SELECT 'socket_unit', 'n/a'"))
    assert rows["binlog_format"] == "ROW"
    assert rows["log_slave_updates"] == "1"
    assert rows["skip"] == "OFF"
    assert host(name).run("systemctl is-enabled mariadb.socket").stdout.strip() == "masked"


def test_identities_are_unique():
    ids = [tuple(sql(n, "SELECT @@server_id, @@gtid_domain_id")[0]) for n in HOSTS]
    assert len({i[0] for i in ids}) == len(HOSTS)
    assert len({i[1] for i in ids}) == len(HOSTS)


def test_no_account_is_open_to_every_host():
    for name in HOSTS:
        rows = sql(name, "SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE Host = '%' OR User = ''")
        assert rows == [], "%s has accounts %s" % (name, rows)


@pytest.mark.parametrize("shard", SHARDS, ids=[s["vip"] for s in SHARDS])
def test_a_row_written_on_either_node_reaches_the_other(shard):
    first, second = shard["nodes"]
    sql(first, "CREATE DATABASE IF NOT EXISTS smoke")
    sql(first, "CREATE TABLE IF NOT EXISTS smoke.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, token CHAR(32), "
               "written_on VARCHAR(64))")
    assert wait_for(lambda: sql(second, "SELECT COUNT(*) FROM information_schema.tables "
                                        "WHERE table_schema='smoke' AND table_name='t'") == [["1"]], 10)
    for source, target in ((first, second), (second, first)):
        token = uuid.uuid4().hex
        sql(source, "INSERT INTO smoke.t (token, written_on) VALUES ('%s', '%s')" % (token, source))
        seen = wait_for(lambda: sql(target, "SELECT written_on FROM smoke.t WHERE token = '%s'" % token), 10)
        assert seen == [[source]], "row written on %s never reached %s" % (source, target)


@pytest.mark.parametrize("shard", SHARDS, ids=[s["vip"] for s in SHARDS])
def test_vip_answers_on_one_node_of_its_pair(shard):
    holder = vip_holder(shard)
    assert holder in shard["nodes"]
    holding = [n for n in shard["nodes"] if vip_of(shard) in host(n).check_output("ip -o -4 addr show")]
    assert holding == [holder]


@pytest.mark.parametrize("shard", SHARDS, ids=[s["vip"] for s in SHARDS])
def test_vip_fails_over_when_mariadbd_is_killed(shard):
    fail_over(shard)


# ---------------------------------------------------------------------------
# Fenced pairs: only the VIP holder takes client writes.
# ---------------------------------------------------------------------------

APP_USER = "smoke_app"
APP_PASSWORD = "smoke-app-Secret-1"


def _app_write(name):
    """INSERT as an application-like account (no READ_ONLY ADMIN) on node 'name',
    over the socket; returns the error text, or '' when the row was written."""
    out = host(name).run(
        "mariadb --user=%s --password=%s --batch -e %s"
        % (APP_USER, APP_PASSWORD, _q("INSERT INTO smoke.t (token, written_on) VALUES (REPLACE(UUID(), '-', ''), @@hostname)")))
    return "" if out.rc == 0 else out.stderr.strip()


def _q(text):
    return "'" + text.replace("'", "'\\''") + "'"


@pytest.fixture(name="app_account", scope="module")
def fixture_app_account():
    for name in HOSTS:
        sql(name, "SET sql_log_bin = 0; CREATE USER IF NOT EXISTS %s@localhost IDENTIFIED BY '%s'; "
                  "GRANT SELECT, INSERT ON smoke.* TO %s@localhost" % (APP_USER, APP_PASSWORD, APP_USER))
    yield APP_USER


@pytest.mark.parametrize("shard", SHARDS, ids=[s["vip"] for s in SHARDS])
def test_only_the_vip_holder_takes_client_writes(shard, app_account):
    holder = vip_holder(shard)
    other = [n for n in shard["nodes"] if n != holder][0]
    assert sql(holder, "SELECT @@read_only") == [["0"]]
    assert sql(other, "SELECT @@read_only") == [["1"]]
    assert _app_write(holder) == ""
    assert "read-only" in _app_write(other), "%s (no VIP) took a client write" % other
    # Replication and the admin account are not fenced.
    token = uuid.uuid4().hex
    sql(other, "INSERT INTO smoke.t (token, written_on) VALUES ('%s', 'admin')" % token)
    assert wait_for(lambda: sql(holder, "SELECT written_on FROM smoke.t WHERE token = '%s'" % token), 10) == [["admin"]]


@pytest.mark.parametrize("shard", SHARDS[:1], ids=[s["vip"] for s in SHARDS[:1]])
def test_the_health_check_fails_when_the_server_refuses_its_account(shard):
    holder = vip_holder(shard)
    other = [n for n in shard["nodes"] if n != holder][0]
    node = host(other)
    check = "setpriv --reuid=keepalived_script --regid=nogroup --clear-groups " \
            "/usr/local/libexec/smooth-mariadb/keepalived-check-mariadb"
    assert node.run(check).rc == 0
    sql(other, "SET sql_log_bin = 0; RENAME USER keepalived_script@localhost TO keepalived_gone@localhost")
    try:
        # mariadbd answers ("Access denied"), but the check fails, and keepalived
        # takes the node out (FAULT) within fall x interval.
        assert node.run(check).rc != 0
        state = "/run/keepalived-smooth/%s.state" % _instance_of(other)
        assert wait_for(lambda: node.check_output("cat %s" % state).startswith("FAULT"), 10), \
            node.check_output("cat %s" % state)
    finally:
        sql(other, "SET sql_log_bin = 0; RENAME USER keepalived_gone@localhost TO keepalived_script@localhost")
    assert wait_for(lambda: node.check_output("cat %s" % state).startswith("BACKUP"), 15)
    assert vip_holder(shard) == holder


def _instance_of(name):
    return host(name).check_output("sed -n 's/^vrrp_instance \\([^ ]*\\) {/\\1/p' /etc/keepalived/keepalived.conf")


@pytest.mark.parametrize("shard", SHARDS[1:], ids=[s["vip"] for s in SHARDS[1:]])
def test_after_a_failover_the_new_holder_takes_writes_and_the_restarted_node_is_read_only(shard, app_account):
    old = vip_holder(shard)
    fail_over(shard)
    new = vip_holder(shard)
    assert new != old
    assert sql(new, "SELECT @@read_only") == [["0"]]
    assert _app_write(new) == ""
    # systemd restarted mariadbd on the old holder: it came back read-only.
    assert sql(old, "SELECT @@read_only") == [["1"]]
    assert "read-only" in _app_write(old)


def _identity_and_configs(name):
    node = host(name)
    ident = sql(name, "SELECT @@server_id, @@gtid_domain_id, @@GLOBAL.auto_increment_offset")[0]
    sums = node.check_output("md5sum /etc/keepalived/keepalived.conf /etc/mysql/mariadb.conf.d/60-smooth-mariadb.cnf")
    links = [(c["Connection_name"], c["Master_Host"]) for c in replication_status(name)]
    return ident, sums, links


class _Writer(threading.Thread):
    """Writes one row every 50 ms through the VIP; remembers the acknowledged ones."""

    def __init__(self, shard, limit=1200):
        super().__init__(daemon=True)
        self.shard, self.limit = shard, limit
        self.acked, self.failed = [], 0
        self.stop = threading.Event()

    def run(self):
        conn = None
        for _attempt in range(self.limit):  # bounded: at most limit x 50 ms
            if self.stop.is_set():
                break
            token = uuid.uuid4().hex
            try:
                conn = conn or vip_connect(self.shard)
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO smoke.t (token, written_on) VALUES (%s, 'identity-load')", (token,))
                self.acked.append(token)
            except pymysql.MySQLError:
                self.failed += 1
                conn = None
            time.sleep(0.05)
        if conn:
            conn.close()


def test_site_yml_refuses_to_swap_the_identities_of_a_pair_holding_data_under_load():
    shard = SHARDS[0]
    first, second = shard["nodes"]
    sql(first, "CREATE DATABASE IF NOT EXISTS smoke")
    sql(first, "CREATE TABLE IF NOT EXISTS smoke.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, token CHAR(32), "
               "written_on VARCHAR(64))")
    before = {name: _identity_and_configs(name) for name in shard["nodes"]}
    swapped = [dict(s, nodes=list(reversed(s["nodes"]))) if s is shard else s for s in SHARDS]
    writer = _Writer(shard)
    writer.start()
    try:
        rc, out = run_playbook("site.yml", "-e", json.dumps({"smooth_shards": swapped}))
    finally:
        writer.stop.set()
        writer.join(90)
    assert rc != 0, out
    print(out[out.find("would change the identity") - 30:][:1500])
    ids = {name: before[name][0] for name in shard["nodes"]}
    print("FIGURE identity swap refused: %d rows acknowledged during the run, %d writes failed"
          % (len(writer.acked), writer.failed))
    assert "playbooks/site.yml would change the identity of nodes that hold data" in out, out
    assert "%s: server_id is %s on the server, the inventory plans %s" % (first, ids[first][0], ids[second][0]) in out, out
    assert "%s: {server_id: %s, gtid_domain_id: %s, auto_increment_offset: %s}" % (
        first, ids[first][0], ids[first][1], ids[first][2]) in out, out
    assert "Nothing was changed." in out
    assert "PLAY [Deploy MariaDB" not in out, "site.yml went past the plan"
    # Nothing changed on either node: identities, configuration files, replication links.
    assert {name: _identity_and_configs(name) for name in shard["nodes"]} == before
    # No acknowledged row is missing on either node.
    assert writer.acked, "the writer got no row acknowledged"
    wanted = set(writer.acked)
    for name in shard["nodes"]:
        def complete(name=name):
            rows = sql(name, "SELECT token FROM smoke.t WHERE written_on = 'identity-load'")
            return wanted <= {row[0] for row in rows}
        assert wait_for(complete, 20), "%s lacks acknowledged rows" % name


@pytest.mark.parametrize("extra, words", [
    ({"smooth_shards": [dict(SHARDS[0], vip="10.99.0.200/24")] + SHARDS[1:]},
     ["the VIP 10.99.0.200 (smooth_shards[0].vip) is not in the network", "Choose a free address in"]),
    ({"smooth_admin_hosts": ["10.%"]},
     ["smooth_admin_hosts contains '10.%': MariaDB reads '%' and '_' in an account's host as wildcards"]),
    ({"smooth_replication_password": "r" * 97},
     ["smooth_replication_password has 97 bytes, but MariaDB keeps at most 96"]),
    ({"smooth_replication_connect_retry": 0},
     ["smooth_replication_connect_retry must be 1 second or more"]),
], ids=["vip-outside-subnet", "admin-host-wildcard", "replication-password-too-long", "zero-retry"])
def test_site_yml_refuses_bad_input_before_any_host_changes(extra, words):
    before = {name: _identity_and_configs(name) for name in HOSTS}
    rc, out = run_playbook("site.yml", "-e", json.dumps(extra))
    assert rc != 0, out
    for word in words:
        assert word in out, out
    assert "Nothing was changed." in out
    assert "PLAY [Deploy MariaDB" not in out, "site.yml went past the plan"
    assert {name: _identity_and_configs(name) for name in HOSTS} == before


LOCK = "/var/lib/smooth-mariadb/run.lock"


def _write_lock(name, **owner):
    record = dict({"run_id": "x", "playbook": "expand_2n.yml", "controller": "ops-elsewhere", "user": "dba",
                   "pid": 999999, "pid_start": 1, "started_at": "2026-12-03T01:00:00Z"}, **owner)
    host(name).check_output("mkdir -p /var/lib/smooth-mariadb && printf '%%s\\n' %s > %s" % (_q(json.dumps(record)), LOCK))


def _locks():
    return {name: host(name).file(LOCK).exists for name in HOSTS}


def _pid_start(pid):
    with open("/proc/%d/stat" % pid) as handle:
        return int(handle.read().rsplit(")", 1)[-1].split()[19])


def test_a_lock_of_another_controller_stops_site_yml_before_any_host_changes():
    _write_lock(HOSTS[1], run_id="foreign-run")
    try:
        before = {name: _identity_and_configs(name) for name in HOSTS}
        rc, out = run_playbook("site.yml")
        assert rc != 0, out
        assert ("run foreign-run of expand_2n.yml, started 2026-12-03T01:00:00Z by dba on ops-elsewhere "
                "(ansible-playbook pid 999999) holds the lock on %s" % HOSTS[1]) in out, out
        assert "If that run is no longer active, remove %s on these hosts" % LOCK in out
        assert "PLAY [Deploy MariaDB" not in out
        assert {name: _identity_and_configs(name) for name in HOSTS} == before
        # The run gave back the locks it had taken on the other nodes.
        assert _locks() == {name: name == HOSTS[1] for name in HOSTS}
    finally:
        host(HOSTS[1]).check_output("rm -f %s" % LOCK)


def test_a_live_run_of_this_controller_stops_site_yml():
    me = os.getpid()
    _write_lock(HOSTS[0], run_id="live-run", controller=socket.gethostname(), pid=me, pid_start=_pid_start(me))
    try:
        rc, out = run_playbook("site.yml")
        assert rc != 0, out
        assert "holds the lock on %s, and it is still running on this controller" % HOSTS[0] in out, out
    finally:
        host(HOSTS[0]).check_output("rm -f %s" % LOCK)


def test_the_lock_of_a_dead_run_of_this_controller_is_taken_over_and_given_back():
    dead = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    for name in HOSTS[:2]:
        _write_lock(name, run_id="dead-run", controller=socket.gethostname(), pid=pid, pid_start=1)
    rc, out = run_playbook("site.yml")
    assert rc == 0, out
    assert _locks() == {name: False for name in HOSTS}, "the run did not give its lock back"
