# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Import the lab application's scripts (lab/app/*.py) by path: they are not part of the collection."""

from __future__ import annotations

import importlib.util
import os
import sys

LAB_APP_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                           'lab', 'app')


def load(name):
    """The module lab/app/<name>.py, loaded once as lab_app_<name>."""
    module_name = 'lab_app_%s' % name
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, os.path.join(LAB_APP_DIR, '%s.py' % name))
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]
