# One entry point for people and CI. `make demo` and `make test` work on a fresh clone
# with only Python 3.11+ installed: the first call creates .venv and installs what it needs.
# `make demo` installs batchlake alone; `make test` (and lint, typecheck, bench) add the
# `dev` extra. Each has its own stamp, so `make demo` then `make test` upgrades the venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# uv installs several times faster than pip here (measured in docs/first-run.md); it is
# bootstrapped into the venv with pip. INSTALLER=pip installs with pip alone.
INSTALLER ?= uv
DEMO_STAMP := $(VENV)/.installed-demo
STAMP := $(VENV)/.installed

ifeq ($(INSTALLER),uv)
INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python
INSTALLER_BIN := $(BIN)/uv
else
INSTALL := $(BIN)/python -m pip install --quiet
INSTALLER_BIN :=
endif

.PHONY: install demo test test-unit lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv

# What `make demo` needs: batchlake and its own dependencies.
$(DEMO_STAMP): pyproject.toml | $(BIN)/python $(INSTALLER_BIN)
	$(INSTALL) -e .
	touch $@

# Everything: the tests, linters, type checker and benchmarks (the `dev` extra).
$(STAMP): pyproject.toml | $(BIN)/python $(INSTALLER_BIN)
	$(INSTALL) -e '.[dev]'
	touch $@ $(DEMO_STAMP)

install: $(STAMP)

## Generate the Chinook store, run the whole pipeline, print a summary.
demo: $(DEMO_STAMP)
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
