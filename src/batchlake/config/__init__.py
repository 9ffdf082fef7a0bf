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
from typing import Any

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from batchlake.config.base import _NAME_PATTERN, PROJECT_FILE, STATE_DIR, _Settings
from batchlake.config.lake import CatalogSettings, EngineSettings, MetadataSettings, StorageSettings
from batchlake.config.ops import (
    MAINTENANCE,
    AlertChannelSettings,
    AlertEvent,
    ChartSettings,
    EmailAlertSettings,
    LogAlertSettings,
    MaintenanceSettings,
    PipelineSettings,
    RunSettings,
    ServeSettings,
    WebhookAlertSettings,
)
from batchlake.config.sources import (
    FileEntitySettings,
    FilesSourceSettings,
    Mode,
    MongoCollectionSettings,
    MongoSourceSettings,
    PaginatorSettings,
    RestAuthSettings,
    RestEndpointSettings,
    RestSourceSettings,
    SourceSettings,
    SqlEntitySettings,
    SqlQuerySettings,
    SqlSourceSettings,
)
from batchlake.config.units import parse_duration, parse_size
from batchlake.errors import ConfigError

__all__ = [
    "MAINTENANCE",
    "PROJECT_FILE",
    "STATE_DIR",
    "AlertChannelSettings",
    "AlertEvent",
    "CatalogSettings",
    "ChartSettings",
    "EmailAlertSettings",
    "EngineSettings",
    "FileEntitySettings",
    "FilesSourceSettings",
    "LogAlertSettings",
    "MaintenanceSettings",
    "MetadataSettings",
    "Mode",
    "MongoCollectionSettings",
    "MongoSourceSettings",
    "PaginatorSettings",
    "PipelineSettings",
    "Project",
    "ProjectSettings",
    "RestAuthSettings",
    "RestEndpointSettings",
    "RestSourceSettings",
    "RunSettings",
    "ServeSettings",
    "SourceSettings",
    "SqlEntitySettings",
    "SqlQuerySettings",
    "SqlSourceSettings",
    "StorageSettings",
    "WebhookAlertSettings",
    "interpolate",
    "load_project",
    "parse_duration",
    "parse_size",
]


_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


# -- unattended operation: pipelines, schedules, alerts ------------------------------------


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
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)
    alerts: dict[str, AlertChannelSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _pipeline_alerts_exist(self) -> ProjectSettings:
        if self.maintenance.scheduled and MAINTENANCE in self.pipelines:
            raise ValueError(
                f"pipelines.{MAINTENANCE}: the name is the scheduler's for the [maintenance] "
                "schedule; rename the pipeline"
            )
        scheduled = dict(self.pipelines)
        if self.maintenance.scheduled:
            scheduled[MAINTENANCE] = self.maintenance.schedule()
        for name, pipeline in scheduled.items():
            unknown = sorted(set(pipeline.alerts or []) - set(self.alerts))
            if unknown:
                where = MAINTENANCE if name == MAINTENANCE else f"pipelines.{name}"
                raise ValueError(
                    f"{where}.alerts names {', '.join(unknown)}, "
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
