"""Small server-side SVG charts and the lineage graph (no JavaScript, no CDN)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

_W, _H, _PAD = 640, 260, 44


def _frame(body: str, width: int = _W, height: int = _H, label: str = "") -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'class="chart" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """About `count` intervals of a round step (1, 2, 2.5 or 5 times a power of ten),
    from a multiple of the step at or below `low` to one at or above `high`."""
    if high <= low:
        return [low]
    rough = (high - low) / count
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough * (1 - 1e-9))
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def line_chart(labels: Sequence[str], values: Sequence[float], title: str, unit: str = "") -> str:
    """A line over labelled points (e.g. dates), with a y axis of round ticks in `unit`."""
    if not values:
        return _frame('<text x="20" y="40">no data</text>', label=title)
    ticks = _ticks(min(0.0, min(values)), max(values))
    high, low = ticks[-1], ticks[0]
    span = (high - low) or 1.0
    plot_w, plot_h = _W - 2 * _PAD, _H - 2 * _PAD
    step = plot_w / max(len(values) - 1, 1)

    def y(v: float) -> float:
        return _PAD + plot_h - (v - low) / span * plot_h

    points = " ".join(f"{_PAD + i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts = [
        f'<line x1="{_PAD}" y1="{y(t):.1f}" x2="{_W - _PAD}" y2="{y(t):.1f}" class="grid"/>'
        f'<text x="{_PAD - 4}" y="{y(t) + 4:.1f}" class="tick" text-anchor="end">{_fmt(t)}</text>'
        for t in ticks
    ]
    if unit:
        parts.append(f'<text x="4" y="{_PAD - 14}" class="tick">{escape(unit)}</text>')
    parts.append(f'<polyline points="{points}" class="line" fill="none"/>')
    for i in sorted({0, len(labels) // 2, len(labels) - 1}):
        parts.append(
            f'<text x="{_PAD + i * step:.1f}" y="{_H - _PAD + 16}" class="tick" '
            f'text-anchor="middle">{escape(labels[i])}</text>'
        )
    return _frame("".join(parts), label=title)


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, unit: str = "") -> str:
    """Horizontal bars, one per label, longest value full width, each valued in `unit`."""
    if not values:
        return _frame('<text x="20" y="40">no data</text>', label=title)
    row, left = 24, 180
    height = row * len(values) + 20
    high = max(max(values), 1e-9)
    parts = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        top = 10 + i * row
        width = max(value, 0) / high * (_W - left - 100)
        parts.append(
            f'<text x="{left - 6}" y="{top + 15}" class="tick" text-anchor="end">'
            f"{escape(label[:28])}</text>"
            f'<rect x="{left}" y="{top + 3}" width="{width:.1f}" height="{row - 8}" class="bar"/>'
            f'<text x="{left + width + 4:.1f}" y="{top + 15}" class="tick">'
            f"{_fmt(value)}{' ' + escape(unit) if unit else ''}</text>"
        )
    return _frame("".join(parts), height=height, label=title)


def lineage(upstream: Sequence[str], table: str, downstream: Sequence[str]) -> str:
    """Upstream tables → the table → downstream tables, as boxes and arrows."""
    box_w, box_h, gap = 190, 28, 10
    rows = max(len(upstream), len(downstream), 1)
    height = rows * (box_h + gap) + gap
    width = 3 * box_w + 2 * 60

    def column(names: Sequence[str], x: int, css: str) -> tuple[str, list[float]]:
        total = len(names) * (box_h + gap) - gap
        start = (height - total) / 2
        parts, centers = [], []
        for i, name in enumerate(names):
            top = start + i * (box_h + gap)
            centers.append(top + box_h / 2)
            href = _href(name)
            label = escape(name if len(name) <= 26 else name[:25] + "…")
            box = (
                f'<rect x="{x}" y="{top:.1f}" width="{box_w}" height="{box_h}" rx="4" '
                f'class="{css}"/><text x="{x + 8}" y="{top + 18:.1f}" class="node">{label}</text>'
            )
            parts.append(f'<a href="{href}">{box}</a>' if href else box)
        return "".join(parts), centers

    middle_x = box_w + 60
    body_up, up_y = column(upstream, 0, "up")
    body_me, me_y = column([table], middle_x, "me")
    body_down, down_y = column(downstream, middle_x + box_w + 60, "down")
    arrows = [
        f'<line x1="{box_w}" y1="{y:.1f}" x2="{middle_x}" y2="{me_y[0]:.1f}" class="edge"/>'
        for y in up_y
    ] + [
        f'<line x1="{middle_x + box_w}" y1="{me_y[0]:.1f}" x2="{middle_x + box_w + 60}" '
        f'y2="{y:.1f}" class="edge"/>'
        for y in down_y
    ]
    return _frame(
        "".join(arrows) + body_up + body_me + body_down,
        width=width,
        height=height,
        label=f"lineage of {table}",
    )


def _href(name: str) -> str | None:
    zone, _, rest = name.partition(".")
    if zone in ("raw", "trusted", "refined") and rest:
        return f"/tables/{zone}/{escape(rest)}"
    return None
