"""roles/keepalived/templates/keepalived.conf.j2, rendered as the role renders it (the role's defaults, Ansible's
trim_blocks): which track files each VRRP instance reads. keepalived itself validates the file on the hosts
(keepalived-config-test, the template task's validate)."""

import os
import re

import jinja2
import pytest
import yaml

ROLE = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'keepalived')

INSTANCE = {
    'name': 'VI_SHARD0', 'interface': 'eth0', 'virtual_router_id': 51, 'priority': 100,
    'virtual_ipaddresses': ['10.0.0.200/24'], 'unicast_src_ip': '10.0.0.13', 'unicast_peers': ['10.0.0.11'],
}


def _bool(value):
    return value if isinstance(value, bool) else str(value).strip().lower() in ('1', 'true', 'yes', 'on')


def render(instances, **overrides):
    with open(os.path.join(ROLE, 'defaults', 'main.yml')) as handle:
        variables = yaml.safe_load(handle)
    variables.update(keepalived_router_id='lab-3', ansible_managed='managed', keepalived_instances=instances)
    variables.update(overrides)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, 'templates')), trim_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters['bool'] = _bool
    return env.get_template('keepalived.conf.j2').render(**variables)


def instance_block(text, name):
    match = re.search(r'^vrrp_instance %s \{\n(.*?)^\}' % name, text, re.M | re.S)
    assert match, text
    return match.group(1)


def tracked_files(text, name):
    match = re.search(r'track_file \{\n(.*?)\n    \}', instance_block(text, name), re.S)
    return [line.split()[0] for line in match.group(1).splitlines()] if match else []


@pytest.mark.parametrize('fence', [True, False])
def test_a_held_instance_reads_its_hold_file_and_goes_to_fault_on_1(fence):
    text = render([dict(INSTANCE, hold=True)], keepalived_fence=fence)
    declared = re.search(r'^track_file hold_VI_SHARD0 \{\n(.*?)^\}', text, re.M | re.S)
    assert declared, text
    body = declared.group(1).split('\n')
    assert [line.strip() for line in body if line.strip()] == [
        'file "/var/lib/smooth-mariadb/VI_SHARD0.hold"', 'weight 0', 'init_file 1']
    assert 'hold_VI_SHARD0' in tracked_files(text, 'VI_SHARD0')
    assert ('fence_standoff_VI_SHARD0' in tracked_files(text, 'VI_SHARD0')) is fence


@pytest.mark.parametrize('hold', [False, 'false', None])
def test_an_instance_not_held_reads_no_hold_file(hold):
    instance = dict(INSTANCE) if hold is None else dict(INSTANCE, hold=hold)
    text = render([instance])
    assert 'hold_' not in text
    assert tracked_files(text, 'VI_SHARD0') == ['fence_mariadb_down', 'fence_standoff_VI_SHARD0']


def test_only_the_held_instance_of_two_reads_a_hold_file():
    text = render([dict(INSTANCE, hold=True), dict(INSTANCE, name='VI_SHARD2', virtual_router_id=53, hold=False)],
                  keepalived_hold_dir='/srv/holds')
    assert 'file "/srv/holds/VI_SHARD0.hold"' in text
    assert 'VI_SHARD2.hold' not in text
    assert 'hold_VI_SHARD0' in tracked_files(text, 'VI_SHARD0')
    assert not [name for name in tracked_files(text, 'VI_SHARD2') if name.startswith('hold_')]
