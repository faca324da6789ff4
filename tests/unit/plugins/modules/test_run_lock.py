# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""run_lock on real files: create with O_EXCL, keep, give back, take over a dead run's lock."""

from __future__ import annotations

import json

from ansible_collections.smooth.mariadb.plugins.module_utils.runlock import WorkLock
from ansible_collections.smooth.mariadb.plugins.modules import run_lock

from .module_standin import ModuleStandIn


def spec():
    return dict(state=dict(default='present'), run_id=dict(), owner=dict(default={}), break_run_id=dict(),
                path=dict(), work_lock_path=dict(), work_wait=dict(default=0))


class Module(ModuleStandIn):
    ARGUMENT_SPEC = staticmethod(spec)


def module(tmp_path, **params):
    return Module(path=str(tmp_path / 'lock' / 'run.lock'), work_lock_path=str(tmp_path / 'run' / 'work.lock'),
                  **params)


def content(tmp_path):
    return json.loads((tmp_path / 'lock' / 'run.lock').read_text())


def test_create_keep_release(tmp_path):
    owner = {'playbook': 'site.yml', 'controller': 'ctl-1', 'pid': 42}
    first = run_lock.run_module(module(tmp_path, run_id='r1', owner=owner))
    assert first['changed'] and first['acquired'] and first['action'] == 'create'
    assert content(tmp_path)['run_id'] == 'r1' and content(tmp_path)['controller'] == 'ctl-1'
    again = run_lock.run_module(module(tmp_path, run_id='r1', owner=owner))
    assert not again['changed'] and again['acquired'] and again['action'] == 'keep'
    other = run_lock.run_module(module(tmp_path, run_id='r2'))
    assert not other['acquired'] and other['reason'] == 'held' and other['held_by']['run_id'] == 'r1'
    assert not run_lock.run_module(module(tmp_path, run_id='r2', state='absent'))['acquired']
    assert content(tmp_path)['run_id'] == 'r1'
    released = run_lock.run_module(module(tmp_path, run_id='r1', state='absent'))
    assert released['changed'] and not (tmp_path / 'lock' / 'run.lock').exists()


def test_check_mode_writes_nothing(tmp_path):
    result = run_lock.run_module(module(tmp_path, run_id='r1', check_mode=True))
    assert result['changed'] and result['acquired'] and not (tmp_path / 'lock' / 'run.lock').exists()


def test_takeover_rewrites_the_lock_first_then_reports_a_module_of_the_dead_run_still_working(tmp_path):
    run_lock.run_module(module(tmp_path, run_id='dead'))
    with WorkLock(str(tmp_path / 'run' / 'work.lock')):
        result = run_lock.run_module(module(tmp_path, run_id='r2', break_run_id='dead'))
        assert result['acquired'] is False and result['reason'] == 'work_active' and result['action'] == 'replace'
        # The lock names the new run already: the dead run's purge stops at its next chunk.
        assert content(tmp_path)['run_id'] == 'r2'
    (tmp_path / 'lock' / 'run.lock').unlink()
    run_lock.run_module(module(tmp_path, run_id='dead'))
    result = run_lock.run_module(module(tmp_path, run_id='r3', break_run_id='dead'))
    assert result['acquired'] is True and result['changed'] and content(tmp_path)['run_id'] == 'r3'


def test_takeover_only_of_the_named_run(tmp_path):
    run_lock.run_module(module(tmp_path, run_id='alive'))
    result = run_lock.run_module(module(tmp_path, run_id='r2', break_run_id='dead'))
    assert result['acquired'] is False and result['reason'] == 'held' and content(tmp_path)['run_id'] == 'alive'
