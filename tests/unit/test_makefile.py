"""The Makefile's installs, read from `make -n` on a copy: `make demo` installs batchlake
alone, `make test` (and lint, typecheck) the `dev` extra, each behind its own stamp, so
`make demo` then `make test` upgrades the venv and a changed pyproject.toml reinstalls."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, require_program

DEV = "-e '.[dev]'"


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    require_program("make", "the Makefile is run by make")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copyfile(REPO / name, tmp_path / name)
    past = time.time() - 100
    os.utime(tmp_path / "pyproject.toml", (past, past))
    return tmp_path


def _plan(folder: Path, *targets: str) -> list[str]:
    """The commands `make TARGETS` would run, in order."""
    # Run from `make test` (CI), make's variables would make this one a sub-make that
    # prints "Entering directory" lines: start it as from a shell.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", *targets],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _installs(plan: list[str]) -> list[str]:
    """The installs of batchlake (not the bootstrap of uv, which mentions $pip)."""
    return [line for line in plan if "pip install" in line and "$pip" not in line]


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def test_demo_on_a_fresh_clone_installs_batchlake_alone_with_uv(clone: Path) -> None:
    plan = _plan(clone, "demo")

    assert plan[0] == "python3 -m venv --without-pip .venv"
    assert any("pip install --target .venv/uv-bootstrap uv" in line for line in plan)
    assert _installs(plan) == [".venv/bin/uv pip install --quiet --python .venv/bin/python -e ."]
    assert plan[-1] == ".venv/bin/batchlake demo"


def test_test_after_demo_adds_the_dev_extra_to_the_same_venv(clone: Path) -> None:
    for made in (".venv/bin/python", ".venv/bin/uv", ".venv/.installed-demo"):
        _touch(clone / made)

    assert _installs(_plan(clone, "demo")) == []
    for target in ("test", "lint", "typecheck"):
        plan = _plan(clone, target)
        assert not any("venv" in line and "-m venv" in line for line in plan)
        assert [DEV in line for line in _installs(plan)] == [True], target


def test_the_dev_install_serves_the_demo_too_until_pyproject_changes(clone: Path) -> None:
    for made in (".venv/bin/python", ".venv/bin/uv", ".venv/.installed-demo", ".venv/.installed"):
        _touch(clone / made)
    assert _installs(_plan(clone, "demo", "test")) == []

    (clone / "pyproject.toml").touch()  # newer than both stamps

    assert [line.endswith("-e .") for line in _installs(_plan(clone, "demo"))] == [True]
    assert [DEV in line for line in _installs(_plan(clone, "test"))] == [True]


def test_installer_pip_uses_pip_alone(clone: Path) -> None:
    plan = _plan(clone, "demo", "INSTALLER=pip")

    assert plan[0] == "python3 -m venv .venv"
    assert not any("uv" in line for line in plan)
    assert _installs(plan) == [".venv/bin/python -m pip install --quiet -e ."]
