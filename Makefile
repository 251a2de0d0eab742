# wagate — two commands: `make run` (the whole stack) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SERVICES = $(BIN)/python deploy/dev/services.py

.PHONY: install run test test-fast lint fmt bench rest clean-data help

help:
	@echo "make run    - the whole stack on this machine (Ctrl-C stops it)"
	@echo "make test   - lint + the whole test suite (needs PostgreSQL, Redis, Chromium; starts or installs them)"
	@echo "make test-fast - the suite without the slow e2e/chaos tests"
	@echo "make rest   - run every rest/*.http file against a running stack (httpyac)"
	@echo "make bench  - list the benchmarks (run each alone)"
	@echo "make lint / fmt / install"

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "missing: Python 3.11+ (apt-get install -y python3 python3-venv)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
		{ echo "missing: python3-venv (apt-get install -y python3-venv)"; exit 1; }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install
	@set -eo pipefail; env_lines=$$($(SERVICES) --for test) || exit 1; \
	eval "export $$(echo $$env_lines | tr '\n' ' ')"; \
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && \
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: PYTEST_ARGS = -m "not e2e and not chaos"
test-fast: test

run: install
	@set -eo pipefail; env_lines=$$($(SERVICES) --for run) || exit 1; \
	eval "export $$(echo $$env_lines | tr '\n' ' ')"; \
	exec $(BIN)/python deploy/dev/stack.py

rest:
	@command -v npx >/dev/null || { echo "missing: Node.js and npm (apt-get install -y nodejs npm)"; exit 1; }
	$(BIN)/python deploy/dev/rest.py

bench:
	@echo "Run one benchmark at a time, with nothing else on the machine:"; ls bench/*.py

clean-data:
	rm -rf .wagate
