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

## test: the whole suite, in two lanes that share the two cores. The lab lane (molecule default,
## then molecule postgres_upgrade) starts and drills the lab's containers: much of it waits for
## them. The other lane holds what needs no lab container: the images' smoke tests (throwaway
## containers and a network of their own, no published port), then the static checks (lint,
## sanity, units), the modules' integration tests (their own servers, names and ports) and molecule
## render (a render-only site under /tmp). The smoke tests mostly wait for servers to start and run
## at normal priority; the rest runs at the lowest CPU priority (nice 19): the lab lane is the longer
## one, so the other takes the CPU the lab lane leaves while it waits for containers. Its output
## goes to tests/output/lane.log; at the end it is printed whole if that lane failed, else its phase
## lines.
LANE_LOG := tests/output/lane.log
test: setup
	@mkdir -p $(dir $(LANE_LOG)); \
	{ $(MAKE) --no-print-directory smoke \
	  && nice -n 19 $(MAKE) --no-print-directory static integration molecule-render; } >$(LANE_LOG) 2>&1 & lane=$$!; \
	rc=0; $(MAKE) --no-print-directory molecule-default molecule-postgres_upgrade || rc=$$?; \
	lrc=0; wait $$lane || lrc=$$?; \
	if [ $$lrc -ne 0 ]; then echo "== the lane without lab containers failed: its output ($(LANE_LOG))"; cat $(LANE_LOG); \
	else grep '^phase ' $(LANE_LOG); fi; \
	[ $$rc -eq 0 ] && [ $$lrc -eq 0 ]

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
	$(TIMED) "events units" python -m pytest -q -p no:cacheprovider events/tests
	$(TIMED) "kmps units" python -m pytest -q -p no:cacheprovider kmps/tests

integration:
	$(TIMED) integration tests/integration/run.sh

smoke:
	$(TIMED) smoke lab/images/smoke.sh

# each scenario's output passes scripts/tasktimes: headers stamped with seconds, then its slowest tasks
MOLECULE_SCENARIOS := render default postgres_upgrade
molecule: $(addprefix molecule-,$(MOLECULE_SCENARIOS))

molecule-%:
	$(TIMED) "molecule $*" env PYTHONUNBUFFERED=1 bash -o pipefail -c "molecule test -s $* 2>&1 | scripts/tasktimes"

clean:
	rm -rf build tests/output .ansible
