"""The tests' dataset locator honours BATCHLAKE_DATASETS, as the examples' servers do, so
a clone that is not beside shared/ still runs the tests that read the datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATASETS, DATASETS_ENV, dataset, datasets_dir


def test_variable_names_the_datasets_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "chinook").mkdir()
    (tmp_path / "chinook" / "chinook.sqlite").write_bytes(b"")
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path))

    assert datasets_dir() == tmp_path
    assert dataset("chinook/chinook.sqlite") == tmp_path / "chinook" / "chinook.sqlite"


def test_without_the_variable_shared_beside_the_clone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    assert datasets_dir() == DATASETS


def test_a_missing_dataset_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path))
    with pytest.raises((pytest.skip.Exception, pytest.fail.Exception)) as raised:
        dataset("chinook/chinook.sqlite")
    message = str(raised.value)
    assert f"under {tmp_path} ({DATASETS_ENV})" in message
    assert f"set {DATASETS_ENV} to the shared datasets folder" in message
