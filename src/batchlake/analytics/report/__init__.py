"""`batchlake report`: the project's declared charts as PNGs and one offline HTML page.

Charts are declared in `batchlake.toml` (`[[charts]]`: title, table or sql, kind, x, y,
color), so any project gets a report of its refined tables without code. Each chart is
drawn with matplotlib to `<out>/NN-<title>.png`; `<out>/report.html` holds them all
inlined as base64 (no scripts, no CDN: it opens offline and can be mailed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from batchlake.analytics.report.charts import RenderedChart
from batchlake.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.config import ChartSettings
    from batchlake.lake import Lake


@dataclass(frozen=True)
class Report:
    html: Path
    charts: list[RenderedChart]


def render_report(lake: Lake, out: Path) -> Report:
    """Draw every `[[charts]]` entry of the project and write `out/report.html`."""
    from batchlake.analytics.report.charts import draw
    from batchlake.analytics.report.html import write_html

    charts = lake.settings.charts
    if not charts:
        raise ConfigError(
            "the project declares no charts; add [[charts]] tables to batchlake.toml "
            "(title, table, kind, x, y) — see the README, 'Analytics and ML'"
        )
    out.mkdir(parents=True, exist_ok=True)
    rendered = []
    for number, chart in enumerate(charts, start=1):
        data = _rows(lake, chart)
        png = out / f"{number:02d}-{_slug(chart.title)}.png"
        draw(chart, data, png)
        rendered.append(RenderedChart(chart, png, data.num_rows))
    html = write_html(lake.settings.name, rendered, out / "report.html")
    return Report(html, rendered)


def _rows(lake: Lake, chart: ChartSettings) -> pa.Table:
    if chart.sql is not None:
        return lake.query_table(chart.sql)
    import sqlglot.expressions as exp

    assert chart.table is not None
    return lake.query_table(exp.select("*").from_(exp.to_table(chart.table)).sql("duckdb"))


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "chart"
