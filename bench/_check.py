"""Cross-checks: the contenders must compute the same tables, or the timings mean nothing.

* floor vs batchlake: every refined (and trusted) table of a SQL model, row for row
  (``EXCEPT ALL`` both ways), exact; the capture floor's row count per table against raw;
  the Python floor's segments against the step's (same k, ARI, silhouette). The step's
  segments are also checked against the exhaustive fit (``_segments.py``).
* pandas vs floor: the four sales analyses joined on their keys; integers must be equal,
  money and percentages within 0.011 (pandas sums floats and rounds half-to-even, the
  models sum exact decimals and round half-up), text equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def _rows(con: duckdb.DuckDBPyConnection, files: list[str]) -> int:
    return int(con.execute(f"SELECT count(*) FROM {_scan(files)}").fetchone()[0])  # type: ignore[index]


def capture_floor_vs_raw(
    con: duckdb.DuckDBPyConnection, floor_dir: Path, raw: dict[str, list[str]]
) -> dict[str, str]:
    """Per store table: the floor's rows against the rows batchlake captured into raw."""
    by_key = {name.replace("_", "").lower(): files for name, files in raw.items()}
    verdicts: dict[str, str] = {}
    for path in sorted(floor_dir.glob("*.parquet")):
        files = by_key.get(path.stem.lower())
        if not files:
            verdicts[path.stem] = "DIFFERENT: batchlake captured no such table"
            continue
        floor, ours = _rows(con, [str(path)]), _rows(con, files)
        verdicts[path.stem] = (
            f"equal ({floor} rows)" if floor == ours else f"DIFFERENT: {floor} vs {ours} rows"
        )
    return verdicts


def stage_checks(
    work: Path,
    raw: dict[str, list[str]],
    trusted: dict[str, list[str]],
    step_tables: dict[str, Any],
) -> dict[str, dict[str, str]]:
    """The stage floors computed what batchlake computed: captured rows, trusted tables row
    for row, the same segments (the floor calls the same library with the same seed)."""
    from bench import _segments

    con = duckdb.connect(":memory:")
    try:
        checks = {
            "capture_floor_vs_raw": capture_floor_vs_raw(con, work / "floor-capture-out", raw),
            "trusted_floor_vs_batchlake": floor_vs_batchlake(
                con, work / "floor-trusted-out", trusted
            ),
        }
    finally:
        con.close()
    out = work / "floor-python-out"
    floor_tables = {
        name: _segments.read_one(out / f"segments_{name}.parquet")
        for name in ("segments", "metrics")
    }
    figures = _segments.compare(step_tables, floor_tables)
    checks["python_floor_vs_batchlake"] = {"customer_segments": _segments.quality_verdict(figures)}
    return checks


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
