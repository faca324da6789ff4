# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):

    # Connection options shared by every smooth.mariadb module
    # (plugins/module_utils/mariadb.py: mariadb_common_argument_spec).
    DOCUMENTATION = r'''
options:
  login_host:
    description:
      - Host name or IP address of the MariaDB server to manage.
      - Ignored when O(login_unix_socket) is set. When left at V(localhost) and the
        option file names a C(socket), that socket is used, as the MariaDB client does.
    type: str
    default: localhost
  login_port:
    description:
      - TCP port of the MariaDB server. Ignored for Unix socket connections.
    type: int
    default: 3306
  login_user:
    description:
      - Account to log in with.
      - When not set, the C(user) of the option file (see O(config_file)) is used,
        then the name of the operating system user running the module.
    type: str
  login_password:
    description:
      - Password of O(login_user).
      - When not set, the C(password) of the option file (see O(config_file)) is used.
      - Never shown in results, messages or logs.
    type: str
  login_unix_socket:
    description:
      - Path of the server's Unix socket, for local connections.
      - Debian's MariaDB authenticates the system C(root) user over the socket
        (C(unix_socket) plugin), typically V(/run/mysqld/mysqld.sock).
    type: str
  config_file:
    description:
      - MariaDB option file to read client settings from, on the host running the module.
      - Read only if it exists. Set it to an empty string to read no file.
      - Taken from its C([client]), C([client-server]) and C([client-mariadb]) sections
        (later ones win) are C(user), C(password), C(socket) (only while O(login_host)
        is V(localhost) and O(login_unix_socket) is not set), C(ssl-ca), C(ssl-cert) and
        C(ssl-key), each only when the matching option of the module is not set.
      - C(host) and C(port) of the file are not used; C(!include) lines are not followed.
    type: path
    default: ~/.my.cnf
  connect_timeout:
    description:
      - Seconds to wait for the connection to the server, from 1 to 31536000.
    type: int
    default: 30
  ca_cert:
    description:
      - CA certificate to verify the server's TLS certificate with. Setting it (or
        O(client_cert)/O(client_key)) makes TLS mandatory for the connection.
    type: path
  client_cert:
    description:
      - Client TLS certificate, for accounts that require X509.
    type: path
  client_key:
    description:
      - Private key of O(client_cert).
    type: path
  check_hostname:
    description:
      - Whether the server's certificate must match O(login_host).
      - Only has an effect on a TLS connection with O(ca_cert); it does not turn TLS on.
        When not set, the host name is checked whenever a CA certificate is given.
    type: bool
requirements:
  - PyMySQL 1.0 or later on the host running the module (Debian C(python3-pymysql)).
notes:
  - Connection failures are reported with the server address (host:port or socket)
    and the server's error text; the password is never part of the message.
'''
