# pivoine.kompose: one entry point for setup, deploy and the whole test suite.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := $(CURDIR)/.venv
PYTHON ?= python3.11
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0

.PHONY: help setup deploy test static lint sanity units smoke integration molecule images docker tools link clean

help:
	@echo "make deploy  - setup, then ansible-playbook site.yml on inventories/local (the lab)"
	@echo "make test    - setup, then lint, sanity, unit, integration and molecule tests"
	@echo "make setup   - .venv with pinned deps, Docker + Compose v2, the lab images"

## setup: idempotent; venv, Docker engine with Compose v2, offline-built lab images, collection link
setup: $(VENV)/.installed tools docker images link

$(VENV)/.installed: requirements/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/requirements.txt
	touch $@

# Debian tools the tests call: shellcheck (ansible-test sanity), bc (benchmarks, image smoke test),
# Chromium with its driver and certutil (the SSO sign-in in a real browser, molecule default),
# cron, restic and systemd-analyze (the backup schedule, its units and the off-host copy,
# tests/drills/schedule_restic.yml); the headers Vaultwarden's lab build links against (libpq, OpenSSL)
tools:
	@command -v shellcheck >/dev/null && command -v bc >/dev/null && command -v chromedriver >/dev/null \
	  && command -v certutil >/dev/null && command -v crontab >/dev/null && command -v restic >/dev/null \
	  && command -v systemd-analyze >/dev/null && dpkg -s libpq-dev libssl-dev pkg-config >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    shellcheck bc chromium chromium-driver libnss3-tools cron restic systemd libpq-dev libssl-dev pkg-config >/dev/null; }

docker:
	scripts/install-docker.sh

images: docker
	$(TIMED) images lab/images/build.sh

# Lets `ansible-playbook site.yml` resolve pivoine.kompose.* from this checkout.
link:
	mkdir -p .collections/ansible_collections/pivoine
	ln -sfn ../../.. .collections/ansible_collections/pivoine/kompose

## deploy: the single-machine lab from the embedded default inventory. The marker says it is the
## lab, so `make test` (which rebuilds the lab from scratch) may remove it; a deployment without
## the marker is never touched by the tests.
LAB_ROOT := /opt/kompose
deploy: setup
	mkdir -p $(LAB_ROOT)
	@test -e $(LAB_ROOT)/.kompose-test-lab || [ -z "$$(ls -A $(LAB_ROOT))" ] || { \
	  echo "$(LAB_ROOT) holds a deployment that is not the lab: refusing to deploy the lab over it" >&2; exit 1; }
	echo 'Made by `make deploy` (the lab): `make test` may destroy and rebuild it.' > $(LAB_ROOT)/.kompose-test-lab
	ansible-playbook lab/acme.yml
	ansible-playbook site.yml

## test: the whole suite. The static checks (lint, sanity, units: CPU, no container) run beside the
## lab phases (smoke, integration, molecule: mostly waiting for containers to start). The static
## checks' output goes to tests/output/static.log; at the end it is printed whole if they failed,
## else their phase lines.
STATIC_LOG := tests/output/static.log
test: setup
	@mkdir -p $(dir $(STATIC_LOG)); \
	$(MAKE) --no-print-directory static >$(STATIC_LOG) 2>&1 & static=$$!; \
	rc=0; $(MAKE) --no-print-directory smoke integration molecule || rc=$$?; \
	src=0; wait $$static || src=$$?; \
	if [ $$src -ne 0 ]; then echo "== the static checks failed: their output ($(STATIC_LOG))"; cat $(STATIC_LOG); \
	else grep '^phase ' $(STATIC_LOG); fi; \
	[ $$rc -eq 0 ] && [ $$src -eq 0 ]

static: lint sanity units

# each phase prints its seconds (`phase NAME: N s`), so a slowdown shows where it happens
TIMED := scripts/timed

lint:
	$(TIMED) yamllint yamllint --strict .
	$(TIMED) ansible-lint ansible-lint --profile production

sanity:
	$(TIMED) sanity tests/sanity/run.sh sanity

units:
	$(TIMED) units tests/sanity/run.sh units

integration:
	$(TIMED) integration tests/integration/run.sh

smoke:
	$(TIMED) smoke lab/images/smoke.sh

# each scenario's output passes scripts/tasktimes: headers stamped with seconds, then its slowest tasks
MOLECULE_SCENARIOS := render default postgres_upgrade
molecule:
	for s in $(MOLECULE_SCENARIOS); do $(TIMED) "molecule $$s" env PYTHONUNBUFFERED=1 bash -o pipefail -c "molecule test -s $$s 2>&1 | scripts/tasktimes"; done

clean:
	rm -rf build tests/output .ansible
