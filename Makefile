# barehttp: `make run` starts the app, `make test` runs every check.
# `make run PORT=9000 ARGS="--workers 2"`: its own small environment (.venv-run,
# barehttp alone: no dependencies at run time); the tests have theirs (.venv, with
# the test extras). Debian packages the tests need are installed when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_VENV := .venv-run
RUN_STAMP := $(RUN_VENV)/.installed
PORT ?= 8080
ARGS ?=

.PHONY: run cluster test lint typecheck pytest system-deps bench clean

# httpbin (an unmodified app the WSGI tests host) pins greenlet<3, which it never
# imports and which clashes with playwright's greenlet>=3: its other dependencies
# are in the test extra, httpbin itself goes in without them.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps httpbin==0.10.4
	touch $(STAMP)

$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/pip install --quiet -e .
	touch $(RUN_STAMP)

run: $(RUN_STAMP)
	$(RUN_VENV)/bin/barehttp app --port $(PORT) $(ARGS)

# Throwaway PostgreSQL + three app instances + nginx on 127.0.0.1:8080; Ctrl-C stops all.
cluster: $(STAMP) system-deps
	$(BIN)/python scripts/cluster.py

system-deps:
	./scripts/install-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(RUN_VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
