# The two commands of the README, and the pieces they are made of.
#   make deploy-local   the main job: the cluster side of site.yml, all apps, on the local control plane
#   make test           every test (lint, unit, real control plane, Molecule, fakes)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# .venv links to the cached virtualenv made by scripts/bootstrap.sh (a link to the venv root, so that
# Python finds its pyvenv.cfg).
export PATH := $(CURDIR)/.venv/bin:/usr/local/go/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PY_COLORS := 0
export ANSIBLE_FORCE_COLOR := 0

.PHONY: bootstrap bootstrap-tests deploy-local cluster-up cluster-down lint sanity unit \
        test-cluster test-integration test-molecule test bench

bootstrap:
	@ln -sfn "$$(dirname "$$(scripts/bootstrap.sh)")" .venv

bootstrap-tests:
	@ln -sfn "$$(dirname "$$(scripts/bootstrap.sh --tests)")" .venv
	@scripts/convex-cli.sh >/dev/null

cluster-up: bootstrap
	tests/cluster/up.sh

cluster-down:
	tests/cluster/down.sh

deploy-local: cluster-up
	ansible-playbook -i inventories/local site.yml

lint: bootstrap
	yamllint -s .
	ansible-lint --profile production
	scripts/sanity.sh

unit: bootstrap
	python -m pytest -q tests/unit

test-cluster: bootstrap-tests
	python -m pytest -q tests/cluster tests/integration tests/platform tests/hetzner tests/backup

test-molecule: bootstrap-tests
	molecule test -s cluster
	molecule test -s node
	scripts/compose-build.sh
	molecule test -s hub
	molecule syntax -s kind

test: bootstrap-tests lint unit test-cluster test-molecule

# Not a test: figures only (its own control plane on separate ports; see tests/bench/README.md).
bench: bootstrap-tests
	python tests/bench/bench.py
