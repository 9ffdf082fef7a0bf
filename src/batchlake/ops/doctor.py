"""`batchlake doctor`: is this project ready to run unattended?

Each check is a function taking the opened `Lake` and returning the problems it found,
each with the fix. `CHECKS` is the list `batchlake doctor` runs, in order; add a check by
appending a function to it (e.g. storage-specific checks).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from batchlake.errors import BatchlakeError

if TYPE_CHECKING:
    from batchlake.lake import Lake


@dataclass(frozen=True)
class Problem:
    check: str  # what was checked, e.g. "source shop"
    message: str  # what is wrong
    fix: str  # what to do about it


Check = Callable[["Lake"], list[Problem]]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return first if isinstance(exc, BatchlakeError) else f"{type(exc).__name__}: {first}"


def check_models(lake: Lake) -> list[Problem]:
    """Every model parses, the DAG has no missing table or cycle, check files are valid."""
    from batchlake.transform.models import Dag, project_models
    from batchlake.transform.quality import load_checks

    try:
        models = project_models(lake.project)
        for name in models:
            load_checks(lake.project.models_dir, name)
        known = {f"raw.{s}.{e}" for s, e in lake.metadata.raw_entities()}
        wanted = {d for m in models.values() for d in m.depends_on if d.startswith("raw.")}
        Dag.build(models, sorted(known | wanted))
    except Exception as exc:
        return [Problem("models", _reason(exc), "fix the file named in the message")]
    return []


def check_sources(lake: Lake) -> list[Problem]:
    """Every source can be reached and lists its entities."""
    from batchlake.capture import open_source

    problems = []
    for name in lake.settings.sources:
        try:
            source = open_source(lake.project, name)
            try:
                entities = source.entities()
            finally:
                source.close()
            if not entities:
                problems.append(
                    Problem(
                        f"source {name}",
                        "it has no entities to capture",
                        f"list tables, endpoints or files under [sources.{name}]",
                    )
                )
        except Exception as exc:
            problems.append(
                Problem(
                    f"source {name}",
                    _reason(exc),
                    f"check sources.{name} in batchlake.toml (URL, credentials in the "
                    "environment) and that the system is up and reachable from this machine",
                )
            )
    return problems


def check_storage(lake: Lake) -> list[Problem]:
    """The lake's storage root can be written and read back."""
    storage = lake.storage
    probe = storage.join(".batchlake-doctor", f"{uuid.uuid4().hex}.probe")
    try:
        storage.makedirs(probe.rsplit("/", 1)[0])
        with storage.filesystem.open_output_stream(_path(probe)) as out:
            out.write(b"ok")
        with storage.filesystem.open_input_stream(_path(probe)) as back:
            if back.read() != b"ok":
                raise OSError("the probe file read back differs from what was written")
        storage.delete(probe.rsplit("/", 1)[0])
    except Exception as exc:
        return [
            Problem(
                "storage",
                f"cannot write under {storage.root}: {_reason(exc)}",
                "fix storage.root in batchlake.toml or the folder's permissions / credentials",
            )
        ]
    return []


def check_object_storage(lake: Lake) -> list[Problem]:
    """On S3 or Azure: bucket/container reachable, credentials valid, put/get/delete allowed."""
    if not (lake.uses_s3 or lake.uses_azure):
        return []  # a local folder: check_storage covers it
    from batchlake.ops.storage_checks import storage_checks

    return [
        Problem(result.name, result.detail, result.fix or "check [storage] in batchlake.toml")
        for result in storage_checks(lake)
        if not result.ok
    ]


def check_catalog(lake: Lake) -> list[Problem]:
    """The Iceberg catalog opens and lists its tables; each table loads."""
    try:
        names = lake.catalog.table_names()
    except Exception as exc:
        return [
            Problem(
                "catalog",
                _reason(exc),
                "fix catalog.uri and catalog.warehouse in batchlake.toml (the warehouse "
                "defaults to <storage.root>/warehouse) and that its server is up",
            )
        ]
    problems = []
    for name in names:
        try:
            lake.catalog.load(name).current_snapshot()
        except Exception as exc:
            problems.append(
                Problem(
                    f"table {name}",
                    _reason(exc),
                    f"rebuild it with 'batchlake run --select {name} --full-refresh'",
                )
            )
    return problems


def check_metadata(lake: Lake) -> list[Problem]:
    """The metadata database opens and is at the latest schema version."""
    from batchlake.metadata.migrations import all_migrations

    try:
        version = lake.metadata.schema_version()
    except Exception as exc:
        return [
            Problem("metadata", _reason(exc), "fix metadata.url in batchlake.toml (and its server)")
        ]
    latest = max(m.version for m in all_migrations())
    if version != latest:
        return [
            Problem(
                "metadata",
                f"schema version {version}, expected {latest}",
                "open the project with this batchlake version once (migrations run on open)",
            )
        ]
    return []


def _path(location: str) -> str:
    from batchlake.storage import path_of

    return path_of(location)


CHECKS: list[tuple[str, Check]] = [
    ("metadata database", check_metadata),
    ("storage", check_storage),
    ("object storage", check_object_storage),
    ("catalog", check_catalog),
    ("models and checks", check_models),
    ("sources", check_sources),
]


def diagnose(lake: Lake) -> list[tuple[str, list[Problem]]]:
    """Run every check; a check that crashes is reported as its own problem."""
    found = []
    for title, check in CHECKS:
        try:
            problems = check(lake)
        except Exception as exc:
            problems = [Problem(title, _reason(exc), "run with --debug and report it")]
        found.append((title, problems))
    return found
