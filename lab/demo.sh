#!/usr/bin/env bash
# The demo ("make demo"): on this machine, create five lab hosts, deploy one
# shard (lab-1 <=> lab-2 behind 10.214.0.200), the lab application on lab-5
# and a load generator on this machine, double the fleet to two shards with
# playbooks/expand_2n.yml while the load runs, then stop the load, check every
# acknowledged write against every node and print a short report.
# Files of the run: .lab/demo/ (ledger, summaries, the expansion's log).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/.lab/demo
INV=inventories/demo
export PATH=$ROOT/.venv/bin:$PATH
export ANSIBLE_CONFIG=$ROOT/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$ROOT/.collections
RATE=${DEMO_RATE:-40}

say() { printf '[demo %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

lab/lab.sh setup
say "fresh lab hosts (lab/lab.sh down lab; up lab 5)"
lab/lab.sh down lab >/dev/null 2>&1 || true
lab/lab.sh up lab 5
rm -rf "$OUT" && mkdir -p "$OUT"

say "deploy the starting fleet: one shard (playbooks/site.yml)"
ansible-playbook -i $INV playbooks/site.yml > "$OUT/site.log" || { tail -40 "$OUT/site.log"; exit 1; }
say "deploy the lab application on lab-5 (lab/app/deploy.yml)"
ansible-playbook -i $INV lab/app/deploy.yml > "$OUT/app.log" || { tail -40 "$OUT/app.log"; exit 1; }

cat > "$OUT/shards.json" <<JSON
{"modulus": 2, "database": "smooth_lab", "table": "t_trade_order",
 "user": "smooth_admin", "password": "lab-admin-Secret-1",
 "shards": [{"index": 0, "nodes": [{"name": "lab-1", "host": "10.214.0.11", "port": 3306},
                                   {"name": "lab-3", "host": "10.214.0.13", "port": 3306}]},
            {"index": 1, "nodes": [{"name": "lab-2", "host": "10.214.0.12", "port": 3306},
                                   {"name": "lab-4", "host": "10.214.0.14", "port": 3306}]}]}
JSON
chmod 600 "$OUT/shards.json"
say "start the load: $RATE writes/s through the application, ledger in $OUT/ledger.jsonl"
python lab/app/loadgen.py --app http://10.214.0.15:8080 --ledger "$OUT/ledger.jsonl" --summary "$OUT/load.json" \
  --stop-file "$OUT/load.stop" --rate "$RATE" --threads 4 --duration 3600 > "$OUT/loadgen.log" 2>&1 &
LOADGEN=$!
# How long any write had one up-to-date copy only (every node read twice a second).
python lab/app/copy_window.py --shards "$OUT/shards.json" --out "$OUT/window.json" --stop-file "$OUT/load.stop" \
  --duration 3600 > "$OUT/window.log" 2>&1 &
WINDOW=$!
stop_load() {
  touch "$OUT/load.stop"
  for _ in $(seq 1 60); do kill -0 "$LOADGEN" 2>/dev/null || kill -0 "$WINDOW" 2>/dev/null || break; sleep 0.5; done
  kill "$LOADGEN" "$WINDOW" 2>/dev/null || true
}
trap stop_load EXIT
sleep 10

say "expand 1 -> 2 shards under load (playbooks/expand_2n.yml; output in $OUT/expand.log)"
rc=0
SMOOTH_PHASE_REPORT_FILE="$OUT/phases.json" ansible-playbook -i $INV playbooks/expand_2n.yml > "$OUT/expand.log" 2>&1 || rc=$?
grep -E '^(PLAY|fatal|FAILED)|msg: .*(failed|refus)' "$OUT/expand.log" | sed 's/^/  /' | cut -c1-160 || true
sleep 10
say "stop the load and check the ledger against every node"
stop_load
trap - EXIT
python lab/app/ledger_check.py --ledger "$OUT/ledger.jsonl" --shards "$OUT/shards.json" --report "$OUT/check.json" \
  > "$OUT/check.log" 2>&1 || true
report_rc=0
python lab/demo_report.py --phases "$OUT/phases.json" --load "$OUT/load.json" --check "$OUT/check.json" \
  --window "$OUT/window.json" || report_rc=$?
echo
echo "The lab stays up: shard 0 at 10.214.0.200 (lab-1, lab-3), shard 1 at 10.214.0.201 (lab-2, lab-4),"
echo "the application at http://10.214.0.15:8080/version. ssh -i .lab/id_ed25519 root@10.214.0.11;"
echo "'make lab-down' removes it. Files of this run: $OUT"
[ $rc -eq 0 ] && [ $report_rc -eq 0 ]
