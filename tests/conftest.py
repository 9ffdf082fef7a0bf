"""Shared fixtures: markers by folder, real datasets, service availability."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
REQUIRE_SERVICES = os.environ.get("BATCHLAKE_REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "unit" in parts:
            item.add_marker(pytest.mark.unit)
        elif "integration" in parts:
            item.add_marker(pytest.mark.integration)


def dataset(relative: str) -> Path:
    """A file of ../shared/datasets; a clean skip when absent, a failure in CI.

    CI (BATCHLAKE_REQUIRE_SERVICES=1) runs with shared/ beside the clone, so a missing
    dataset there is a broken setup, not a reason to skip silently.
    """
    path = DATASETS / relative
    if not path.exists():
        message = f"dataset {relative} not found under {DATASETS}"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message} and BATCHLAKE_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)
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
    message = f"{name} is not reachable on {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and BATCHLAKE_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def require_java() -> None:
    """Spark needs a Java runtime: skip without one, unless BATCHLAKE_REQUIRE_SERVICES=1."""
    import shutil

    if shutil.which("java") or os.environ.get("JAVA_HOME"):
        return
    message = "Java is not installed (Spark needs it: apt install openjdk-17-jre-headless)"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and BATCHLAKE_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def real_chinook() -> Path:
    return dataset("chinook/chinook.sqlite")
