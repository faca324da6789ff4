# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A stand-in for AnsibleModule, shared by the module unit tests."""

from __future__ import annotations


class FailJson(Exception):
    """Raised where AnsibleModule.fail_json would end the module; args[0] holds its keywords."""


class ModuleStandIn(object):
    """params: the module's argument spec defaults, then DEFAULTS, then the given ones.

    Subclasses set ARGUMENT_SPEC = staticmethod(<module>.argument_spec) and may
    set DEFAULTS (the options every test of that module needs).
    """

    ARGUMENT_SPEC = None
    DEFAULTS = {}

    def __init__(self, check_mode=False, diff=False, **params):
        self.params = dict((name, spec.get('default')) for name, spec in self.ARGUMENT_SPEC().items())
        self.params.update(self.DEFAULTS)
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    def fail_json(self, **kwargs):
        raise FailJson(kwargs)

    def warn(self, message):
        self.warnings.append(message)
