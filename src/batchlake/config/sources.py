"""Sources (`[sources.<name>]`): SQL databases, REST APIs, files and MongoDB."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from batchlake.config.base import _NAME_PATTERN, _Settings
from batchlake.config.units import parse_duration

# full: every capture reads everything; incremental: rows past a cursor; diff: everything is
# read and compared by primary key with the previous capture, and only inserted, changed
# and deleted (tombstone) rows are written (see batchlake.capture.diff).
Mode = Literal["full", "incremental", "diff"]


class RawHistorySettings(_Settings):
    """How long raw batches are kept (`batchlake maintain`); on a source or an entity.

    A batch expires when it is older than `raw_retention` AND not among the
    `raw_keep_batches` newest (either alone: that rule alone). An entity's own keys
    override its source's. Never expired: the newest written batch, and any batch an
    incremental model has not consumed yet (see batchlake.ops.retention).
    """

    raw_retention: str | None = None  # age of batches, e.g. "30d", "12h"
    raw_keep_batches: int | None = Field(default=None, ge=1)

    @field_validator("raw_retention")
    @classmethod
    def _retention_is_duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) <= 0:
            raise ValueError("raw_retention must be a positive duration, e.g. '30d'")
        return value


class _EntityCapture(RawHistorySettings):
    """How one entity is captured: everything (full), what is new since a cursor
    (incremental), or what changed since the last capture, by primary key (diff)."""

    # The key a diff capture uses when primary_key is not set (None: it must be set).
    default_key: ClassVar[tuple[str, ...]] = ()

    mode: Mode = "full"
    cursor: str | None = None
    primary_key: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _mode_needs(self) -> _EntityCapture:
        if self.mode == "incremental" and not self.cursor:
            raise ValueError("mode = 'incremental' needs cursor = '<column>'")
        if self.mode == "diff" and not (self.primary_key or self.default_key):
            raise ValueError(
                "mode = 'diff' needs primary_key = ['<column>', ...] (the columns that "
                "identify a row, to compare captures by)"
            )
        return self


class SqlEntitySettings(_EntityCapture):
    """Options of one table of a relational source (`[sources.X.entities.<table>]`)."""


class SqlQuerySettings(_EntityCapture):
    """A named custom query captured as an entity (`[sources.X.queries.<name>]`)."""

    sql: str


class SqlSourceSettings(RawHistorySettings):
    """A relational database read by URL (sqlite, postgresql, mysql; others via SQLAlchemy)."""

    type: Literal["sql"]
    url: str
    tables: Literal["*"] | list[str] = "*"
    exclude: list[str] = Field(default_factory=list)
    # "*" takes base tables (inheritance children and partitions through their parent);
    # views too when true. Views named in `tables` are captured either way.
    views: bool = False
    naming: Literal["snake_case", "as_is"] = "snake_case"
    batch_rows: int = Field(default=100_000, ge=1_000)
    entities: dict[str, SqlEntitySettings] = Field(default_factory=dict)
    queries: dict[str, SqlQuerySettings] = Field(default_factory=dict)
    # auto: ConnectorX for mysql (when installed), DuckDB's scanner for sqlite/postgresql,
    # SQLAlchemy for any other URL.
    reader: Literal["auto", "duckdb", "connectorx", "sqlalchemy"] = "auto"
    # Parallel read streams for a MySQL table whose primary key is one integer column
    # (ConnectorX, ranges of the key); 1 reads one stream.
    partitions: int = Field(default=2, ge=1, le=16)

    @field_validator("url")
    @classmethod
    def _url_has_scheme(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(
                f"'{value}' is not a database URL; write e.g. sqlite:///data/app.sqlite, "
                "postgresql://user@host/db or mysql://user@host/db"
            )
        return value


class RestAuthSettings(_Settings):
    """Credentials for an API; write secrets as ${VARIABLE}, never literally."""

    type: Literal["none", "bearer", "api_key", "basic"] = "none"
    token: str | None = None  # bearer
    key: str | None = None  # api_key value
    name: str = "X-API-Key"  # api_key header or query parameter name
    location: Literal["header", "query"] = "header"  # api_key
    username: str | None = None  # basic
    password: str | None = None  # basic

    @model_validator(mode="after")
    def _credentials_present(self) -> RestAuthSettings:
        needed = {"bearer": "token", "api_key": "key", "basic": "username"}.get(self.type)
        if needed and not getattr(self, needed):
            raise ValueError(
                f"auth type '{self.type}' needs {needed} = '${{SOME_VARIABLE}}' "
                "(read from the environment, never written in the file)"
            )
        return self


class PaginatorSettings(_Settings):
    """How an endpoint pages. Parameter and field names are configurable per API."""

    type: Literal["none", "page", "offset", "cursor", "next_url", "link_header"] = "none"
    page_param: str = "page"
    first_page: int = 1
    size_param: str | None = None
    page_size: int | None = Field(default=None, ge=1)
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(default=100, ge=1)
    total_path: str | None = None  # offset: where the total count is in the body
    pages_path: str | None = None  # page: where the number of pages is in the body
    cursor_param: str = "cursor"  # cursor: request parameter carrying the token
    cursor_path: str = "next_cursor"  # cursor: where the next token is in the body
    next_url_path: str = "next"  # next_url: where the next URL is in the body
    max_pages: int | None = Field(default=None, ge=1)


class RestEndpointSettings(RawHistorySettings):
    """One endpoint captured as an entity (`[sources.X.endpoints.<name>]`)."""

    path: str
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    records_path: str | None = None  # dotted path to the list of records; None: the body
    paginator: PaginatorSettings = Field(default_factory=PaginatorSettings)
    mode: Mode = "full"
    cursor_param: str | None = None  # incremental: request parameter, e.g. "since"
    cursor_field: str | None = None  # incremental: record field whose max is the next cursor
    initial_cursor: str | None = None
    primary_key: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _incremental_fields(self) -> RestEndpointSettings:
        if self.mode == "incremental" and not (self.cursor_param and self.cursor_field):
            raise ValueError("mode = 'incremental' needs cursor_param and cursor_field")
        if self.mode == "diff" and not self.primary_key:
            raise ValueError(
                "mode = 'diff' needs primary_key = ['<field>', ...] (record fields, dotted "
                "paths allowed, that identify a record)"
            )
        return self


class RestSourceSettings(RawHistorySettings):
    """A JSON HTTP API."""

    type: Literal["rest"]
    base_url: str
    headers: dict[str, str] = Field(default_factory=dict)
    auth: RestAuthSettings = Field(default_factory=RestAuthSettings)
    timeout_seconds: float = Field(default=30, gt=0)  # per request (connect, read, write)
    # Retries after the first attempt, on connection errors, timeouts, 5xx and 429.
    max_retries: int = Field(default=5, ge=0)
    # Wait before retry n: random in [0, backoff_seconds * 2**n], at most max_backoff_seconds;
    # a Retry-After header is honoured instead, capped at max_backoff_seconds too.
    backoff_seconds: float = Field(default=0.5, ge=0)
    max_backoff_seconds: float = Field(default=30, ge=0)
    requests_per_second: float | None = Field(default=None, gt=0)  # None: no limit
    endpoints: dict[str, RestEndpointSettings] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"'{value}' is not an http(s):// URL; write e.g. https://api.example.com/v1"
            )
        return value

    @field_validator("endpoints")
    @classmethod
    def _endpoint_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.match(_NAME_PATTERN, name):
                raise ValueError(
                    f"endpoint name '{name}' must be lower case letters, digits and '_' "
                    "(it names the table raw.<source>.<endpoint>)"
                )
        return value


class FileEntitySettings(RawHistorySettings):
    """One file, glob or URL captured as an entity (`[sources.X.entities.<name>]`)."""

    path: str  # local path or glob (relative to the project), http(s):// or s3:// URL
    mode: Literal["full", "diff"] = "full"
    format: Literal["auto", "csv", "tsv", "json", "jsonl", "parquet"] = "auto"
    compression: Literal["auto", "none", "gzip", "zip"] = "auto"
    delimiter: str | None = None
    header: bool = True
    columns: dict[str, str] = Field(default_factory=dict)  # name -> DuckDB/SQL type name
    member: str | None = None  # zip: the member to read (default: the only data file)
    on_bad_rows: Literal["quarantine", "fail", "skip"] = "quarantine"
    primary_key: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _diff_needs_key(self) -> FileEntitySettings:
        if self.mode == "diff" and not self.primary_key:
            raise ValueError("mode = 'diff' needs primary_key = ['<column>', ...]")
        return self


class FilesSourceSettings(RawHistorySettings):
    """Files and URLs: CSV/TSV, JSON, JSON Lines, Parquet; gzip and zip."""

    type: Literal["files"]
    entities: dict[str, FileEntitySettings] = Field(default_factory=dict)
    storage_options: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=60, gt=0)
    max_retries: int = Field(default=3, ge=0)  # http(s): connection errors, 429 and 5xx
    backoff_seconds: float = Field(default=0.5, ge=0)  # doubled after each retry


class MongoCollectionSettings(_EntityCapture):
    """One collection captured as an entity (`[sources.X.collections.<name>]`).

    `cursor` is a field (dotted path allowed), best indexed: a date such as `updated_at`,
    or `_id` for insert-only collections. `filter` and `projection` are MongoDB documents;
    typed values are written as Extended JSON, e.g. `{ "$date" = "2024-01-01T00:00:00Z" }`.
    `mode = "diff"` compares documents by `primary_key`, `_id` unless set.
    """

    default_key: ClassVar[tuple[str, ...]] = ("_id",)

    collection: str | None = None  # default: the entity name
    filter: dict[str, Any] = Field(default_factory=dict)
    projection: dict[str, Any] | None = None
    batch_size: int = Field(default=10_000, ge=1)  # documents per page (and per round trip)

    @model_validator(mode="after")
    def _projection_keeps_cursor(self) -> MongoCollectionSettings:
        if self.mode != "incremental" or not self.projection or not self.cursor:
            return self
        top = self.cursor.split(".")[0]
        value = self.projection.get(self.cursor, self.projection.get(top))
        including = any(v not in (0, False) for k, v in self.projection.items() if k != "_id")
        if top == "_id":  # kept unless excluded by name
            kept = value not in (0, False)
        else:
            kept = value not in (None, 0, False) if including else value is None
        if not kept:
            raise ValueError(
                f"projection drops the cursor field '{self.cursor}'; keep it in the projection"
            )
        return self


class MongoSourceSettings(RawHistorySettings):
    """A MongoDB database (documents kept losslessly as canonical Extended JSON)."""

    type: Literal["mongo"]
    url: str  # mongodb:// or mongodb+srv://; write the password as ${VARIABLE}
    database: str
    timeout_seconds: float = Field(default=10, gt=0)  # to find a server and to connect
    collections: dict[str, MongoCollectionSettings] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url_is_mongodb(cls, value: str) -> str:
        if not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError(
                f"'{value.split('@')[-1]}' is not a MongoDB URL; write e.g. "
                "mongodb://user:${MONGO_PASSWORD}@host:27017/?authSource=admin"
            )
        return value

    @field_validator("collections")
    @classmethod
    def _collection_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.match(_NAME_PATTERN, name):
                raise ValueError(
                    f"collection entity name '{name}' must be lower case letters, digits and "
                    "'_' (it names the table raw.<source>.<name>); set collection = '<name>' "
                    "to read a collection named otherwise"
                )
        return value


SourceSettings = Annotated[
    SqlSourceSettings | RestSourceSettings | FilesSourceSettings | MongoSourceSettings,
    Field(discriminator="type"),
]
