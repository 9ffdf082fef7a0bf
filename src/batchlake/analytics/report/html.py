"""The self-contained HTML page of a report: charts inlined as base64 PNG, inline CSS."""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchlake.analytics.report.charts import RenderedChart

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1040px; color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; }
.meta { color: #666; margin-top: 0; }
nav ol { columns: 2; }
section { margin: 2.5rem 0; }
section img { max-width: 100%; border: 1px solid #eee; }
.source { color: #666; font-size: 0.85rem; }
pre { background: #f6f6f6; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }
"""


def write_html(project: str, charts: list[RenderedChart], path: Path) -> Path:
    """Write the report page to `path` and return it."""
    now = datetime.now(UTC)
    items = "\n".join(
        f'<li><a href="#chart-{i}">{html.escape(c.chart.title)}</a></li>'
        for i, c in enumerate(charts, start=1)
    )
    sections = "\n".join(_section(i, c) for i, c in enumerate(charts, start=1))
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(project)} — batchlake report</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{html.escape(project)} — report</h1>
<p class="meta">{len(charts)} charts, generated {now:%Y-%m-%d %H:%M} UTC by batchlake</p>
<nav><ol>
{items}
</ol></nav>
{sections}
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def _section(number: int, rendered: RenderedChart) -> str:
    chart = rendered.chart
    data = base64.b64encode(rendered.png.read_bytes()).decode("ascii")
    source = (
        f"<details><summary>from SQL ({rendered.rows} rows)</summary>"
        f"<pre>{html.escape(chart.sql.strip())}</pre></details>"
        if chart.sql
        else f"from <code>{html.escape(chart.table or '')}</code> ({rendered.rows} rows)"
    )
    description = f"<p>{html.escape(chart.description)}</p>" if chart.description else ""
    return f"""<section id="chart-{number}">
<h2>{html.escape(chart.title)}</h2>
{description}
<img alt="{html.escape(chart.title)}" src="data:image/png;base64,{data}">
<p class="source">{source}</p>
</section>"""
