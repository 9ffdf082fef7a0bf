"""Helpers of the scale-out tests: a moto S3/Glue server on loopback, Chinook projects.

The moto server is a real HTTP S3 (and Glue) API bound to 127.0.0.1 on an ephemeral
port; batchlake reaches it only through its `[storage]` settings, as it would MinIO.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

KEY_VAR = "SCALE_TEST_S3_KEY"
SECRET_VAR = "SCALE_TEST_S3_SECRET"
CREDENTIALS = {KEY_VAR: "scale-test-key", SECRET_VAR: "scale-test-secret"}


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT

    def client(self, service: str = "s3"):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id=CREDENTIALS[KEY_VAR],
            aws_secret_access_key=CREDENTIALS[SECRET_VAR],
            region_name="us-east-1",
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]


@contextmanager
def moto_server() -> Iterator[S3Server]:
    """A moto server on 127.0.0.1, port chosen by the system; stopped on exit."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()


def storage_block(endpoint: str, root: str) -> str:
    """A `[storage]` table for an S3-compatible server, credentials from named variables."""
    return (
        "[storage]\n"
        f'root = "{root}"\n'
        f'endpoint = "{endpoint}"\n'
        'region = "us-east-1"\n'
        "path_style = true\n"
        f'access_key_id_env = "{KEY_VAR}"\n'
        f'secret_access_key_env = "{SECRET_VAR}"\n'
    )


def replace_table(toml: str, table: str, block: str) -> str:
    """Replace `[table]` (up to the next table header) in a project file's text."""
    pattern = re.compile(rf"^\[{re.escape(table)}\]\n(?:(?!\[).*\n)*", re.MULTILINE)
    assert pattern.search(toml), f"[{table}] not found"
    return pattern.sub(block.rstrip("\n") + "\n\n", toml, count=1)


def chinook_project(
    directory: Path,
    source: Path,
    *,
    storage: str | None = None,
    extra: dict[str, str] | None = None,
) -> Path:
    """The Chinook example scaffolded in `directory`, reading `source` (a SQLite copy).

    `storage` replaces the `[storage]` table; `extra` maps table names to replacements.
    """
    from batchlake.demo.scaffold import create_project

    create_project(directory, example="chinook")
    data = directory / "data"
    data.mkdir(exist_ok=True)
    shutil.copyfile(source, data / "chinook.sqlite")
    config = directory / "batchlake.toml"
    text = config.read_text()
    if storage:
        text = replace_table(text, "storage", storage)
    for table, block in (extra or {}).items():
        text = replace_table(text, table, block)
    config.write_text(text)
    return directory


def generated_source(directory: Path, *, invoices: int = 300, seed: int = 7) -> Path:
    from batchlake.demo.generator import generate

    path = directory / "chinook.sqlite"
    if not path.exists():
        generate(path, invoices=invoices, seed=seed)
    return path


def json_rows(lake: object, sql: str) -> list[dict[str, object]]:
    """A query's rows as the CLI's JSON output gives them (decimals as exact strings)."""
    from batchlake.lake import Lake
    from batchlake.serve.encode import json_value

    assert isinstance(lake, Lake)
    return [json_value(row) for row in lake.query_table(sql).to_pylist()]


SPARK_ENGINE = (
    "[engine]\n"
    'type = "spark"\n'
    'master = "local[2]"\n'
    'conf = { "spark.sql.shuffle.partitions" = "2" }\n'
)


def table_rows_by_files(lake: object, name: str) -> tuple[list[tuple[str, str]], list[str]]:
    """A table's (column, type) list and its rows as sorted reprs, read with pyarrow alone.

    The rows come straight from the Parquet files PyIceberg plans for the current
    snapshot, so neither engine takes part in reading them back.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from batchlake.lake import Lake
    from batchlake.storage import path_of

    assert isinstance(lake, Lake)
    table = lake.catalog.load(name)
    schema = table.schema().as_arrow()
    parts = [
        pq.read_table(path_of(f), filesystem=lake.storage.filesystem)
        for f in lake.catalog.data_files(table)
    ]
    data = pa.concat_tables(parts, promote_options="permissive") if parts else schema.empty_table()
    columns = [(f.name, str(f.type)) for f in data.schema]
    return columns, sorted(repr(tuple(row.values())) for row in data.to_pylist())
