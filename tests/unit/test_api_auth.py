"""API keys: creation stores only a hash, roles from the file and the environment."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from batchlake.errors import ConfigError
from batchlake.serve.auth import KeyRing, allows, create_key, keys_from_env


def test_created_key_is_stored_hashed_and_recognised(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    key = create_key(path, "operator", "ci")
    stored = json.loads(path.read_text())
    assert key.startswith("blk_") and len(key) > 40
    assert key not in path.read_text()
    assert stored[0]["sha256"] == hashlib.sha256(key.encode()).hexdigest()
    assert stored[0]["role"] == "operator" and stored[0]["name"] == "ci"
    assert path.stat().st_mode & 0o077 == 0
    ring = KeyRing(path, "")
    assert ring.role_of(key) == "operator"
    assert ring.role_of(key + "x") is None
    reader = create_key(path, "reader")  # the file is re-read when it changes
    time.sleep(1.05)
    assert ring.role_of(reader) == "reader" and len(ring) == 2


def test_keys_from_the_environment_plain_or_hashed(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"secret-two").hexdigest()
    ring = KeyRing(tmp_path / "none.json", f"reader:secret-one, operator:sha256={digest}")
    assert ring.role_of("secret-one") == "reader"
    assert ring.role_of("secret-two") == "operator"
    assert ring.role_of("sha256=" + digest) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("admin:abc", "unknown API key role 'admin'"),
        ("reader", "is not 'role:sha256=<hex>'"),
        ("reader:sha256=xyz", "64 hex digits"),
    ],
)
def test_bad_environment_entries_name_the_fix(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        keys_from_env(value)


def test_bad_role_and_bad_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="use reader or operator"):
        create_key(tmp_path / "k.json", "admin")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="is not a batchlake keys file"):
        KeyRing(broken, "").role_of("x")


def test_operator_includes_reader() -> None:
    assert allows("operator", "reader") and allows("operator", "operator")
    assert allows("reader", "reader") and not allows("reader", "operator")
