"""The project file (`batchlake.toml`) and the environment, turned into typed settings.

Values such as ``${PG_PASSWORD}`` or ``${CHINOOK_URL:-sqlite:///data/chinook.sqlite}`` are
read from the environment when the file is loaded, so secrets never live in the file.
Every validation error names the key (and the variable) to fix.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from batchlake.errors import ConfigError

PROJECT_FILE = "batchlake.toml"
STATE_DIR = ".batchlake"

_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class StorageSettings(_Settings):
    """Where the lake's files live: a local folder (relative to the project) or a URL.

    For `s3://bucket/prefix` roots (and an `s3://` catalog warehouse) the other keys say
    how to reach the store; they are rendered for every library that touches storage
    (pyarrow/fsspec, PyIceberg, DuckDB, Spark) by `batchlake.storage.s3`. Credentials come from the
    standard AWS chain (environment, profile, instance role) unless `*_env` name the
    environment variables holding them.
    """

    root: str = "lake"
    endpoint: str | None = None  # S3-compatibles (MinIO, Ceph, moto): http(s)://host:port
    region: str | None = None  # default: AWS_REGION / AWS_DEFAULT_REGION, then us-east-1
    path_style: bool = False  # bucket in the path (MinIO, Ceph, moto) instead of the host
    access_key_id_env: str | None = None  # e.g. "LAKE_S3_KEY_ID"
    secret_access_key_env: str | None = None
    session_token_env: str | None = None

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


_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def parse_size(text: str) -> int:
    """Bytes in a size such as "500MB" or "2 GB"; a ValueError names the accepted form."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*", text.upper())
    if not match or match.group(2) not in _SIZE_UNITS:
        raise ValueError(f"'{text}' is not a size; write e.g. '500MB' or '2GB'")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


Mode = Literal["full", "incremental"]


class _EntityCapture(_Settings):
    """How one entity is captured: everything (full) or what is new since a cursor."""

    mode: Mode = "full"
    cursor: str | None = None
    primary_key: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _incremental_needs_cursor(self) -> _EntityCapture:
        if self.mode == "incremental" and not self.cursor:
            raise ValueError("mode = 'incremental' needs cursor = '<column>'")
        return self


class SqlEntitySettings(_EntityCapture):
    """Options of one table of a relational source (`[sources.X.entities.<table>]`)."""


class SqlQuerySettings(_EntityCapture):
    """A named custom query captured as an entity (`[sources.X.queries.<name>]`)."""

    sql: str


class SqlSourceSettings(_Settings):
    """A relational database read by URL (sqlite, postgresql, mysql; others via SQLAlchemy)."""

    type: Literal["sql"]
    url: str
    tables: Literal["*"] | list[str] = "*"
    exclude: list[str] = Field(default_factory=list)
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


class RestEndpointSettings(_Settings):
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
        return self


class RestSourceSettings(_Settings):
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


class FileEntitySettings(_Settings):
    """One file, glob or URL captured as an entity (`[sources.X.entities.<name>]`)."""

    path: str  # local path or glob (relative to the project), http(s):// or s3:// URL
    format: Literal["auto", "csv", "tsv", "json", "jsonl", "parquet"] = "auto"
    compression: Literal["auto", "none", "gzip", "zip"] = "auto"
    delimiter: str | None = None
    header: bool = True
    columns: dict[str, str] = Field(default_factory=dict)  # name -> DuckDB/SQL type name
    member: str | None = None  # zip: the member to read (default: the only data file)
    on_bad_rows: Literal["quarantine", "fail", "skip"] = "quarantine"
    primary_key: list[str] = Field(default_factory=list)


class FilesSourceSettings(_Settings):
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
    """

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


class MongoSourceSettings(_Settings):
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


class RunSettings(_Settings):
    """How runs behave."""

    lock_timeout_seconds: float = Field(default=0, ge=0)
    lock_ttl_seconds: float = Field(default=60, gt=5)
    # Capture threads: different sources are captured in parallel, one thread per source.
    concurrency: int = Field(default=4, ge=1)
    # Attempts after the first, for transient errors only (see batchlake.run.retry).
    retries: int = Field(default=2, ge=0)
    retry_backoff_seconds: float = Field(default=2, ge=0)  # doubled after each attempt
    retry_max_backoff_seconds: float = Field(default=60, ge=0)
    step_timeout_seconds: float | None = Field(default=None, gt=0)  # None: no limit


class ServeSettings(_Settings):
    """`batchlake serve`: the REST API and dashboard (`[serve]`)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Reading without a key, for requests from this machine only (the host must be loopback).
    open_read: bool = False
    cors_origins: list[str] = Field(default_factory=list)
    keys_file: str = f"{STATE_DIR}/api_keys.json"  # hashed keys; relative to the project
    query_max_rows: int = Field(default=10_000, ge=1)
    query_timeout_seconds: float = Field(default=10, gt=0)
    cache_mb: int = Field(default=512, ge=0)  # tables held in memory, per snapshot
    memory_limit: str = "1GB"  # per query connection


# -- analytics: Python step parameters and charts (transform.python_steps, analytics.report) --


class ChartSettings(_Settings):
    """A chart of `batchlake report` (`[[charts]]`): rows of `table`, or of `sql` if given."""

    title: str
    table: str | None = None
    sql: str | None = None  # a SELECT over the lake (DuckDB dialect) instead of a whole table
    kind: Literal["line", "bar", "barh", "scatter", "area"] = "bar"
    x: str
    y: str | list[str]  # one column, or several drawn side by side (bar) or as lines
    color: str | None = None  # a column whose values split the rows into coloured series
    stacked: bool = False  # bar/area with color: stack the series instead of grouping
    description: str = ""

    @model_validator(mode="after")
    def _table_or_sql(self) -> ChartSettings:
        if (self.table is None) == (self.sql is None):
            raise ValueError(f"chart '{self.title}' needs exactly one of table = '...' or sql")
        return self


# -- unattended operation: pipelines, schedules, alerts ------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: str | float) -> float:
    """Seconds in `value`: a number of seconds or text such as 90s, 30m, 6h, 2d."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a duration; write e.g. 30s, 15m, 6h or 1d")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


class PipelineSettings(_Settings):
    """A named pipeline (`[pipelines.<name>]`): steps to run and when."""

    select: list[str] = Field(default_factory=list)  # as `--select` takes; empty: everything
    cron: str | None = None  # e.g. "*/30 * * * *", in `timezone`
    every: str | float | None = None  # or an interval: "30m", "1h", 90 (seconds)
    timezone: str = "UTC"
    catch_up: Literal["once", "skip"] = "once"  # fires missed while down: run once, or skip
    full_refresh: bool = False
    alerts: list[str] | None = None  # channel names of [alerts.*]; None: every channel
    lock_wait_seconds: float = Field(default=300, ge=0)  # wait for another run's lock

    @model_validator(mode="after")
    def _one_schedule(self) -> PipelineSettings:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of cron = '<expression>' or every = '<interval>'")
        if self.every is not None and parse_duration(self.every) <= 0:
            raise ValueError("every must be a positive interval")
        if self.cron is not None:
            from croniter import croniter

            if not croniter.is_valid(self.cron):
                raise ValueError(f"cron '{self.cron}' is not a valid cron expression")
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone '{self.timezone}' is unknown; use an IANA name such as Europe/Lisbon"
            ) from None
        return self


AlertEvent = Literal["failure", "quality", "missed", "success"]


def _default_events() -> list[AlertEvent]:
    return ["failure", "quality", "missed"]


class _AlertChannel(_Settings):
    on: list[AlertEvent] = Field(default_factory=_default_events)
    reminder: str | float = "6h"  # while something stays broken, remind this often

    @field_validator("reminder")
    @classmethod
    def _reminder_is_duration(cls, value: str | float) -> str | float:
        parse_duration(value)
        return value


class WebhookAlertSettings(_AlertChannel):
    """A JSON POST with a Slack-compatible `text` field (Slack, Mattermost, Teams, ...)."""

    type: Literal["webhook"]
    url: str  # write it as ${SLACK_WEBHOOK_URL}: it is a secret
    timeout_seconds: float = Field(default=10, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)


class EmailAlertSettings(_AlertChannel):
    """Mail through an SMTP server, upgraded to TLS with STARTTLS."""

    type: Literal["email"]
    host: str
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = None  # write it as ${SMTP_PASSWORD}
    sender: str
    to: list[str] = Field(min_length=1)
    ca_file: str | None = None  # a CA bundle to trust (a private server's certificate)
    timeout_seconds: float = Field(default=30, gt=0)


class LogAlertSettings(_AlertChannel):
    """A warning line in the log of the process that raised the alert."""

    type: Literal["log"]


AlertChannelSettings = Annotated[
    WebhookAlertSettings | EmailAlertSettings | LogAlertSettings, Field(discriminator="type")
]


class ProjectSettings(_Settings):
    """The whole `batchlake.toml`, after environment interpolation."""

    name: str = Field(default="lake", pattern=_NAME_PATTERN)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    metadata: MetadataSettings = Field(default_factory=MetadataSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    # `[python.<step>]` tables: parameters handed to Python steps as `ctx.params`.
    python: dict[str, dict[str, Any]] = Field(default_factory=dict)
    charts: list[ChartSettings] = Field(default_factory=list)

    pipelines: dict[str, PipelineSettings] = Field(default_factory=dict)
    alerts: dict[str, AlertChannelSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _pipeline_alerts_exist(self) -> ProjectSettings:
        for name, pipeline in self.pipelines.items():
            unknown = sorted(set(pipeline.alerts or []) - set(self.alerts))
            if unknown:
                raise ValueError(
                    f"pipelines.{name}.alerts names {', '.join(unknown)}, "
                    f"not defined as [alerts.<name>] (defined: {', '.join(self.alerts) or 'none'})"
                )
        return self

    @field_validator("sources")
    @classmethod
    def _source_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.match(_NAME_PATTERN, name):
                raise ValueError(f"source name '{name}' must be lower case letters, digits and '_'")
        return value


class Project:
    """A lake project: its folder and its settings."""

    def __init__(self, root: Path, settings: ProjectSettings) -> None:
        self.root = root.resolve()
        self.settings = settings

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    def resolve_url(self, url: str) -> str:
        """Make a `sqlite:///relative` URL absolute against the project folder."""
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            rest = url[len(prefix) :]
            if rest and rest != ":memory:":
                return prefix + str(self.root / rest)
        return url

    def resolve_location(self, location: str) -> str:
        """Make a storage location absolute: URLs stay, relative paths join the project."""
        if "://" in location:
            return location.rstrip("/")
        path = Path(location)
        return str(path if path.is_absolute() else self.root / path)


def interpolate(value: Any, *, key: str = "", env: dict[str, str] | None = None) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a parsed TOML tree."""
    environ = os.environ if env is None else env
    if isinstance(value, dict):
        return {
            k: interpolate(v, key=f"{key}.{k}" if key else k, env=env) for k, v in value.items()
        }
    if isinstance(value, list):
        return [interpolate(v, key=f"{key}[{i}]", env=env) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = environ.get(name)
        if found:
            return found
        if default is not None:
            return default
        raise ConfigError(
            f"environment variable {name} is not set (used by '{key}' in {PROJECT_FILE}); "
            f"export {name}=... or give a default as ${{{name}:-value}}"
        )

    return _ENV_PATTERN.sub(substitute, value)


def _describe(error: ValidationError, path: Path) -> str:
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"] if not str(part).startswith("function")]
    if loc[:1] == ["sources"] and len(loc) > 3:
        del loc[2]  # the discriminator tag (the source's type), not a key of the file
    key = ".".join(loc)
    others = len(error.errors()) - 1
    more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
    return f"{path}: '{key}': {first['msg']}{more}"


def load_project(root: Path | str = ".", *, env: dict[str, str] | None = None) -> Project:
    """Read `batchlake.toml` in `root` into a `Project`; raise `ConfigError` naming the fix."""
    folder = Path(root).resolve()
    path = folder / PROJECT_FILE
    if not path.is_file():
        raise ConfigError(
            f"no {PROJECT_FILE} in {folder}; run 'batchlake init {folder}' "
            "or pass --project DIR pointing at a lake project"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    data = interpolate(raw, env=env)
    if isinstance(data.get("project"), dict):
        data = {**{k: v for k, v in data.items() if k != "project"}, **data["project"]}
    try:
        settings = ProjectSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from exc
    return Project(folder, settings)
