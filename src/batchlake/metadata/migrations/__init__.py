"""Numbered migrations of the metadata database.

Each module `mNNNN_<name>.py` defines `upgrade(connection)`. They run in order, once each,
and `schema_migrations` records which have run. Never edit a released migration: add one.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    module: ModuleType


def all_migrations() -> list[Migration]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("m") and info.name[1:5].isdigit():
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append(Migration(int(info.name[1:5]), info.name[6:], module))
    return sorted(found, key=lambda m: m.version)
