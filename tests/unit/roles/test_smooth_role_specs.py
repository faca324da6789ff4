# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/smooth: every phase is a task file with an argument_specs entry point that declares every input it reads,
the defaults live in defaults/main.yml (the same values the specs document), and no playbook or task file writes a
default of its own for them."""

import glob
import os
import re

import pytest
import yaml

ROOT = os.path.join(os.path.dirname(__file__), '..', '..', '..')
ROLE = os.path.join(ROOT, 'roles', 'smooth')
TASKS = {os.path.basename(p)[:-len('.yml')]: open(p).read() for p in glob.glob(os.path.join(ROLE, 'tasks', '*.yml'))}
SPECS = yaml.safe_load(open(os.path.join(ROLE, 'meta', 'argument_specs.yml')))['argument_specs']
DEFAULTS = yaml.safe_load(open(os.path.join(ROLE, 'defaults', 'main.yml')))
ROLE_VARS = yaml.safe_load(open(os.path.join(ROLE, 'vars', 'main.yml')))
PLAYBOOKS = {os.path.basename(p): open(p).read() for p in glob.glob(os.path.join(ROOT, 'playbooks', '*.yml'))}

INCLUDE = re.compile(r'(?:include|import)_tasks: ([a-z_]+)\.yml')
NAME = re.compile(r'\b(smooth_[a-z0-9_]+)\b')
# Inventory groups (hosts: lines, groups[...] and the group_by keys), not variables.
GROUP = re.compile(r"groups\['(smooth_[a-z0-9_]+)'\]|hosts: (\S+)|key: \"(smooth_[a-z_]+)")


def closure(entry, seen=None):
    """The task files an entry point runs: itself and what it includes, transitively."""
    seen = set() if seen is None else seen
    if entry not in seen:
        seen.add(entry)
        for name in INCLUDE.findall(TASKS[entry]):
            closure(name, seen)
    return seen


def groups():
    found = set()
    for text in list(TASKS.values()) + list(PLAYBOOKS.values()):
        for match in GROUP.findall(text):
            found.update(n for part in match for n in part.split(':') if n.startswith('smooth_'))
    return found


def read_names(text):
    # smooth.mariadb.<plugin> is a plugin name, &name and *name are YAML anchors, not variables.
    # Comment lines are not read either.
    text = re.sub(r'^\s*#.*$|smooth\.mariadb\.[a-z_.]+|[&*]smooth_[a-z0-9_]+', '', text, flags=re.M)
    names = set(NAME.findall(text))
    # A variable of vars/main.yml reads what its template reads.
    for var, template in ROLE_VARS.items():
        if re.search(r'\b%s\b' % var, text):
            names.update(NAME.findall(template))
    return names - groups()


def set_names(text):
    """Variables a task file sets: set_fact keys, registered results and task or include vars."""
    names = set(re.findall(r'^\s+register: (smooth_[a-z0-9_]+)', text, re.M))
    for block in re.findall(r'(?:set_fact|vars):\n((?:\s{2,}.*\n)+)', text):
        names.update(re.findall(r'^\s+(smooth_[a-z0-9_]+):', block, re.M))
    return names


SET_ANYWHERE = set().union(*(set_names(t) for t in TASKS.values()))


def test_every_task_file_is_an_entry_point_or_run_by_one():
    reached = set().union(*(closure(e) for e in SPECS))
    assert set(TASKS) - reached == set()
    assert set(SPECS) - set(TASKS) == set(), 'an entry point without its task file'


def test_every_playbook_imports_only_entry_points():
    used = set()
    for text in PLAYBOOKS.values():
        used.update(re.findall(r'tasks_from: ([a-z_]+)', text))
    assert used and used - set(SPECS) == set()


@pytest.mark.parametrize('entry', sorted(SPECS))
def test_every_inventory_input_an_entry_point_reads_is_declared(entry):
    # An input is a variable the role reads and never sets itself (the facts of
    # the plan, such as smooth_plan, are set by the plan's entry points).
    files = closure(entry)
    read = set().union(*(read_names(TASKS[f]) for f in files))
    inputs = read - SET_ANYWHERE - set(ROLE_VARS)
    declared = set(SPECS[entry].get('options') or {})
    assert inputs - declared == set(), '%s reads inputs its argument spec does not declare' % entry


@pytest.mark.parametrize('entry', sorted(SPECS))
def test_an_entry_point_declares_only_what_it_reads(entry):
    read = set().union(*(read_names(TASKS[f]) for f in closure(entry)))
    declared = set(SPECS[entry].get('options') or {})
    assert declared - read == set()


def test_every_default_is_documented_with_the_same_value_wherever_it_is_declared():
    declared = {}
    for entry, spec in SPECS.items():
        for name, option in (spec.get('options') or {}).items():
            declared.setdefault(name, []).append((entry, option.get('default')))
    assert set(DEFAULTS) - set(declared) == set(), 'defaults/main.yml sets variables no entry point declares'
    for name, value in DEFAULTS.items():
        for entry, default in declared[name]:
            assert default == value, '%s: %s documents the default %r, defaults/main.yml has %r' % (entry, name, default, value)


def test_an_option_with_a_default_in_a_spec_has_it_in_defaults_main():
    for entry, spec in SPECS.items():
        for name, option in (spec.get('options') or {}).items():
            if option.get('default') is not None:
                assert name in DEFAULTS, '%s: %s has a documented default but none in defaults/main.yml' % (entry, name)


def test_secrets_are_no_log():
    for spec in SPECS.values():
        for name, option in (spec.get('options') or {}).items():
            if 'password' in name:
                assert option.get('no_log') is True, name


@pytest.mark.parametrize('name, text', sorted(list(TASKS.items()) + list(PLAYBOOKS.items())))
def test_no_file_writes_its_own_default_for_an_input(name, text):
    inline = re.findall(r'\b(%s) \| default\(' % '|'.join(map(re.escape, DEFAULTS)), text)
    assert inline == [], '%s: inline defaults for %s (defaults/main.yml has them)' % (name, sorted(set(inline)))


@pytest.mark.parametrize('name', sorted(PLAYBOOKS))
def test_the_playbooks_name_no_task_file_outside_the_role(name):
    assert re.findall(r'(?:include|import)_tasks:', PLAYBOOKS[name]) == []


def blocks(tasks):
    """Every block of a task list, nested ones too (dicts with block:)."""
    for task in tasks or []:
        if isinstance(task, dict) and 'block' in task:
            yield task
            for part in ('block', 'rescue', 'always'):
                yield from blocks(task.get(part))


def task_lists():
    """(where, task list) of every task file of the role and every play of the playbooks."""
    for name in TASKS:
        yield name, yaml.safe_load(open(os.path.join(ROLE, 'tasks', name + '.yml')))
    for name in PLAYBOOKS:
        for play in yaml.safe_load(open(os.path.join(ROOT, 'playbooks', name))) or []:
            for part in ('pre_tasks', 'tasks', 'post_tasks', 'handlers'):
                yield '%s: %s' % (name, play.get('name')), play.get(part)


def test_one_failure_pattern_every_rescue_is_the_one_task_of_failed_yml():
    # The message of a failed phase is made in one place (failed.yml, action phase_failed) ...
    assert [name for name, text in TASKS.items() if 'smooth.mariadb.phase_failed' in text] == ['failed']
    assert [name for name, text in TASKS.items() if 'smooth.mariadb.phase_failure' in text] == []
    assert len(yaml.safe_load(TASKS['failed'])) == 1
    # ... and every rescue is that one task and nothing else: with any_errors_fatal and max_fail_percentage 0
    # (every play), ansible-core runs only the first task of a rescue once another host of the play stops with
    # the failing one (tests/integration/test_run_stops.py); a task after the first one never ran. An always:
    # section would be cut the same way.
    rescues = 0
    for where, tasks in task_lists():
        for block in blocks(tasks):
            assert 'always' not in block, (where, block.get('name'))
            if 'rescue' in block:
                rescues += 1
                assert [t.get('ansible.builtin.import_tasks') for t in block['rescue']] \
                    == ['failed.yml'], (where, block.get('name'), [t.get('name') for t in block['rescue']])
    assert rescues >= 13


def test_no_task_of_a_role_has_tags_of_its_own():
    # A run's selection is the play tags (filter selected_phases decides with them whether a run changes the
    # fleet and so takes the lock): a task tagged on its own could change the fleet in a run that took no lock.
    tagged = []
    for path in glob.glob(os.path.join(ROOT, 'roles', '*', 'tasks', '*.yml')) + \
            glob.glob(os.path.join(ROOT, 'roles', '*', 'handlers', '*.yml')):
        if re.search(r'^\s+tags:', open(path).read(), re.M):
            tagged.append(os.path.relpath(path, ROOT))
    assert tagged == []
