# The two commands: `make run` (set up, migrate, start the whole stack) and `make test` (set up, run every test).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)

.PHONY: install run test lint bench migrate clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/orchestrator migrate

# First run on the embedded defaults: a .env with a random webhook secret, so the sandbox Jira signs its
# webhooks and the web app requires the signature, as with a real site. An existing .env is never touched.
.env:
	@echo "# Created by make run: the sandbox Jira and the web app share this webhook secret." > .env
	@echo "JIRA_WEBHOOK_SECRET=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(24))')" >> .env

# On the sandbox Jira with no FORGE configured, the stack opens its pull requests on the sandbox forge (FORGE=github).
run: .env migrate
	@env $$($(BIN)/python -m app.cli.stack env) $(BIN)/python -m app.cli.stack banner
	PATH="$(abspath $(BIN)):$$PATH" env $$($(BIN)/python -m app.cli.stack env) \
		$(BIN)/honcho start -f Procfile $$($(BIN)/python -m app.cli.stack processes)

# Lint first (seconds), then every test with branch coverage of the product packages; the total is printed and
# must stay at or above COVERAGE_FLOOR (86.9 % when it was set). It is measured in-process: code run only by the
# real subprocesses of the e2e and CLI tests is not counted, so the true figure is higher.
COVERAGE_FLOOR ?= 85
test: lint
	$(BIN)/python -m pytest --cov --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache .mypy_cache .ruff_cache
