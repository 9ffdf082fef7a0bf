# One entry point for people and CI. `make demo` and `make test` work on a fresh clone
# with only Python 3.11+ installed: the first call creates .venv and installs what it needs.
# `make demo` installs batchlake alone; `make test` (and lint, typecheck, bench) add the
# `dev` extra. Each has its own stamp, so `make demo` then `make test` upgrades the venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# uv installs several times faster than pip here (measured: docs/first-run.md). It is
# bootstrapped with pip: Python's own pip installs it into .venv/uv-bootstrap (a venv
# made with its pip would cost ensurepip's time), else a pip in the venv does.
# INSTALLER=pip installs with pip alone.
INSTALLER ?= uv
DEMO_STAMP := $(VENV)/.installed-demo
STAMP := $(VENV)/.installed

ifeq ($(INSTALLER),uv)
VENV_FLAGS := --without-pip
INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python
INSTALLER_BIN := $(BIN)/uv
else
VENV_FLAGS :=
INSTALL := $(BIN)/python -m pip install --quiet
INSTALLER_BIN := $(VENV)/.pip
endif

.PHONY: install demo test test-unit lint typecheck bench clean

$(BIN)/python:
	$(strip $(PYTHON) -m venv $(VENV_FLAGS) $(VENV))

$(BIN)/uv: | $(BIN)/python
	@if $(PYTHON) -m pip --version >/dev/null 2>&1; then pip=$(PYTHON); \
	else $(BIN)/python -m ensurepip --default-pip >/dev/null && pip=$(BIN)/python; fi; \
	echo "$$pip -m pip install --target $(VENV)/uv-bootstrap uv"; \
	PIP_ROOT_USER_ACTION=ignore $$pip -m pip install --quiet --disable-pip-version-check \
		--no-deps --target $(VENV)/uv-bootstrap uv
	ln -sf ../uv-bootstrap/bin/uv $@

# A venv made for uv (no pip in it) gets pip when INSTALLER=pip is asked for.
$(VENV)/.pip: | $(BIN)/python
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --default-pip
	touch $@

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

## The whole test suite (unit + integration), a test file per worker process
## (pytest-xdist): much of it waits on subprocesses, servers and JVMs.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

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
