# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/peer_logins: which logins of the admin account a run makes, sets again and removes."""

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import render_statement
from ansible_collections.smooth.mariadb.plugins.module_utils.peer_logins import (
    login_statements,
    plan_logins,
    privilege_problems,
)

NODES = ['10.0.0.11', '10.0.0.12', '10.0.0.13']
KEEP = ['localhost', '10.0.0.1']


def plan(existing, state='present', made=(), check=False, create_in_check=False, hosts=None):
    return plan_logins(existing, NODES if hosts is None else hosts, KEEP, list(made), state, check, create_in_check)


def test_a_run_makes_the_missing_logins_without_a_change():
    result = plan(['localhost', '10.0.0.1'])
    assert result == dict(create=NODES, reset=[], remove=[], left=[], changed=False)


def test_logins_this_run_made_earlier_are_left_alone():
    # The logins play made them; the seed phase asks again on the same node.
    assert plan(['localhost'] + NODES, made=NODES) == dict(create=[], reset=[], remove=[], left=[], changed=False)


def test_a_login_a_stopped_run_left_is_set_again_and_that_is_a_change():
    result = plan(['localhost', '10.0.0.12'])
    assert result['create'] == ['10.0.0.11', '10.0.0.13']
    assert result['reset'] == result['left'] == ['10.0.0.12'] and result['changed']


def test_check_mode_reports_a_left_login_and_makes_only_what_it_is_told():
    result = plan(['localhost', '10.0.0.12'], check=True)
    assert result == dict(create=[], reset=[], remove=[], left=['10.0.0.12'], changed=True)
    assert plan(['localhost'], check=True, create_in_check=True)['create'] == NODES


def test_the_operators_logins_are_never_touched():
    for state in ('present', 'absent'):
        result = plan(['localhost', '10.0.0.1'] + NODES, state=state, hosts=NODES + ['10.0.0.1', 'localhost'])
        assert not {'localhost', '10.0.0.1'} & set(result['create'] + result['reset'] + result['remove'])


def test_the_end_removes_what_the_run_made_without_a_change_and_a_left_login_with_one():
    result = plan(['localhost'] + NODES, state='absent', made=['10.0.0.11', '10.0.0.13'])
    assert result['remove'] == NODES and result['left'] == ['10.0.0.12'] and result['changed']
    assert not plan(['localhost'] + NODES, state='absent', made=NODES)['changed']


def test_the_end_removes_only_logins_that_exist():
    assert plan(['localhost', '10.0.0.11'], state='absent', made=['10.0.0.11'])['remove'] == ['10.0.0.11']


def test_the_end_in_check_mode_removes_only_what_the_dry_run_made():
    result = plan(['localhost'] + NODES, state='absent', made=['10.0.0.11'], check=True)
    assert result['remove'] == ['10.0.0.11'] and not result['changed']


def test_a_login_made_from_a_host_no_longer_listed_is_removed_at_the_end():
    assert plan(['localhost', '10.0.0.99'], state='absent', made=['10.0.0.99'])['remove'] == ['10.0.0.99']


@pytest.mark.parametrize('privileges, bad', [
    (['SELECT', 'show  view', 'Binlog Monitor'], False),
    ([], True),
    (['ALL'], True),
    (['SELECT, INSERT'], True),
    (['SUPER'], True),
    (['SELECT ON *.* TO x; DROP USER root'], True),
])
def test_only_read_only_global_privileges_are_granted(privileges, bad):
    assert bool(privilege_problems(privileges)) is bad


def test_statements_bind_names_and_mask_the_password():
    statements = login_statements("o'brien", 'Pw-1234567890', '10.0.0.11', ['select', 'PROCESS', 'SELECT'], 'create')
    shown = [render_statement(sql, params) for sql, params in statements]
    assert shown == ["CREATE USER 'o\\'brien'@'10.0.0.11' IDENTIFIED BY '********'",
                     "GRANT SELECT, PROCESS ON *.* TO 'o\\'brien'@'10.0.0.11'"]
    reset = [statement[0] for statement in login_statements('u', 'p', 'h', ['SELECT'], 'reset')]
    assert reset[0].startswith('ALTER USER') and reset[1].startswith('REVOKE ALL PRIVILEGES, GRANT OPTION')
    assert login_statements('u', None, 'h', ['SELECT'], 'remove') == [('DROP USER %s@%s', ('u', 'h'))]
