"""pyarrow's AzureFileSystem with blob deletes through the Azure SDK.

A `pyarrow.fs.PyFileSystem` handler: every call goes to the native AzureFileSystem except
`delete_file`, which issues one plain DELETE with `azure-storage-blob` (pyarrow's own
takes a lease and spends ~7 s retrying to release it on a flat-namespace account).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow.fs as pafs

if TYPE_CHECKING:
    import pyarrow as pa
    from azure.storage.blob import BlobServiceClient


class FastDeleteHandler(pafs.FileSystemHandler):
    def __init__(self, native: pafs.AzureFileSystem, service: BlobServiceClient) -> None:
        self.native = native
        self.service = service

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FastDeleteHandler) and self.native.equals(other.native)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def get_type_name(self) -> str:
        return "abfs"

    def normalize_path(self, path: str) -> str:
        return self.native.normalize_path(path)

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self.native.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self.native.get_file_info(selector)

    def create_dir(self, path: str, recursive: bool) -> None:
        self.native.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self.native.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.native.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise OSError("refusing to delete every container of the storage account")

    def delete_file(self, path: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        container, _, blob = path.strip("/").partition("/")
        try:
            self.service.get_container_client(container).delete_blob(blob)
        except ResourceNotFoundError as exc:
            raise FileNotFoundError(f"no blob {path}") from exc

    def move(self, src: str, dest: str) -> None:
        # Flat-namespace accounts raise NotImplementedError: Storage.move copies instead.
        self.native.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        self.native.copy_file(src, dest)

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self.native.open_input_stream(path)

    def open_input_file(self, path: str) -> pa.NativeFile:
        return self.native.open_input_file(path)

    def open_output_stream(
        self, path: str, metadata: dict[str, Any] | None = None
    ) -> pa.NativeFile:
        return self.native.open_output_stream(path, metadata=metadata)

    def open_append_stream(
        self, path: str, metadata: dict[str, Any] | None = None
    ) -> pa.NativeFile:
        return self.native.open_append_stream(path, metadata=metadata)
