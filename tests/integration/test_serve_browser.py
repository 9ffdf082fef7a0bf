"""The dashboard in headless Chromium (Debian's, driven by Playwright) against uvicorn:
sign in, open every page, run a query and see its rows, download CSV, start a run with
an operator key and watch it finish. No screenshots are kept."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchlake.config import ServeSettings
from batchlake.serve import create_app
from tests.conftest import require_program
from tests.support.serve_support import (
    ENV_KEYS,
    OPERATOR,
    READER,
    build_lake,
    iceberg_arrow,
    live_server,
)

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lake(tmp_path_factory.mktemp("serve_browser"), invoices=300)


@pytest.fixture(scope="module")
def url(lake: Path) -> Iterator[str]:
    app = create_app(lake, ServeSettings(), env_keys=ENV_KEYS)
    with live_server(app) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    require_program(CHROMIUM, "apt install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, url):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 375, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(url + "/")
    assert "/login" in page.url  # reading needs a key
    page.fill("#key", READER)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")
    yield page
    context.close()


def test_pages_show_the_lake(page, url: str, lake: Path) -> None:  # type: ignore[no-untyped-def]
    for zone in ("raw", "trusted", "refined"):
        assert page.locator(f"h2:has-text('{zone}')").count() == 1
    row = page.locator("tr", has=page.locator("a:text-is('refined.sales_by_day')"))
    expected = iceberg_arrow(lake, "refined.sales_by_day").num_rows
    assert f"{expected:,}" in row.inner_text()
    # Nothing overflows the 375 px viewport sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    page.click("a:text-is('refined.sales_by_day')")
    page.wait_for_url("**/tables/refined/sales_by_day")
    assert page.locator("svg.chart[aria-label^='lineage']").count() == 1
    assert page.locator("svg a[href='/tables/trusted/sales']").count() == 1
    assert page.locator("#preview tbody tr").count() == min(50, expected)
    page.click("a[rel=next]")
    page.wait_for_url("**page=2")
    assert page.locator("#preview tbody tr").count() == min(50, expected - 50)
    assert page.locator("h2:has-text('Snapshots')").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    page.goto(url + "/charts")
    assert page.locator("svg.chart").count() == 4
    assert page.locator("svg.chart polyline").count() == 1
    weekdays = page.locator("section:has(h2:text-is('Sales by weekday')) rect.bar")
    assert weekdays.count() == iceberg_arrow(lake, "refined.sales_by_weekday").num_rows
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_sql_console_runs_a_query_and_downloads_csv(page, url: str, lake: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/sql")
    sql = "SELECT year, count(*) AS days FROM refined.sales_by_day GROUP BY 1 ORDER BY 1"
    page.fill("#sql", sql)
    page.click("#run-sql")
    page.wait_for_selector("#result")
    cells = page.locator("#result tbody tr").all_inner_texts()
    days = iceberg_arrow(lake, "refined.sales_by_day").column("year").to_pylist()
    expected = [f"{y}\t{days.count(y)}" for y in sorted(set(days))]
    assert [c.strip() for c in cells] == expected
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    with page.expect_download() as download:
        page.click("#csv-sql")
    text = Path(download.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sum(int(r["days"]) for r in rows) == len(days)

    page.fill("#sql", "SELECT * FROM read_csv('/etc/passwd')")
    page.click("#run-sql")
    assert "query refused" in page.locator("#sql-error").inner_text()


def test_start_a_run_and_watch_it_finish(page, url: str, lake: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/runs")
    page.fill("#operator-key", "wrong-key")
    page.click("#start-run-button")
    page.wait_for_selector("#run-message.error")
    assert "not valid" in page.locator("#run-message").inner_text()
    page.fill("#operator-key", READER)
    page.click("#start-run-button")
    page.wait_for_function(
        "document.querySelector('#run-message').textContent.includes('operator')"
    )
    page.fill("#operator-key", OPERATOR)
    page.click("#start-run-button")
    page.wait_for_url("**/runs/2*")
    run_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("#run-status.success", timeout=180_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    meta = sqlite3.connect(lake / ".batchlake" / "metadata.sqlite")
    status, steps = meta.execute(
        "SELECT status, (SELECT count(*) FROM step_runs s WHERE s.run_id = r.run_id) "
        "FROM runs r WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    assert status == "success"
    assert page.locator("#steps tbody tr").count() == steps
    # The key stays in this tab's sessionStorage for the next start.
    page.goto(url + "/runs")
    assert page.input_value("#operator-key") == OPERATOR
    assert page.locator(f"#runs a:text-is('{run_id}')").count() == 1
