"""`batchlake report`, the Python API and the tour notebook, on one small demo lake."""

from __future__ import annotations

import base64
import html
import re
import sqlite3
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

import batchlake
from batchlake.analytics.report import render_report
from batchlake.config import ChartSettings, Project
from batchlake.errors import ConfigError, NotFoundError, QueryError
from batchlake.lake import Lake
from tests.support.cli import batchlake as cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "chinook_tour.ipynb"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("analytics-demo") / "lake"
    cli("demo", "--dir", str(project), "--invoices", "800", "--seed", "5")
    return project


def charts_of(project: Path) -> list[dict[str, object]]:
    declared = tomllib.loads((project / "batchlake.toml").read_text())["charts"]
    assert isinstance(declared, list)
    return declared


def test_report_writes_a_png_per_chart_and_one_offline_page(lake: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread

    out = tmp_path / "report"
    result = cli("report", "-p", str(lake), "--out", str(out))
    page = out / "report.html"
    assert result.stdout.strip() == str(page)
    declared = charts_of(lake)
    assert len(declared) == 10
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == len(declared)
    for png in pngs:
        pixels = imread(png)[:, :, :3]
        assert pixels.shape[:2] == (480, 1000), png.name
        ink = (pixels.sum(axis=2) < 2.9).mean()  # share of pixels that are not white
        assert ink > 0.03, f"{png.name} looks empty ({ink:.1%} ink)"
        colours = len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0))
        assert colours > 20, f"{png.name} has {colours} colours"
    text = page.read_text()
    for chart in declared:
        assert f"<h2>{html.escape(str(chart['title']))}</h2>" in text
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert [base64.b64decode(i) for i in images] == [p.read_bytes() for p in pngs]
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert "no rows" not in result.stderr


def test_report_errors_name_the_fix(lake: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    cli("init", str(empty))
    out = cli("report", "-p", str(empty), check=False)
    assert out.returncode != 0
    assert "declares no charts; add [[charts]]" in out.stderr and "Traceback" not in out.stderr
    opened = Lake.open(lake)
    bad = ChartSettings(title="Bad", table="refined.sales_by_weekday", x="weekday", y="nope")
    settings = opened.settings.model_copy(update={"charts": [bad]})
    with pytest.raises(ConfigError, match="chart 'Bad': no column nope"):
        render_report(Lake(Project(opened.project.root, settings)), tmp_path / "bad")
    with pytest.raises(ValueError, match="exactly one of table"):
        ChartSettings(title="Both", x="a", y="b")


def test_python_api_reads_tables_sql_and_runs(lake: Path) -> None:
    handle = batchlake.open(lake)
    names = handle.tables()
    assert {"refined.customer_segments", "refined.sales_forecast", "raw.chinook.invoice"} <= set(
        names
    )
    assert all(n.startswith("refined.") for n in handle.tables("refined"))
    with sqlite3.connect(lake / "data" / "chinook.sqlite") as db:
        expected = dict(
            db.execute(
                "SELECT substr(i.InvoiceDate, 1, 7), round(sum(l.UnitPrice * l.Quantity), 2) "
                "FROM Invoice i JOIN InvoiceLine l USING (InvoiceId) GROUP BY 1"
            ).fetchall()
        )
        invoices = db.execute("SELECT count(*) FROM Invoice").fetchone()[0]
    by_month = handle.table("refined.sales_by_month").to_arrow().to_pylist()
    assert {r["month"]: float(r["total_amount"]) for r in by_month} == pytest.approx(expected)
    frame = handle.table("refined.sales_by_month").to_pandas()
    assert sorted(frame["month"]) == sorted(expected)
    assert handle.table("raw.chinook.invoice").to_arrow().num_rows == invoices
    answer = handle.sql("SELECT count(*) AS n FROM trusted.invoices")
    assert answer.column("n").to_pylist() == [invoices]
    with pytest.raises(NotFoundError, match=r"refined\.nope does not exist"):
        handle.table("refined.nope")
    with pytest.raises(QueryError, match="raw entity"):
        handle.table("raw.chinook.invoice", as_of=1)


def test_python_api_time_travel_and_runs(lake: Path) -> None:
    handle = batchlake.open(lake)
    config = lake / "batchlake.toml"
    original = config.read_text()
    before = handle.table("refined.sales_forecast")
    assert before.to_arrow().num_rows == 3
    between = datetime.now(UTC)
    time.sleep(0.05)  # the next snapshot is committed strictly after `between`
    try:
        config.write_text(original.replace("horizon = 3", "horizon = 5"))
        result = batchlake.open(lake).run("refined.sales_forecast")
        assert result.ok and [s.name for s in result.steps] == ["python.sales_forecast"]
        after = batchlake.open(lake)
        assert after.table("refined.sales_forecast").to_arrow().num_rows == 5
        old = after.table("refined.sales_forecast", as_of=before.snapshot_id).to_arrow()
        assert old.num_rows == 3
        assert after.table("refined.sales_forecast", as_of=between).snapshot_id == (
            before.snapshot_id
        )
        assert (
            after.table("refined.sales_forecast", as_of=between.isoformat()).to_arrow().equals(old)
        )
        with pytest.raises(NotFoundError, match="no snapshot at or before 2001-01-01"):
            after.table("refined.sales_forecast", as_of="2001-01-01")
        runs = after.runs(2)
        assert (runs[0]["run_id"], runs[0]["command"], runs[0]["status"]) == (
            result.run_id,
            "python",
            "success",
        )
        assert [s["step"] for s in after.steps(result.run_id)] == ["python.sales_forecast"]
    finally:
        config.write_text(original)
        assert batchlake.open(lake).run("refined.sales_forecast").ok


def test_notebook_executes(lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("BATCHLAKE_TOUR_LAKE", str(lake))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where the notebook's report goes
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5  # the notebook's own plots and a chart of the report
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "chosen k:" in printed and "backtest MAPE" in printed
    assert len(list(tmp_path.glob("chinook-report-*/*.png"))) == len(charts_of(lake))
