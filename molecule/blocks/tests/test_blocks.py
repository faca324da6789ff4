"""Checks after the building blocks ran on real hosts: seed, replicate, barrier, verify, refused purge."""

import os
import sys

sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "molecule", "common"))
from fleet import replication_status, sql  # noqa: E402  pylint: disable=wrong-import-position

SOURCE, PARTNER, NEW = "mol-blocks-1", "mol-blocks-2", "mol-blocks-3"
ROWS = "SELECT COUNT(*), CAST(SUM(account_no) AS CHAR), CAST(SUM(CRC32(note)) AS CHAR) FROM shop.orders"


def test_new_node_holds_the_same_rows_as_its_source():
    source = sql(SOURCE, ROWS)
    assert source[0][0] == "20000"
    assert sql(NEW, ROWS) == source


def test_new_node_replicates_from_its_source():
    status = replication_status(NEW)
    assert [c["Connection_name"] for c in status] == [SOURCE]
    assert status[0]["Slave_IO_Running"] == "Yes", status[0]["Last_IO_Error"]
    assert status[0]["Slave_SQL_Running"] == "Yes", status[0]["Last_SQL_Error"]
    assert status[0]["Using_Gtid"] == "Slave_Pos"


def test_seed_is_recorded_and_the_restore_was_not_binlogged():
    record = sql(NEW, "SELECT state, method, source_server_id, rows_copied FROM smooth_mariadb.seed")
    assert record == [["seeded", "dump", "1", "20000"]]
    # Domain 101 is the new node's own: a binlogged restore would have written there.
    own = sql(NEW, "SELECT @@gtid_domain_id, @@gtid_binlog_pos")[0]
    assert own[0] == "101"
    assert not any(gtid.startswith("101-") for gtid in own[1].split(",") if gtid)


def test_the_refused_purge_deleted_nothing_and_the_pair_still_replicates():
    assert sql(NEW, "SELECT COUNT(*) FROM shop.orders")[0][0] == "20000"
    status = replication_status(SOURCE)
    assert [c["Connection_name"] for c in status] == [PARTNER]
    assert status[0]["Slave_IO_Running"] == "Yes" and status[0]["Slave_SQL_Running"] == "Yes"
