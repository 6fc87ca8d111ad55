# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# make run's billing API key, so the API can be tried at once (a development value, never for production).
DEV_WEBHOOK_SECRET ?= dev-webhook-secret-change-me
# Where links in e-mails point: the port make run serves (a server on every interface is reached on loopback).
RUN_SITE_HOST := $(if $(filter 0.0.0.0 :: [::],$(HOST)),127.0.0.1,$(HOST))
RUN_SITE_URL ?= http://$(if $(findstring :,$(RUN_SITE_HOST)),[$(RUN_SITE_HOST)],$(RUN_SITE_HOST)):$(PORT)
# Every process make run (or make seed) starts gets these, so each builds its links from the same address.
RUN_ENV := CLOUDCODES_ENV=development CLOUDCODES_WEBHOOK_SECRET=$(DEV_WEBHOOK_SECRET) CLOUDCODES_SITE_URL=$(RUN_SITE_URL)
# The locks: requirements/*.txt, compiled with hashes by `make lock` (uv, installed into the venv).
UV_VERSION := 0.13.9
LOCK_PYTHON := 3.11
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --python-version $(LOCK_PYTHON) \
	--custom-compile-command "make lock" $(LOCK_FLAGS)

.PHONY: run test lint format install install-test seed clean bench lock lock-upgrade lock-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The dependencies from the locks, hash-checked, then the project itself (editable) without touching them.
# A changed lock reinstalls; an unchanged one installs nothing.
$(VENV)/.installed: $(BIN)/python requirements/build.txt requirements/base.txt setup.cfg setup.py pyproject.toml
	$(BIN)/pip install --quiet --require-hashes -r requirements/build.txt -r requirements/base.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements/test.txt
	$(BIN)/pip install --quiet --require-hashes -r requirements/test.txt
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Development server on SQLite (instance/cloudcodes.db) with the demo data, and beside it a Celery
# worker with its scheduler (-B) on the embedded broker (files in instance/broker/, no server to run):
# it delivers the e-mail and runs the recurring jobs. Ctrl+C stops both.
run: install
	$(RUN_ENV) $(FLASK) db upgrade
	$(RUN_ENV) $(FLASK) demo seed
	@echo "Billing API webhook secret (development): $(DEV_WEBHOOK_SECRET)"
	@echo "Checkout: http://$(HOST):$(PORT)/redeem/ pays on the built-in test payment page"
	@echo "Jobs: a worker with the scheduler runs beside the server; the console's Jobs page shows its runs"
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl+C stops it)"
	@$(RUN_ENV) $(BIN)/celery -A cloudcodes.jobs.worker:celery worker -B --pool solo \
		--without-mingle --without-gossip --loglevel WARNING & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(RUN_ENV) $(FLASK) run --host $(HOST) --port $(PORT)

seed: install
	$(RUN_ENV) $(FLASK) demo seed

# Recompiles the locks from setup.cfg and pyproject.toml, keeping every pin that still fits;
# `make lock-upgrade` moves every pin to the newest version allowed.
lock: $(BIN)/python
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(UV_COMPILE) setup.cfg -o requirements/base.txt
	$(UV_COMPILE) setup.cfg --extra test -c requirements/base.txt -o requirements/test.txt
	$(BIN)/python -I requirements/check.py build-requires | $(UV_COMPILE) - -o requirements/build.txt
	$(MAKE) lock-check

lock-upgrade: LOCK_FLAGS := --upgrade
lock-upgrade: lock

# Fails when the locks and setup.cfg (or pyproject.toml) disagree: run by make test, so by CI.
lock-check: $(VENV)/.installed
	$(BIN)/python requirements/check.py

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install-test lock-check lint
	$(BIN)/pytest

bench: install-test
	$(BIN)/python -m bench
	$(BIN)/python -m bench.http

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
