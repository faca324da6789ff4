# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""meta/runtime.yml: the action group ``mariadb`` (module_defaults:
group/smooth.mariadb.mariadb) holds exactly the modules that take the MariaDB
connection options, read from each module's DOCUMENTATION."""

from __future__ import annotations

import ast
import os

import yaml

COLLECTION_ROOT = os.path.join(os.path.dirname(__file__), '..', '..', '..')
MODULES_DIR = os.path.join(COLLECTION_ROOT, 'plugins', 'modules')
FRAGMENT = 'smooth.mariadb.mariadb'
LOGIN_OPTIONS = ('login_host', 'login_port', 'login_user', 'login_password', 'login_unix_socket')


def _documentation(path):
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == 'DOCUMENTATION' for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError('%s has no DOCUMENTATION' % path)


def _modules():
    return sorted(name[:-3] for name in os.listdir(MODULES_DIR) if name.endswith('.py') and name != '__init__.py')


def _takes_login_options(doc):
    fragments = doc.get('extends_documentation_fragment') or []
    if isinstance(fragments, str):
        fragments = [fragments]
    return FRAGMENT in fragments or any(option in (doc.get('options') or {}) for option in LOGIN_OPTIONS)


def _group():
    with open(os.path.join(COLLECTION_ROOT, 'meta', 'runtime.yml'), encoding='utf-8') as handle:
        runtime = yaml.safe_load(handle)
    return runtime['action_groups']['mariadb']


def test_every_module_with_login_options_is_in_the_group():
    with_options = [m for m in _modules() if _takes_login_options(_documentation(os.path.join(MODULES_DIR, m + '.py')))]
    assert with_options, 'no module takes the connection options: the test reads the wrong files'
    assert sorted(set(with_options) - set(_group())) == []


def test_the_group_holds_only_modules_with_login_options():
    modules = _modules()
    group = _group()
    assert sorted(set(group) - set(modules)) == [], 'the group names modules that do not exist'
    without = [m for m in group if not _takes_login_options(_documentation(os.path.join(MODULES_DIR, m + '.py')))]
    assert without == []
    assert len(group) == len(set(group))
