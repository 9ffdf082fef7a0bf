"""Drawing one declared chart (`[[charts]]`) of Arrow rows to a PNG with matplotlib (Agg).

Kinds: `line`, `area` and `scatter` over numbers or dates (text x values become evenly
spaced categories in the order of the rows), `bar` (vertical) and `barh` (horizontal) over
categories. `y` may list several columns (one series each); `color` splits the rows into
one series per value instead. Several bar series are grouped side by side, or stacked
with `stacked = true`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchlake.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from batchlake.config import ChartSettings

_PALETTE = [
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#E45756",
    "#72B7B2",
    "#EECA3B",
    "#B279A2",
    "#FF9DA6",
    "#9D755D",
    "#BAB0AC",
]
_MAX_TICKS = 24


@dataclass(frozen=True)
class RenderedChart:
    """A chart drawn to a PNG file, with the number of rows it shows."""

    chart: ChartSettings
    png: Path
    rows: int


@dataclass(frozen=True)
class Series:
    name: str
    x: list[Any]
    y: list[float]


def series_of(chart: ChartSettings, data: pa.Table) -> list[Series]:
    """The chart's series: one per y column, or one per value of the color column."""
    ys = [chart.y] if isinstance(chart.y, str) else list(chart.y)
    wanted = [chart.x, *ys, *([chart.color] if chart.color else [])]
    missing = [c for c in wanted if c not in data.column_names]
    if missing:
        raise ConfigError(
            f"chart '{chart.title}': no column {', '.join(missing)} in its rows "
            f"(columns: {', '.join(data.column_names)}); fix x, y or color in [[charts]]"
        )
    if chart.color and len(ys) > 1:
        raise ConfigError(f"chart '{chart.title}': with color = '...' give one y column")
    xs = data.column(chart.x).to_pylist()
    if not chart.color:
        return [Series(y, xs, [_number(v) for v in data.column(y).to_pylist()]) for y in ys]
    groups: dict[str, Series] = {}
    values = [_number(v) for v in data.column(ys[0]).to_pylist()]
    for x, value, key in zip(xs, values, data.column(chart.color).to_pylist(), strict=True):
        name = "(none)" if key is None else str(key)
        groups.setdefault(name, Series(name, [], []))
        groups[name].x.append(x)
        groups[name].y.append(value)
    return list(groups.values())


def draw(chart: ChartSettings, data: pa.Table, path: Path) -> None:
    """Render the chart to `path` (PNG); an empty table gives a 'no rows' panel."""
    figure_of(chart, data).savefig(path, format="png")


def figure_of(chart: ChartSettings, data: pa.Table) -> Figure:
    """The chart drawn on a matplotlib figure (not saved)."""
    from matplotlib.figure import Figure

    series = series_of(chart, data)
    order = list(dict.fromkeys(str(x) for x in data.column(chart.x).to_pylist()))
    figure = Figure(figsize=(10, 4.8), dpi=100, layout="constrained")
    ax = figure.subplots()
    ax.set_title(chart.title, loc="left", fontsize=13, fontweight="bold")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if data.num_rows == 0:
        ax.text(0.5, 0.5, "no rows", ha="center", va="center", fontsize=14, color="#888")
        ax.set_axis_off()
    elif chart.kind in ("bar", "barh"):
        _bars(ax, chart, series, order)
    else:
        _xy(ax, chart, series, order)
    if len(series) > 1 and data.num_rows:
        outside = len(series) > 4 or chart.kind == "barh"
        ax.legend(
            fontsize=8 if outside else 9,
            frameon=False,
            loc="upper left" if outside else "best",
            bbox_to_anchor=(1.01, 1.0) if outside else None,
            title=chart.color,
        )
    if data.num_rows:
        _value_axis(ax, chart, "x" if chart.kind == "barh" else "y")
    return figure


def _value_axis(ax: Axes, chart: ChartSettings, axis: str) -> None:
    """Round ticks (1, 2, 2.5 or 5 times a power of ten), plain numbers with thousands
    separators (never an offset or 1e6), and the values' name and unit as the label."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    target.set_major_formatter(FuncFormatter(lambda value, _: _tick(value)))
    name = chart.y if isinstance(chart.y, str) else ""
    label = f"{name} ({chart.unit})" if name and chart.unit else name or chart.unit
    (ax.set_xlabel if axis == "x" else ax.set_ylabel)(label)


def _tick(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) >= 0.01 else f"{value:.2g}"


def _xy(ax: Axes, chart: ChartSettings, series: list[Series], order: list[str]) -> None:
    textual = any(isinstance(x, str) for s in series for x in s.x)
    categories = order if textual else []
    position = {c: i for i, c in enumerate(categories)}
    bottom: dict[Any, float] = {}
    for i, s in enumerate(series):
        color = _PALETTE[i % len(_PALETTE)]
        xs = [position[str(x)] for x in s.x] if textual else s.x
        _draw_series(ax, chart, s, xs, color, bottom)
    if textual:
        _category_ticks(ax, categories, axis="x")
    ax.set_xlabel(chart.x)
    ax.grid(alpha=0.3)
    if any(isinstance(x, (date, datetime)) for s in series for x in s.x):
        ax.figure.autofmt_xdate()


def _draw_series(
    ax: Axes, chart: ChartSettings, s: Series, xs: list[Any], color: str, bottom: dict[Any, float]
) -> None:
    """One series of a line, area or scatter chart at `xs`; stacked areas rise from `bottom`."""
    if chart.kind == "scatter":
        ax.scatter(xs, s.y, s=22, alpha=0.8, color=color, label=s.name)
    elif chart.kind == "area" and chart.stacked:
        base = [bottom.get(x, 0.0) for x in xs]
        top = [b + (0.0 if math.isnan(y) else y) for b, y in zip(base, s.y, strict=True)]
        ax.fill_between(xs, base, top, alpha=0.7, color=color, label=s.name)
        bottom.update(zip(xs, top, strict=True))
    elif chart.kind == "area":
        ax.fill_between(xs, s.y, alpha=0.3, color=color)
        ax.plot(xs, s.y, color=color, linewidth=1.5, label=s.name)
    else:
        dense = len(xs) > 60
        ax.plot(
            xs,
            s.y,
            color=color,
            linewidth=1.2 if dense else 1.8,
            marker=None if dense else "o",
            markersize=3,
            label=s.name,
        )


def _bars(ax: Axes, chart: ChartSettings, series: list[Series], categories: list[str]) -> None:
    position = {c: i for i, c in enumerate(categories)}
    horizontal = chart.kind == "barh"
    count = len(series)
    width = 0.8 if chart.stacked or count == 1 else 0.8 / count
    bottom = [0.0] * len(categories)
    for i, s in enumerate(series):
        values = [0.0] * len(categories)
        for x, y in zip(s.x, s.y, strict=True):
            values[position[str(x)]] += 0.0 if math.isnan(y) else y
        offset = 0.0 if chart.stacked or count == 1 else (i - (count - 1) / 2) * width
        places = [p + offset for p in range(len(categories))]
        color = _PALETTE[i % len(_PALETTE)]
        if horizontal:
            ax.barh(places, values, height=width, left=bottom, color=color, label=s.name)
        else:
            ax.bar(places, values, width=width, bottom=bottom, color=color, label=s.name)
        if chart.stacked:
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _category_ticks(ax, categories, axis="y" if horizontal else "x")
    if horizontal:
        ax.invert_yaxis()  # the first row at the top
        ax.set_ylabel(chart.x)
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.set_xlabel(chart.x)
        ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _category_ticks(ax: Axes, categories: list[str], *, axis: str) -> None:
    step = max(1, math.ceil(len(categories) / _MAX_TICKS))
    places = list(range(0, len(categories), step))
    labels = [categories[p] for p in places]
    if axis == "x":
        ax.set_xticks(places, labels)
        if len(places) > 8 or max((len(c) for c in labels), default=0) > 10:
            ax.tick_params(axis="x", labelrotation=45)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
    else:
        ax.set_yticks(places, labels)


def _number(value: Any) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    raise ConfigError(f"y value {value!r} is not a number; y columns must be numeric")
