# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.smooth.mariadb.plugins.module_utils import mariadb as m


class FailJson(Exception):
    pass


class FakeModule(object):
    def __init__(self, params):
        self.params = params

    def fail_json(self, **kwargs):
        raise FailJson(kwargs)


def connection_params(**overrides):
    params = dict((name, spec.get('default')) for name, spec in m.mariadb_common_argument_spec().items())
    params['config_file'] = ''
    params.update(overrides)
    return params


# --------------------------------------------------------------------------- argument spec

def test_common_argument_spec_shape():
    spec = m.mariadb_common_argument_spec()
    assert spec['login_host'] == dict(type='str', default='localhost')
    assert spec['login_port'] == dict(type='int', default=3306)
    assert spec['login_password']['no_log'] is True
    assert spec['config_file'] == dict(type='path', default='~/.my.cnf')
    assert spec['connect_timeout'] == dict(type='int', default=30)
    for name in ('ca_cert', 'client_cert', 'client_key'):
        assert spec[name] == dict(type='path')
    assert spec['check_hostname'] == dict(type='bool')
    # A fresh dict every call: modules may update it.
    spec['extra'] = {}
    assert 'extra' not in m.mariadb_common_argument_spec()


# --------------------------------------------------------------------------- quoting

@pytest.mark.parametrize('name, quoted', [
    ('db', '`db`'),
    ('my db', '`my db`'),
    ('a`b', '`a``b`'),
    ('``', '``````'),
    ('x.y', '`x.y`'),
    ("o'brien", "`o'brien`"),
    ('ünïcödé', '`ünïcödé`'),
])
def test_quote_identifier(name, quoted):
    assert m.quote_identifier(name) == quoted


@pytest.mark.parametrize('bad', ['', 'a\x00b', None, 5, b'db'])
def test_quote_identifier_refuses(bad):
    with pytest.raises(ValueError):
        m.quote_identifier(bad)


# --------------------------------------------------------------------------- value helpers

@pytest.mark.parametrize('value, expected', [
    ('ON', True), ('OFF', False), ('Yes', True), ('No', False), ('1', True), ('0', False),
    (1, True), (0, False), (True, True), (None, None), (b'ON', True), ('', False), (' on ', True),
])
def test_to_bool(value, expected):
    assert m.to_bool(value) == expected


@pytest.mark.parametrize('value', ['Connecting', 'maybe', '2x'])
def test_to_bool_refuses_unknown_words(value):
    with pytest.raises(ValueError):
        m.to_bool(value)


@pytest.mark.parametrize('value, expected', [
    (5, 5), ('42', 42), (None, None), ('', None), ('NULL', None), (b'7', 7), (Decimal('3'), 3), (' 9 ', 9),
])
def test_to_int(value, expected):
    assert m.to_int(value) == expected


@pytest.mark.parametrize('version, expected', [
    ('10.11.19-MariaDB-0+deb12u1-log', (10, 11, 19, True)),
    ('10.6.18-MariaDB', (10, 6, 18, True)),
    ('11.4.2-MariaDB-ubu2404', (11, 4, 2, True)),
    ('8.0.36', (8, 0, 36, False)),
    ('5.5.5-10.3.39-MariaDB', (5, 5, 5, True)),
])
def test_parse_server_version(version, expected):
    info = m.parse_server_version(version)
    assert (info['major'], info['minor'], info['patch'], info['mariadb']) == expected
    assert info['full'] == version


@pytest.mark.parametrize('version, problem', [
    ('10.11.19-MariaDB-0+deb12u1-log', None),
    ('10.6.0-MariaDB', None),
    ('11.4.2-MariaDB', None),
    ('10.5.25-MariaDB', 'needs MariaDB 10.6 or later'),
    ('8.0.36', 'manages MariaDB only'),
    ('garbage', 'cannot parse'),
])
def test_check_server_version(version, problem):
    message = m.check_server_version(version)
    if problem is None:
        assert message is None
    else:
        assert problem in message
        assert version in message


@pytest.mark.parametrize('params, expected', [
    (dict(login_host='db1', login_port=3307), 'db1:3307'),
    (dict(login_host='::1', login_port=3306), '[::1]:3306'),
    (dict(login_host='db1', login_port=3306, login_unix_socket='/run/mysqld/mysqld.sock'),
     'unix socket /run/mysqld/mysqld.sock'),
    (dict(login_host=None, login_port=3306), 'localhost:3306'),
])
def test_describe_target(params, expected):
    assert m.describe_target(params) == expected


def test_format_db_error():
    assert m.format_db_error(Exception(1045, "Access denied for user 'x'@'h'")) == "(1045) Access denied for user 'x'@'h'"
    assert m.format_db_error(ValueError('plain')) == 'plain'
    assert m.db_error_code(Exception(1198, 'x')) == 1198
    assert m.db_error_code(ValueError('plain')) is None


# --------------------------------------------------------------------------- secrets and rendering

def test_secret_never_shows_its_value():
    secret = m.Secret('hunter2')
    assert 'hunter2' not in repr(secret)
    assert 'hunter2' not in str(secret)
    assert 'hunter2' not in repr([('CHANGE MASTER', (secret,))])
    assert secret.value == 'hunter2'
    assert secret == m.Secret('hunter2')
    assert secret != m.Secret('other')


@pytest.mark.parametrize('sql, params, rendered', [
    ('STOP SLAVE %s', ('a',), "STOP SLAVE 'a'"),
    ('START SLAVE %s', ('',), "START SLAVE ''"),
    ('CHANGE MASTER %s TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_PASSWORD = %s',
     ('x', '10.0.0.1', 3306, m.Secret('p@ss')),
     "CHANGE MASTER 'x' TO MASTER_HOST = '10.0.0.1', MASTER_PORT = 3306, MASTER_PASSWORD = '********'"),
    ('SET GLOBAL gtid_slave_pos = %s', ('0-1-5',), "SET GLOBAL gtid_slave_pos = '0-1-5'"),
    ("SELECT %s", ("it's \\ here",), "SELECT 'it\\'s \\\\ here'"),
    ('MASTER_HEARTBEAT_PERIOD = %s', (Decimal('2.500'),), 'MASTER_HEARTBEAT_PERIOD = 2.500'),
    ('X = %s, Y = %s', (None, True), 'X = NULL, Y = 1'),
    ('SHOW ALL SLAVES STATUS', None, 'SHOW ALL SLAVES STATUS'),
    ("SHOW VARIABLES LIKE 'gtid%%'", (), "SHOW VARIABLES LIKE 'gtid%'"),
])
def test_render_statement(sql, params, rendered):
    assert m.render_statement(sql, params) == rendered


def test_unwrap_params_and_secret_values():
    params = ('a', m.Secret('pw'), 3)
    assert m.unwrap_params(params) == ('a', 'pw', 3)
    assert m.unwrap_params(None) is None
    assert m.secret_values(params) == ['pw']
    assert m.secret_values((m.Secret(''), m.Secret(None))) == []


def test_mask_secrets_longest_first():
    assert m.mask_secrets("near 'abc' and 'abcdef'", ['abc', 'abcdef']) == "near '********' and '********'"
    assert m.mask_secrets('nothing here', ['']) == 'nothing here'


# --------------------------------------------------------------------------- SqlSession

class FakeCursor(object):
    def __init__(self, conn):
        self.conn = conn
        self.description = None
        self.rows = []

    def execute(self, sql, params):
        self.conn.sent.append((sql, params))
        if self.conn.error is not None:
            raise self.conn.error
        self.rows = self.conn.rows.pop(0) if self.conn.rows else []
        self.description = [('col',)] if sql.startswith(('SELECT', 'SHOW')) else None

    def fetchall(self):
        return self.rows

    def close(self):
        self.conn.closed_cursors += 1


class FakeConnection(object):
    def __init__(self, rows=None, error=None):
        self.rows = list(rows or [])
        self.error = error
        self.sent = []
        self.closed_cursors = 0

    def cursor(self):
        return FakeCursor(self)


def test_session_records_changes_masked_and_sends_plain_values():
    conn = FakeConnection(rows=[[{'version': '10.11.19-MariaDB'}]])
    session = m.SqlSession(conn)
    assert session.fetch_one('SELECT VERSION() AS version') == {'version': '10.11.19-MariaDB'}
    session.execute('CHANGE MASTER %s TO MASTER_PASSWORD = %s', ('a', m.Secret('s3cr3t')))
    assert session.queries == ["CHANGE MASTER 'a' TO MASTER_PASSWORD = '********'"]
    # The driver gets the real value; reads are not recorded.
    assert conn.sent[1] == ('CHANGE MASTER %s TO MASTER_PASSWORD = %s', ('a', 's3cr3t'))
    assert conn.closed_cursors == 2


def test_session_error_carries_masked_statement_and_server_message():
    error = Exception(1064, "You have an error in your SQL syntax near 's3cr3t' at line 1")
    session = m.SqlSession(FakeConnection(error=error))
    with pytest.raises(m.MariaDBQueryError) as caught:
        session.execute('CHANGE MASTER %s TO MASTER_PASSWORD = %s', ('a', m.Secret('s3cr3t')))
    exc = caught.value
    assert exc.errno == 1064
    assert exc.statement == "CHANGE MASTER 'a' TO MASTER_PASSWORD = '********'"
    assert exc.message == "(1064) You have an error in your SQL syntax near '********' at line 1"
    assert 's3cr3t' not in str(exc)
    assert session.queries == []


def test_read_only_session_refuses_changes():
    conn = FakeConnection(rows=[[{'x': 1}]])
    session = m.SqlSession(conn, read_only=True)
    assert session.fetch_all('SELECT 1 AS x') == [{'x': 1}]
    with pytest.raises(m.MariaDBQueryError) as caught:
        session.execute('STOP SLAVE %s', ('a',))
    assert caught.value.statement == "STOP SLAVE 'a'"
    assert 'read-only' in caught.value.message
    assert len(conn.sent) == 1 and session.queries == []


def test_session_execute_all_runs_in_order():
    conn = FakeConnection()
    session = m.SqlSession(conn)
    session.execute_all([('STOP SLAVE %s', ('a',)), ('START SLAVE %s', ('a',))])
    assert session.queries == ["STOP SLAVE 'a'", "START SLAVE 'a'"]


# --------------------------------------------------------------------------- option file

def test_read_option_file(tmp_path):
    cnf = tmp_path / 'my.cnf'
    cnf.write_text(
        '[mysqld]\nuser = mysql\n\n'
        '[client]\n# a comment\nuser = admin\npassword = "pa ss#word"\nsocket=/run/mysqld/mysqld.sock\n'
        'ssl_ca = /etc/ca.pem\n!includedir /etc/mysql/conf.d/\n'
        '[client-mariadb]\nuser = override\n'
    )
    assert m.read_option_file(str(cnf)) == {
        'user': 'override',
        'password': 'pa ss#word',
        'socket': '/run/mysqld/mysqld.sock',
        'ssl-ca': '/etc/ca.pem',
    }


def test_read_option_file_without_client_section(tmp_path):
    cnf = tmp_path / 'my.cnf'
    cnf.write_text('[mysqld]\nport = 3307\n')
    assert m.read_option_file(str(cnf)) == {}


# --------------------------------------------------------------------------- connect arguments

def test_build_connect_kwargs_tcp():
    kwargs, info = m.build_connect_kwargs(connection_params(
        login_host='10.0.0.5', login_port=3307, login_user='admin', login_password='pw'))
    assert kwargs == dict(autocommit=True, charset='utf8mb4', host='10.0.0.5', port=3307,
                          user='admin', password='pw', connect_timeout=30)
    assert info == dict(target='10.0.0.5:3307', user='admin', from_file=[])
    assert 'pw' not in repr(info)


def test_build_connect_kwargs_socket_wins_over_host():
    kwargs, info = m.build_connect_kwargs(connection_params(login_unix_socket='/tmp/s.sock', login_host='db'))
    assert kwargs['unix_socket'] == '/tmp/s.sock'
    assert 'host' not in kwargs and 'port' not in kwargs
    assert info['target'] == 'unix socket /tmp/s.sock'


def test_build_connect_kwargs_option_file_fills_gaps_only():
    option_file = {'user': 'fileuser', 'password': 'filepw', 'socket': '/run/s.sock', 'ssl-ca': '/ca.pem'}
    kwargs, info = m.build_connect_kwargs(connection_params(login_user='admin'), option_file)
    assert kwargs['user'] == 'admin'
    assert kwargs['password'] == 'filepw'
    assert kwargs['unix_socket'] == '/run/s.sock'
    assert kwargs['ssl'] == {'ca': '/ca.pem'}
    assert info['from_file'] == ['socket', 'password', 'ssl-ca']


def test_build_connect_kwargs_file_socket_not_used_for_remote_host():
    kwargs, info = m.build_connect_kwargs(connection_params(login_host='10.0.0.5'), {'socket': '/run/s.sock'})
    assert 'unix_socket' not in kwargs
    assert kwargs['host'] == '10.0.0.5'
    assert info['target'] == '10.0.0.5:3306'


def test_build_connect_kwargs_tls():
    kwargs, dummy = m.build_connect_kwargs(connection_params(
        login_host='db', ca_cert='/ca.pem', client_cert='/c.pem', client_key='/k.pem', check_hostname=False))
    assert kwargs['ssl'] == {'ca': '/ca.pem', 'cert': '/c.pem', 'key': '/k.pem', 'check_hostname': False}
    kwargs, dummy = m.build_connect_kwargs(connection_params(login_host='db'))
    assert 'ssl' not in kwargs
    # check_hostname alone does not make TLS mandatory.
    kwargs, dummy = m.build_connect_kwargs(connection_params(login_host='db', check_hostname=True))
    assert 'ssl' not in kwargs


def test_mariadb_connect_failure_names_target_and_hides_password(monkeypatch):
    def refuse(**kwargs):
        raise m.pymysql.err.OperationalError(
            1045, "Access denied for user 'admin'@'127.0.0.1' (using password: YES) [topsecret]")
    monkeypatch.setattr(m.pymysql, 'connect', refuse)
    module = FakeModule(connection_params(login_host='127.0.0.1', login_port=3399,
                                          login_user='admin', login_password='topsecret'))
    with pytest.raises(FailJson) as caught:
        m.mariadb_connect(module)
    msg = caught.value.args[0]['msg']
    assert msg.startswith("Unable to connect to MariaDB at 127.0.0.1:3399 as user 'admin': (1045) Access denied")
    assert 'topsecret' not in msg


def test_mariadb_connect_missing_pymysql(monkeypatch):
    monkeypatch.setattr(m, 'HAS_PYMYSQL', False)
    with pytest.raises(FailJson) as caught:
        m.mariadb_connect(FakeModule(connection_params()))
    assert 'PyMySQL' in caught.value.args[0]['msg']


def test_mariadb_connect_reports_unreadable_option_file(tmp_path):
    cnf = tmp_path / 'broken.cnf'
    cnf.write_text('no section header\n')
    with pytest.raises(FailJson) as caught:
        m.mariadb_connect(FakeModule(connection_params(config_file=str(cnf))))
    assert str(cnf) in caught.value.args[0]['msg']


def test_mariadb_connect_uses_dict_cursor_and_option_file(monkeypatch, tmp_path):
    seen = {}

    def fake_connect(**kwargs):
        seen.update(kwargs)
        return 'connection'
    monkeypatch.setattr(m.pymysql, 'connect', fake_connect)
    cnf = tmp_path / 'my.cnf'
    cnf.write_text('[client]\nuser=fromfile\npassword=filepw\n')
    assert m.mariadb_connect(FakeModule(connection_params(config_file=str(cnf), login_host='db'))) == 'connection'
    assert seen['cursorclass'] is m.pymysql.cursors.DictCursor
    assert seen['user'] == 'fromfile' and seen['password'] == 'filepw'
    assert seen['autocommit'] is True
