"""Shared fixtures: markers by folder, real datasets, service availability."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATASETS_ENV = "BATCHLAKE_DATASETS"  # the same variable the examples' replay servers read
DATASETS = REPO.parent / "shared" / "datasets"  # the default: shared/ beside the clone
REQUIRE_SERVICES = os.environ.get("BATCHLAKE_REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "unit" in parts:
            item.add_marker(pytest.mark.unit)
        elif "integration" in parts:
            item.add_marker(pytest.mark.integration)


def unavailable(message: str) -> None:
    """Skip for `message`, or fail under BATCHLAKE_REQUIRE_SERVICES=1 (CI never skips)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and BATCHLAKE_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def datasets_dir() -> Path:
    """The shared datasets folder: $BATCHLAKE_DATASETS, else ../shared/datasets."""
    configured = os.environ.get(DATASETS_ENV)
    return Path(configured) if configured else DATASETS


def dataset(relative: str) -> Path:
    """A file of the shared datasets; a clean skip when absent, a failure in CI.

    A clone that is not beside shared/ sets BATCHLAKE_DATASETS to the datasets folder.
    CI (BATCHLAKE_REQUIRE_SERVICES=1) runs with shared/ beside the clone, so a missing
    dataset there is a broken setup, not a reason to skip silently.
    """
    folder = datasets_dir()
    path = folder / relative
    if not path.exists():
        where = DATASETS_ENV if os.environ.get(DATASETS_ENV) else "the default beside the clone"
        unavailable(
            f"dataset {relative} not found under {folder} ({where}); "
            f"set {DATASETS_ENV} to the shared datasets folder"
        )
    return path


def service_available(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is absent, unless BATCHLAKE_REQUIRE_SERVICES=1 (then fail)."""
    if service_available(host, port):
        return
    unavailable(f"{name} is not reachable on {host}:{port}")


def require_program(program: str, why: str) -> None:
    """Skip when a program (a name on PATH or a path) is absent, unless REQUIRE_SERVICES."""
    import shutil

    if shutil.which(program) is None:
        unavailable(f"{program} is not installed ({why})")


def require_java() -> None:
    """Spark needs a Java runtime: skip without one, unless BATCHLAKE_REQUIRE_SERVICES=1."""
    if not os.environ.get("JAVA_HOME"):
        require_program("java", "Spark needs it: apt install openjdk-17-jre-headless")


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def real_chinook() -> Path:
    return dataset("chinook/chinook.sqlite")
