# One entry point for people and CI. `make demo` and `make test` work on a fresh clone
# with only Python 3.11+ installed: the first call creates .venv and installs batchlake.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-unit lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Generate the Chinook store, run the whole pipeline, print a summary.
demo: $(STAMP)
	$(BIN)/batchlake demo

## The whole test suite (unit + integration).
test: $(STAMP)
	$(BIN)/python -m pytest

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy src/batchlake src/chinook_store

bench: $(STAMP)
	$(BIN)/python bench/core_pipeline.py

clean:
	rm -rf $(VENV) demo-lake .pytest_cache .ruff_cache .mypy_cache
