# Laurels — `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# PostgreSQL used by `make test-postgres` (and by `make test` when it answers).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
VALIDATOR_VENV ?= .venv-validator

.PHONY: help install install-test browser-deps validator run test test-sqlite test-browser test-postgres bare-install fuzz lint format migrations openapi bench clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Laurels needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed ## create .venv and install Laurels in it (editable)

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[bench]'
	@touch $@

install-test: $(VENV)/.installed-test ## install what the tests need as well

$(VALIDATOR_VENV)/.installed:
	$(PYTHON) -m venv $(VALIDATOR_VENV)
	$(VALIDATOR_VENV)/bin/pip install --quiet openbadges==1.1.2
	@# Its pinned pycryptodome 3.6.6 does not import on Python 3.11; a current release
	@# has the same API. pip reports the pin as a conflict; that is expected.
	$(VALIDATOR_VENV)/bin/pip install --quiet 'pycryptodome>=3.19' 2>&1 | grep -v "dependency conflicts\|requires pycryptodome\|dependency resolver" || true
	@touch $@

validator: $(VALIDATOR_VENV)/.installed ## the official Open Badges validator, in its own virtualenv

# axe-core checks each page's accessibility in tests/browser/pages.py (git-ignored here).
AXE_VERSION ?= 4
BROWSER_DEPS ?= .browser-deps
AXE := $(BROWSER_DEPS)/node_modules/axe-core/axe.min.js

browser-deps: ## Debian's Chromium (as root) and axe-core (npm) for the browser tests, when missing
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Debian's chromium for the browser tests..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Chromium is missing and cannot be installed here: browser tests will be skipped."; \
		fi; }
	@[ -f $(AXE) ] || { \
		if command -v npm >/dev/null 2>&1; then \
			echo "Installing axe-core@$(AXE_VERSION) into $(BROWSER_DEPS)/ with npm..."; \
			mkdir -p $(BROWSER_DEPS) && npm install --prefix $(BROWSER_DEPS) --no-save --no-audit --no-fund --silent 'axe-core@$(AXE_VERSION)'; \
		else \
			echo "npm is missing: the browser tests' accessibility checks will be skipped (install npm, then make browser-deps)."; \
		fi; }

run: install ## migrate the embedded database and serve at http://$(HOST):$(PORT)
	$(BIN)/laurels serve --host $(HOST) --port $(PORT)

test: install-test lint browser-deps validator ## lint, then the whole suite (SQLite, and PostgreSQL when it answers)
	$(MAKE) --no-print-directory bare-install
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-browser
	$(MAKE) --no-print-directory fuzz
	@if $(BIN)/python -c 'import psycopg, sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()' '$(TEST_DATABASE_URL)' 2>/dev/null; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL is not reachable at $(TEST_DATABASE_URL): skipping the PostgreSQL run (make test-postgres)."; \
	fi

test-sqlite: install-test ## the suite against the embedded SQLite database (browser tests: test-browser)
	$(BIN)/pytest -m "not browser" $(PYTEST_ARGS) || [ $$? -eq 5 ]

# Pages in Chromium at 1280 and 390 px: axe-core, width, weight (tests/browser/pages.py).
test-browser: install-test browser-deps ## the browser tests (Chromium, SQLite); screenshots in tests/browser/screenshots/
	$(BIN)/pytest -m browser $(PYTEST_ARGS) || [ $$? -eq 5 ]

# Live-server and browser tests are left out: a live server runs on its own embedded
# database whichever database the suite uses, so the SQLite pass has run them.
test-postgres: install-test ## the suite against PostgreSQL at TEST_DATABASE_URL (no live-server or browser tests)
	TEST_DATABASE_URL='$(TEST_DATABASE_URL)' $(BIN)/pytest -m "not server and not browser" $(PYTEST_ARGS) || [ $$? -eq 5 ]

# `make fuzz FUZZ_EXAMPLES=500 FUZZ_SEED=7` explores further (tests/fuzz/test_openapi.py).
fuzz: install-test ## property-based fuzzing of every /v2 operation from the OpenAPI document: no 5xx (docs/api.md)
	$(BIN)/pytest tests/fuzz $(PYTEST_ARGS)

bare-install: ## install without extras into a throw-away virtualenv, serve, and get real answers
	$(PYTHON) tests/bare_install.py

lint: install-test ## ruff, and a check that no migration is missing
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	LAURELS_HOME=$$(mktemp -d) $(BIN)/laurels manage makemigrations --check --dry-run

format: install-test ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

migrations: install ## write new migrations after model changes
	$(BIN)/laurels manage makemigrations

openapi: install ## rewrite docs/openapi.json, the /v2 OpenAPI document a test compares (docs/api.md)
	$(BIN)/python -m tests.api.openapi_snapshot

SCALE ?= 10k
bench: $(VENV)/.installed-bench ## load benchmarks against a floor, one run (SCALE=10k|100k|1m); see docs/performance.md
	@command -v wrk >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
		else echo "wrk is missing: install Debian's wrk package"; exit 1; fi; }
	$(BIN)/python bench/run.py --scale $(SCALE)

clean: ## remove the virtualenv and caches (keeps ./var, the data)
	rm -rf $(VENV) $(VALIDATOR_VENV) .pytest_cache .ruff_cache src/*.egg-info
