# -*- coding: utf-8 -*-
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A reload command with another deployer in front of it (molecule expand_2n).

Run on the application host as the route's smooth_route_reload_command, after
the route wrote the plan's new map to the map file. First "another deployer"
sends the lab application, with PUT /shard-map, a map of the same version with
other content: the map the plan replaces (shard 0 alone). Then the file gets
the plan's map back (the PUT wrote its own) and the application is told to
reload it, as the real reload command would. The application refuses that
reload (its version is already loaded with other content) and keeps reporting
the plan's version number: only the digest tells that it did not load the map.
"""

import json
import subprocess
import sys
import urllib.request

MAP_PATH = '/etc/smooth-lab-app/shard-map.json'
URL = 'http://127.0.0.1:8080/shard-map'


def main():
    with open(MAP_PATH, encoding='utf-8') as handle:
        published = json.load(handle)
    other = {'version': published['version'], 'modulus': 1, 'datasources': published['datasources'][:1]}
    request = urllib.request.Request(URL, data=json.dumps(other).encode('utf-8'), method='PUT',
                                     headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=30) as reply:
        print('other deployer: PUT version %d (modulus 1): HTTP %d' % (other['version'], reply.status))
    with open(MAP_PATH, 'w', encoding='utf-8') as handle:
        json.dump(published, handle)
    subprocess.run(['systemctl', 'reload', 'smooth-lab-app.service'], check=True, timeout=30)
    return 0


if __name__ == '__main__':
    sys.exit(main())
