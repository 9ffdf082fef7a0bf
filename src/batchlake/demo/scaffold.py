"""Creating lake projects: an empty skeleton or a copy of an example."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from batchlake.demo.ci import write_ci
from batchlake.errors import ConfigError

EXAMPLES = {"chinook": "project"}

_GITIGNORE = "# batchlake state and data (not source code)\n.batchlake/\nlake/\ndata/\n"

_EMPTY_PROJECT = """\
# A batchlake project. See the README for every key.
name = "{name}"

[storage]
root = "lake"            # or s3://bucket/prefix

[metadata]
url = "sqlite:///.batchlake/metadata.sqlite"

[catalog]
type = "sql"
uri = "sqlite:///.batchlake/catalog.sqlite"

[engine]
type = "duckdb"

# [sources.shop]
# type = "sql"
# url = "${{SHOP_URL}}"     # read from the environment
# tables = "*"
"""


def _copy_tree(source: Traversable, target: Path, force: bool) -> list[Path]:
    created = []
    for item in source.iterdir():
        if item.name.startswith(("__", ".")):
            continue
        destination = target / item.name
        if item.is_dir():
            created += _copy_tree(item, destination, force)
            continue
        if destination.exists() and not force:
            raise ConfigError(f"{destination} already exists; pass --force to overwrite it")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(item.read_bytes())
        created.append(destination)
    return created


def create_project(
    directory: Path, *, example: str | None = None, force: bool = False
) -> list[Path]:
    """Write a new project into `directory`; return the files created."""
    directory.mkdir(parents=True, exist_ok=True)
    if example is not None:
        if example not in EXAMPLES:
            raise ConfigError(f"no example '{example}'; choose one of: {', '.join(EXAMPLES)}")
        root = resources.files("batchlake.demo").joinpath(EXAMPLES[example])
        created = _copy_tree(root, directory, force)
    else:
        config = directory / "batchlake.toml"
        if config.exists() and not force:
            raise ConfigError(f"{config} already exists; pass --force to overwrite it")
        name = (
            "".join(c if c.isalnum() else "_" for c in directory.resolve().name.lower()) or "lake"
        )
        if not name[0].isalpha():
            name = f"lake_{name}"
        config.write_text(_EMPTY_PROJECT.format(name=name), encoding="utf-8")
        created = [config]
        for zone in ("trusted", "refined"):
            (directory / "models" / zone).mkdir(parents=True, exist_ok=True)
    created += write_ci(directory, force=force)  # CI: check, test, deploy (docs/ci.md)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text(_GITIGNORE, encoding="utf-8")
        created.append(ignore)
    return created
