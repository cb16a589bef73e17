# graphrec: the two quick-start commands are `make demo` and `make test`.
# Everything installs into .venv; the Docker-free Neo4j lives under the user's cache and data dirs.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DIST   := dist

# One setting says where Neo4j is: NEO4J_URI (environment or .env; default bolt://127.0.0.1:7687). Both
# `graphrec neo4j start` and `graphrec demo` read it; `make demo PORT=7790` is short for
# NEO4J_URI=bolt://127.0.0.1:7790 in the environment of neo4j and demo.
ifdef PORT
neo4j demo: export NEO4J_URI = bolt://127.0.0.1:$(PORT)
endif

.PHONY: help setup system-deps browser-deps neo4j demo test lint typecheck pytest dist wheel-test bench clean stop

help:  ## List the targets.
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

system-deps:  ## Java 17 and Maven (the Docker-free Neo4j), Chromium (browser tests): apt, when missing.
	@docker/neo4j/system-deps.sh

browser-deps:  ## Chromium and chromedriver (the page's browser tests), installed with apt when missing.
	@tests/browser/system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: system-deps $(STAMP)  ## Create .venv and install graphrec with its dev tools.

neo4j: setup  ## Start the local Neo4j (from Maven Central once) on NEO4J_URI's port, or use one answering there.
	$(BIN)/graphrec neo4j start

demo: neo4j  ## Quick start 1/2: set up, start Neo4j, run the main job on the built-in default.
	$(BIN)/graphrec demo

test: setup lint typecheck pytest  ## Quick start 2/2: lint, type-check, build the wheel and run every test.

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy graphrec tests benchmarks

pytest: dist browser-deps
	GRAPHREC_DIST=$(DIST) $(BIN)/pytest

dist: $(STAMP)  ## Build the sdist and, from it, the wheel into dist/ (with .venv's setuptools).
	rm -rf $(DIST)
	$(BIN)/python -m build --no-isolation --outdir $(DIST) .

wheel-test: dist  ## Only the wheel's smoke test: a fresh virtualenv outside the checkout, a test Neo4j.
	GRAPHREC_DIST=$(DIST) $(BIN)/pytest tests/integration/test_wheel.py

stop:  ## Stop the local Neo4j.
	$(BIN)/graphrec neo4j stop

clean:  ## Remove the virtualenv and caches (not Neo4j's data).
	rm -rf $(VENV) $(DIST) build .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
