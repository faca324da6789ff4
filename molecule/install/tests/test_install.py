"""Checks of a shard whose packages the roles installed from the Debian archive."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "molecule", "common"))
from fleet import HOSTS, SHARDS, host, replication_status, sql, vip_holder  # noqa: E402  pylint: disable=wrong-import-position


@pytest.mark.parametrize("name", HOSTS)
@pytest.mark.parametrize("package", ["mariadb-server", "mariadb-backup", "python3-pymysql", "keepalived"])
def test_package_was_installed_by_the_role(name, package):
    # The base image has none of them: apt's history shows the role put them there.
    assert host(name).package(package).is_installed
    history = host(name).check_output("cat /var/log/apt/history.log")
    assert package in history


@pytest.mark.parametrize("name", HOSTS)
def test_services_run(name):
    assert host(name).service("mariadb").is_running
    assert host(name).service("keepalived").is_running
    assert host(name).run("systemctl is-enabled mariadb.socket").stdout.strip() == "masked"


@pytest.mark.parametrize("name", HOSTS)
def test_replicates_from_its_partner(name):
    status = replication_status(name)
    assert len(status) == 1
    assert status[0]["Slave_IO_Running"] == "Yes", status[0]["Last_IO_Error"]
    assert status[0]["Slave_SQL_Running"] == "Yes", status[0]["Last_SQL_Error"]


def test_vip_answers():
    assert vip_holder(SHARDS[0]) in SHARDS[0]["nodes"]


def test_version_is_debian_10_11():
    for name in HOSTS:
        assert sql(name, "SELECT @@version")[0][0].startswith("10.11.")
