"""Sources: where data is captured from. Each kind yields Arrow record batches per entity.

A source kind registers here by its `type` name in `batchlake.toml`; `open_source` builds
one from its settings. Implementations live in one module per kind.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

from batchlake.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.config import Project, SourceSettings


class Source(Protocol):
    """A configured source: lists its entities and streams each one."""

    name: str

    def entities(self) -> list[str]:
        """Entity names as they appear in the lake (`raw.<source>.<entity>`)."""

    def read(self, entity: str) -> pa.RecordBatchReader:
        """Stream one entity's rows as Arrow record batches, with bounded memory."""

    def close(self) -> None: ...


def open_source(project: Project, name: str) -> Source:
    settings: SourceSettings | None = project.settings.sources.get(name)
    if settings is None:
        known = ", ".join(sorted(project.settings.sources)) or "none"
        raise ConfigError(
            f"no source named '{name}' in batchlake.toml (sources: {known}); "
            f"add a [sources.{name}] section"
        )
    if settings.type == "sql":
        from batchlake.sources.sql import SqlSource

        return SqlSource(name, settings, project)
    raise ConfigError(f"sources.{name}.type '{settings.type}' is not supported")


_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """`InvoiceLineId` → `invoice_line_id`, `HTTPStatus` → `http_status`."""
    spaced = _BOUNDARY.sub("_", name.strip())
    return re.sub(r"[^0-9a-zA-Z]+", "_", spaced).strip("_").lower() or "column"
