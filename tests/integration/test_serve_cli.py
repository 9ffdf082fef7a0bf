"""`batchlake serve` as users run it, `--new-key`, `query --remote`, and the Python client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from batchlake.config import ServeSettings
from batchlake.errors import NotFoundError, QueryError
from batchlake.serve import create_app
from batchlake.serve.client import Client, ClientError
from tests.support.cli import batchlake, query_json
from tests.support.serve_support import (
    ENV_KEYS,
    OPERATOR,
    READER,
    build_lake,
    iceberg_arrow,
    live_server,
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lake(tmp_path_factory.mktemp("serve_cli"), invoices=300)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(lake: Path) -> Iterator[tuple[str, str]]:
    """`batchlake serve` in a subprocess with a key made by `--new-key`."""
    made = batchlake("serve", "-p", str(lake), "--new-key", "reader", "--name", "cli-test")
    key = made.stdout.strip()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "BATCHLAKE_API_KEYS"}
    process = subprocess.Popen(
        [sys.executable, "-m", "batchlake", "serve", "-p", str(lake), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start: {process.communicate()[1][-2000:]}")
            time.sleep(0.2)
        yield url, key
    finally:
        process.terminate()
        process.communicate(timeout=20)  # also closes the pipe


def test_new_key_is_printed_once_and_stored_hashed(lake: Path, served: tuple[str, str]) -> None:
    _, key = served
    stored = (lake / ".batchlake" / "api_keys.json").read_text()
    assert key.startswith("blk_") and key not in stored
    entry = next(e for e in json.loads(stored) if e["name"] == "cli-test")
    assert entry["role"] == "reader"
    bad = batchlake("serve", "-p", str(lake), "--new-key", "admin", check=False)
    assert bad.returncode != 0 and "use reader or operator" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_remote_query_equals_the_local_one(lake: Path, served: tuple[str, str]) -> None:
    url, key = served
    sql = "SELECT year, sum(invoices) AS invoices FROM refined.sales_by_day GROUP BY 1 ORDER BY 1"
    local = query_json(lake, sql)
    remote = batchlake("query", "--remote", url, "--api-key", key, "--format", "json", sql)
    assert json.loads(remote.stdout) == local
    by_env = batchlake(
        "query", "--remote", url, "--format", "csv", sql, env={"BATCHLAKE_API_KEY": key}
    )
    assert by_env.stdout.splitlines()[0] == "year,invoices"
    assert len(by_env.stdout.splitlines()) == len(local) + 1
    denied = batchlake(
        "query", "--remote", url, "SELECT 1", check=False, env={"BATCHLAKE_API_KEY": ""}
    )
    assert denied.returncode == 1 and "API key is needed" in denied.stderr
    refused = batchlake("query", "--remote", url, "--api-key", key, "DROP TABLE x", check=False)
    assert refused.returncode == 1 and "query refused" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_open_read_needs_a_loopback_host(lake: Path) -> None:
    project = lake.parent / "open"
    if not project.exists():
        batchlake("init", str(project))
    with open(project / "batchlake.toml", "a", encoding="utf-8") as file:
        file.write('\n[serve]\nopen_read = true\nhost = "0.0.0.0"\n')
    result = batchlake("serve", "-p", str(project), check=False)
    assert result.returncode == 2 and "only works on a loopback host" in result.stderr


def test_python_client(lake: Path) -> None:
    app = create_app(lake, ServeSettings(), env_keys=ENV_KEYS)
    with live_server(app) as url, Client(url, READER) as client:
        names = {t["full_name"] for t in client.tables()}
        assert "refined.sales_by_day" in names
        assert {t["zone"] for t in client.tables("trusted")} == {"trusted"}
        detail = client.table("refined.sales_by_month")
        assert detail["upstream"] == ["refined.sales_by_day"]
        expected = iceberg_arrow(lake, "refined.sales_by_day")
        rows = list(client.iter_rows("refined.sales_by_day", page_size=100, columns=["sale_date"]))
        assert sorted(r[0] for r in rows) == sorted(
            d.isoformat() for d in expected.column("sale_date").to_pylist()
        )
        page = client.rows(
            "refined.sales_by_day", limit=5, order_by="-total_amount", year__in=[2022, 2023]
        )
        assert len(page["rows"]) == 5 and page["total"] == sum(
            1 for y in expected.column("year").to_pylist() if y in (2022, 2023)
        )
        answer = client.query("SELECT count(*) AS n FROM refined.sales_by_day")
        assert answer["rows"] == [[expected.num_rows]]
        assert client.runs()[0]["status"] == "success"
        with pytest.raises(QueryError, match="query refused"):
            client.query("DELETE FROM refined.sales_by_day")
        with pytest.raises(NotFoundError, match=r"no table refined\.nope"):
            client.table("refined.nope")
        with pytest.raises(ClientError, match="HTTP 403"):
            client.start_run()
        with Client(url, OPERATOR) as operator:
            run_id = operator.start_run(["raw.chinook.genre"])
            deadline = time.monotonic() + 120
            while (
                operator.run(run_id)["status"] in ("starting", "running")
                and time.monotonic() < deadline
            ):
                time.sleep(0.3)
            done = operator.run(run_id)
            assert done["status"] == "success"
            assert [s["step"] for s in done["steps"]] == ["raw.chinook.genre"]
    with pytest.raises(ClientError, match="cannot reach"):
        Client(url, READER, timeout=2).tables()
