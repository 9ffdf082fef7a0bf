"""Small things users meet on the way: a table named without its zone, time travel to a
snapshot object."""

from __future__ import annotations

from pathlib import Path

import pytest

import batchlake
from batchlake.errors import NotFoundError, QueryError
from batchlake.lake import Lake
from batchlake.run.runner import Runner
from tests.support.cli import batchlake as cli
from tests.support.opsproject import execute, make_project


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("messages") / "lake")
    (root / "models" / "refined" / "top_artists_by_month.sql").write_text(
        "SELECT * FROM (VALUES ('2024-04', 'Old', 9, 1), ('2024-05', 'Ada', 3, 1), "
        "('2024-05', 'Bo', 2, 2)) AS t(month, artist_name, tracks_sold, rank)"
    )
    lake = Lake.open(root)
    assert Runner(lake).run().ok
    execute(root / "shop.sqlite", "UPDATE orders SET amount = 1 WHERE id = 10")
    assert Runner(lake).run().ok  # a second snapshot of trusted.orders and refined.revenue
    return root


def test_a_table_without_its_zone_gets_a_hint(built: Path) -> None:
    lake = Lake.open(built)
    with pytest.raises(NotFoundError) as found:
        lake.query_table("SELECT * FROM revenue")
    assert "write refined.revenue" in str(found.value)
    assert "Catalog Error" not in str(found.value)
    with pytest.raises(NotFoundError) as found:
        lake.query_table("SELECT * FROM orders JOIN refined.revenue ON true JOIN customers ON true")
    assert (
        "write raw.shop.customers or trusted.customers for customers, "
        "raw.shop.orders or trusted.orders for orders"
    ) in str(found.value)
    with pytest.raises(QueryError, match="Catalog Error"):  # not a lake table: DuckDB's word
        lake.query_table("SELECT * FROM nowhere")
    shown = cli("query", "-p", str(built), "SELECT * FROM revenue", check=False)
    assert shown.returncode == 1 and "write refined.revenue" in shown.stderr


def test_as_of_takes_a_snapshot_object(built: Path) -> None:
    handle = batchlake.open(built)
    table = handle.table("refined.revenue")
    first, last = table.snapshots()[0], table.snapshots()[-1]
    assert first.snapshot_id != last.snapshot_id
    old = handle.table("refined.revenue", as_of=first).to_arrow()
    assert old.equals(handle.table("refined.revenue", as_of=first.snapshot_id).to_arrow())
    assert not old.equals(handle.table("refined.revenue", as_of=last).to_arrow())


def test_the_sign_in_page_is_titled_with_the_project(built: Path) -> None:
    from fastapi.testclient import TestClient

    from batchlake.config import ServeSettings
    from batchlake.serve import create_app
    from tests.support.serve_support import ENV_KEYS

    browser = TestClient(create_app(built, ServeSettings(), env_keys=ENV_KEYS))
    for page in (browser.get("/login"), browser.post("/login", data={"key": "nope"})):
        assert "<title>Sign in · shop</title>" in page.text


def test_the_dashboard_says_which_month_its_top_artists_are_of(built: Path) -> None:
    from fastapi.testclient import TestClient

    from batchlake.config import ServeSettings
    from batchlake.serve import create_app
    from tests.support.serve_support import ENV_KEYS, OPERATOR

    browser = TestClient(create_app(built, ServeSettings(), env_keys=ENV_KEYS))
    browser.post("/login", data={"key": OPERATOR, "next": "/charts"})
    page = browser.get("/charts").text
    assert "<h2>Top artists of 2024-05 (tracks sold)</h2>" in page
    assert ">3 tracks</text>" in page and "Old" not in page
