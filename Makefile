# The two commands: `make run` (set up, migrate, start the whole stack) and `make test` (set up, run every test).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)

.PHONY: install run test lint bench chaos migrate clean session-key

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/orchestrator migrate

# First run on the embedded defaults: a .env with a random webhook secret, so the sandbox Jira signs its
# webhooks and the web app requires the signature, as with a real site, and a random key that signs the
# dashboard's session cookies (shared by every web worker). An existing .env only gets a missing session key.
.env:
	@echo "# Created by make run: the sandbox Jira and the web app share this webhook secret." > .env
	@echo "JIRA_WEBHOOK_SECRET=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(24))')" >> .env

session-key: .env
	@grep -q '^ORCHESTRATOR_SECRET_KEY=' .env || { \
	  echo "# Added by make run: signs the dashboard's session cookies." >> .env; \
	  echo "ORCHESTRATOR_SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(32))')" >> .env; }

# On the sandbox Jira with no FORGE configured, the stack opens its pull requests on the sandbox forge (FORGE=github).
run: session-key migrate
	@env $$($(BIN)/python -m app.cli.stack env) $(BIN)/python -m app.cli.stack banner
	PATH="$(abspath $(BIN)):$$PATH" env $$($(BIN)/python -m app.cli.stack env) \
		$(BIN)/honcho start -f Procfile $$($(BIN)/python -m app.cli.stack processes)

# Lint first (seconds), then every test with branch coverage of the product packages; the total is printed and
# must stay at or above COVERAGE_FLOOR (86.9 % when it was set). It is measured in-process: code run only by the
# real subprocesses of the e2e and CLI tests is not counted, so the true figure is higher.
# The tests spend most of their time waiting on real servers and processes, so they run on TEST_WORKERS processes
# (pytest-xdist; each has its own Temporal dev server). Two on this 2-core machine: four finished in 7-9 minutes
# instead of 18 but overloaded it, and timing-bound e2e tests failed. The long tests are collected first
# (tests/conftest.py) and handed out as workers free up (`--dist load`), so the run ends on short tests on both.
COVERAGE_FLOOR ?= 85
TEST_WORKERS ?= 2
test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load --durations=25 --cov --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The chaos suite at full scale (issue 13): 20 runs through worker kills, Temporal restarted, Jira storms and
# refusals, the web killed mid-burst, agents lost, 10,000 fuzzed deliveries, hostile text and the secret canaries;
# and the full run with worker kills on PostgreSQL too (`make test` runs it on SQLite).
# Its figures go to docs/reliability.md. `make test` runs the same scenarios reduced.
CHAOS_TESTS := tests/chaos tests/webhooks/test_jira_properties.py tests/agent/test_hostile_text.py \
	tests/agent/test_secrets.py tests/e2e/test_job_system.py::test_an_agent_killed_mid_job_goes_offline_its_job_is_requeued_and_work_resumes_on_restart \
	tests/e2e/test_full_run.py
chaos: install
	CHAOS=full CHAOS_REPORT=docs/reliability.md $(BIN)/python -m pytest $(CHAOS_TESTS) --timeout=3600 -q

bench: install
	@for b in bench/*.py; do [ "$$b" = bench/raw_baseline.py ] && continue; echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache .mypy_cache .ruff_cache
