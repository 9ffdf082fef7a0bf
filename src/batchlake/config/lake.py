"""Where the lake lives and what runs it: storage, metadata, catalog, engine."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from batchlake.config.base import STATE_DIR, _Settings
from batchlake.config.units import parse_size


class StorageSettings(_Settings):
    """Where the lake's files live: a local folder (relative to the project) or a URL.

    For `s3://bucket/prefix` roots (and an `s3://` catalog warehouse) the other keys say
    how to reach the store; they are rendered for every library that touches storage
    (pyarrow/fsspec, PyIceberg, DuckDB, Spark) by `batchlake.storage.s3`, and the
    `azure_*` keys for `abfs://container/prefix` roots by `batchlake.storage.azure`.
    Credentials come from the standard AWS (or Azure) chain unless `*_env` name the
    environment variables holding them.
    """

    root: str = "lake"
    endpoint: str | None = None  # S3-compatibles (MinIO, Ceph, moto): http(s)://host:port
    region: str | None = None  # default: AWS_REGION / AWS_DEFAULT_REGION, then us-east-1
    path_style: bool = False  # bucket in the path (MinIO, Ceph, moto) instead of the host
    access_key_id_env: str | None = None  # e.g. "LAKE_S3_KEY_ID"
    secret_access_key_env: str | None = None
    session_token_env: str | None = None
    # abfs://container/prefix (or az://) roots: the storage account, its blob endpoint when
    # not Azure's own (Azurite: http://127.0.0.1:10000/devstoreaccount1), and the names of
    # the variables holding a key or a connection string. Without them:
    # AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_NAME/_KEY, else Azure's
    # default credential chain (managed identity, az login).
    azure_account: str | None = None
    azure_endpoint: str | None = None
    azure_account_key_env: str | None = None  # e.g. "LAKE_AZURE_KEY"
    azure_connection_string_env: str | None = None  # e.g. "LAKE_AZURE_CONNECTION"

    @model_validator(mode="after")
    def _keys_in_pairs(self) -> StorageSettings:
        if bool(self.access_key_id_env) != bool(self.secret_access_key_env):
            raise ValueError(
                "set both access_key_id_env and secret_access_key_env (or neither, to use "
                "the AWS credential chain)"
            )
        if self.endpoint and not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(
                f"endpoint '{self.endpoint}' needs a scheme: write http://host:port or https://host"
            )
        if self.azure_account_key_env and self.azure_connection_string_env:
            raise ValueError("set azure_account_key_env or azure_connection_string_env, not both")
        if self.azure_endpoint and not self.azure_endpoint.startswith(("http://", "https://")):
            raise ValueError(
                f"azure_endpoint '{self.azure_endpoint}' needs a scheme: write "
                "https://<account>.blob.core.windows.net or http://127.0.0.1:10000/<account>"
            )
        return self


class MetadataSettings(_Settings):
    """The metadata database (runs, batches, cursors, locks): a SQLAlchemy URL."""

    url: str = f"sqlite:///{STATE_DIR}/metadata.sqlite"


class CatalogSettings(_Settings):
    """The Iceberg catalog holding the trusted and refined tables."""

    # sql: SQLAlchemy URL in `uri` (SQLite default, PostgreSQL for teams); glue: AWS Glue
    # Data Catalog (region and endpoint from [storage] unless set in properties); rest: an
    # Iceberg REST catalog at `uri`.
    type: Literal["sql", "glue", "rest"] = "sql"
    uri: str = f"sqlite:///{STATE_DIR}/catalog.sqlite"
    warehouse: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)


class EngineSettings(_Settings):
    """The compute engine that runs SQL models."""

    type: Literal["duckdb", "spark", "auto"] = "duckdb"
    memory_limit: str = "4GB"
    threads: int = Field(default=0, ge=0, description="0 means one per core")
    # spark: the master URL (local[*], spark://host:7077, yarn; "" = the one spark-submit,
    # EMR Serverless or Databricks provides) and extra session conf.
    master: str = "local[*]"
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)
    # auto: a model whose input files total at least this size runs on Spark, others on
    # DuckDB ("500MB", "2GB"; 1 KB = 1024 bytes).
    spark_above: str = "2GB"

    @field_validator("spark_above")
    @classmethod
    def _size(cls, value: str) -> str:
        parse_size(value)
        return value
