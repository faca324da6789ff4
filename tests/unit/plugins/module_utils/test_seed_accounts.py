# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Option accounts of the seed module: names, reading the server's statements, masking, planning.

The statements are MariaDB 10.11's own SHOW CREATE USER / SHOW GRANTS output.
"""

from __future__ import annotations

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import Secret, render_statement
from ansible_collections.smooth.mariadb.plugins.module_utils.seed import SeedError
from ansible_collections.smooth.mariadb.plugins.module_utils.seed_accounts import (
    account_differences,
    alter_user_tokens,
    canonical_text,
    check_account_names,
    grant_statements,
    mask_account_statement,
    missing_account_names,
    parse_create_user,
    parse_grant,
    parse_grants,
    plan_account,
    sql_tokens,
    statement_template,
)


HASH = '*2B602296A79E0A8784ACC5C88D92E46588CCA3C3'
OTHER_HASH = '*D821809F681A40A6E379B50D0463EFAE20BDD122'
USER, HOST = 'app', '10.214.0.%'
ACCOUNT = '`app`@`10.214.0.%`'


def create(rest=" IDENTIFIED BY PASSWORD '%s'" % HASH):
    return 'CREATE USER %s%s' % (ACCOUNT, rest)


def usage(extra=" IDENTIFIED BY PASSWORD '%s'" % HASH):
    return 'GRANT USAGE ON *.* TO %s%s' % (ACCOUNT, extra)


def rendered(statements):
    return [render_statement(sql, params) for sql, params in statements]


# -- names ---------------------------------------------------------------------

class TestCheckAccountNames(object):
    def test_once_each_in_order(self):
        assert check_account_names(['b', 'a', 'b'], login_users=['admin']) == ['b', 'a']

    @pytest.mark.parametrize('name, reason', [
        ('', "'' (an empty name)"),
        ('  ', "'  ' (an empty name)"),
        ('app%', "'app%' (contains the wildcard %)"),
        ('%', "'%' (contains the wildcard %)"),
        ('root', "'root' (a system account)"),
        ('mariadb.sys', "'mariadb.sys' (a system account)"),
        ('mysql', "'mysql' (a system account)"),
        ('admin', "'admin' (an account this module logs in with)"),
    ])
    def test_refused(self, name, reason):
        with pytest.raises(SeedError) as caught:
            check_account_names(['app', name], login_users=['admin', None])
        assert str(caught.value) == 'accounts: refusing to copy %s; nothing was changed' % reason

    def test_every_refusal_named_at_once(self):
        with pytest.raises(SeedError, match=r"'root' \(a system account\), 'x%' \(contains the wildcard %\)"):
            check_account_names(['root', 'x%'])

    def test_case_matters(self):
        assert check_account_names(['Root', 'ADMIN'], login_users=['admin']) == ['Root', 'ADMIN']


def test_missing_account_names():
    assert missing_account_names(['app', 'gone', 'report'], [('app', 'h1'), ('app', 'h2'), ('report', '%')]) == \
        ['gone']


# -- tokens and masking ---------------------------------------------------------

class TestTokens(object):
    def test_kinds_and_values(self):
        tokens = sql_tokens("GRANT SELECT (`a``b`) ON \"lab\".* TO `u`@'h' IDENTIFIED BY PASSWORD 'it''s\\n'")
        assert [(token.kind, token.value) for token in tokens] == [
            ('word', 'GRANT'), ('word', 'SELECT'), ('punct', '('), ('ident', 'a`b'), ('punct', ')'), ('word', 'ON'),
            ('ident', 'lab'), ('punct', '.'), ('word', '*'), ('word', 'TO'), ('ident', 'u'), ('punct', '@'),
            ('string', 'h'), ('word', 'IDENTIFIED'), ('word', 'BY'), ('word', 'PASSWORD'), ('string', "it's\n")]

    def test_canonical_text_requotes_ansi_identifiers_and_keeps_spacing(self):
        assert canonical_text(sql_tokens('GRANT SELECT ("a") ON "lab"."t" TO "u"@"h" WITH MAX_STATEMENT_TIME 2.500000')) \
            == 'GRANT SELECT (`a`) ON `lab`.`t` TO `u`@`h` WITH MAX_STATEMENT_TIME 2.500000'

    def test_unterminated_quote_is_refused_without_the_text(self):
        with pytest.raises(SeedError) as caught:
            sql_tokens("CREATE USER `u`@`h` IDENTIFIED BY PASSWORD '*2B60")
        assert '2B60' not in str(caught.value) and 'unterminated quote at offset 43' in str(caught.value)


@pytest.mark.parametrize('statement, masked', [
    (create(), "CREATE USER %s IDENTIFIED BY PASSWORD '********'" % ACCOUNT),
    (create(" IDENTIFIED VIA mysql_native_password USING '%s' OR unix_socket REQUIRE SSL" % HASH),
     "CREATE USER %s IDENTIFIED VIA mysql_native_password USING '********' OR unix_socket REQUIRE SSL" % ACCOUNT),
    (create(" IDENTIFIED VIA ed25519 USING 'ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY'"),
     "CREATE USER %s IDENTIFIED VIA ed25519 USING '********'" % ACCOUNT),
    (create(" IDENTIFIED BY 'clear'"), "CREATE USER %s IDENTIFIED BY '********'" % ACCOUNT),
    (create(" REQUIRE ISSUER '/CN=ca' SUBJECT '/CN=a'"), create(" REQUIRE ISSUER '/CN=ca' SUBJECT '/CN=a'")),
    (usage(" IDENTIFIED BY PASSWORD '%s' WITH GRANT OPTION" % HASH),
     "GRANT USAGE ON *.* TO %s IDENTIFIED BY PASSWORD '********' WITH GRANT OPTION" % ACCOUNT),
    ("CREATE USER `u`@`h` IDENTIFIED BY PASSWORD '*2B",
     '(a statement that cannot be read; not shown, it may hold a password hash)'),
])
def test_mask_account_statement(statement, masked):
    assert mask_account_statement(statement) == masked


def test_statement_template_binds_the_hash_and_doubles_percent_signs():
    sql, params = statement_template(sql_tokens(create()))
    assert sql == 'CREATE USER `app`@`10.214.0.%%` IDENTIFIED BY PASSWORD %s'
    assert params == (Secret(HASH),)
    assert render_statement(sql, params) == "CREATE USER %s IDENTIFIED BY PASSWORD '********'" % ACCOUNT
    # What the driver receives: the server's text again.
    assert sql % ("'%s'" % params[0].value,) == create()


# -- SHOW CREATE USER -----------------------------------------------------------

class TestCreateUser(object):
    def test_rows_of_another_account_are_refused(self):
        with pytest.raises(SeedError, match='returned a statement for another account'):
            parse_create_user(['CREATE USER `app`@`other`'], USER, HOST)

    def test_second_row_must_be_alter(self):
        with pytest.raises(SeedError, match=r'row 2 does not start with ALTER USER'):
            parse_create_user([create(), create()], USER, HOST)

    def test_alter_states_every_clause(self):
        rows = parse_create_user([create()], USER, HOST)
        assert [canonical_text(tokens) for tokens in alter_user_tokens(rows)] == [
            "ALTER USER %s IDENTIFIED BY PASSWORD '%s' REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0 "
            "MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 MAX_STATEMENT_TIME 0 "
            "ACCOUNT UNLOCK PASSWORD EXPIRE DEFAULT" % (ACCOUNT, HASH)]

    def test_alter_keeps_the_sources_clauses(self):
        rows = parse_create_user([create(" IDENTIFIED VIA mysql_native_password USING '%s' OR unix_socket REQUIRE SSL "
                                         "WITH MAX_QUERIES_PER_HOUR 10 MAX_STATEMENT_TIME 2.500000 ACCOUNT LOCK "
                                         "PASSWORD EXPIRE INTERVAL 30 DAY" % HASH)], USER, HOST)
        assert [canonical_text(tokens) for tokens in alter_user_tokens(rows)] == [
            "ALTER USER %s IDENTIFIED VIA mysql_native_password USING '%s' OR unix_socket REQUIRE SSL "
            "WITH MAX_QUERIES_PER_HOUR 10 MAX_STATEMENT_TIME 2.500000 MAX_UPDATES_PER_HOUR 0 "
            "MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 ACCOUNT LOCK PASSWORD EXPIRE INTERVAL 30 DAY"
            % (ACCOUNT, HASH)]

    def test_no_password_is_stated_as_none(self):
        rows = parse_create_user(['CREATE USER %s' % ACCOUNT], USER, HOST)
        assert canonical_text(alter_user_tokens(rows)[0]).startswith(
            "ALTER USER %s IDENTIFIED VIA mysql_native_password USING '' REQUIRE NONE" % ACCOUNT)

    def test_expired_password_with_and_without_lifetime(self):
        # MariaDB writes an expired password with a lifetime as two statements.
        expired = create(" IDENTIFIED BY PASSWORD '%s' PASSWORD EXPIRE" % HASH)
        lifetime = 'ALTER USER %s PASSWORD EXPIRE INTERVAL 5 DAY' % ACCOUNT
        both = [canonical_text(tokens) for tokens in alter_user_tokens(parse_create_user([expired, lifetime], USER,
                                                                                         HOST))]
        assert len(both) == 2 and both[0].endswith('ACCOUNT UNLOCK PASSWORD EXPIRE') and both[1] == lifetime
        alone = [canonical_text(tokens) for tokens in alter_user_tokens(parse_create_user([expired], USER, HOST))]
        assert alone[0] == 'ALTER USER %s PASSWORD EXPIRE DEFAULT' % ACCOUNT
        assert alone[1].endswith('PASSWORD EXPIRE') and len(alone) == 2


# -- SHOW GRANTS ------------------------------------------------------------------

class TestParseGrant(object):
    def test_global_line_without_authentication_and_limits(self):
        entry = parse_grant("GRANT RELOAD, PROCESS ON *.* TO %s IDENTIFIED VIA mysql_native_password USING '%s' OR "
                            "unix_socket REQUIRE SSL WITH GRANT OPTION MAX_QUERIES_PER_HOUR 10" % (ACCOUNT, HASH),
                            USER, HOST)
        assert entry.key == ('on', '*.*') and entry.items == (('RELOAD', None), ('PROCESS', None))
        assert entry.option is True
        assert HASH not in repr(entry)

    def test_usage_is_no_privilege(self):
        entry = parse_grant(usage(), USER, HOST)
        assert entry.items == () and entry.option is False

    def test_columns(self):
        entry = parse_grant('GRANT SELECT, SELECT (`a`), UPDATE (`b c`, `a`) ON `lab`.`t` TO %s' % ACCOUNT, USER, HOST)
        assert entry.key == ('on', '`lab`.`t`')
        assert entry.items == (('SELECT', None), ('SELECT', 'a'), ('UPDATE', 'b c'), ('UPDATE', 'a'))

    def test_routine_and_proxy(self):
        assert parse_grant('GRANT EXECUTE ON PROCEDURE `lab`.`p` TO %s' % ACCOUNT, USER, HOST).key == \
            ('on', 'PROCEDURE `lab`.`p`')
        proxy = parse_grant('GRANT PROXY ON `repl`@`127.0.0.1` TO %s WITH GRANT OPTION' % ACCOUNT, USER, HOST)
        assert proxy.key == ('on', '`repl`@`127.0.0.1`') and proxy.items == (('PROXY', None),) and proxy.option

    def test_roles(self):
        role = parse_grant('GRANT `r1` TO %s WITH ADMIN OPTION' % ACCOUNT, USER, HOST)
        assert (role.key, role.kind, role.option) == (('role', '`r1`'), 'role', True)
        default = parse_grant('SET DEFAULT ROLE `r1` FOR %s' % ACCOUNT, USER, HOST)
        assert (default.key, default.target) == (('default_role',), '`r1`')

    def test_other_grantee_left_out(self):
        assert parse_grant('GRANT SELECT ON `lab`.* TO `r1`', USER, HOST) is None
        assert parse_grant('GRANT SELECT ON `lab`.* TO `app`@`elsewhere`', USER, HOST) is None

    def test_unreadable(self):
        with pytest.raises(SeedError, match='does not start with GRANT'):
            parse_grant('REVOKE SELECT ON *.* FROM %s' % ACCOUNT, USER, HOST)


def entries(*lines):
    return parse_grants([usage()] + list(lines), USER, HOST)


def on(privileges, target='`lab`.*', option=False):
    return 'GRANT %s ON %s TO %s%s' % (privileges, target, ACCOUNT, ' WITH GRANT OPTION' if option else '')


ACCOUNT_SQL = "'app'@'10.214.0.%'"


@pytest.mark.parametrize('source, target, expected', [
    # equal, whatever the column order the server printed
    ([on('SELECT (`a`), UPDATE (`b`, `a`)', '`lab`.`t`')], [on('SELECT (`a`), UPDATE (`a`, `b`)', '`lab`.`t`')], []),
    # a privilege more and one less: grant first, revoke after, the kept ones untouched
    ([on('SELECT, INSERT, DELETE')], [on('SELECT, INSERT, UPDATE')],
     ['GRANT DELETE ON `lab`.* TO %s' % ACCOUNT_SQL, 'REVOKE UPDATE ON `lab`.* FROM %s' % ACCOUNT_SQL]),
    # a new object and a gone one
    ([on('SELECT', '`new`.*')], [on('SELECT, INSERT', '`old`.*', option=True)],
     ['GRANT SELECT ON `new`.* TO %s' % ACCOUNT_SQL, 'REVOKE ALL PRIVILEGES ON `old`.* FROM %s' % ACCOUNT_SQL,
      'REVOKE GRANT OPTION ON `old`.* FROM %s' % ACCOUNT_SQL]),
    # grant option added (with the privileges it applies to) and removed
    ([on('SELECT, INSERT', option=True)], [on('SELECT')],
     ['GRANT SELECT, INSERT ON `lab`.* TO %s WITH GRANT OPTION' % ACCOUNT_SQL]),
    ([on('SELECT')], [on('SELECT', option=True)], ['REVOKE GRANT OPTION ON `lab`.* FROM %s' % ACCOUNT_SQL]),
    # column privileges
    ([on('SELECT (`a`)', '`lab`.`t`')], [on('SELECT (`a`, `b`)', '`lab`.`t`')],
     ['REVOKE SELECT (`b`) ON `lab`.`t` FROM %s' % ACCOUNT_SQL]),
    # ALL PRIVILEGES: to a list (revoked, then the list), from a list (ALL granted, nothing revoked)
    ([on('SELECT')], [on('ALL PRIVILEGES')],
     ['REVOKE ALL PRIVILEGES ON `lab`.* FROM %s' % ACCOUNT_SQL, 'GRANT SELECT ON `lab`.* TO %s' % ACCOUNT_SQL]),
    ([on('ALL PRIVILEGES')], [on('SELECT, INSERT')], ['GRANT ALL PRIVILEGES ON `lab`.* TO %s' % ACCOUNT_SQL]),
    # global privileges on the *.* line
    ([usage().replace('USAGE', 'PROCESS')], [], ['GRANT PROCESS ON *.* TO %s' % ACCOUNT_SQL]),
    # roles and the default role
    (['GRANT `r1` TO %s' % ACCOUNT, 'SET DEFAULT ROLE `r1` FOR %s' % ACCOUNT], ['GRANT `r2` TO %s' % ACCOUNT],
     ['GRANT `r1` TO %s' % ACCOUNT_SQL, 'REVOKE `r2` FROM %s' % ACCOUNT_SQL,
      'SET DEFAULT ROLE `r1` FOR %s' % ACCOUNT_SQL]),
    (['GRANT `r1` TO %s' % ACCOUNT], ['GRANT `r1` TO %s WITH ADMIN OPTION' % ACCOUNT,
                                      'SET DEFAULT ROLE `r1` FOR %s' % ACCOUNT],
     ['REVOKE ADMIN OPTION FOR `r1` FROM %s' % ACCOUNT_SQL, 'SET DEFAULT ROLE NONE FOR %s' % ACCOUNT_SQL]),
    (['GRANT `r1` TO %s WITH ADMIN OPTION' % ACCOUNT], ['GRANT `r1` TO %s' % ACCOUNT],
     ['GRANT `r1` TO %s WITH ADMIN OPTION' % ACCOUNT_SQL]),
    # proxy: replaced whole
    (['GRANT PROXY ON `u`@`%%` TO %s WITH GRANT OPTION' % ACCOUNT], ['GRANT PROXY ON `u`@`%%` TO %s' % ACCOUNT],
     ['GRANT PROXY ON `u`@`%%` TO %s WITH GRANT OPTION' % ACCOUNT_SQL, 'REVOKE PROXY ON `u`@`%%` FROM %s' % ACCOUNT_SQL]),
])
def test_grant_statements(source, target, expected):
    statements = grant_statements(entries(*source), entries(*target), USER, HOST)
    assert rendered(statements) == [line.replace('%%', '%') for line in expected]
    assert all(params == (USER, HOST) for dummy, params in statements)


def test_percent_in_names_is_doubled_for_the_driver():
    statements = grant_statements(entries(on('SELECT', '`shop%`.*')), entries(), USER, HOST)
    assert statements == [('GRANT SELECT ON `shop%%`.* TO %s@%s', (USER, HOST))]


# -- one account -------------------------------------------------------------------

SOURCE = dict(create=[create()], grants=[usage(), on('SELECT, INSERT, UPDATE')])


class TestPlanAccount(object):
    def test_created(self):
        plan = plan_account(USER, HOST, SOURCE, None)
        assert plan.action == 'created' and plan.before == {}
        assert rendered(plan.statements) == ["CREATE USER %s IDENTIFIED BY PASSWORD '********'" % ACCOUNT,
                                             'GRANT SELECT, INSERT, UPDATE ON `lab`.* TO %s' % ACCOUNT_SQL]
        assert plan.statements[0][1] == (Secret(HASH),)
        assert plan.after == dict(create_user=["CREATE USER %s IDENTIFIED BY PASSWORD '********'" % ACCOUNT],
                                  grants=[on('SELECT, INSERT, UPDATE'), 'GRANT USAGE ON *.* TO %s' % ACCOUNT])

    def test_unchanged_even_with_ansi_quotes_on_the_target(self):
        target = dict(create=[create().replace('`', '"')], grants=[line.replace('`', '"') for line in SOURCE['grants']])
        plan = plan_account(USER, HOST, SOURCE, target)
        assert (plan.action, plan.statements) == ('unchanged', [])
        assert plan.before == plan.after

    def test_updated_password_only(self):
        target = dict(create=[create(" IDENTIFIED BY PASSWORD '%s'" % OTHER_HASH)],
                      grants=[usage(" IDENTIFIED BY PASSWORD '%s'" % OTHER_HASH), on('SELECT, INSERT, UPDATE')])
        plan = plan_account(USER, HOST, SOURCE, target)
        assert plan.action == 'updated' and len(plan.statements) == 1
        assert rendered(plan.statements)[0].startswith("ALTER USER %s IDENTIFIED BY PASSWORD '********' REQUIRE NONE"
                                                       % ACCOUNT)
        assert plan.statements[0][1] == (Secret(HASH),)
        assert plan.before == plan.after   # the hashes differ, but the diff never shows them
        assert HASH not in repr(plan.before) + repr(plan.after) and OTHER_HASH not in repr(plan.before)

    def test_updated_grants_only(self):
        target = dict(create=SOURCE['create'], grants=[usage(), on('SELECT')])
        plan = plan_account(USER, HOST, SOURCE, target)
        assert rendered(plan.statements) == ['GRANT INSERT, UPDATE ON `lab`.* TO %s' % ACCOUNT_SQL]
        assert plan.before['grants'] == [on('SELECT'), 'GRANT USAGE ON *.* TO %s' % ACCOUNT]

    def test_differences(self):
        assert account_differences(SOURCE, SOURCE, USER, HOST) == []
        target = dict(create=[create(" IDENTIFIED BY PASSWORD '%s'" % OTHER_HASH)], grants=[usage(), on('SELECT')])
        problems = account_differences(SOURCE, target, USER, HOST)
        assert problems == [
            "SHOW CREATE USER is CREATE USER %s IDENTIFIED BY PASSWORD '********' on the target, CREATE USER %s "
            "IDENTIFIED BY PASSWORD '********' on the source" % (ACCOUNT, ACCOUNT),
            'grant %s on the target, %s on the source' % (on('SELECT'), on('SELECT, INSERT, UPDATE'))]
