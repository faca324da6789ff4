"""Checks after expand_2n.yml ran under load: nothing acknowledged is lost or
misplaced (from the load generator's ledger), both new pairs replicate both
ways, no node holds rows of another shard, both VIPs fail over."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "molecule", "common"))
from fleet import (  # noqa: E402  pylint: disable=wrong-import-position
    RUNNER, VARS, copy_window, fail_over, host, ledger_check, print_load_figures, print_slowest_writes, replication_status, run_playbook,
    shards_after_expansion, sql, stop_load,
)

SHARDS_AFTER = shards_after_expansion()
NODES = [(index, node) for index, shard in enumerate(SHARDS_AFTER) for node in shard["nodes"]]


@pytest.fixture(scope="module")
def load():
    return stop_load()


def test_the_load_ran_through_the_switch_of_maps(load):
    print_load_figures(load)
    print_slowest_writes()
    assert load["acked_inserts"] >= 100
    # Writes were acknowledged under the old map (version 1, one shard) and
    # under the new one (version 2, two shards).
    assert set(load["versions"]) >= {"1", "2"}, load["versions"]


def test_no_write_had_one_copy_for_longer_than_replication_takes(load):
    # The seed comes before anything changes for the application, and the split makes each new pair
    # dual-master with both sides current: every write is on two nodes within the replication lag.
    # (With the seed after the split, the window was the whole seed: the new node's install and copy.)
    # The converge kills a VIP holder's mariadbd in the split and in the cleanup (expand_4: in the seed and the
    # route): until systemd has restarted it, the node that took the VIP holds the only current copy of its
    # writes, so the window includes that restart.
    window = copy_window()
    print("\nFIGURE single-copy window: longest %.2f s (node %s; %d readings of every node)"
          % (window["longest_seconds"], window["longest_node"], window["readings"]))
    for name, record in sorted(window.get("unanswered", {}).items()):
        print("FIGURE copy window monitor: %s did not answer for %.1f s at most (%.1f s to %.1f s; last error: %s)"
              % (name, record["seconds"], record["from"], record["to"], record["last_error"] or "-"))
    assert window["readings"] >= 100, window["readings"]
    # On failure: which nodes answered at the start and at the end of the longest window.
    during = [entry for entry in window["timeline"] if window["longest_node"] in entry["windows"]]
    assert window["longest_seconds"] < 15, (window["per_node"], window.get("unanswered"), during[:1] + during[-1:])


def test_every_acknowledged_write_is_in_its_shard_once(load):
    rc, report = ledger_check(SHARDS_AFTER)
    assert report is not None, "ledger_check.py wrote no report (rc %s)" % rc
    print("\nFIGURE ledger: %d acked inserts checked, %d rows read; missing %d, duplicated %d, misplaced %d, "
          "wrong amount %d, foreign rows %d" % (report["acked_inserts"], report["checked_rows"], report["missing"],
                                                report["duplicated"], report["misplaced"], report["wrong_amount"],
                                                report["foreign_rows"]))
    assert rc == 0 and report["ok"] is True
    assert report["acked_inserts"] == load["acked_inserts"]


@pytest.mark.parametrize("index, name", NODES, ids=[n for _i, n in NODES])
def test_node_holds_only_its_shards_rows(index, name):
    rows = sql(name, "SELECT COUNT(*), COALESCE(SUM(account_no %% %d <> %d), -1) FROM smooth_lab.t_trade_order"
               % (len(SHARDS_AFTER), index))
    assert int(rows[0][0]) > 0 and rows[0][1] == "0", rows


@pytest.mark.parametrize("index, name", NODES, ids=[n for _i, n in NODES])
def test_node_replicates_from_its_new_partner_only(index, name):
    partner = [n for n in SHARDS_AFTER[index]["nodes"] if n != name][0]
    status = replication_status(name)
    assert [c["Connection_name"] for c in status] == [partner]
    assert status[0]["Slave_IO_Running"] == "Yes", status[0]["Last_IO_Error"]
    assert status[0]["Slave_SQL_Running"] == "Yes", status[0]["Last_SQL_Error"]


@pytest.mark.parametrize("index, name", NODES, ids=[n for _i, n in NODES])
def test_only_the_new_partner_may_replicate_from_a_node(index, name):
    partner = [n for n in SHARDS_AFTER[index]["nodes"] if n != name][0]
    hosts = sql(name, "SELECT host FROM mysql.user WHERE user = 'smooth_repl' ORDER BY host")
    assert hosts == [[RUNNER.get_variables(partner)["ansible_host"]]]


NEW_NODES = sorted(RUNNER.get_hosts("smooth_mariadb_new"))
# expand_2n sets smooth_seed_method: mariabackup; expand_4 leaves auto, which picks the dump for its small data.
SEED_METHOD = {"auto": "dump"}.get(VARS.get("smooth_seed_method", "auto"), VARS.get("smooth_seed_method"))


@pytest.mark.parametrize("name", NEW_NODES)
def test_the_new_node_was_seeded_by_the_expected_method_and_no_seed_key_is_left(name):
    record = sql(name, "SELECT method, state FROM smooth_mariadb.seed")
    assert record == [[SEED_METHOD, "seeded"]], record
    print("\nFIGURE seed %s: %s" % (name, sql(name, "SELECT method, bytes_streamed, seconds FROM smooth_mariadb.seed")))
    # The ssh key of a mariabackup stream exists for the copy only.
    assert not host(name).file("/var/lib/smooth-mariadb/seed_ed25519").exists
    assert not host(name).file("/var/lib/smooth-mariadb/seed_ed25519.known_hosts").exists
    for current in RUNNER.get_hosts("smooth_mariadb"):
        keys = host(current).file("/root/.ssh/authorized_keys2")
        assert not keys.exists or "smooth-mariadb-seed-" not in keys.content_string, (current, keys.content_string)


@pytest.mark.parametrize("index, name", NODES, ids=[n for _i, n in NODES])
def test_the_admin_account_logs_in_only_from_localhost_and_the_listed_hosts(index, name):
    # The logins from the other nodes, which the expansion needed, were removed in verify.
    allowed = {"localhost"} | set(RUNNER.get_variables(name).get("smooth_admin_hosts", []))
    hosts = {row[0] for row in sql(name, "SELECT host FROM mysql.user WHERE user = 'smooth_admin'")}
    assert "localhost" in hosts and hosts <= allowed, hosts


@pytest.mark.parametrize("index, name", NODES, ids=[n for _i, n in NODES])
def test_the_verified_expansion_is_marked_on_every_node(index, name):
    version = int(RUNNER.get_variables(name)["smooth_shard_map_version"]) + 1
    mark = host(name).file("/var/lib/smooth-mariadb/expansion-%d.done" % version)
    assert mark.is_file, mark.path
    assert "(modulus %d) verified" % len(SHARDS_AFTER) in mark.content_string, mark.content_string


def test_a_later_run_finds_the_expansion_complete(load):
    # The plan of any later run (here the plan and the preflight alone) reads the marks and the links.
    rc, out = run_playbook("expand_2n.yml", "--tags", "preflight")
    assert rc == 0, out[-3000:]
    words = " ".join(out.split())  # the YAML callback folds long messages
    assert "Complete: the expansion to shard map version" in words and "every pair still replicates" in words, out[-3000:]


def test_rollback_is_refused_after_the_cleanup(load):
    rc, out = run_playbook("rollback_2n.yml")
    assert rc != 0
    assert "shard(s) has begun on" in out and "rows the other half owns" in out, out[-3000:]
    assert "Nothing was changed." in out
    # It did not touch replication: each node still replicates from its new partner only.
    for index, name in NODES:
        partner = [n for n in SHARDS_AFTER[index]["nodes"] if n != name][0]
        assert [c["Connection_name"] for c in replication_status(name)] == [partner]


# Last: it kills mariadbd on the VIP holders.
@pytest.mark.parametrize("shard", SHARDS_AFTER, ids=[s["vip"] for s in SHARDS_AFTER])
def test_vip_fails_over_when_mariadbd_is_killed(shard, load):
    fail_over(shard)
