# smooth.mariadb — the entry points. Everything runs as root on a Debian 12
# machine; "make setup" installs what the rest needs (idempotent, fast when done).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
SCENARIOS ?= install blocks expand_2n shards partition rollback_2n expand_4
# One copy per checkout: two checkouts testing at once (a CI run beside a
# developer's) must not share it.
SANITY_ROOT := $(or $(TMPDIR),/tmp)/smooth-mariadb-sanity-$(shell printf '%s' '$(CURDIR)' | md5sum | cut -c1-8)

.PHONY: help setup demo lab lab-down lint sanity unit artifact-check integration molecule molecule-scenarios build bench bench-failover bench-orchestration test clean

help:
	@echo "make demo       set up this machine, create 5 lab hosts, deploy 1 shard and the lab application,"
	@echo "                double it to 2 shards under live writes and print a report"
	@echo "make lab        set up this machine, create 4 lab hosts, deploy the example fleet (2 shards)"
	@echo "make lab-down   remove the lab hosts and their network"
	@echo "make test       set up this machine and run every test (lint, sanity, unit, artifact-check, integration, molecule)"
	@echo "make lint | sanity | unit | artifact-check | integration | molecule | build | bench | bench-failover | bench-orchestration"

setup:
	lab/lab.sh setup

demo: setup
	lab/demo.sh

lab: setup
	lab/lab.sh up lab 4
	ansible-playbook -i inventories/lab playbooks/site.yml
	@echo
	@echo "Lab fleet is up: ssh -i .lab/id_ed25519 root@10.214.0.11 (lab-1 .. lab-4 at .11-.14);"
	@echo "VIPs 10.214.0.200 (shard 0) and 10.214.0.201 (shard 1); 'make lab-down' removes it."

lab-down:
	lab/lab.sh down lab

lint: setup
	yamllint -s .
	ansible-lint --profile production
	antsibull-changelog lint

build: setup
	rm -rf build/collection && mkdir -p build/collection
	ansible-galaxy collection build --force --output-path build/collection .

# ansible-test needs the collection under ansible_collections/NS/NAME, outside
# any other git checkout: test a copy of the files git knows about.
sanity: setup
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)/ansible_collections/smooth/mariadb
	git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t $(SANITY_ROOT)/ansible_collections/smooth/mariadb
	cd $(SANITY_ROOT)/ansible_collections/smooth/mariadb && ansible-test sanity --venv --python 3.11 --color no
	rm -rf $(SANITY_ROOT)

unit: setup
	python -m pytest -q tests/unit

# The collection tarball as a user installs it (offline, with community.mysql
# from the venv): what it holds, its playbooks, task files, docs and unit tests
# with ansible-core and its declared dependency only (tests/artifact_check.sh).
artifact-check: setup
	timeout 900 tests/artifact_check.sh

integration: setup
	python -m pytest -q tests/integration

# Scenarios run one after another on the one prebuilt image; each scenario's
# hosts and network are removed even when it fails. Every ansible-playbook of a
# scenario (nested runs too) logs to build/ansible-<scenario>.log; when the
# scenario fails, what failed is said last, also in build/failure-summary.txt.
molecule: setup
	@$(MAKE) --no-print-directory molecule-scenarios

molecule-scenarios:
	@mkdir -p build; rm -f build/failure-summary.txt; \
	for s in $(SCENARIOS); do \
	  net=$$(sed -n 's/^# lab-network: *//p' molecule/$$s/molecule.yml); \
	  lab/lab.sh net $$net; \
	  rc=0; start=$$SECONDS; log=build/ansible-$$s.log; rm -f $$log; \
	  ANSIBLE_LOG_PATH=$(CURDIR)/$$log molecule test -s $$s || rc=$$?; \
	  molecule destroy -s $$s >/dev/null 2>&1 || true; \
	  pkill -f "$(CURDIR)/lab/app/[l]oadgen.py" || true; pkill -f "$(CURDIR)/lab/app/[c]opy_window.py" || true; \
	  lab/lab.sh down $$net; \
	  echo "molecule scenario $$s: rc=$$rc in $$((SECONDS - start)) s"; \
	  if [ $$rc -ne 0 ]; then \
	    { echo "== molecule scenario $$s failed (rc=$$rc); from $$log:"; \
	      python lab/failure_summary.py $$log; } | tee build/failure-summary.txt; \
	    exit $$rc; \
	  fi; \
	done

# Benchmarks print figures (rows/s, seconds, lag); they assert nothing about
# speed and are not part of "make test". "make bench" runs the loopback
# benchmarks of the data path (seed, purge, verify); it leaves out
# bench_failover.py, which needs lab hosts on the network "bench" and 8-10
# minutes: run it with "make bench-failover".
bench: setup
	@for b in tests/bench/bench_*.py; do \
	  case "$$b" in */bench_failover.py) continue ;; esac; \
	  echo "== $$b"; python "$$b"; \
	done

# Issue 10: writes through the VIP while the holder's mariadbd is killed, per
# keepalived settings profile (PROFILES in the script), >= 5 tries each, on two
# hosts bfo-1/bfo-2 it creates and always removes. Options, e.g.:
#   make bench-failover BENCH_FAILOVER_ARGS='--tries 6 --profiles before,after'
BENCH_FAILOVER_ARGS ?=
bench-failover: setup
	python tests/bench/bench_failover.py $(BENCH_FAILOVER_ARGS)

# Issue 12 (item 5): how long the orchestration of expand_2n.yml takes on the
# demo fleet: plan + preflight, and a re-run that changes nothing (3 times
# each, with the median), the slowest tasks and the round trips per host.
# Replaces the lab hosts lab-1..lab-5 (network "lab", as make demo) and
# removes them at the end; about 15 minutes. Logs: build/bench-orchestration/.
bench-orchestration: setup
	tests/bench/bench_orchestration.sh

# The checks that need no lab host (lint, sanity, unit, artifact-check and
# integration: about 25 minutes, integration alone 20) run in the background
# while the scenarios run one after another in the foreground; the first
# scenarios (install, blocks, expand_2n) have shown to pass beside them. Their
# output is printed when both are done (build/checks.out); .ci/run prints the
# scenarios' failure summary last.
test: setup
	@mkdir -p build; \
	setsid $(MAKE) --no-print-directory lint sanity unit artifact-check integration > build/checks.out 2>&1 < /dev/null & checks=$$!; \
	trap 'kill -TERM -- -$$checks 2>/dev/null; wait $$checks' INT TERM; \
	start=$$SECONDS; mrc=0; $(MAKE) --no-print-directory molecule-scenarios || mrc=$$?; \
	crc=0; wait $$checks || crc=$$?; trap - INT TERM; \
	echo "== lint, sanity, unit, artifact-check, integration (build/checks.out):"; cat build/checks.out; \
	echo "lint, sanity, unit, artifact-check, integration: rc=$$crc"; \
	echo "molecule $(SCENARIOS): rc=$$mrc in $$((SECONDS - start)) s"; \
	[ $$crc -eq 0 ] || exit $$crc; exit $$mrc

clean: lab-down
	rm -rf build
