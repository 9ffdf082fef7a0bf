"""batchlake: a batch data-lake platform (capture → raw → trusted → refined → query)."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Lake", "__version__", "open", "step"]

if TYPE_CHECKING:
    from pathlib import Path

    from batchlake.lake import Lake


def open(path: str | Path = ".") -> Lake:
    """Open the lake project in `path` for use from Python."""
    from batchlake.lake import Lake

    return Lake.open(path)


def __getattr__(name: str) -> object:
    if name == "step":  # the decorator of Python steps (python/*.py of a project)
        from batchlake.models import step

        return step
    if name == "Lake":
        from batchlake.lake import Lake

        return Lake
    raise AttributeError(name)
