"""`batchlake catalog --connect`: the printed catalog settings keep secrets out."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchlake.cli._connect import _catalog_lines, _runtime_comment
from batchlake.lake import Lake

KEY_ID = "AKIAEXAMPLEKEYID0001"
SECRET = "very-secret-value-0001"


def _project(root: Path, catalog: str) -> Lake:
    root.mkdir()
    (root / "batchlake.toml").write_text(
        'name = "s3lake"\n\n'
        "[storage]\n"
        'root = "s3://bucket/lakes/s3lake"\n'
        'endpoint = "http://127.0.0.1:9000"\n'
        'region = "eu-west-1"\n'
        "path_style = true\n"
        'access_key_id_env = "LAKE_KEY_ID"\n'
        'secret_access_key_env = "LAKE_SECRET"\n\n' + catalog
    )
    return Lake.open(root)


def test_named_credentials_are_read_from_their_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKE_KEY_ID", KEY_ID)
    monkeypatch.setenv("LAKE_SECRET", SECRET)
    lake = _project(
        tmp_path / "lake",
        "[catalog]\n"
        'uri = "postgresql+psycopg://lake:pg-password-0001@db:5432/catalog"\n'
        'properties = { "credential" = "client:rest-secret-0001" }\n',
    )
    text = "\n".join(_catalog_lines(lake))
    for secret in (KEY_ID, SECRET, "pg-password-0001", "rest-secret-0001"):
        assert secret not in text
    assert "'s3.access-key-id': os.environ['LAKE_KEY_ID']" in text
    assert "'s3.secret-access-key': os.environ['LAKE_SECRET']" in text
    assert "'s3.endpoint': 'http://127.0.0.1:9000'" in text
    assert "postgresql+psycopg://lake:***@db:5432/catalog" in text
    assert "'credential': '<your credential>'" in text
    compile(text, "snippet", "exec")  # valid Python
    runtime = "\n".join(_runtime_comment(lake))
    assert "spark.sql.catalog.batchlake.uri = jdbc:postgresql://db:5432/catalog" in runtime
    assert "pg-password-0001" not in runtime


def test_glue_gets_the_credential_variables_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKE_KEY_ID", KEY_ID)
    monkeypatch.setenv("LAKE_SECRET", SECRET)
    lake = _project(tmp_path / "lake", '[catalog]\ntype = "glue"\n')
    text = "\n".join(_catalog_lines(lake))
    assert KEY_ID not in text and SECRET not in text
    assert "'glue.access-key-id': os.environ['LAKE_KEY_ID']" in text
    assert "'glue.region': 'eu-west-1'" in text
