"""The base of every settings model: unknown keys refused, values frozen."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from batchlake.errors import ConfigError

PROJECT_FILE = "batchlake.toml"
STATE_DIR = ".batchlake"  # metadata, catalog, temporary files of a project
_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"  # names of projects, sources, pipelines


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


Item = TypeVar("Item", bound=BaseModel)


def load_toml_tables(path: Path, table: str, model: type[Item]) -> list[Item]:
    """The `[[table]]` entries of a TOML file beside a model (e.g. `[[check]]`,
    `[[test]]`), each validated; a ConfigError names the file, the entry and the key."""
    where = f"{path.parent.name}/{path.name}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from exc
    unknown = set(data) - {table}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; write [[{table}]] tables")
    items = []
    for index, item in enumerate(data.get(table, [])):
        try:
            items.append(model.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise ConfigError(
                f"{where}: {table} #{index + 1}{f' {key!r}' if key else ''}: {first['msg']}"
            ) from exc
    return items
