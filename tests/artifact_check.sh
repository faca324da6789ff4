#!/usr/bin/env bash
# Copyright: (c) smooth.mariadb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The collection artifact as a Galaxy user gets it ("make artifact-check", part
# of "make test"): builds the tarball, checks what it holds, installs it offline
# into an empty collections directory next to its one dependency
# (community.mysql, copied from the ansible package of the venv: Galaxy is not
# reachable here) and then, with ansible-core and that directory only (not the
# collections the ansible package bundles, not this checkout):
#   - shows that the install refuses when community.mysql is missing,
#   - syntax-checks every playbook by its FQCN and every task and handler file
#     of the roles and playbooks (the roles include their tasks dynamically, so
#     a playbook's syntax check alone never loads them),
#   - reads the documentation of every module, filter, lookup and callback,
#   - sets the connection options once through the action group,
#   - runs the unit tests the artifact ships.
# Needs only the venv of "make setup". Everything it makes is under
# build/artifact-check (removed first).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
export PATH="$REPO/.venv/bin:$PATH"
start=$SECONDS

OUT="$REPO/build/artifact-check"
DIST="$OUT/dist"            # the tarball
COLLECTIONS="$OUT/collections"  # community.mysql + the tarball, installed
NODEP="$OUT/no-dependency"   # the tarball alone, for the checks that must fail
WORK="$OUT/work"            # the current directory of every ansible command
rm -rf "$OUT"
mkdir -p "$DIST" "$COLLECTIONS/ansible_collections/community" "$NODEP" "$WORK"

step() { printf '== %s\n' "$*"; }
fail() { printf 'artifact-check: FAILED: %s\n' "$*" >&2; exit 1; }

# No ansible.cfg of the checkout or of the user, no collections but these.
: > "$WORK/ansible.cfg"
export ANSIBLE_CONFIG="$WORK/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_NOCOLOR=1
unset ANSIBLE_ROLES_PATH ANSIBLE_LIBRARY ANSIBLE_FILTER_PLUGINS ANSIBLE_CALLBACKS_ENABLED || true

step "build"
timeout 120 ansible-galaxy collection build --output-path "$DIST" "$REPO" >/dev/null
tarballs=("$DIST"/smooth-mariadb-*.tar.gz)
[[ ${#tarballs[@]} -eq 1 && -f ${tarballs[0]} ]] || fail "expected one tarball in $DIST"
TARBALL="${tarballs[0]}"
tar -tzf "$TARBALL" | sed 's#/$##' | sort > "$OUT/contents.txt"
files=$(tar -tvzf "$TARBALL" | grep -c '^-') || true
bytes=$(stat -c %s "$TARBALL")
echo "$(basename "$TARBALL"): $files files, $bytes bytes ($(( (bytes + 1023) / 1024 )) KiB)"

step "contents"
forbidden=$(grep -E '^(Makefile|ansible\.cfg|inventories|molecule|lab|build|\.venv|\.collections|\.lab|\.ci|\.git[^/]*|tests/(integration|bench|output|artifact_check\.sh)|tests/unit/lab_[^/]*)(/|$)|(^|/)(__pycache__|\.pytest_cache)(/|$)|\.pyc$' "$OUT/contents.txt" || true)
[[ -z "$forbidden" ]] || fail "the tarball holds what only this repository needs:
$(printf '%s\n' "$forbidden" | head -20)"
required=(MANIFEST.json FILES.json README.md LICENSE meta/runtime.yml plugins/modules roles/server roles/keepalived playbooks tests/unit)
# Present in the checkout (the release writes CHANGELOG.rst): then in the tarball too.
for f in CHANGELOG.rst changelogs/changelog.yaml changelogs/config.yaml bindep.txt requirements.txt meta/execution-environment.yml; do
  [[ -e "$REPO/$f" ]] && required+=("$f")
done
for f in "${required[@]}"; do
  grep -qxF "$f" "$OUT/contents.txt" || fail "the tarball lacks $f"
done
tar -xzOf "$TARBALL" LICENSE > "$OUT/LICENSE"
license_head=$(sed -n '1,2s/^ *//p' "$OUT/LICENSE" | paste -sd'|' -)
[[ "$license_head" == "GNU GENERAL PUBLIC LICENSE|Version 3, 29 June 2007" ]] || fail "LICENSE is not the GPL v3 text: $license_head"
echo "none of Makefile, ansible.cfg, inventories/, molecule/, lab/, tests/integration, tests/bench, tests/unit/lab_*; has ${required[*]}"

step "install (offline)"
# Without community.mysql the install must refuse: the dependency is declared.
if out=$(ANSIBLE_COLLECTIONS_PATH="$NODEP" timeout 120 ansible-galaxy collection install --offline -p "$NODEP" "$TARBALL" 2>&1); then
  fail "the install succeeded without community.mysql: galaxy.yml declares no dependency on it"
fi
grep -q 'community\.mysql' <<<"$out" || fail "the install failed, but not for community.mysql: $out"
echo "without community.mysql: refused ($(grep -m1 -o '\* community\.mysql[^ ]*.*' <<<"$out"))"
# community.mysql of the ansible package in the venv (its FILES.json lists files
# the package leaves out, so it is copied, not installed from a tarball).
MYSQL_SRC=$(python -c 'import ansible_collections.community.mysql as m, os; print(os.path.dirname(m.__file__))' 2>/dev/null ||
  ls -d "$REPO"/.venv/lib/python3*/site-packages/ansible_collections/community/mysql | head -1)
[[ -f "$MYSQL_SRC/MANIFEST.json" ]] || fail "no community.mysql in the venv (make setup)"
cp -r "$MYSQL_SRC" "$COLLECTIONS/ansible_collections/community/mysql"
find "$COLLECTIONS" -name __pycache__ -prune -exec rm -rf {} +
out=$(cd "$WORK" && timeout 120 ansible-galaxy collection install --offline -p "$COLLECTIONS" "$TARBALL" 2>&1) ||
  fail "the install failed: $out"
printf '%s\n' "$out" | grep -E "installed successfully|already installed" || true
grep -q "smooth.mariadb:[^ ]* was installed successfully" <<<"$out" || fail "smooth.mariadb was not installed: $out"
grep -q "'community.mysql:[^']*' is already installed" <<<"$out" || fail "community.mysql was not taken as the dependency: $out"
(cd "$WORK" && timeout 60 ansible-galaxy collection verify --offline smooth.mariadb) >/dev/null ||
  fail "ansible-galaxy collection verify --offline smooth.mariadb"
listed=$(cd "$WORK" && timeout 60 ansible-galaxy collection list -p "$COLLECTIONS" 2>/dev/null | grep -E '^(smooth\.mariadb|community\.mysql) ' | awk '{print $1 " " $2}' | paste -sd, -)
echo "installed in $COLLECTIONS: $listed"
INSTALLED="$COLLECTIONS/ansible_collections/smooth/mariadb"

# Run from $WORK: no ansible.cfg, no playbook-adjacent collections.
cd "$WORK"

step "syntax check of the playbooks, by FQCN"
for p in "$INSTALLED"/playbooks/*.yml; do
  name="smooth.mariadb.$(basename "$p" .yml)"
  out=$(timeout 120 ansible-playbook --syntax-check -i localhost, "$name" 2>&1) || fail "$name: $out"
  echo "$name: ok"
done

step "syntax check of every task and handler file (modules of community.mysql resolve)"
task_files=$(cd "$INSTALLED" && ls roles/*/tasks/*.yml)
handler_files=$(cd "$INSTALLED" && ls roles/*/handlers/*.yml 2>/dev/null || true)
{
  echo "- name: Load every task file of smooth.mariadb"
  echo "  hosts: localhost"
  echo "  gather_facts: false"
  echo "  tasks:"
  for f in $task_files; do echo "    - ansible.builtin.import_tasks: $INSTALLED/$f"; done
  echo "  handlers:"
  for f in $handler_files; do echo "    - ansible.builtin.import_tasks: $INSTALLED/$f"; done
} > task_files.yml
out=$(timeout 120 ansible-playbook --syntax-check -i localhost, task_files.yml 2>&1) || fail "$out"
echo "$(wc -w <<<"$task_files") task files, $(wc -w <<<"$handler_files") handler files: ok"
# The same without community.mysql must fail: the check sees a missing dependency.
ANSIBLE_COLLECTIONS_PATH="$NODEP" timeout 120 ansible-galaxy collection install --offline --no-deps -p "$NODEP" "$TARBALL" >/dev/null 2>&1 ||
  fail "the install with --no-deps failed"
sed "s#$COLLECTIONS/#$NODEP/#" task_files.yml > task_files_nodep.yml
if out=$(ANSIBLE_COLLECTIONS_PATH="$NODEP" timeout 120 ansible-playbook --syntax-check -i localhost, task_files_nodep.yml 2>&1); then
  fail "the task files passed the syntax check without community.mysql: the check proves nothing"
fi
grep -q "couldn't resolve module/action 'community\.mysql\." <<<"$out" || fail "without community.mysql, not the expected error: $out"
echo "without community.mysql: $(grep -m1 -o "couldn't resolve module/action '[^']*'" <<<"$out") (as it must)"

step "documentation of every plugin"
for type in module filter lookup callback; do
  case $type in
    module) names=$(ls "$INSTALLED"/plugins/modules/*.py) ;;
    filter) names=$(ls "$INSTALLED"/plugins/filter/*.yml) ;;
    lookup) names=$(ls "$INSTALLED"/plugins/lookup/*.py) ;;
    callback) names=$(ls "$INSTALLED"/plugins/callback/*.py) ;;
  esac
  fqcns=$(for n in $names; do b=$(basename "$n"); echo "smooth.mariadb.${b%.*}"; done | grep -v '\.__init__$')
  [[ $type != module ]] || fqcns="$fqcns
community.mysql.mysql_db
community.mysql.mysql_info
community.mysql.mysql_query
community.mysql.mysql_user"
  # shellcheck disable=SC2086
  timeout 180 ansible-doc -t "$type" --json $fqcns > "docs-$type.json" 2> "docs-$type.err" ||
    fail "ansible-doc -t $type: $(cat "docs-$type.err")"
  python - "docs-$type.json" $fqcns <<'EOF' || fail "ansible-doc -t $type: $(cat "docs-$type.err")"
import json, sys
docs = json.load(open(sys.argv[1]))
missing = [n for n in sys.argv[2:] if not (docs.get(n) or {}).get('doc')]
if missing:
    sys.exit('no documentation for: %s' % ', '.join(missing))
print('%s: %d documented (%s)' % (sys.argv[1][5:-5], len(sys.argv) - 2, ' '.join(n.split('.')[-1] for n in sys.argv[2:])))
EOF
done

step "module_defaults: group/smooth.mariadb.mariadb"
cat > module_defaults.yml <<'EOF'
- name: The action group passes the connection options to the modules
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/smooth.mariadb.mariadb:
      login_host: 127.0.0.1
      login_port: 1
      login_user: artifact_check
      config_file: ""
      connect_timeout: 5
  tasks:
    - name: Log in with the options of the group only (nothing listens on port 1)
      smooth.mariadb.login_check:
      register: login
    - name: The module got them
      ansible.builtin.assert:
        that:
          - not login.connected
          - login.target == '127.0.0.1:1'
        fail_msg: "{{ login | to_json }}"
EOF
out=$(timeout 120 ansible-playbook -i localhost, -e 'ansible_python_interpreter={{ ansible_playbook_python }}' module_defaults.yml 2>&1) ||
  fail "$out"
echo "login_check took login_host/login_port from the group: ok"

step "unit tests of the artifact"
rc=0
timeout 600 python -m pytest -q -p no:cacheprovider --rootdir "$INSTALLED" "$INSTALLED/tests/unit" > pytest.log 2>&1 || rc=$?
tail -n 1 pytest.log
[[ $rc -eq 0 ]] || fail "the unit tests of the artifact (rc=$rc):
$(tail -n 40 pytest.log)"

step "requirements.txt against the venv"
python - "$REPO/requirements.txt" <<'EOF'
import sys
from importlib.metadata import version
from packaging.requirements import Requirement
for line in open(sys.argv[1]):
    line = line.split('#', 1)[0].strip()
    if line:
        req = Requirement(line)
        have = version(req.name)
        if not req.specifier.contains(have, prereleases=True):
            sys.exit('requirements.txt: %s, the venv (tested) has %s' % (req, have))
        print('%s: %s installed' % (req, have))
EOF

echo "artifact-check: passed in $((SECONDS - start)) s ($(basename "$TARBALL"): $files files, $bytes bytes)"
