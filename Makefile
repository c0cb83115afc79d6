# CivicLink — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo test test-sqlite test-postgres screenshots bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## Build the demo city (南通) on SQLite and run the platform; prints the URLs.
demo: $(STAMP)
	$(BIN)/civiclink demo

## Install everything the tests need (Python packages, PostgreSQL), then run the suite on SQLite and on PostgreSQL.
test: $(STAMP)
	scripts/system-deps.sh
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: $(STAMP)
	@echo "== test suite on SQLite =="
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: $(STAMP)
	@echo "== test suite on PostgreSQL =="
	scripts/with-postgres.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

## Refresh the console screenshots of the README's tour (docs/screenshots/) from the browser tests.
screenshots: $(STAMP)
	scripts/system-deps.sh
	CIVICLINK_SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -q tests/e2e

## Benchmarks (never part of `make test`).
bench: $(STAMP)
	$(BIN)/python bench/triage.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/exchange.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/analytics.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
