# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""smooth.mariadb.selected_phases: which phases a run with --tags/--skip-tags runs (lock and peer logins)."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.smooth.mariadb.plugins.filter.runlock import FilterModule

SELECTED = FilterModule().filters()['selected_phases']
CHANGING = ['vip_add', 'route', 'split', 'seed', 'ha', 'cleanup', 'verify']


@pytest.mark.parametrize('run_tags, skip_tags, expected', [
    (['all'], [], CHANGING),                                   # no --tags
    ([], [], CHANGING),                                        # the same, when ansible gives no list
    (['preflight'], [], []),                                   # a dry run of the checks: changes nothing
    (['cleanup', 'verify'], [], ['cleanup', 'verify']),
    (['all'], ['cleanup'], ['vip_add', 'route', 'split', 'seed', 'ha', 'verify']),
    (['preflight', 'split'], ['split'], []),
    (['tagged'], [], CHANGING),
    (['all'], ['tagged'], []),
    (['all'], ['all'], []),                                    # only the plays tagged always run
    (['split'], ['all'], []),
    (['untagged'], [], []),
    (['always'], [], []),
])
def test_the_phases_a_run_selects(run_tags, skip_tags, expected):
    assert SELECTED(CHANGING, run_tags, skip_tags) == expected


def test_the_order_is_that_of_the_phases():
    assert SELECTED(['verify', 'split'], ['split', 'verify'], []) == ['verify', 'split']


@pytest.mark.parametrize('args', [('split', ['all'], []), (CHANGING, 'all', []), (CHANGING, ['all'], None),
                                  ([1], ['all'], [])])
def test_anything_but_lists_of_tags_is_an_error(args):
    with pytest.raises(AnsibleFilterError, match='selected_phases'):
        SELECTED(*args)
