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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from batchlake.errors import ConfigError

PROJECT_FILE = "batchlake.toml"
STATE_DIR = ".batchlake"

_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageSettings(_Settings):
    """Where the lake's files live: a local folder (relative to the project) or a URL."""

    root: str = "lake"


class MetadataSettings(_Settings):
    """The metadata database (runs, batches, cursors, locks): a SQLAlchemy URL."""

    url: str = f"sqlite:///{STATE_DIR}/metadata.sqlite"


class CatalogSettings(_Settings):
    """The Iceberg catalog holding the trusted and refined tables."""

    type: Literal["sql"] = "sql"
    uri: str = f"sqlite:///{STATE_DIR}/catalog.sqlite"
    warehouse: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)


class EngineSettings(_Settings):
    """The compute engine that runs SQL models."""

    type: Literal["duckdb"] = "duckdb"
    memory_limit: str = "4GB"
    threads: int = Field(default=0, ge=0, description="0 means one per core")


class SqlSourceSettings(_Settings):
    """A relational database read by URL (sqlite, postgresql, mysql)."""

    type: Literal["sql"]
    url: str
    tables: Literal["*"] | list[str] = "*"
    exclude: list[str] = Field(default_factory=list)
    naming: Literal["snake_case", "as_is"] = "snake_case"
    batch_rows: int = Field(default=100_000, ge=1_000)

    @field_validator("url")
    @classmethod
    def _url_has_scheme(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(
                f"'{value}' is not a database URL; write e.g. sqlite:///data/app.sqlite, "
                "postgresql://user@host/db or mysql://user@host/db"
            )
        return value


SourceSettings = Annotated[SqlSourceSettings, Field(discriminator="type")]


class RunSettings(_Settings):
    """How runs behave."""

    lock_timeout_seconds: float = Field(default=0, ge=0)
    lock_ttl_seconds: float = Field(default=60, gt=5)


class ProjectSettings(_Settings):
    """The whole `batchlake.toml`, after environment interpolation."""

    name: str = Field(default="lake", pattern=_NAME_PATTERN)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    metadata: MetadataSettings = Field(default_factory=MetadataSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    sources: dict[str, SourceSettings] = Field(default_factory=dict)

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
