"""Azurite, the Azure Storage emulator, as a blob server on loopback for the Azure tests.

The binary comes from npm: `AZURITE` (a path to `azurite-blob`), else `azurite-blob` on
PATH, else the pinned version installed into a cache outside the repository
(`BATCHLAKE_CACHE`, default ~/.cache/batchlake) with `npm install --prefix`, which CI's
clean clone does once per machine. The server listens on a port the system picks and
keeps its blobs in a temporary folder; batchlake reaches it only through `[storage]`.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow.fs as pafs

AZURITE_VERSION = "3.37.0"
# Azurite's well-known development account (public, documented by Microsoft).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
CONNECTION_VAR = "AZURE_TEST_CONNECTION_STRING"
KEY_VAR = "AZURE_TEST_ACCOUNT_KEY"
_LISTENING = re.compile(r"successfully listens on (http://\S+)")


class AzuriteUnavailable(RuntimeError):
    """Azurite is neither installed nor installable (no npm): the reason, for a skip."""


def cache_dir() -> Path:
    base = os.environ.get("BATCHLAKE_CACHE") or str(Path.home() / ".cache" / "batchlake")
    return Path(base) / f"azurite-{AZURITE_VERSION}"


def azurite_binary() -> str:
    """The `azurite-blob` program, installing the pinned version into the cache if absent."""
    named = os.environ.get("AZURITE")
    if named:
        return named
    on_path = shutil.which("azurite-blob")
    if on_path:
        return on_path
    prefix = cache_dir()
    binary = prefix / "node_modules" / ".bin" / "azurite-blob"
    if binary.exists():
        return str(binary)
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise AzuriteUnavailable(
            "Azurite is not installed and npm/node are not on PATH (install Node.js, or "
            f"npm install --prefix {prefix} azurite@{AZURITE_VERSION}, or set AZURITE)"
        )
    prefix.mkdir(parents=True, exist_ok=True)
    # Two test workers may get here at once: one installs, the other waits for it.
    with open(prefix.parent / f"{prefix.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            _npm_install(npm, prefix, binary)
    return str(binary)


def _npm_install(npm: str, prefix: Path, binary: Path) -> None:
    done = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"azurite@{AZURITE_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0 or not binary.exists():
        raise AzuriteUnavailable(
            f"npm install azurite@{AZURITE_VERSION} into {prefix} failed: "
            f"{(done.stderr or done.stdout).strip()[-500:]}"
        )


@dataclass(frozen=True)
class AzuriteServer:
    blob_endpoint: str  # http://127.0.0.1:PORT/devstoreaccount1

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def filesystem(self) -> pafs.AzureFileSystem:
        """pyarrow's client of the account, set up here independently of batchlake."""
        import pyarrow.fs as pafs

        host = self.blob_endpoint.split("://", 1)[1].split("/", 1)[0]
        return pafs.AzureFileSystem(
            ACCOUNT,
            account_key=ACCOUNT_KEY,
            blob_storage_authority=host,
            blob_storage_scheme="http",
            dfs_storage_authority=host,
            dfs_storage_scheme="http",
        )

    def create_container(self, name: str) -> None:
        self.filesystem().create_dir(name)

    def blobs(self, container: str, prefix: str = "") -> list[str]:
        """Names of the blobs under `container/prefix` (relative to the container)."""
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(f"{container}/{prefix}", recursive=True, allow_not_found=True)
        return [
            i.path.split("/", 1)[1]
            for i in self.filesystem().get_file_info(selector)
            if i.type == pafs.FileType.File
        ]


@contextmanager
def azurite_server(location: Path) -> Iterator[AzuriteServer]:
    """`azurite-blob` on 127.0.0.1 (a port the system picks), blobs under `location`."""
    binary = azurite_binary()
    log = location / "azurite.log"
    location.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                binary,
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--location",
                str(location / "data"),
                "--skipApiVersionCheck",
                "--loose",
                "--silent",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            found = _LISTENING.search(log.read_text())
            if found:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Azurite did not start: {log.read_text()[-1000:]}")
            time.sleep(0.1)
        yield AzuriteServer(f"{found.group(1)}/{ACCOUNT}")
    finally:
        process.kill()  # its blobs are throw-away: no graceful shutdown (which takes ~10 s)
        process.wait()


def azure_storage_block(root: str, *, endpoint: str | None = None, key: bool = False) -> str:
    """A `[storage]` table for Azure: a connection string variable, or account + key + endpoint."""
    if key:
        return (
            "[storage]\n"
            f'root = "{root}"\n'
            f'azure_account = "{ACCOUNT}"\n'
            f'azure_endpoint = "{endpoint}"\n'
            f'azure_account_key_env = "{KEY_VAR}"\n'
        )
    return f'[storage]\nroot = "{root}"\nazure_connection_string_env = "{CONNECTION_VAR}"\n'
