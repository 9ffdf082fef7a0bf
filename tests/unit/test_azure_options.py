"""The one Azure setting of `[storage]`, resolved and rendered for each library."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchlake.errors import ConfigError
from batchlake.lake import Lake
from batchlake.storage import duckdb_path
from batchlake.storage.azure import AzureOptions, normalize_location, parse_connection_string

KEY = "c2VjcmV0LWtleQ=="
AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    f"AccountKey={KEY};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)


@pytest.fixture(autouse=True)
def _no_ambient_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_ACCOUNT_NAME",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


def test_an_azurite_connection_string_renders_for_every_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LAKE_AZ", AZURITE)
    options = AzureOptions(connection_string_env="LAKE_AZ")
    props = options.pyiceberg_properties()
    assert props["adls.account-name"] == "devstoreaccount1"
    assert props["adls.account-key"] == KEY
    assert props["adls.blob-storage-authority"] == "127.0.0.1:10000"
    assert props["adls.blob-storage-scheme"] == "http"
    assert props["py-io-impl"] == "pyiceberg.io.pyarrow.PyArrowFileIO"
    assert options.duckdb_secret_parts() == [("CONNECTION_STRING", AZURITE)]
    assert options.fsspec_options() == {"connection_string": AZURITE}
    assert options.where() == "http://127.0.0.1:10000/devstoreaccount1"


def test_account_and_key_variable_make_a_connection_string(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LAKE_KEY", KEY)
    options = AzureOptions(account="acme", account_key_env="LAKE_KEY")
    assert options.connection_string() == (
        f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={KEY};"
        "BlobEndpoint=https://acme.blob.core.windows.net;"
    )
    props = options.pyiceberg_properties()
    assert "adls.blob-storage-authority" not in props  # Azure's own endpoint
    conf = options.spark_conf()
    assert conf["spark.hadoop.fs.azure.account.key.acme.dfs.core.windows.net"] == KEY


def test_without_a_secret_the_azure_chain_is_used() -> None:
    options = AzureOptions(account="acme")
    assert options.connection_string() is None
    assert options.duckdb_secret_parts() == [
        ("PROVIDER", "credential_chain"),
        ("ACCOUNT_NAME", "acme"),
    ]
    assert "adls.account-key" not in options.pyiceberg_properties()


def test_errors_name_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="set azure_account in \\[storage\\]"):
        AzureOptions().credentials()
    with pytest.raises(ConfigError, match="export LAKE_KEY=") as caught:
        AzureOptions(account="acme", account_key_env="LAKE_KEY").credentials()
    assert "storage.azure_account_key_env" in str(caught.value)
    with pytest.raises(ConfigError, match="export LAKE_AZ="):
        AzureOptions(connection_string_env="LAKE_AZ").credentials()
    with pytest.raises(ConfigError, match="no AccountName"):
        parse_connection_string("AccountKey=abc", "LAKE_AZ")


def test_locations() -> None:
    assert normalize_location("az://lake/prefix") == "abfs://lake/prefix"
    assert normalize_location("abfs://lake/prefix") == "abfs://lake/prefix"
    with pytest.raises(ConfigError, match='azure_account = "acme"'):
        normalize_location("abfss://lake@acme.dfs.core.windows.net/prefix")
    assert duckdb_path("abfs://lake/x/a.parquet") == "az://lake/x/a.parquet"
    assert duckdb_path("file:///tmp/a.parquet") == "/tmp/a.parquet"


def test_a_project_on_azure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_AZ", AZURITE)
    (tmp_path / "batchlake.toml").write_text(
        'name = "p"\n\n[storage]\nroot = "az://lake/p"\nazure_connection_string_env = "LAKE_AZ"\n'
    )
    lake = Lake.open(tmp_path)
    assert lake.storage.root == "abfs://lake/p"
    assert lake.storage.warehouse == "abfs://lake/p/warehouse"
    assert lake.uses_azure and not lake.uses_s3


def test_both_secret_variables_are_refused(tmp_path: Path) -> None:
    (tmp_path / "batchlake.toml").write_text(
        'name = "p"\n\n[storage]\nroot = "abfs://lake/p"\n'
        'azure_account_key_env = "A"\nazure_connection_string_env = "B"\n'
    )
    with pytest.raises(ConfigError, match="not both"):
        Lake.open(tmp_path)
