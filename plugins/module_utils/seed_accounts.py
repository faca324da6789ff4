# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Seeding the accounts: ``smooth.mariadb.seed``'s option ``accounts``.

Named accounts are copied from the source with their authentication and
grants, as the source's own ``SHOW CREATE USER`` and ``SHOW GRANTS`` state
them; the target is made equal statement by statement. The data copy is in
seed.py (dump) and seed_backup.py (mariabackup).
"""

from __future__ import annotations

import re
from collections import namedtuple

from ansible_collections.smooth.mariadb.plugins.module_utils.mariadb import MASK, Secret, to_text
from ansible_collections.smooth.mariadb.plugins.module_utils.seed import SeedError


# ---------------------------------------------------------------------------
# Accounts (option ``accounts``): named accounts copied from the source
# ---------------------------------------------------------------------------
#
# The source's SHOW CREATE USER and SHOW GRANTS output is server-generated SQL.
# It is read into tokens (identifiers, strings, words, punctuation) so that it
# can be compared with the target's whatever the column order of a grant or the
# quoting of identifiers (ANSI_QUOTES), have its authentication strings (password
# hashes) masked for display and bound as parameters for execution, and be
# re-assembled into the statements that make the target equal: the server's own
# text with identifiers re-quoted with backticks, never text built from user input.

RESERVED_ACCOUNT_NAMES = ('root', 'mariadb.sys', 'mysql')
RESOURCE_LIMITS = ('MAX_QUERIES_PER_HOUR', 'MAX_UPDATES_PER_HOUR', 'MAX_CONNECTIONS_PER_HOUR',
                   'MAX_USER_CONNECTIONS', 'MAX_STATEMENT_TIME')
ACCOUNT_CREATED = 'created'
ACCOUNT_UPDATED = 'updated'
ACCOUNT_UNCHANGED = 'unchanged'


def check_account_names(names, login_users=()):
    """The account names to copy, each once, in the given order (pure).

    :param names: the ``accounts`` option (user names, without host)
    :param login_users: the user names the module logs in with (target and source)
    :raises SeedError: naming every refused name: empty, with the ``%`` wildcard,
        a system account (root, mariadb.sys, mysql) or a login user of the module
    """
    chosen, refused = [], []
    logins = set(name for name in login_users if name)
    for name in names or ():
        name = '' if name is None else to_text(name)
        if name.strip() == '':
            refused.append("'%s' (an empty name)" % name)
        elif '%' in name:
            refused.append("'%s' (contains the wildcard %%)" % name)
        elif name in RESERVED_ACCOUNT_NAMES:
            refused.append("'%s' (a system account)" % name)
        elif name in logins:
            refused.append("'%s' (an account this module logs in with)" % name)
        elif name not in chosen:
            chosen.append(name)
    if refused:
        raise SeedError('accounts: refusing to copy %s; nothing was changed' % ', '.join(refused))
    return chosen


def missing_account_names(names, source_accounts):
    """The names that have no (user, host) among ``source_accounts`` (pure)."""
    present = set(user for user, dummy in source_accounts)
    return [name for name in names if name not in present]


SqlToken = namedtuple('SqlToken', ['kind', 'value', 'text', 'gap'])
# kind: ident (value: the name), string (value: unescaped), word (value: upper case), punct.
# gap: whitespace before the token.

_SQL_TOKEN = re.compile(r"""(?P<space>\s+)
  |(?P<ident>`(?:[^`]|``)*`)
  |(?P<dident>"(?:[^"]|"")*")
  |(?P<string>'(?:[^'\\]|\\.|'')*')
  |(?P<punct>[(),@.])
  |(?P<word>[^\s`'"(),@.]+)""", re.S | re.X)
_STRING_ESCAPES = {'0': '\x00', 'b': '\b', 'n': '\n', 'r': '\r', 't': '\t', 'Z': '\x1a'}


def _unescape_string(body):
    """The value of a single-quoted SQL string's body (backslash escapes, doubled quotes)."""
    out = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == '\\' and index + 1 < len(body):
            following = body[index + 1]
            out.append('\\' + following if following in '%_' else _STRING_ESCAPES.get(following, following))
            index += 2
        elif char == "'" and body[index + 1:index + 2] == "'":
            out.append("'")
            index += 2
        else:
            out.append(char)
            index += 1
    return ''.join(out)


def sql_tokens(text):
    """Split a server-generated statement into :class:`SqlToken` (pure).

    Double-quoted names are identifiers (the server writes them only with
    ANSI_QUOTES). Raises SeedError on an unterminated quote, without the text
    (it may hold a password hash).
    """
    text = to_text(text)
    tokens = []
    position = 0
    gap = False
    while position < len(text):
        match = _SQL_TOKEN.match(text, position)
        if not match:
            raise SeedError('cannot read a statement of the server: unterminated quote at offset %d' % position)
        kind, raw = match.lastgroup, match.group()
        position = match.end()
        if kind == 'space':
            gap = True
            continue
        if kind == 'ident':
            value = raw[1:-1].replace('``', '`')
        elif kind == 'dident':
            kind, value = 'ident', raw[1:-1].replace('""', '"')
        elif kind == 'string':
            value = _unescape_string(raw[1:-1])
        elif kind == 'word':
            value = raw.upper()
        else:
            value = raw
        tokens.append(SqlToken(kind, value, raw, gap and bool(tokens)))
        gap = False
    return tokens


def _is_secret(tokens, index):
    """An authentication string: after PASSWORD (hash), USING (plugin data) or IDENTIFIED BY."""
    if tokens[index].kind != 'string' or index == 0:
        return False
    before = tokens[index - 1]
    if before.kind != 'word':
        return False
    if before.value in ('PASSWORD', 'USING'):
        return True
    return before.value == 'BY' and index >= 2 and tokens[index - 2].value == 'IDENTIFIED'


def _ident_text(name):
    return '`%s`' % name.replace('`', '``')


def _join(tokens, text_of):
    parts = []
    for index, token in enumerate(tokens):
        if index and token.gap:
            parts.append(' ')
        parts.append(text_of(index, token))
    return ''.join(parts)


def canonical_text(tokens):
    """The statement with identifiers in backticks; strings as the server wrote them (secrets included)."""
    return _join(tokens, lambda index, token: _ident_text(token.value) if token.kind == 'ident' else token.text)


def masked_text(tokens):
    """:func:`canonical_text` with every authentication string shown as the mask."""
    def text_of(index, token):
        if _is_secret(tokens, index):
            return "'%s'" % MASK
        return _ident_text(token.value) if token.kind == 'ident' else token.text
    return _join(tokens, text_of)


def mask_account_statement(text):
    """A SHOW CREATE USER / SHOW GRANTS statement with its password hashes masked (pure)."""
    try:
        return masked_text(sql_tokens(text))
    except SeedError:
        return '(a statement that cannot be read; not shown, it may hold a password hash)'


def statement_template(tokens):
    """``(sql, params)`` to execute the tokens: every authentication string becomes a bound
    :class:`Secret` (masked in results and errors), every other ``%`` is doubled for the driver."""
    params = []

    def text_of(index, token):
        if _is_secret(tokens, index):
            params.append(Secret(token.value))
            return '%s'
        text = _ident_text(token.value) if token.kind == 'ident' else token.text
        return text.replace('%', '%%')
    sql = _join(tokens, text_of)
    return sql, tuple(params)


def _spaced(tokens):
    """tokens with a gap before the first one (for splicing)."""
    tokens = list(tokens)
    if tokens:
        tokens[0] = tokens[0]._replace(gap=True)
    return tokens


def _account_at(tokens, index):
    """``((user, host), next index)`` for ``name@host`` at index; ``((name, None), index + 1)`` for a role."""
    if index >= len(tokens) or tokens[index].kind not in ('ident', 'string'):
        raise SeedError('cannot read a statement of the server: no account name at token %d' % index)
    if index + 1 < len(tokens) and tokens[index + 1].text == '@':
        if index + 2 >= len(tokens) or tokens[index + 2].kind not in ('ident', 'string'):
            raise SeedError('cannot read a statement of the server: incomplete account name')
        return (tokens[index].value, tokens[index + 2].value), index + 3
    return (tokens[index].value, None), index + 1


def account_display(user, host):
    return '%s@%s' % (_ident_text(user), _ident_text(host))


# -- SHOW CREATE USER ---------------------------------------------------------

def parse_create_user(rows, user, host):
    """Token lists of the SHOW CREATE USER rows of ``user@host`` (pure).

    The first row is ``CREATE USER <account> ...``; MariaDB adds an
    ``ALTER USER <account> PASSWORD EXPIRE ...`` row when both an expired
    password and a lifetime must be expressed.
    :raises SeedError: when a row is not a CREATE/ALTER USER of that account
    """
    parsed = []
    for number, row in enumerate(rows):
        tokens = sql_tokens(row)
        verb = 'CREATE' if number == 0 else 'ALTER'
        if len(tokens) < 3 or [token.value for token in tokens[:2]] != [verb, 'USER']:
            raise SeedError('SHOW CREATE USER for %s returned an unexpected statement (row %d does not start with '
                            '%s USER)' % (account_display(user, host), number + 1, verb))
        account, dummy = _account_at(tokens, 2)
        if account != (user, host):
            raise SeedError('SHOW CREATE USER for %s returned a statement for another account'
                            % account_display(user, host))
        parsed.append(tokens)
    if not parsed:
        raise SeedError('SHOW CREATE USER for %s returned nothing' % account_display(user, host))
    return parsed


def _clauses(tokens):
    """The clauses after the account of a CREATE USER row: {auth, require, limits, lock, expire: tokens}."""
    dummy, index = _account_at(tokens, 2)
    clauses = {}
    current = None
    for position in range(index, len(tokens)):
        token = tokens[position]
        name = None
        if token.kind == 'word':
            following = tokens[position + 1] if position + 1 < len(tokens) else None
            if token.value == 'IDENTIFIED':
                name = 'auth'
            elif token.value == 'REQUIRE':
                name = 'require'
            elif token.value == 'WITH':
                name = 'limits'
            elif token.value == 'ACCOUNT':
                name = 'lock'
            elif token.value == 'PASSWORD' and following is not None and following.value == 'EXPIRE' \
                    and following.kind == 'word':
                name = 'expire'
        if name is not None:
            if name in clauses:
                raise SeedError('cannot read a CREATE USER statement of the server: two %s clauses' % name)
            current = name
            clauses[name] = []
        if current is None:
            raise SeedError('cannot read a CREATE USER statement of the server: unexpected %s after the account'
                            % ('a string' if token.kind == 'string' else repr(token.text[:40])))
        clauses[current].append(token)
    return clauses


# What the ALTER USER of an existing account states for a clause the source's
# CREATE USER leaves out: ALTER USER keeps every clause it does not mention, so
# leaving one out would keep the target's old value.
NEUTRAL_CLAUSES = (
    ('auth', "IDENTIFIED VIA mysql_native_password USING ''"),   # no password, as CREATE USER without one
    ('require', 'REQUIRE NONE'),
    ('limits', None),                                              # every missing limit set to 0
    ('lock', 'ACCOUNT UNLOCK'),
    ('expire', 'PASSWORD EXPIRE DEFAULT'),
)


def _bare_expire(clause):
    """``PASSWORD EXPIRE`` alone: the password is expired (not a lifetime)."""
    return clause is not None and len(clause) == 2


def alter_user_tokens(create_rows):
    """Token lists of the ALTER USER statements that make an existing account equal to
    ``create_rows`` (the source's parsed SHOW CREATE USER) (pure).

    The first row's clauses are kept as the server wrote them (the authentication
    exactly as given: a password hash, never a clear password); each clause it
    lacks is stated with its neutral value. The other rows are turned into
    nothing new: they are ALTER USER statements already.
    """
    first = create_rows[0]
    dummy, index = _account_at(first, 2)
    account = first[2:index]
    clauses = _clauses(first)
    tokens = sql_tokens('ALTER USER') + _spaced(account)
    for name, neutral in NEUTRAL_CLAUSES:
        clause = clauses.get(name)
        if name == 'limits':
            present = set(token.value for token in clause or () if token.kind == 'word')
            missing = ' '.join('%s 0' % limit for limit in RESOURCE_LIMITS if limit not in present)
            if clause:
                clause = clause + (_spaced(sql_tokens(missing)) if missing else [])
            else:
                clause = sql_tokens('WITH ' + missing)
        elif clause is None:
            clause = sql_tokens(neutral)
        tokens.extend(_spaced(clause))
    statements = [tokens]
    lifetime_set = any(_clauses(row).get('expire') for row in create_rows[1:])
    if _bare_expire(clauses.get('expire')) and not lifetime_set:
        statements.insert(0, sql_tokens('ALTER USER') + _spaced(account) + _spaced(sql_tokens('PASSWORD EXPIRE DEFAULT')))
    statements.extend(create_rows[1:])
    return statements


# -- SHOW GRANTS --------------------------------------------------------------

GrantEntry = namedtuple('GrantEntry', ['key', 'kind', 'target', 'items', 'option'])
# kind: privileges (target: the object, items: ((privilege, column or None), ...), option: WITH GRANT OPTION),
#       role (target: the role, option: WITH ADMIN OPTION), default_role (target: the role).


def _top_level_word(tokens, word, start=0):
    depth = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.kind == 'punct' and token.text == '(':
            depth += 1
        elif token.kind == 'punct' and token.text == ')':
            depth -= 1
        elif depth == 0 and token.kind == 'word' and token.value == word:
            return index
    return None


def _privilege_items(tokens):
    """((privilege, column or None), ...) of a privilege list, USAGE left out."""
    items = []
    parts, current, depth = [], [], 0
    for token in tokens:
        if token.kind == 'punct' and token.text == '(':
            depth += 1
        elif token.kind == 'punct' and token.text == ')':
            depth -= 1
        if depth == 0 and token.kind == 'punct' and token.text == ',':
            parts.append(current)
            current = []
        else:
            current.append(token)
    parts.append(current)
    for part in parts:
        words = []
        columns = None
        for token in part:
            if token.kind == 'word' and columns is None:
                words.append(token.value)
            elif token.kind == 'punct' and token.text == '(':
                columns = []
            elif token.kind == 'ident' and columns is not None:
                columns.append(token.value)
        if not words:
            raise SeedError('cannot read a GRANT statement of the server: empty privilege')
        name = ' '.join(words)
        if name == 'USAGE':
            continue
        if columns is None:
            items.append((name, None))
        else:
            items.extend((name, column) for column in columns)
    return tuple(items)


def _option_after(tokens, start, words):
    """Whether ``WITH ... <words>`` (GRANT OPTION, ADMIN OPTION) is among tokens[start:]."""
    values = [token.value if token.kind == 'word' else None for token in tokens[start:]]
    for index in range(len(values) - len(words) + 1):
        if values[index:index + len(words)] == list(words) and 'WITH' in values[:index + 1]:
            return True
    return False


def parse_grant(line, user, host):
    """A :class:`GrantEntry` for one SHOW GRANTS line of ``user@host``, or None for a
    line about another grantee (pure).

    The authentication, TLS and resource limits that MariaDB repeats on the
    ``*.*`` line are left out: they are the account's (SHOW CREATE USER).
    """
    tokens = sql_tokens(line)
    words = [token.value if token.kind == 'word' else None for token in tokens]
    if words[:3] == ['SET', 'DEFAULT', 'ROLE']:
        at = _top_level_word(tokens, 'FOR', 3)
        if at is None:
            raise SeedError('cannot read a SET DEFAULT ROLE statement of the server')
        grantee, dummy = _account_at(tokens, at + 1)
        if grantee != (user, host):
            return None
        role = canonical_text(tokens[3:at])
        return GrantEntry(('default_role',), 'default_role', role, (), False)
    if words[:1] != ['GRANT']:
        raise SeedError('cannot read a SHOW GRANTS line of the server: it does not start with GRANT')
    to = _top_level_word(tokens, 'TO', 1)
    if to is None:
        raise SeedError('cannot read a GRANT statement of the server: no TO')
    on = _top_level_word(tokens[:to], 'ON', 1)
    grantee, after = _account_at(tokens, to + 1)
    if grantee != (user, host):
        return None
    if on is None:
        role = canonical_text(tokens[1:to])
        return GrantEntry(('role', role), 'role', role, (), _option_after(tokens, after, ('ADMIN', 'OPTION')))
    target = canonical_text(tokens[on + 1:to])
    items = _privilege_items(tokens[1:on])
    return GrantEntry(('on', target), 'privileges', target, items, _option_after(tokens, after, ('GRANT', 'OPTION')))


def parse_grants(lines, user, host):
    """{key: GrantEntry} of SHOW GRANTS lines (pure); lines about other grantees are left out."""
    entries = {}
    for line in lines:
        entry = parse_grant(line, user, host)
        if entry is not None:
            entries[entry.key] = entry
    return entries


def _same_entry(first, second):
    if first is None or second is None:
        return first is second
    return (first.kind == second.kind and first.target == second.target
            and set(first.items) == set(second.items) and first.option == second.option)


def privilege_text(items):
    """``SELECT, INSERT, UPDATE (`a`, `b`)``: table-wide privileges, then column lists (sorted)."""
    order, columns = [], {}
    for name, column in items:
        key = (name, column is not None)
        if key not in columns:
            order.append(key)
            columns[key] = []
        if column is not None and column not in columns[key]:
            columns[key].append(column)
    parts = []
    for key in order:
        name, per_column = key
        if per_column:
            parts.append('%s (%s)' % (name, ', '.join(_ident_text(column) for column in sorted(columns[key]))))
        else:
            parts.append(name)
    return ', '.join(parts) or 'USAGE'


def grant_line(entry, user, host):
    """The canonical text of an entry (for diffs; never holds a password hash)."""
    account = account_display(user, host)
    if entry.kind == 'default_role':
        return 'SET DEFAULT ROLE %s FOR %s' % (entry.target, account)
    if entry.kind == 'role':
        return 'GRANT %s TO %s%s' % (entry.target, account, ' WITH ADMIN OPTION' if entry.option else '')
    return 'GRANT %s ON %s TO %s%s' % (privilege_text(entry.items), entry.target, account,
                                       ' WITH GRANT OPTION' if entry.option else '')


def _sql(text):
    return text.replace('%', '%%')


ALL_PRIVILEGES = ('ALL PRIVILEGES', None)


def grant_statements(source, target, user, host):
    """``(sql, params)`` that make the target's grant entries equal to the source's (pure).

    A precise difference, object by object, not REVOKE ALL + GRANT: privileges
    that stay are never revoked, so an application using the account on a live
    target never loses one, even for a moment. New privileges are granted before
    old ones are revoked. Exception: an object where the target holds ALL
    PRIVILEGES and the source a list; its privileges are revoked and granted again.
    The account is bound as a value (``%s@%s``).
    """
    account = (user, host)
    grants, revokes, roles_added, roles_removed, defaults = [], [], [], [], []
    keys = list(source) + [key for key in target if key not in source]
    for key in keys:
        wanted, present = source.get(key), target.get(key)
        if _same_entry(wanted, present):
            continue
        kind = (wanted or present).kind
        if kind == 'default_role':
            role = wanted.target if wanted else 'NONE'
            defaults.append(('SET DEFAULT ROLE %s FOR %%s@%%s' % _sql(role), account))
        elif kind == 'role':
            role = _sql((wanted or present).target)
            if wanted is None:
                roles_removed.append(('REVOKE %s FROM %%s@%%s' % role, account))
            elif present is None or (wanted.option and not present.option):
                roles_added.append(('GRANT %s TO %%s@%%s%s' % (role, ' WITH ADMIN OPTION' if wanted.option else ''),
                                    account))
            else:
                roles_removed.append(('REVOKE ADMIN OPTION FOR %s FROM %%s@%%s' % role, account))
        else:
            _privilege_changes(wanted, present, account, grants, revokes)
    return grants + roles_added + revokes + roles_removed + defaults


def _privilege_changes(wanted, present, account, grants, revokes):
    target = _sql((wanted or present).target)
    want = set(wanted.items) if wanted else set()
    have = set(present.items) if present else set()
    want_option = bool(wanted and wanted.option)
    have_option = bool(present and present.option)
    if ('PROXY', None) in want | have:
        # PROXY is one privilege with its own grant option: replace it whole.
        if present is not None:
            revokes.append(('REVOKE PROXY ON %s FROM %%s@%%s' % target, account))
        if wanted is not None:
            grants.append(('GRANT PROXY ON %s TO %%s@%%s%s' % (target, ' WITH GRANT OPTION' if want_option else ''),
                           account))
        return
    if wanted is None:
        # An object only the target grants on: everything on it goes.
        if have:
            revokes.append(('REVOKE ALL PRIVILEGES ON %s FROM %%s@%%s' % target, account))
        if have_option:
            revokes.append(('REVOKE GRANT OPTION ON %s FROM %%s@%%s' % target, account))
        return
    if ALL_PRIVILEGES in have and ALL_PRIVILEGES not in want:
        # The privileges ALL stands for are not listed: revoke it, then grant the source's list.
        grants.append(('REVOKE ALL PRIVILEGES ON %s FROM %%s@%%s' % target, account))
        have = set()
    missing = [item for item in wanted.items if item not in have]
    if want_option and not have_option:
        missing = list(wanted.items)   # WITH GRANT OPTION applies to the privileges granted with it
    if missing or (want_option and not have_option):
        grants.append(('GRANT %s ON %s TO %%s@%%s%s' % (_sql(privilege_text(missing)), target,
                                                        ' WITH GRANT OPTION' if want_option else ''), account))
    extra = [item for item in present.items if item in have and item not in want] if present else []
    if ALL_PRIVILEGES in want:
        extra = [item for item in extra if item[1] is not None]   # ALL covers every table-wide privilege
    if extra:
        revokes.append(('REVOKE %s ON %s FROM %%s@%%s' % (_sql(privilege_text(extra)), target), account))
    if have_option and not want_option:
        revokes.append(('REVOKE GRANT OPTION ON %s FROM %%s@%%s' % target, account))


# -- One account --------------------------------------------------------------

AccountPlan = namedtuple('AccountPlan', ['user', 'host', 'action', 'statements', 'before', 'after'])

# The grant entry every existing account has (what CREATE USER leaves).
_USAGE_KEY = ('on', '*.*')


def account_view(create_rows, entries, user, host):
    """What the diff shows of an account: its CREATE USER rows masked, its grants (pure)."""
    if create_rows is None:
        return {}
    lines = sorted(grant_line(entry, user, host) for entry in entries.values())
    return dict(create_user=[masked_text(tokens) for tokens in create_rows], grants=lines)


def plan_account(user, host, source, target):
    """How to make ``user@host`` on the target equal to the source (pure).

    :param source: ``{'create': [SHOW CREATE USER rows], 'grants': [SHOW GRANTS lines]}`` of the source
    :param target: the same of the target, or None when the account does not exist there
    :returns: :class:`AccountPlan`; ``statements`` empty when unchanged
    :raises SeedError: when the server output cannot be read
    """
    source_rows = parse_create_user(source['create'], user, host)
    source_grants = parse_grants(source['grants'], user, host)
    after = account_view(source_rows, source_grants, user, host)
    if target is None:
        # The source's SHOW CREATE USER rows are run as the server returned them: they are
        # server-generated SQL (every name quoted by the server; re-quoted here with backticks,
        # in case the source writes ANSI_QUOTES), never text built from the task's input. Only
        # the authentication string is taken out and bound, as a Secret, so that it is masked.
        statements = [statement_template(tokens) for tokens in source_rows]
        usage = {_USAGE_KEY: GrantEntry(_USAGE_KEY, 'privileges', '*.*', (), False)}
        statements.extend(grant_statements(source_grants, usage, user, host))
        return AccountPlan(user, host, ACCOUNT_CREATED, statements, {}, after)
    target_rows = parse_create_user(target['create'], user, host)
    target_grants = parse_grants(target['grants'], user, host)
    before = account_view(target_rows, target_grants, user, host)
    statements = []
    if [canonical_text(tokens) for tokens in source_rows] != [canonical_text(tokens) for tokens in target_rows]:
        statements.extend(statement_template(tokens) for tokens in alter_user_tokens(source_rows))
    statements.extend(grant_statements(source_grants, target_grants, user, host))
    return AccountPlan(user, host, ACCOUNT_UPDATED if statements else ACCOUNT_UNCHANGED, statements, before, after)


def account_differences(source, target, user, host):
    """What still differs between the source's and the target's account (pure; masked), [] when equal."""
    source_rows = parse_create_user(source['create'], user, host)
    target_rows = parse_create_user(target['create'], user, host)
    problems = []
    if [canonical_text(tokens) for tokens in source_rows] != [canonical_text(tokens) for tokens in target_rows]:
        problems.append('SHOW CREATE USER is %s on the target, %s on the source'
                        % (' / '.join(masked_text(tokens) for tokens in target_rows),
                           ' / '.join(masked_text(tokens) for tokens in source_rows)))
    source_grants = parse_grants(source['grants'], user, host)
    target_grants = parse_grants(target['grants'], user, host)
    for key in list(source_grants) + [key for key in target_grants if key not in source_grants]:
        wanted, present = source_grants.get(key), target_grants.get(key)
        if not _same_entry(wanted, present):
            problems.append('grant %s on the target, %s on the source'
                            % (grant_line(present, user, host) if present else 'missing',
                               grant_line(wanted, user, host) if wanted else 'missing'))
    return problems
