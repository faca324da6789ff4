"""Checks after expand_2n.yml (up to ha) and rollback_2n.yml ran under load:
every acknowledged write is on both nodes of the old pair, the pair
replicates both ways again, the new nodes and the new VIP are out, the
application runs the rolled-back map, and a new expansion refuses the new
nodes until they are emptied."""

import json
import os
import sys
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "molecule", "common"))
from fleet import (  # noqa: E402  pylint: disable=wrong-import-position
    RUNNER, SHARDS, VARS, fail_over, host, ledger_check, print_load_figures, replication_status, run_playbook,
    stop_load, vip_holder,
)

OLD = SHARDS[0]["nodes"]
NEW = [VARS["smooth_expansion_partners"][name] for name in OLD]
NEW_VIP = VARS["smooth_expansion_vip_pool"][0].split("/")[0]


@pytest.fixture(scope="module")
def load():
    return stop_load()


def test_the_load_ran_through_both_switches(load):
    print_load_figures(load)
    assert load["acked_inserts"] >= 100
    # Old map (1), expanded map (2), rolled-back map (3).
    assert set(load["versions"]) >= {"1", "2", "3"}, load["versions"]


def test_the_application_runs_the_rolled_back_map():
    app = RUNNER.get_variables("mol-rb-5")["ansible_host"]
    with urllib.request.urlopen("http://%s:8080/version" % app, timeout=5) as answer:
        version = json.load(answer)
    assert (version["version"], version["modulus"]) == (3, 1)


def test_every_acknowledged_write_is_on_both_nodes_of_the_old_pair(load):
    rc, report = ledger_check(SHARDS, name="rollback")
    assert report is not None, "ledger_check.py wrote no report (rc %s)" % rc
    print("\nFIGURE ledger after rollback: %d acked inserts, %d rows read; missing %d, duplicated %d, misplaced %d, "
          "wrong amount %d" % (report["acked_inserts"], report["checked_rows"], report["missing"],
                               report["duplicated"], report["misplaced"], report["wrong_amount"]))
    assert rc == 0 and report["ok"] is True
    assert report["acked_inserts"] == load["acked_inserts"]


@pytest.mark.parametrize("name", OLD)
def test_the_old_pair_replicates_both_ways_again(name):
    partner = [n for n in OLD if n != name][0]
    status = replication_status(name)
    assert [c["Connection_name"] for c in status] == [partner]
    assert status[0]["Slave_IO_Running"] == "Yes", status[0]["Last_IO_Error"]
    assert status[0]["Slave_SQL_Running"] == "Yes", status[0]["Last_SQL_Error"]


@pytest.mark.parametrize("name", OLD)
def test_only_the_old_partner_may_replicate_from_a_node_again(name):
    # The seed let the new partner replicate from this node; the rollback takes that account away again.
    partner = [n for n in OLD if n != name][0]
    out = host(name).check_output("mariadb --batch --skip-column-names -e \"SELECT host FROM mysql.user WHERE user = 'smooth_repl'\"")
    assert out.split() == [RUNNER.get_variables(partner)["ansible_host"]], out


@pytest.mark.parametrize("name", OLD)
def test_the_admin_account_logs_in_only_from_localhost_and_the_listed_hosts(name):
    # The logins from the other nodes, which the expansion and the rollback needed, were removed at its end.
    allowed = {"localhost"} | set(VARS.get("smooth_admin_hosts", []))
    out = host(name).check_output("mariadb --batch --skip-column-names -e \"SELECT host FROM mysql.user WHERE user = 'smooth_admin'\"")
    hosts = set(out.split())
    assert "localhost" in hosts and hosts <= allowed, hosts


@pytest.mark.parametrize("name", NEW)
def test_the_new_nodes_are_out(name):
    assert replication_status(name) == []
    assert not host(name).service("keepalived").is_running
    for node in OLD + NEW:
        assert " %s/" % NEW_VIP not in host(node).check_output("ip -o -4 addr show")


def test_a_new_expansion_refuses_the_unemptied_new_nodes():
    rc, out = run_playbook("expand_2n.yml", "--tags", "preflight", "-e", "smooth_shard_map_version=3")
    assert rc != 0
    assert "already holds the databases smooth_lab and no seed was recorded there" in out, out[-3000:]


def test_the_old_vip_fails_over(load):
    assert vip_holder(SHARDS[0]) in OLD
    fail_over(SHARDS[0])


def test_a_cleanup_mark_refuses_a_rollback_planned_with_another_version():
    """A cleanup mark counts by its modulus, not by the planned version: with
    smooth_shard_map_version moved on (3, so the plan is to version 4) and the
    old smooth_shards kept, the mark of the expansion to version 2 (modulus 2)
    still refuses the rollback, while a mark of modulus 1 (an expansion that
    finished, the inventory listing its shards) does not count."""
    node, state_dir = OLD[0], "/var/lib/smooth-mariadb"
    marks = ("expansion-0.cleanup", "expansion-2.cleanup")
    ssh = host(node)
    try:
        ssh.check_output("mkdir -p %s && printf 'cleanup of the expansion to shard map version 0 (modulus 1) began\\n' > %s/%s"
                         % (state_dir, state_dir, marks[0]))
        rc, out = run_playbook("expand_2n_plan.yml", "-e", "smooth_shard_map_version=3")
        text = " ".join(out.split())
        assert rc == 0, out[-3000:]
        assert "cleanup of an expansion beyond 1 shard(s) not begun (expansion-0.cleanup (modulus 1, an earlier " \
               "expansion, ignored))" in text, out[-3000:]

        ssh.check_output("printf 'cleanup of the expansion to shard map version 2 (modulus 2) began\\n' > %s/%s"
                         % (state_dir, marks[1]))
        rc, out = run_playbook("rollback_2n.yml", "--check", "-e", "smooth_shard_map_version=3")
        text = " ".join(out.split())
        assert rc != 0, out[-3000:]
        assert "has begun on %s (expansion-0.cleanup (modulus 1, an earlier expansion, ignored), expansion-2.cleanup " \
               "(modulus 2, begun))" % node in text, out[-3000:]
    finally:
        ssh.check_output("rm -f %s" % " ".join("%s/%s" % (state_dir, name) for name in marks))
