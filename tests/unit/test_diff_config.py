"""Configuration of diff capture, raw retention and the [maintenance] schedule: what is
accepted, and errors that name the key to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchlake.config import Project, load_project
from batchlake.errors import ConfigError


def load(tmp_path: Path, text: str) -> Project:
    (tmp_path / "batchlake.toml").write_text('name = "t"\n' + text)
    return load_project(tmp_path, env={})


SQL = '[sources.s]\ntype = "sql"\nurl = "sqlite:///x.sqlite"\n'
REST = '[sources.s]\ntype = "rest"\nbase_url = "https://api.example.com"\n'
FILES = '[sources.s]\ntype = "files"\n'
MONGO = '[sources.s]\ntype = "mongo"\nurl = "mongodb://h:27017"\ndatabase = "d"\n'


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (SQL + '[sources.s.entities.t]\nmode = "diff"\n', "sources.s.entities.t"),
        (SQL + '[sources.s.queries.q]\nsql = "SELECT 1"\nmode = "diff"\n', "sources.s.queries.q"),
        (REST + '[sources.s.endpoints.e]\npath = "/e"\nmode = "diff"\n', "sources.s.endpoints.e"),
        (FILES + '[sources.s.entities.f]\npath = "f.csv"\nmode = "diff"\n', "sources.s.entities.f"),
    ],
)
def test_diff_needs_a_primary_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"'{key}': .*primary_key"):
        load(tmp_path, text)


def test_mongo_diff_defaults_to_id_and_retention_keys_parse(tmp_path: Path) -> None:
    project = load(
        tmp_path,
        MONGO + 'raw_retention = "30d"\n[sources.s.collections.c]\nmode = "diff"\n'
        "raw_keep_batches = 3\n",
    )
    source = project.settings.sources["s"]
    assert source.raw_retention == "30d"
    collection = source.collections["c"]  # type: ignore[union-attr]
    assert collection.mode == "diff" and collection.raw_keep_batches == 3
    assert collection.default_key == ("_id",)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (SQL + 'raw_retention = "-1d"\n', "sources.s.raw_retention"),
        (SQL + 'raw_retention = "a month"\n', "sources.s.raw_retention"),
        (SQL + "raw_keep_batches = 0\n", "sources.s.raw_keep_batches"),
        (REST + '[sources.s.endpoints.e]\npath = "/e"\nraw_keep_batches = -2\n', "endpoints.e"),
        ('[maintenance]\ncron = "0 3 * * *"\nevery = "1d"\n', "maintenance"),
        ('[maintenance]\ncron = "every night"\n', "maintenance"),
        ('[maintenance]\nevery = "1d"\nalerts = ["pager"]\n', "maintenance.alerts"),
        ('[maintenance]\nevery = "1d"\nretain_dayz = 3\n', "maintenance.retain_dayz"),
    ],
)
def test_retention_and_maintenance_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load(tmp_path, text)


def test_unscheduled_maintenance_is_the_default(tmp_path: Path) -> None:
    project = load(tmp_path, SQL)
    assert not project.settings.maintenance.scheduled
    scheduled = load(tmp_path, '[maintenance]\ncron = "0 3 * * *"\ntimezone = "Europe/Lisbon"\n')
    assert scheduled.settings.maintenance.schedule().cron == "0 3 * * *"
