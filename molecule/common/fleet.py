"""Shared helpers of the molecule scenarios' testinfra checks.

SQL runs on the nodes through ssh (testinfra, as root over the socket) and on
the VIPs over TCP (PyMySQL, the admin account). Every wait is bounded in count
and time.
"""

import os
import time

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
