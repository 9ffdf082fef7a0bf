"""The base of every settings model: unknown keys refused, values frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

PROJECT_FILE = "batchlake.toml"
STATE_DIR = ".batchlake"  # metadata, catalog, temporary files of a project
_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"  # names of projects, sources, pipelines


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
