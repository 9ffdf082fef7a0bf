"""Segmentation and forecast on the real Chinook sample, checked from the SQLite source."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from batchlake.analytics.segmentation import FEATURES
from batchlake.lake import Lake
from tests.conftest import dataset
from tests.support.cli import batchlake
from tests.unit.test_analytics import reference_model, silhouette, standardise

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def chinook(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    source = tmp_path_factory.mktemp("analytics-chinook") / "chinook.sqlite"
    shutil.copyfile(dataset("chinook/chinook.sqlite"), source)  # never touch the shared file
    project = source.parent / "lake"
    batchlake("init", "--example", "chinook", str(project))
    batchlake(
        "run",
        "-p",
        str(project),
        "--select",
        "+refined.customer_segments",
        "--select",
        "+refined.sales_forecast",
        env={"CHINOOK_URL": f"sqlite:///{source}"},
    )
    return project, source


def test_every_customer_gets_a_segment(chinook: tuple[Path, Path]) -> None:
    project, source = chinook
    lake = Lake.open(project)
    with sqlite3.connect(source) as db:
        customers = {row[0] for row in db.execute("SELECT CustomerId FROM Customer")}
    assert len(customers) == 59
    segments = lake.query_table("SELECT * FROM refined.customer_segments").to_pylist()
    assert {row["customer_id"] for row in segments} == customers
    assert all(row["segment"] >= 1 for row in segments)  # every Chinook customer bought
    profiles = lake.query_table("SELECT * FROM refined.segment_profiles").to_pylist()
    assert sum(p["customers"] for p in profiles) == 59
    assert sorted(p["segment"] for p in profiles) == sorted({r["segment"] for r in segments})

    # The chosen k has the best silhouette, and the written segments have that silhouette,
    # recomputed here from the features and the labels.
    metrics = lake.query_table("SELECT * FROM refined.segmentation_metrics ORDER BY k").to_pylist()
    assert [m["k"] for m in metrics] == list(range(2, 9))
    chosen = [m for m in metrics if m["chosen"]]
    assert len(chosen) == 1
    assert chosen[0]["silhouette"] == max(m["silhouette"] for m in metrics)
    assert chosen[0]["k"] == len(profiles)
    matrix = np.array([[float(row[c]) for c in FEATURES] for row in segments])
    labels = np.array([row["segment"] for row in segments])
    assert silhouette(standardise(matrix), labels) == pytest.approx(
        chosen[0]["silhouette"], abs=1e-5
    )
    inertia = [m["inertia"] for m in metrics]
    assert inertia[0] > inertia[-1]  # the elbow curve goes down with k


def test_forecast_backtest_from_the_source(chinook: tuple[Path, Path]) -> None:
    project, source = chinook
    lake = Lake.open(project)
    with sqlite3.connect(source) as db:
        monthly = db.execute(
            "SELECT substr(i.InvoiceDate, 1, 7) AS month, sum(l.UnitPrice * l.Quantity) "
            "FROM Invoice i JOIN InvoiceLine l ON l.InvoiceId = i.InvoiceId "
            "GROUP BY month ORDER BY month"
        ).fetchall()
    months = [m for m, _ in monthly]
    values = np.array([v for _, v in monthly])
    assert len(months) == 60  # five whole years, no gaps
    first_month = int(months[0][5:7])
    held = reference_model(values[:54], first_month, np.arange(54, 60, dtype=float))
    ape = np.abs(values[54:] - held) / values[54:] * 100
    metrics = lake.query_table("SELECT * FROM refined.forecast_metrics").to_pylist()
    by_month = {m["month"]: m for m in metrics if m["scope"] == "month"}
    assert list(by_month) == months[54:]
    for month, actual, error in zip(months[54:], values[54:], ape, strict=True):
        assert by_month[month]["actual_amount"] == pytest.approx(actual, abs=0.006)
        assert by_month[month]["abs_pct_error"] == pytest.approx(error, abs=0.01)
    overall = next(m for m in metrics if m["scope"] == "overall")
    assert overall["abs_pct_error"] == pytest.approx(float(ape.mean()), abs=0.01)
    forecast = lake.query_table("SELECT * FROM refined.sales_forecast ORDER BY month").to_pylist()
    last_year = int(months[-1][:4])
    assert months[-1].endswith("-12")
    assert [f["month"] for f in forecast] == [f"{last_year + 1}-0{m}" for m in (1, 2, 3)]
    expected = reference_model(values, first_month, np.arange(60, 63, dtype=float))
    assert [f["forecast_amount"] for f in forecast] == pytest.approx(expected, abs=0.006)
