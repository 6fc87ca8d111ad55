# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# make run's billing API key, so the API can be tried at once (a development value, never for production).
DEV_WEBHOOK_SECRET ?= dev-webhook-secret-change-me
RUN_ENV := CLOUDCODES_ENV=development CLOUDCODES_WEBHOOK_SECRET=$(DEV_WEBHOOK_SECRET) CLOUDCODES_SITE_URL=http://$(HOST):$(PORT)

.PHONY: run test lint format install install-test seed clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Development server on SQLite (instance/cloudcodes.db) with the demo data.
run: install
	$(RUN_ENV) $(FLASK) db upgrade
	$(RUN_ENV) $(FLASK) demo seed
	@echo "Billing API webhook secret (development): $(DEV_WEBHOOK_SECRET)"
	@echo "Checkout: http://$(HOST):$(PORT)/redeem/ pays on the built-in test payment page"
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl+C stops it)"
	$(RUN_ENV) $(FLASK) run --host $(HOST) --port $(PORT)

seed: install
	CLOUDCODES_ENV=development $(FLASK) demo seed

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install-test lint
	$(BIN)/pytest

bench: install-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
