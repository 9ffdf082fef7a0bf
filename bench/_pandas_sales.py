"""The pandas contender: the four sales analyses as a typical pandas script writes them.

Run as a child process by ``core_pipeline.py``::

    python bench/_pandas_sales.py SPEC.json RESULT.json

It reads ``trusted.sales`` (the files the Iceberg catalog lists) with ``pd.read_parquet``,
only the columns the analyses use, converts the DATE and DECIMAL columns to what pandas
computes with (datetime64 and float64, as such code does), then computes, with
``groupby``/``merge``, what the refined models compute in SQL:

* ``sales_by_day``: per date, tracks sold, distinct invoices and customers, amount,
  average ticket, weekday name, month, year, quarter;
* ``top_artists_by_month``: per 'YYYY-MM', the 5 artists selling most tracks (ties by
  name, then id), RANK() with ties, share of the month's tracks;
* ``sales_by_weekday``: per ISO weekday (always 7 rows), tracks, invoices, amount, days
  with sales and average amount per sales day;
* ``weekend_vs_weekday``: the same per segment (always 2 rows) plus share of all amount.

Money is float64 (rounded with ``round``), not exact decimal: this is the usual pandas
code, not a bit-exact port. Each result is written to Parquet, as batchlake writes its
tables. Only the standard library and pandas are imported.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

COLUMNS = [
    "invoice_id",
    "customer_id",
    "sale_date",
    "artist_id",
    "artist_name",
    "quantity",
    "amount",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def load_sales(files: list[str]) -> pd.DataFrame:
    """trusted.sales with the analyses' columns, in pandas-friendly dtypes."""
    sales = pd.concat([pd.read_parquet(f, columns=COLUMNS) for f in files], ignore_index=True)
    sales["sale_date"] = pd.to_datetime(sales["sale_date"])
    sales["amount"] = sales["amount"].astype("float64")
    return sales


def _per_group(sales: pd.DataFrame, key: str | pd.Series) -> pd.DataFrame:
    """The aggregates the weekday and segment analyses share."""
    return sales.groupby(key).agg(
        tracks_sold=("quantity", "sum"),
        invoices=("invoice_id", "nunique"),
        total_amount=("amount", "sum"),
        sales_days=("sale_date", "nunique"),
    )


def sales_by_day(sales: pd.DataFrame) -> pd.DataFrame:
    days = (
        sales.groupby("sale_date")
        .agg(
            tracks_sold=("quantity", "sum"),
            invoices=("invoice_id", "nunique"),
            unique_customers=("customer_id", "nunique"),
            total_amount=("amount", "sum"),
        )
        .reset_index()
    )
    days["total_amount"] = days["total_amount"].round(2)
    days["avg_ticket"] = (days["total_amount"] / days["invoices"]).round(2)
    days["weekday"] = days["sale_date"].dt.day_name()
    days["month"] = days["sale_date"].dt.month
    days["year"] = days["sale_date"].dt.year
    days["quarter"] = days["sale_date"].dt.quarter
    return days


def top_artists_by_month(sales: pd.DataFrame) -> pd.DataFrame:
    month = sales["sale_date"].dt.to_period("M").rename("period")
    month_totals = sales.groupby(month)["quantity"].sum().rename("all_tracks")
    with_artist = sales[sales["artist_id"].notna()]
    per_artist = (
        with_artist.groupby([month[with_artist.index], "artist_id", "artist_name"])["quantity"]
        .sum()
        .rename("tracks_sold")
        .reset_index()
    )
    per_artist = per_artist.sort_values(
        ["period", "tracks_sold", "artist_name", "artist_id"],
        ascending=[True, False, True, True],
    )
    by_month = per_artist.groupby("period")
    per_artist["rank"] = by_month.cumcount() + 1
    per_artist["rank_with_ties"] = (
        by_month["tracks_sold"].rank(method="min", ascending=False).astype("int64")
    )
    top = per_artist[per_artist["rank"] <= 5].merge(
        month_totals, left_on="period", right_index=True
    )
    top["share_pct"] = (100 * top["tracks_sold"] / top["all_tracks"]).round(2)
    top["month"] = top["period"].dt.strftime("%Y-%m")
    return top[
        ["month", "rank", "artist_id", "artist_name", "tracks_sold", "share_pct", "rank_with_ties"]
    ].reset_index(drop=True)


def sales_by_weekday(sales: pd.DataFrame) -> pd.DataFrame:
    number = (sales["sale_date"].dt.dayofweek + 1).rename("weekday_number")
    found = _per_group(sales, number)
    result = pd.DataFrame({"weekday": WEEKDAYS, "weekday_number": range(1, 8)})
    result = result.merge(found, left_on="weekday_number", right_index=True, how="left")
    counts = ["tracks_sold", "invoices", "sales_days"]
    result[counts] = result[counts].fillna(0).astype("int64")
    result["total_amount"] = result["total_amount"].fillna(0.0).round(2)
    days = result["sales_days"].where(result["sales_days"] > 0)
    result["avg_amount_per_sales_day"] = (result["total_amount"] / days).round(2)
    return result


def weekend_vs_weekday(sales: pd.DataFrame) -> pd.DataFrame:
    weekend = sales["sale_date"].dt.dayofweek >= 5
    segment = weekend.map({True: "weekend", False: "weekday"}).rename("segment")
    found = _per_group(sales, segment)
    result = pd.DataFrame({"segment": ["weekday", "weekend"]})
    result = result.merge(found, left_on="segment", right_index=True, how="left")
    counts = ["tracks_sold", "invoices", "sales_days"]
    result[counts] = result[counts].fillna(0).astype("int64")
    result["total_amount"] = result["total_amount"].fillna(0.0).round(2)
    days = result["sales_days"].where(result["sales_days"] > 0)
    result["avg_amount_per_sales_day"] = (result["total_amount"] / days).round(2)
    all_amount = sales["amount"].sum()
    result["share_of_total_amount_pct"] = (100 * result["total_amount"] / all_amount).round(2)
    return result


ANALYSES = {
    "sales_by_day": sales_by_day,
    "top_artists_by_month": top_artists_by_month,
    "sales_by_weekday": sales_by_weekday,
    "weekend_vs_weekday": weekend_vs_weekday,
}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Load once, run the four analyses, write each result; return seconds per part."""
    out_dir = Path(spec["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sales = load_sales(spec["sales_files"])
    load = time.perf_counter() - started
    per_analysis: dict[str, dict[str, float | int]] = {}
    for name, analysis in ANALYSES.items():
        clock = time.perf_counter()
        result = analysis(sales)
        result.to_parquet(out_dir / f"{name}.parquet", index=False)
        per_analysis[name] = {"seconds": time.perf_counter() - clock, "rows": len(result)}
    return {
        "seconds_total": time.perf_counter() - started,
        "seconds_load": load,
        "rows_loaded": len(sales),
        "analyses": per_analysis,
    }


def main(argv: list[str]) -> int:
    spec_path, result_path = argv[1], argv[2]
    result = run(json.loads(Path(spec_path).read_text()))
    Path(result_path).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
