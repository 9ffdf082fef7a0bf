"""batchlake: a batch data-lake platform (capture → raw → trusted → refined → query).

From Python: ``lake = batchlake.open("my-lake")`` (see `batchlake.serve.python_api`). In a
project's ``python/*.py``: ``from batchlake import step`` declares a Python step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Lake", "__version__", "open", "step"]

if TYPE_CHECKING:
    from pathlib import Path

    from batchlake.lake import Lake
    from batchlake.serve.python_api import LakeHandle
    from batchlake.transform.models import step


def open(path: str | Path = ".") -> LakeHandle:
    """Open the lake project in `path` for use from Python (tables, SQL, runs)."""
    from batchlake.serve.python_api import LakeHandle

    return LakeHandle.open(path)


def __getattr__(name: str) -> object:
    if name == "step":  # the decorator of Python steps (python/*.py of a project)
        from batchlake.transform.models import step

        return step
    if name == "Lake":
        from batchlake.lake import Lake

        return Lake
    raise AttributeError(name)
