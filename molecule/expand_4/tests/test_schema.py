"""expand_4 only: a parent and a child table with a foreign key (RESTRICT, carrying the shard key) listed
parent first, and an allowed AFTER DELETE trigger on the parent, went through the expansion."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "molecule", "common"))
from fleet import shards_after_expansion, sql  # noqa: E402  pylint: disable=wrong-import-position

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
