"""expand_4 only: a parent and a child table with a foreign key (RESTRICT, carrying the shard key) listed
parent first, and an allowed AFTER DELETE trigger on the parent, went through the expansion."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "molecule", "common"))
from fleet import EPHEMERAL, SHARDS, shards_after_expansion, sql  # noqa: E402  pylint: disable=wrong-import-position

SHARDS_AFTER = shards_after_expansion()
NODES = [(index, node) for index, shard in enumerate(SHARDS_AFTER) for node in shard["nodes"]]


@pytest.mark.parametrize("index, name", NODES, ids=[n for _i, n in NODES])
def test_parents_and_children_of_the_shard_are_kept_and_the_trigger_ran_per_deleted_parent(index, name):
    """prepare gave each old shard 60 parents (two children each), half of them of each new residue. The
    cleanup purged the children first (the parent is listed first and the foreign key is RESTRICT), and
    the allowed trigger wrote one audit row per parent deleted on the shard's old node, replicated to its
    new partner: 30 of them, all of the residue the shard gave away."""
    modulus = len(SHARDS_AFTER)
    rows = sql(name, "SELECT (SELECT COUNT(*) FROM acct.parent), (SELECT COUNT(*) FROM acct.parent WHERE account_no "
               "%% %d <> %d), (SELECT COUNT(*) FROM acct.child), (SELECT COUNT(*) FROM acct.child WHERE account_no "
               "%% %d <> %d), (SELECT COUNT(*) FROM acct.audit), (SELECT COUNT(*) FROM acct.audit WHERE account_no "
               "%% %d = %d)" % (modulus, index, modulus, index, modulus, index))
    assert rows == [["30", "0", "60", "0", "30", "0"]], rows


def _identities(name, table):
    """(primary key, shard key) of every row of a table on node 'name'."""
    return {(int(pk), int(key)) for pk, key in sql(name, "SELECT id, account_no FROM %s" % table)}


def test_every_row_of_the_baseline_is_once_in_its_owner_on_both_nodes():
    """prepare recorded (primary key, shard key) of every row of every sharded table before the expansion
    (not only the ledger's): each is now on both nodes of the shard that owns it and on no other node."""
    baseline = {}
    for shard in SHARDS:
        with open(os.path.join(EPHEMERAL, "baseline-%s.json" % shard["nodes"][0]), encoding="utf-8") as handle:
            for table, rows in json.load(handle).items():
                baseline.setdefault(table, set()).update((int(r["id"]), int(r["account_no"])) for r in rows)
    modulus = len(SHARDS_AFTER)
    problems = []
    for table, rows in sorted(baseline.items()):
        assert rows, "the baseline of %s is empty" % table
        held = {node: _identities(node, table) for _index, node in NODES}
        for index, node in NODES:
            own = {row for row in rows if row[1] % modulus == index}
            missing = own - held[node]
            foreign = {row for row in rows if row[1] % modulus != index} & held[node]
            if missing or foreign:
                problems.append("%s on %s: %d of its %d baseline rows missing (first %s), %d of other shards (first %s)"
                                % (table, node, len(missing), len(own), sorted(missing)[:3], len(foreign),
                                   sorted(foreign)[:3]))
        print("\nFIGURE baseline %s: %d rows, each checked on the %d nodes" % (table, len(rows), len(NODES)))
    assert not problems, problems


def test_the_forgotten_writers_rows_were_moved_to_their_owner():
    """converge: a writer still on the old map wrote three orders and an update of parent 5 (all residue 2)
    on mol-x4-1 after the split; the owner meanwhile used the first order's id for its order 'collides-1'.
    The cleanup refused until the operator moved them: now each is once, on both nodes of shard 2."""
    for index, node in NODES:
        orders = sql(node, "SELECT order_no, account_no, amount FROM smooth_lab.t_trade_order WHERE order_no "
                     "LIKE 'stray-%' OR order_no = 'collides-1' ORDER BY order_no")
        balance = sql(node, "SELECT balance FROM acct.parent WHERE id = 5")
        if index == 2:
            assert orders == [["collides-1", "900000014", "14.00"], ["stray-1", "900000002", "11.00"],
                              ["stray-2", "900000006", "12.00"], ["stray-3", "900000010", "13.00"]], (node, orders)
            assert balance == [["250"]], (node, balance)
        else:
            assert orders == [] and balance == [], (node, orders, balance)
