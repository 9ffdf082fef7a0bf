"""Storage.move on a store without rename (Azure flat namespace, Azurite): copy + delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batchlake.storage import Storage


def _store_without_rename(root: Path) -> Storage:
    from fsspec.implementations.local import LocalFileSystem
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    class NoRename(LocalFileSystem):
        def mv(self, *args: Any, **kwargs: Any) -> None:
            raise NotImplementedError("this store cannot rename")

    storage = Storage(str(root))
    storage.__dict__["filesystem"] = PyFileSystem(FSSpecHandler(NoRename()))
    return storage


def test_a_store_without_rename_copies_then_deletes(tmp_path: Path) -> None:
    storage = _store_without_rename(tmp_path)
    (tmp_path / "a.tmp").write_bytes(b"batch")
    with pytest.raises(NotImplementedError):  # the store really has no rename
        storage.filesystem.move(str(tmp_path / "a.tmp"), str(tmp_path / "never"))
    storage.move(str(tmp_path / "a.tmp"), str(tmp_path / "a.parquet"))
    assert (tmp_path / "a.parquet").read_bytes() == b"batch"
    assert not (tmp_path / "a.tmp").exists()


def test_a_store_with_rename_renames(tmp_path: Path) -> None:
    storage = Storage(str(tmp_path))
    (tmp_path / "a.tmp").write_bytes(b"batch")
    storage.move(str(tmp_path / "a.tmp"), str(tmp_path / "a.parquet"))
    assert (tmp_path / "a.parquet").read_bytes() == b"batch"
    assert not (tmp_path / "a.tmp").exists()
