from __future__ import annotations

from pathlib import Path

import pytest

from batchlake.config import load_project
from batchlake.errors import ConfigError

MINIMAL = """
name = "shop"
[sources.shop]
type = "sql"
url = "${SHOP_URL:-sqlite:///data/shop.sqlite}"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "batchlake.toml").write_text(text)
    return tmp_path


def test_defaults_and_env_default(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, MINIMAL), env={})
    source = project.settings.sources["shop"]
    assert source.url == "sqlite:///data/shop.sqlite"
    assert project.resolve_url(source.url) == f"sqlite:///{tmp_path.resolve()}/data/shop.sqlite"
    assert project.settings.engine.type == "duckdb"
    assert project.resolve_location(project.settings.storage.root) == str(
        tmp_path.resolve() / "lake"
    )


def test_env_value_wins_over_default(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, MINIMAL), env={"SHOP_URL": "postgresql://u@h/db"})
    assert project.settings.sources["shop"].url == "postgresql://u@h/db"
    assert project.resolve_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert project.resolve_url("sqlite:////abs/x.db") == "sqlite:////abs/x.db"


def test_missing_variable_names_variable_and_key(tmp_path: Path) -> None:
    text = MINIMAL.replace("${SHOP_URL:-sqlite:///data/shop.sqlite}", "${SHOP_URL}")
    with pytest.raises(ConfigError) as info:
        load_project(write(tmp_path, text), env={})
    assert "SHOP_URL" in str(info.value)
    assert "sources.shop.url" in str(info.value)


def test_validation_error_names_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_project(write(tmp_path, MINIMAL + "\n[engine]\nthreads = -1\n"), env={})
    assert "engine.threads" in str(info.value)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_project(write(tmp_path, MINIMAL + "\n[storage]\nrot = 'x'\n"), env={})
    assert "storage.rot" in str(info.value)


def test_bad_url_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sources\.shop\.url"):
        load_project(
            write(tmp_path, MINIMAL.replace("${SHOP_URL:-sqlite:///data/shop.sqlite}", "nope")),
            env={},
        )
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_project(write(tmp_path, "name = "), env={})


def test_missing_project_file_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="batchlake init"):
        load_project(tmp_path)
