"""The scale-out settings: [storage] S3 keys, engine spark/auto, catalog kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchlake.config import EngineSettings, StorageSettings, load_project, parse_size
from batchlake.engines.connection import s3_secret_sql
from batchlake.errors import ConfigError
from batchlake.storage.s3 import S3Options


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "batchlake.toml").write_text(text)
    return tmp_path


def test_endpoint_needs_a_scheme(tmp_path: Path) -> None:
    root = _project(tmp_path, '[storage]\nroot = "s3://b/p"\nendpoint = "minio:9000"\n')
    with pytest.raises(ConfigError, match=r"'storage': .*write http://host:port"):
        load_project(root)


def test_credential_variables_come_in_pairs(tmp_path: Path) -> None:
    text = '[storage]\nroot = "s3://b/p"\naccess_key_id_env = "K"\n'
    with pytest.raises(ConfigError, match="set both access_key_id_env and secret_access_key_env"):
        load_project(_project(tmp_path, text))


def test_unset_credential_variable_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKE_KEY", raising=False)
    options = S3Options(access_key_id_env="LAKE_KEY", secret_access_key_env="LAKE_SECRET")
    with pytest.raises(ConfigError, match=r"LAKE_KEY is not set .*storage.access_key_id_env"):
        options.fsspec_options()


def test_one_setting_rendered_for_each_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_KEY", "AK")
    monkeypatch.setenv("LAKE_SECRET", "SK")
    settings = StorageSettings(
        root="s3://b/p",
        endpoint="http://127.0.0.1:9000/",
        region="eu-west-3",
        path_style=True,
        access_key_id_env="LAKE_KEY",
        secret_access_key_env="LAKE_SECRET",
    )
    options = S3Options.from_settings(settings)
    assert options.fsspec_options() == {
        "client_kwargs": {"region_name": "eu-west-3"},
        "key": "AK",
        "secret": "SK",
        "endpoint_url": "http://127.0.0.1:9000",
        "config_kwargs": {"s3": {"addressing_style": "path"}},
    }
    assert options.pyiceberg_properties() == {
        "s3.region": "eu-west-3",
        "s3.access-key-id": "AK",
        "s3.secret-access-key": "SK",
        "s3.endpoint": "http://127.0.0.1:9000",
        "s3.force-virtual-addressing": "false",
        "s3.path-style-access": "true",
    }
    assert s3_secret_sql(options) == (
        "CREATE OR REPLACE SECRET \"batchlake_s3\" (TYPE s3, REGION 'eu-west-3', KEY_ID 'AK', "
        "SECRET 'SK', ENDPOINT '127.0.0.1:9000', USE_SSL false, URL_STYLE 'path')"
    )
    conf = options.spark_conf()
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    fs = options.pyarrow_filesystem()
    assert fs.region == "eu-west-3"


def test_aws_defaults_without_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    options = S3Options.from_settings(StorageSettings(root="s3://b/p"))
    assert options.pyiceberg_properties() == {"s3.region": "ap-south-1"}
    assert "spark.hadoop.fs.s3a.endpoint" not in options.spark_conf()
    assert options.uses_ssl


@pytest.mark.parametrize(
    ("text", "size"), [("500MB", 500 * 1024**2), ("2 gb", 2 * 1024**3), ("1.5KB", 1536), ("7", 7)]
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_bad_spark_above_names_the_form(tmp_path: Path) -> None:
    text = '[engine]\ntype = "auto"\nspark_above = "lots"\n'
    with pytest.raises(ConfigError, match=r"'engine.spark_above'.*write e.g. '500MB'"):
        load_project(_project(tmp_path, text))


def test_engine_and_catalog_kinds(tmp_path: Path) -> None:
    text = (
        '[engine]\ntype = "spark"\nmaster = "yarn"\nconf = { "spark.executor.cores" = 4 }\n'
        '[catalog]\ntype = "glue"\n'
    )
    settings = load_project(_project(tmp_path, text)).settings
    assert settings.engine == EngineSettings(
        type="spark", master="yarn", conf={"spark.executor.cores": 4}
    )
    assert settings.catalog.type == "glue"


def test_run_footer_says_which_engine_ran_where() -> None:
    from batchlake.cli._app import _print_run_footer
    from batchlake.cli._output import stderr
    from batchlake.run.results import RunResult, StepResult

    steps = [
        StepResult("raw.s.e", "ingest", "success"),
        StepResult("trusted.a", "model", "success", engine="duckdb"),
        StepResult("trusted.b", "model", "success", engine="spark"),
        StepResult("refined.c", "model", "unchanged", engine="duckdb"),
    ]
    with stderr.capture() as captured:
        _print_run_footer(RunResult("r1", "success", 1.0, steps))
    text = " ".join(captured.get().split())
    assert "ran on duckdb: trusted.a, refined.c; spark: trusted.b" in text
    with stderr.capture() as captured:
        _print_run_footer(RunResult("r2", "success", 1.0, steps[:2]))
    assert "ran on" not in captured.get()  # one engine: nothing to say
