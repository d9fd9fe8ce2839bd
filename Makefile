# Footfall: `make run` starts the whole stack with demo data; `make test` runs every test.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
# Folders with Alembic migrations; each migrates into the schema named after the folder.
MIGRATED = $(patsubst %/migrations,%,$(wildcard services/*/migrations gateway/migrations))
# Other makefiles (mk/*.mk) add build steps to ASSETS (the SDK and UI bundles) and linters
# to LINT (eslint of the UI and the SDK).
ASSETS :=
LINT :=

-include mk/*.mk

# Every Procfile process but the demo ones, for FOOTFALL_DEMO=0.
NON_DEMO_PROCESSES = $(shell grep -oE '^[a-z0-9-]+' Procfile | grep -v '^demo')
# The local stack's secrets (replay token key, service token): generated once, then kept; no
# process starts without them (footfall/config.py). Git-ignored.
SECRETS_FILE := .footfall/secrets.env

.PHONY: setup infra migrate assets secrets run test test-unit lint soak redrive clean
.DEFAULT_GOAL := run

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed assets

assets: $(ASSETS)

infra: $(VENV)/.installed
	$(PY) -m footfall.infra

migrate: $(VENV)/.installed
	$(PY) -m footfall.db upgrade $(MIGRATED)

secrets: $(VENV)/.installed
	$(PY) -m footfall.secretfile $(SECRETS_FILE)

# FOOTFALL_DEMO=0 starts without the demo site and its simulated visitors. Each process runs under
# footfall.supervise: restarted when it dies, the stack stopped (loudly) when it keeps dying.
run: setup infra migrate secrets
	FOOTFALL_SECRETS_FILE=$(SECRETS_FILE) $(PY) -m gateway.bootstrap
	mkdir -p .run && SUPERVISE_PYTHON=$(PY) $(PY) -m footfall.supervise procfile Procfile > .run/Procfile
	FOOTFALL_SECRETS_FILE=$(SECRETS_FILE) $(VENV)/bin/honcho start -f .run/Procfile -d . \
	  $(if $(filter 0,$(FOOTFALL_DEMO)),$(NON_DEMO_PROCESSES))

# Tests start any local PostgreSQL, RabbitMQ or Redis that is down, then use their own database,
# RabbitMQ vhost and Redis db (tests/conftest.py), so they never touch `make run`'s data.
test: setup lint
	$(PY) -m footfall.infra --start
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The tests marked `unit` (pure cores, no PostgreSQL, RabbitMQ, Redis or browser): seconds, on any machine.
test-unit: $(VENV)/.installed
	$(VENV)/bin/pytest -m unit -q $(PYTEST_ARGS)

lint: $(VENV)/.installed $(LINT)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# 30 minutes of the fault suite's load and faults, outside CI: invariants, and memory of every process.
soak: setup
	$(PY) -m footfall.infra --start
	$(PY) bench/soak.py $(SOAK_ARGS)

redrive: $(VENV)/.installed
	$(PY) -m footfall.bus redrive $(QUEUE)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
