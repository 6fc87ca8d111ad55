# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

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
	CLOUDCODES_ENV=development $(FLASK) db upgrade
	CLOUDCODES_ENV=development $(FLASK) demo seed
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl+C stops it)"
	CLOUDCODES_ENV=development $(FLASK) run --host $(HOST) --port $(PORT)

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
