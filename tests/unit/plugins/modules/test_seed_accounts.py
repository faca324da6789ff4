# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The seed module's option accounts against scripted fake servers: refusals before any change,
re-runs of a seeded target, check mode, the order of the statements, masking."""

from __future__ import annotations

import pytest

from ansible_collections.smooth.mariadb.plugins.modules import seed as mod

from .test_seed import SEEDED, FakeModule, FakeServer, run

HASH = '*2B602296A79E0A8784ACC5C88D92E46588CCA3C3'
OLD_HASH = '*D821809F681A40A6E379B50D0463EFAE20BDD122'


def state(host, password_hash=HASH, privileges='SELECT, INSERT, UPDATE'):
    account = '`app`@`%s`' % host
    return dict(create=["CREATE USER %s IDENTIFIED BY PASSWORD '%s'" % (account, password_hash)],
                grants=["GRANT USAGE ON *.* TO %s IDENTIFIED BY PASSWORD '%s'" % (account, password_hash),
                        'GRANT %s ON `smooth_lab`.* TO %s' % (privileges, account)])


APP = {('app', '10.214.0.15'): state('10.214.0.15'), ('app', '127.0.0.1'): state('127.0.0.1')}


class AccountsServer(FakeServer):
    """A FakeServer that also has accounts. ``becomes``: the accounts after the first account statement."""

    def __init__(self, server_id, accounts=None, becomes=None, current='admin@10.0.0.99', fail_on=None,
                 deny_mysql=False, **kwargs):
        super(AccountsServer, self).__init__(server_id, **kwargs)
        self.deny_mysql = deny_mysql
        self.accounts = dict(accounts or {})
        self.becomes = becomes
        self.current = current
        self.fail_on = fail_on
        self.session_log_bin = 1

    def answer(self, sql, params):
        if sql == 'SELECT CURRENT_USER() AS account':
            self.statements.append((sql, params))
            return [dict(account=self.current)]
        if sql.startswith('SELECT User AS user, Host AS host FROM mysql.user'):
            self.statements.append((sql, params))
            if self.deny_mysql:
                raise Exception(1142, "SELECT command denied to user 'smooth_admin'@'10.0.0.21' for table `mysql`.`user`")
            return [dict(user=user, host=host) for user, host in sorted(self.accounts) if user in params]
        if sql in ('SHOW CREATE USER %s@%s', 'SHOW GRANTS FOR %s@%s'):
            self.statements.append((sql, params))
            key = 'create' if sql.startswith('SHOW CREATE') else 'grants'
            return [{'result': line} for line in self.accounts[tuple(params)][key]]
        if sql == 'SELECT @@SESSION.sql_log_bin AS value':
            self.statements.append((sql, params))
            return [dict(value=self.session_log_bin)]
        if sql.startswith(('CREATE USER', 'ALTER USER', 'GRANT', 'REVOKE', 'SET DEFAULT ROLE')):
            self.statements.append((sql, params))
            if self.fail_on and sql.startswith(self.fail_on):
                raise Exception(1959, 'Invalid role specification for %s' % HASH)
            if self.becomes is not None:
                self.accounts.update(self.becomes)
            return None
        if sql == 'SET SESSION sql_log_bin = 0':
            self.session_log_bin = 0
        return super(AccountsServer, self).answer(sql, params)


def account_statements(server):
    return [sql for sql in server.executed() if not sql.startswith(('CREATE DATABASE', 'CREATE TABLE', 'REPLACE',
                                                                    'UPDATE', 'SET GLOBAL'))]


@pytest.mark.parametrize('names, message', [
    (['root'], "accounts: refusing to copy 'root' (a system account); nothing was changed"),
    (['app', 'admin'], "accounts: refusing to copy 'admin' (an account this module logs in with); nothing was changed"),
    (['smooth_admin'], "accounts: refusing to copy 'smooth_admin' (an account this module logs in with); nothing was "
                       "changed"),
    (['app', 'gone'], "accounts: the source 10.0.0.11:3306 has no account named 'gone'; nothing was changed"),
])
def test_refused_before_any_change(names, message):
    # smooth_admin: the user the source sees (CURRENT_USER()), not an option of the task.
    source = AccountsServer(11, accounts=APP, schemas=['shop'], current='smooth_admin@10.0.0.21')
    target = AccountsServer(21)
    with pytest.raises(mod.SeedFailed) as caught:
        run(FakeModule(accounts=names), source, target)
    assert caught.value.message == message
    assert target.executed() == []
    assert not [sql for sql, dummy in target.statements if 'GET_LOCK' in sql]


def test_seeded_before_still_converges_the_accounts():
    source = AccountsServer(11, accounts=APP)
    target = AccountsServer(21, hostname='db0c', record=SEEDED, schemas=['shop'], becomes=APP)
    module = FakeModule(accounts=['app'])
    result = run(module, source, target)
    assert result['changed'] is True and result['gtid_slave_pos'] == '1-11-5'
    assert result['accounts'] == [dict(user='app', host='10.214.0.15', action='created'),
                                  dict(user='app', host='127.0.0.1', action='created')]
    assert account_statements(target) == [
        'SET SESSION sql_log_bin = 0',
        'CREATE USER `app`@`10.214.0.15` IDENTIFIED BY PASSWORD %s', 'GRANT SELECT, INSERT, UPDATE ON `smooth_lab`.* TO %s@%s',
        'CREATE USER `app`@`127.0.0.1` IDENTIFIED BY PASSWORD %s', 'GRANT SELECT, INSERT, UPDATE ON `smooth_lab`.* TO %s@%s']
    assert result['queries'][1] == "CREATE USER `app`@`10.214.0.15` IDENTIFIED BY PASSWORD '********'"
    assert HASH not in repr(result)
    # Each changed account was read back from the target.
    assert target.statements[-2:] == [('SHOW CREATE USER %s@%s', ('app', '127.0.0.1')),
                                      ('SHOW GRANTS FOR %s@%s', ('app', '127.0.0.1'))]
    assert 'diff' not in result


def test_accounts_after_the_data_copy(monkeypatch):
    source = AccountsServer(11, accounts=APP, schemas=['shop'])
    target = AccountsServer(21, accounts={('app', '192.0.2.9'): state('192.0.2.9')}, becomes=APP)
    monkeypatch.setattr(mod, 'copy_with_dump', lambda *args: (10, '1-11-7', 'f', 4))
    module = FakeModule(accounts=['app'])
    result = run(module, source, target)
    executed = target.executed()
    done = executed.index([sql for sql in executed if sql.startswith('UPDATE `smooth_mariadb`.`seed`')][0])
    first_account = executed.index('CREATE USER `app`@`10.214.0.15` IDENTIFIED BY PASSWORD %s')
    assert done < first_account
    # sql_log_bin is 0 already (the seed set it): not set twice.
    assert executed.count('SET SESSION sql_log_bin = 0') == 1
    assert module.warnings == ['accounts: `app`@`192.0.2.9` exists on the target only; left as it is']
    assert [entry['action'] for entry in result['accounts']] == ['created', 'created']


def test_check_mode_changes_nothing_and_diffs_masked():
    source = AccountsServer(11, accounts=APP)
    target = AccountsServer(21, hostname='db0c', record=SEEDED, schemas=['shop'],
                            accounts={('app', '127.0.0.1'): state('127.0.0.1', OLD_HASH, 'SELECT')})
    result = run(FakeModule(check_mode=True, diff=True, accounts=['app']), source, target)
    assert result['changed'] is True
    assert result['accounts'] == [dict(user='app', host='10.214.0.15', action='created'),
                                  dict(user='app', host='127.0.0.1', action='updated')]
    assert target.executed() == [] and result['queries'] == []
    before, after = result['diff']['before']['accounts'], result['diff']['after']['accounts']
    assert list(before) == ['`app`@`127.0.0.1`']
    assert before['`app`@`127.0.0.1`'] == dict(
        create_user=["CREATE USER `app`@`127.0.0.1` IDENTIFIED BY PASSWORD '********'"],
        grants=['GRANT SELECT ON `smooth_lab`.* TO `app`@`127.0.0.1`', 'GRANT USAGE ON *.* TO `app`@`127.0.0.1`'])
    assert after['`app`@`127.0.0.1`']['grants'][0] == 'GRANT SELECT, INSERT, UPDATE ON `smooth_lab`.* TO `app`@`127.0.0.1`'
    assert HASH not in repr(result) and OLD_HASH not in repr(result)


def test_unchanged_reads_only():
    source = AccountsServer(11, accounts=APP)
    target = AccountsServer(21, hostname='db0c', record=SEEDED, schemas=['shop'], accounts=APP)
    result = run(FakeModule(accounts=['app']), source, target)
    assert result['changed'] is False and target.executed() == [] and result['queries'] == []
    assert [entry['action'] for entry in result['accounts']] == ['unchanged', 'unchanged']


def test_update_is_an_alter_and_a_precise_grant():
    source = AccountsServer(11, accounts={('app', '127.0.0.1'): state('127.0.0.1')})
    target = AccountsServer(21, hostname='db0c', record=SEEDED, schemas=['shop'],
                            accounts={('app', '127.0.0.1'): state('127.0.0.1', OLD_HASH, 'SELECT, DELETE')},
                            becomes={('app', '127.0.0.1'): state('127.0.0.1')})
    result = run(FakeModule(accounts=['app']), source, target)
    assert result['queries'] == [
        'SET SESSION sql_log_bin = 0',
        "ALTER USER `app`@`127.0.0.1` IDENTIFIED BY PASSWORD '********' REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0 "
        "MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 MAX_STATEMENT_TIME 0 ACCOUNT UNLOCK "
        "PASSWORD EXPIRE DEFAULT",
        "GRANT INSERT, UPDATE ON `smooth_lab`.* TO 'app'@'127.0.0.1'",
        "REVOKE DELETE ON `smooth_lab`.* FROM 'app'@'127.0.0.1'",
    ]
    assert result['accounts'] == [dict(user='app', host='127.0.0.1', action='updated')]


def test_still_different_after_the_statements_fails():
    source = AccountsServer(11, accounts=APP)
    target = AccountsServer(21, hostname='db0c', record=SEEDED, schemas=['shop'],
                            becomes={('app', '10.214.0.15'): state('10.214.0.15', OLD_HASH),
                                     ('app', '127.0.0.1'): state('127.0.0.1', OLD_HASH)})
    with pytest.raises(mod.SeedFailed) as caught:
        run(FakeModule(accounts=['app']), source, target)
    assert caught.value.message == (
        "accounts: `app`@`10.214.0.15` still differs from the source after it was created: SHOW CREATE USER is "
        "CREATE USER `app`@`10.214.0.15` IDENTIFIED BY PASSWORD '********' on the target, CREATE USER "
        "`app`@`10.214.0.15` IDENTIFIED BY PASSWORD '********' on the source")
    assert caught.value.extra['accounts'] == []


def test_failed_statement_names_the_account_and_what_was_done():
    source = AccountsServer(11, accounts=APP)
    target = AccountsServer(21, hostname='db0c', record=SEEDED, schemas=['shop'], becomes=APP, fail_on='GRANT',
                            accounts={('app', '10.214.0.15'): state('10.214.0.15')})
    with pytest.raises(mod.SeedFailed) as caught:
        run(FakeModule(accounts=['app']), source, target)
    assert caught.value.message == ("accounts: `app`@`127.0.0.1`: GRANT SELECT, INSERT, UPDATE ON `smooth_lab`.* TO "
                                    "'app'@'127.0.0.1' failed: (1959) Invalid role specification for %s" % HASH)
    assert caught.value.extra['accounts'] == [dict(user='app', host='10.214.0.15', action='unchanged')]


def test_a_hash_in_a_server_message_is_masked():
    source = AccountsServer(11, accounts=APP)
    target = AccountsServer(21, hostname='db0c', record=SEEDED, schemas=['shop'], fail_on='CREATE USER')
    with pytest.raises(mod.SeedFailed) as caught:
        run(FakeModule(accounts=['app']), source, target)
    assert caught.value.message == ("accounts: `app`@`10.214.0.15`: CREATE USER `app`@`10.214.0.15` IDENTIFIED BY "
                                    "PASSWORD '********' failed: (1959) Invalid role specification for ********")


def test_source_without_select_on_mysql_is_told_what_it_needs():
    source = AccountsServer(11, accounts=APP, deny_mysql=True)
    target = AccountsServer(21)
    with pytest.raises(mod.SeedFailed) as caught:
        run(FakeModule(accounts=['app']), source, target)
    assert caught.value.message == (
        "accounts: SELECT User AS user, Host AS host FROM mysql.user WHERE is_role = 'N' AND User IN ('app') ORDER BY "
        "User, Host failed on the source 10.0.0.11:3306: (1142) SELECT command denied to user "
        "'smooth_admin'@'10.0.0.21' for table `mysql`.`user`; the source login needs SELECT on the mysql schema "
        "(GRANT SELECT ON mysql.* ...) to list accounts and read SHOW CREATE USER and SHOW GRANTS of other users")
    assert target.executed() == []
