# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make ``ansible_collections.smooth.mariadb`` importable for plain pytest.

Under ``ansible-test units`` the collection already sits in an
``ansible_collections/smooth/mariadb`` tree and nothing is done. From a plain
checkout, ``.collections/`` (created by the lab setup) is put on sys.path, or,
when it is missing, a temporary tree with a symlink to the checkout.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collection_root():
    parts = REPO_ROOT.split(os.sep)
    if len(parts) >= 3 and parts[-3:-2] == ['ansible_collections'] and parts[-2:] == ['smooth', 'mariadb']:
        return os.sep.join(parts[:-3])
    link_root = os.path.join(REPO_ROOT, '.collections')
    if os.path.isdir(os.path.join(link_root, 'ansible_collections', 'smooth', 'mariadb', 'plugins')):
        return link_root
    temp_root = tempfile.mkdtemp(prefix='smooth-mariadb-units-')
    atexit.register(shutil.rmtree, temp_root, True)
    namespace = os.path.join(temp_root, 'ansible_collections', 'smooth')
    os.makedirs(namespace)
    os.symlink(REPO_ROOT, os.path.join(namespace, 'mariadb'))
    return temp_root


_ROOT = _collection_root()
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
