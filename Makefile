# graphrec: the two quick-start commands are `make demo` and `make test`.
# Everything installs into .venv; the Docker-free Neo4j lives under the user's cache and data dirs.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 7687

.PHONY: help setup system-deps neo4j demo test lint typecheck pytest bench clean stop

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

system-deps:  ## Java 17 and Maven (for the Docker-free Neo4j), installed with apt when missing.
	@docker/neo4j/system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: system-deps $(STAMP)  ## Create .venv and install graphrec with its dev tools.

neo4j: setup  ## Start the local Neo4j (fetched from Maven Central once) on 127.0.0.1:$(PORT).
	$(BIN)/graphrec neo4j start --port $(PORT)

demo: neo4j  ## Quick start 1/2: set up, start Neo4j, run the main job on the built-in default.
	$(BIN)/graphrec demo

test: setup lint typecheck pytest  ## Quick start 2/2: lint, type-check and run the whole test suite.

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy graphrec tests benchmarks

pytest: $(STAMP)
	$(BIN)/pytest

stop:  ## Stop the local Neo4j.
	$(BIN)/graphrec neo4j stop

clean:  ## Remove the virtualenv and caches (not Neo4j's data).
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
