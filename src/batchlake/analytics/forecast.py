"""Monthly revenue forecast: a linear trend times a month-of-year seasonal index (numpy).

The model, explainable in two lines:

- trend: ordinary least squares line through the monthly revenue, t = 0, 1, 2, ...
  (months without sales count as 0, so the time axis has no gaps);
- seasonal index of a calendar month: the mean of revenue / trend over the known months of
  that calendar month, scaled so the indexes of the months seen average 1 (a month never
  seen gets 1).

forecast(t) = trend(t) × index(month of t). The backtest fits the same model on all but
the last `backtest` known months and compares its predictions for those months with what
happened: APE = |actual − forecast| / actual × 100 per month (months with no revenue are
left out), MAPE = their mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from batchlake.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


@dataclass(frozen=True)
class SeasonalTrend:
    """A fitted model: trend = intercept + slope × t, and an index per calendar month."""

    intercept: float
    slope: float
    index: dict[int, float]  # calendar month 1..12 -> seasonal index
    first: date  # the month of t = 0

    def trend(self, t: np.ndarray) -> np.ndarray:
        return self.intercept + self.slope * t

    def predict(self, t: np.ndarray) -> np.ndarray:
        import numpy as np

        months = [_add_months(self.first, int(i)).month for i in t]
        return self.trend(t) * np.array([self.index.get(m, 1.0) for m in months])


def fit(values: np.ndarray, first: date) -> SeasonalTrend:
    """Fit the trend and the seasonal indexes to consecutive monthly values from `first`."""
    import numpy as np

    t = np.arange(len(values), dtype=float)
    slope, intercept = np.polyfit(t, values, 1)
    trend = intercept + slope * t
    ratios: dict[int, list[float]] = {}
    for i, (value, level) in enumerate(zip(values, trend, strict=True)):
        if level > 0:
            ratios.setdefault(_add_months(first, i).month, []).append(value / level)
    raw = {month: float(np.mean(r)) for month, r in ratios.items()}
    scale = float(np.mean(list(raw.values()))) if raw else 1.0
    index = {month: r / scale for month, r in raw.items()} if scale > 0 else raw
    return SeasonalTrend(float(intercept), float(slope), index, first)


def monthly_series(
    months: pa.Table, month_column: str, value_column: str
) -> tuple[date, np.ndarray]:
    """Revenue per month ('YYYY-MM' labels) as a gap-free series from the first month."""
    import numpy as np
    import pyarrow as pa

    labels = months.column(month_column).to_pylist()
    values = months.column(value_column).cast(pa.float64()).to_pylist()
    known = {
        _parse_month(str(label)): float(value or 0.0)
        for label, value in zip(labels, values, strict=True)
        if label is not None
    }
    if not known:
        raise ModelError("the forecast needs monthly revenue; the input has no rows")
    first, last = min(known), max(known)
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    series = np.array([known.get(_add_months(first, i), 0.0) for i in range(count)])
    return first, series


def forecast_tables(
    months: pa.Table,
    *,
    month_column: str = "month",
    value_column: str = "total_amount",
    horizon: int = 3,
    backtest: int = 6,
) -> dict[str, pa.Table]:
    """The `forecast` (next `horizon` months) and `metrics` (backtest) tables."""
    import numpy as np
    import pyarrow as pa

    first, series = monthly_series(months, month_column, value_column)
    if len(series) < backtest + 3:
        raise ModelError(
            f"the forecast needs at least {backtest + 3} months of history "
            f"(a backtest over {backtest} months), got {len(series)}"
        )
    model = fit(series, first)
    future = np.arange(len(series), len(series) + horizon, dtype=float)
    predicted = model.predict(future)
    forecast = pa.table(
        {
            "month": [_label(_add_months(first, int(t))) for t in future],
            "month_start": pa.array([_add_months(first, int(t)) for t in future], pa.date32()),
            "horizon": pa.array(range(1, horizon + 1), pa.int32()),
            "forecast_amount": np.round(predicted, 2),
            "trend_amount": np.round(model.trend(future), 2),
            "seasonal_index": np.round(predicted / model.trend(future), 4),
        }
    )
    held = len(series) - backtest
    past = fit(series[:held], first)
    t = np.arange(held, len(series), dtype=float)
    guess = past.predict(t)
    actual = series[held:]
    ape = [abs(a - f) / a * 100 if a > 0 else None for a, f in zip(actual, guess, strict=True)]
    scored = [e for e in ape if e is not None]
    mape = float(np.mean(scored)) if scored else None
    metrics = pa.table(
        {
            "scope": ["month"] * backtest + ["overall"],
            "month": [_label(_add_months(first, int(i))) for i in t] + [None],
            "actual_amount": pa.array([*np.round(actual, 2).tolist(), None], pa.float64()),
            "forecast_amount": pa.array([*np.round(guess, 2).tolist(), None], pa.float64()),
            "abs_pct_error": pa.array(
                [None if e is None else round(e, 4) for e in ape]
                + [None if mape is None else round(mape, 4)],
                pa.float64(),
            ),
        }
    )
    return {"forecast": forecast, "metrics": metrics}


def _parse_month(label: str) -> date:
    try:
        year, month = label[:7].split("-")
        return date(int(year), int(month), 1)
    except ValueError as exc:
        raise ModelError(f"month '{label}' is not YYYY-MM") from exc


def _add_months(start: date, months: int) -> date:
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"
