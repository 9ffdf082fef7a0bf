"""Value axes read at a glance: round ticks, plain numbers, the unit on the axis."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import pyarrow as pa

from batchlake.config import ChartSettings, load_project
from batchlake.serve import svg

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "batchlake" / "demo" / "project"


def round_step(ticks: list[float]) -> bool:
    """Evenly spaced by 1, 2, 2.5 or 5 times a power of ten, each a multiple of the step."""
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    if len(steps) != 1:
        return False
    (step,) = steps
    mantissa = step / 10 ** math.floor(math.log10(step))
    return any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5)) and all(
        math.isclose(t / step, round(t / step), abs_tol=1e-6) for t in ticks
    )


def test_report_value_axes_have_round_ticks_and_units() -> None:
    from batchlake.analytics.report.charts import figure_of

    data = pa.table(
        {
            "month": ["2025-01", "2025-02", "2025-03", "2025-04"],
            "total_amount": [1_234_567.89, 987_654.32, 1_456_789.01, 1_111_111.11],
        }
    )
    for kind in ("bar", "line", "barh"):
        chart = ChartSettings(
            title="t", table="refined.x", kind=kind, x="month", y="total_amount", unit="USD"
        )
        figure = figure_of(chart, data)
        figure.canvas.draw()
        ax = figure.axes[0]
        axis = ax.xaxis if kind == "barh" else ax.yaxis
        ticks = [t for t in axis.get_majorticklocs() if 0 <= t <= 1_600_000]
        assert round_step(ticks), ticks
        labels = [t.get_text() for t in axis.get_ticklabels() if t.get_text()]
        assert "1,000,000" in labels and not any("e" in label for label in labels), labels
        assert axis.get_offset_text().get_text() == ""  # no "1e6" in a corner
        assert axis.label.get_text() == "total_amount (USD)"


def test_the_example_charts_say_their_units() -> None:
    charts = load_project(EXAMPLE).settings.charts
    unitless = {c.title for c in charts if not c.unit}
    # principal components and a silhouette score have no unit; everything else does
    assert unitless == {
        "Customer segments (first two principal components)",
        "Choosing k: silhouette per number of segments",
    }


def test_dashboard_line_chart_ticks_are_round_and_carry_the_unit() -> None:
    drawn = svg.line_chart(["a", "b", "c"], [0.0, 1234.5, 617.0], "Sales by day", "USD")
    ticks = [
        float(v.replace(",", ""))
        for v in re.findall(r'class="tick" text-anchor="end">([^<]+)<', drawn)
    ]
    assert ticks[0] == 0 and ticks[-1] >= 1234.5 and round_step(ticks), ticks
    assert ">USD</text>" in drawn
    bars = svg.bar_chart(["Ada"], [12.0], "Top artists", "tracks")
    assert ">12 tracks</text>" in bars
