"""Cross-checks: the contenders must compute the same tables, or the timings mean nothing.

* floor vs batchlake: every refined table of a SQL model, row for row (``EXCEPT ALL`` both
  ways), exact. The Python steps' tables have no floor: the segmentation is checked against
  the exhaustive fit instead (``_segments.py``).
* pandas vs floor: the four sales analyses joined on their keys; integers must be equal,
  money and percentages within 0.011 (pandas sums floats and rounds half-to-even, the
  models sum exact decimals and round half-up), text equal.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

# analysis -> (key columns with the type to join on, value columns compared)
PANDAS_CHECKS: dict[str, tuple[dict[str, str], list[str]]] = {
    "sales_by_day": (
        {"sale_date": "DATE"},
        ["tracks_sold", "invoices", "unique_customers", "total_amount", "avg_ticket", "weekday"],
    ),
    "top_artists_by_month": (
        {"month": "VARCHAR", "rank": "BIGINT"},
        ["artist_id", "artist_name", "tracks_sold", "share_pct", "rank_with_ties"],
    ),
    "sales_by_weekday": (
        {"weekday_number": "BIGINT"},
        ["weekday", "tracks_sold", "invoices", "total_amount", "sales_days"],
    ),
    "weekend_vs_weekday": (
        {"segment": "VARCHAR"},
        ["tracks_sold", "invoices", "total_amount", "sales_days", "share_of_total_amount_pct"],
    ),
}
_TOLERANCE = 0.011


def _scan(files: list[str]) -> str:
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return f"read_parquet([{listed}])"


def floor_vs_batchlake(
    con: duckdb.DuckDBPyConnection, floor_dir: Path, batchlake_files: dict[str, list[str]]
) -> dict[str, str]:
    """Per refined table the floor wrote: 'equal', or how many rows differ each way."""
    verdicts: dict[str, str] = {}
    for path in sorted(floor_dir.glob("*.parquet")):
        name, files = path.stem, batchlake_files.get(path.stem, [])
        if not files:
            verdicts[name] = "DIFFERENT: batchlake has no such table"
            continue
        floor = _scan([str(path)])
        # Only the model's columns: a partitioned table's files may hold helper columns
        # (e.g. `__part0` of `month(...)`) that the Iceberg schema does not expose.
        columns = ", ".join(
            f'"{row[0]}"' for row in con.execute(f"DESCRIBE SELECT * FROM {floor}").fetchall()
        )
        floor = f"(SELECT {columns} FROM {floor})"
        ours = f"(SELECT {columns} FROM {_scan(files)})"
        only_floor, only_ours = (
            con.execute(
                f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})"
            ).fetchone()[0]  # type: ignore[index]
            for a, b in ((floor, ours), (ours, floor))
        )
        verdicts[name] = (
            "equal"
            if only_floor == only_ours == 0
            else f"DIFFERENT: {only_floor} rows only in floor, {only_ours} only in batchlake"
        )
    return verdicts


def _is_text(con: duckdb.DuckDBPyConnection, scan: str, column: str) -> bool:
    kind = con.execute(f"SELECT typeof({column}) FROM {scan} LIMIT 1").fetchone()
    return bool(kind) and str(kind[0]).upper().startswith("VARCHAR")  # type: ignore[index]


def pandas_vs_floor(
    con: duckdb.DuckDBPyConnection, pandas_dir: Path, floor_dir: Path
) -> dict[str, str]:
    """Per analysis: 'equal' (within tolerance), or the number of rows that differ."""
    verdicts: dict[str, str] = {}
    for name, (keys, values) in PANDAS_CHECKS.items():
        p = _scan([str(pandas_dir / f"{name}.parquet")])
        f = _scan([str(floor_dir / f"{name}.parquet")])
        join = " AND ".join(f"CAST(p.{k} AS {t}) = CAST(f.{k} AS {t})" for k, t in keys.items())
        differs = []
        for column in values:
            if _is_text(con, f, column):
                differs.append(f"CAST(p.{column} AS VARCHAR) IS DISTINCT FROM f.{column}")
            else:
                differs.append(
                    f"coalesce(abs(CAST(p.{column} AS DOUBLE) - CAST(f.{column} AS DOUBLE)) "
                    f"> {_TOLERANCE}, (p.{column} IS NULL) <> (f.{column} IS NULL))"
                )
        bad, total_p, total_f = con.execute(
            f"SELECT count(*) FILTER (WHERE p.{next(iter(keys))} IS NULL "
            f"OR f.{next(iter(keys))} IS NULL OR {' OR '.join(differs)}), "
            f"count(p.{next(iter(keys))}), count(f.{next(iter(keys))}) "
            f"FROM {p} AS p FULL OUTER JOIN {f} AS f ON {join}"
        ).fetchone()  # type: ignore[misc]
        verdicts[name] = (
            f"equal ({total_f} rows)"
            if bad == 0
            else f"DIFFERENT: {bad} of {max(total_p, total_f)} rows differ"
        )
    return verdicts


def run_checks(
    floor_dir: Path, pandas_dir: Path, batchlake_files: dict[str, list[str]]
) -> dict[str, dict[str, str]]:
    """Both SQL cross-checks, in one throwaway DuckDB connection."""
    con = duckdb.connect(":memory:")
    try:
        return {
            "floor_vs_batchlake": floor_vs_batchlake(con, floor_dir, batchlake_files),
            "pandas_vs_floor": pandas_vs_floor(con, pandas_dir, floor_dir),
        }
    finally:
        con.close()
