"""Daily increments on the Chinook store: incremental models against full rebuilds.

The store grows for `--days` simulated days; each day adds `--growth` new invoices (with
lines, copied from existing ones, dated that day) and changes `--churn` of the existing
invoice lines (quantity) and their invoices (total). Two lake projects capture the same
store every day, in the same run of this script:

- **incremental**: the Chinook example as shipped (trusted invoices, invoice lines and
  sales by key; refined.sales_by_day by time, partitioned by month), capturing invoice
  and invoice_line by `--capture` (`diff`: only inserted, changed and deleted rows land in
  raw; `cursor`: new rows by invoice_id, changes to old rows are not seen by either side;
  `modified`: both tables get a `LastModified` column, indexed, that every change of the
  day stamps (as OLTP tables often have an `updated_at`), captured by cursor on it: only
  new and changed rows are read, and changes are seen);
- **full**: the same project with every model `full` (its kind files removed) and the same
  captures: each day rebuilds every table whose inputs changed, from all of raw.

Each day both run `batchlake run` as a child process (wall time, CPU, peak RSS); their
tables are compared (row count and an order-independent row hash per table); raw bytes
written that day are read from the batch manifest. Targets (issue 15): incremental ≤ 0.1×
full on the same day; day N ≤ 1.3× day 2; raw bytes per day ≤ 1.5× the size of the
changed rows; equal tables every day; peak RSS < 2 GB. `--smoke` runs a tiny store for 2
days (CI runs it so the script cannot rot; no timing is judged there).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._lake import BATCHLAKE, child_env, fresh_project, store_database
from bench._measure import run_measured

GB = 1024**3
OUTPUT = "bench/results/daily_increment.json"
CAPTURES = {
    "diff": (
        '\n[sources.chinook.entities.invoice]\nmode = "diff"\nprimary_key = ["invoice_id"]\n'
        '\n[sources.chinook.entities.invoice_line]\nmode = "diff"\n'
        'primary_key = ["invoice_line_id"]\n'
    ),
    "cursor": (
        '\n[sources.chinook.entities.invoice]\nmode = "incremental"\ncursor = "invoice_id"\n'
        '\n[sources.chinook.entities.invoice_line]\nmode = "incremental"\ncursor = "invoice_id"\n'
    ),
    "modified": (
        '\n[sources.chinook.entities.invoice]\nmode = "incremental"\ncursor = "last_modified"\n'
        '\n[sources.chinook.entities.invoice_line]\nmode = "incremental"\n'
        'cursor = "last_modified"\n'
    ),
}
MODIFIED = "LastModified"


def main() -> int:
    args = _arguments()
    work = Path(args.workdir)
    logs = work / "logs"
    db, generated = store_database(
        work / "cache", invoices=args.invoices, seed=args.seed, regenerate=False, log_dir=logs
    )
    store = work / "store.sqlite"
    shutil.copyfile(db, store)  # the days change it: never the cached copy
    if args.capture == "modified":
        _track_modifications(store)
    projects = {"incremental": work / "incremental", "full": work / "full"}
    for kind, project in projects.items():
        fresh_project(project, store)
        (project / "data" / "chinook.sqlite").unlink()
        with (project / "batchlake.toml").open("a", encoding="utf-8") as toml:
            toml.write(CAPTURES[args.capture])
        if kind == "full":
            for path in (project / "models").rglob("*.toml"):
                if not path.name.endswith(".checks.toml"):
                    path.unlink()
    if args.no_python:
        for project in projects.values():
            shutil.rmtree(project / "python", ignore_errors=True)
            _drop_python_settings(project / "batchlake.toml")
    env = {**child_env(), "CHINOOK_URL": f"sqlite:///{store}"}
    rng = random.Random(args.seed)
    days: list[dict[str, Any]] = []
    for day in range(1, args.days + 1):
        changed = (
            _grow(store, args.growth, args.churn, rng, stamp=args.capture == "modified")
            if day > 1
            else {}
        )
        row: dict[str, Any] = {"day": day, **changed}
        for kind, project in projects.items():
            m = run_measured(
                f"day{day}-{kind}",
                [*BATCHLAKE, "run", "--project", str(project)],
                log_dir=logs,
                env=env,
            )
            row[kind] = {
                "seconds": round(m.wall_seconds, 2),
                "cpu_seconds": round(m.cpu_seconds, 2),
                "peak_rss_gb": round(m.peak_rss_bytes / GB, 3),
                "contention": round(m.contention, 2),
                "raw_bytes": _raw_bytes_today(project, day),
            }
        row["equal"] = _same_tables(projects["incremental"], projects["full"])
        row["ratio"] = round(row["incremental"]["seconds"] / row["full"]["seconds"], 3)
        days.append(row)
        _print_day(row)
    result = _summary(args, generated, days)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    _print_summary(result)
    print(f"written: {out}")
    return 0 if all(d["equal"] for d in days) else 1


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--growth", type=float, default=0.005, help="new invoices per day")
    parser.add_argument("--churn", type=float, default=0.001, help="changed lines per day")
    parser.add_argument("--capture", choices=sorted(CAPTURES), default="diff")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-python", action="store_true", help="leave the Python steps out")
    parser.add_argument("--workdir", default="/tmp/batchlake-daily")
    parser.add_argument("--output", default=OUTPUT)
    parser.add_argument("--smoke", action="store_true", help="a tiny store for 2 days (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.invoices, args.days, args.growth, args.churn = 300, 2, 0.02, 0.01
        args.workdir = str(Path(args.workdir) / "smoke")
        if args.output == OUTPUT:  # not named: keep the smoke run's JSON out of results/
            args.output = str(Path(args.workdir) / "daily_increment.json")
        shutil.rmtree(args.workdir, ignore_errors=True)
    return args


def _drop_python_settings(toml: Path) -> None:
    kept, skipping = [], False
    for line in toml.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            skipping = line.startswith("[python.")
        if not skipping:
            kept.append(line)
    toml.write_text("\n".join(kept) + "\n", encoding="utf-8")


def _track_modifications(store: Path) -> None:
    """Give Invoice and InvoiceLine an indexed `LastModified` column (before day 1)."""
    con = sqlite3.connect(store)
    try:
        for table in ("Invoice", "InvoiceLine"):
            con.execute(
                f"ALTER TABLE {table} ADD COLUMN {MODIFIED} TEXT NOT NULL "
                "DEFAULT '2000-01-01 00:00:00'"
            )
            con.execute(f"CREATE INDEX IX_{table}_{MODIFIED} ON {table} ({MODIFIED})")
        con.commit()
    finally:
        con.close()


def _grow(
    store: Path, growth: float, churn: float, rng: random.Random, *, stamp: bool
) -> dict[str, int]:
    """One day of the store: new invoices with lines, changed lines and their totals.

    `stamp`: set `LastModified` of every new and changed row to the day (`--capture
    modified`)."""
    con = sqlite3.connect(store)
    try:
        invoices, lines = con.execute(
            "SELECT (SELECT count(*) FROM Invoice), (SELECT count(*) FROM InvoiceLine)"
        ).fetchone()
        last_invoice, last_line, last_date = con.execute(
            "SELECT (SELECT max(InvoiceId) FROM Invoice), (SELECT max(InvoiceLineId) FROM "
            "InvoiceLine), (SELECT max(InvoiceDate) FROM Invoice)"
        ).fetchone()
        new = max(1, int(invoices * growth))
        today = con.execute("SELECT datetime(?, '+1 day')", (last_date,)).fetchone()[0]
        con.execute("CREATE TEMP TABLE picked (old INTEGER, new INTEGER)")
        sources = rng.sample(range(1, last_invoice + 1), new)
        con.executemany(
            "INSERT INTO picked VALUES (?, ?)",
            [(old, last_invoice + n + 1) for n, old in enumerate(sources)],
        )
        invoice_columns = (
            "InvoiceId, CustomerId, InvoiceDate, BillingAddress, BillingCity, BillingState, "
            "BillingCountry, BillingPostalCode, Total"
        )
        con.execute(
            f"INSERT INTO Invoice ({invoice_columns}) SELECT p.new, CustomerId, ?, "
            "BillingAddress, BillingCity, BillingState, BillingCountry, BillingPostalCode, "
            "Total FROM Invoice JOIN picked AS p ON InvoiceId = p.old",
            (today,),
        )
        added_lines = con.execute(
            "INSERT INTO InvoiceLine (InvoiceLineId, InvoiceId, TrackId, UnitPrice, Quantity) "
            "SELECT ? + row_number() OVER (ORDER BY l.InvoiceLineId), "
            "p.new, TrackId, UnitPrice, Quantity FROM InvoiceLine AS l "
            "JOIN picked AS p ON l.InvoiceId = p.old",
            (last_line,),
        ).rowcount
        changed = max(1, int(lines * churn))
        con.execute("CREATE TEMP TABLE touched (id INTEGER PRIMARY KEY)")
        con.executemany(
            "INSERT OR IGNORE INTO touched VALUES (?)",
            [(i,) for i in rng.sample(range(1, last_line + 1), changed)],
        )
        changed_lines = con.execute(
            "UPDATE InvoiceLine SET Quantity = Quantity + 1 "
            "WHERE InvoiceLineId IN (SELECT id FROM touched)"
        ).rowcount
        changed_invoices = con.execute(
            "UPDATE Invoice SET Total = (SELECT round(sum(UnitPrice * Quantity), 2) "
            "FROM InvoiceLine AS l WHERE l.InvoiceId = Invoice.InvoiceId) WHERE InvoiceId IN "
            "(SELECT InvoiceId FROM InvoiceLine WHERE InvoiceLineId IN (SELECT id FROM touched))"
        ).rowcount
        if stamp:
            _stamp(con, today, last_invoice, last_line)
        con.commit()
        return {
            "new_invoices": new,
            "new_lines": added_lines,
            "changed_lines": changed_lines,
            "changed_invoices": changed_invoices,
        }
    finally:
        con.close()


def _stamp(con: sqlite3.Connection, today: str, last_invoice: int, last_line: int) -> None:
    """`LastModified` = today on the rows `_grow` added or changed (before its commit)."""
    updates = [
        f"UPDATE InvoiceLine SET {MODIFIED} = ? WHERE InvoiceLineId > ?",
        f"UPDATE InvoiceLine SET {MODIFIED} = ? WHERE InvoiceLineId IN (SELECT id FROM touched)",
        f"UPDATE Invoice SET {MODIFIED} = ? WHERE InvoiceId > ?",
        f"UPDATE Invoice SET {MODIFIED} = ? WHERE InvoiceId IN (SELECT InvoiceId FROM "
        "InvoiceLine WHERE InvoiceLineId IN (SELECT id FROM touched))",
    ]
    for sql, bound in zip(updates, (last_line, None, last_invoice, None), strict=True):
        con.execute(sql, (today,) if bound is None else (today, bound))


def _raw_bytes_today(project: Path, day: int) -> dict[str, Any]:
    """Bytes and rows of the raw batches the day's run wrote, per entity, and a full copy's."""
    from batchlake.lake import Lake

    lake = Lake.open(project)
    runs = lake.metadata.runs(1)
    run_id = runs[0]["run_id"] if runs else None
    found: dict[str, Any] = {}
    for entity in ("invoice", "invoice_line"):
        batches = lake.metadata.batches("chinook", entity)
        today = [b for b in batches if b.run_id == run_id]
        first = batches[0] if batches else None
        per_row = first.bytes / first.rows if first and first.rows else 0.0
        found[entity] = {
            "bytes": sum(b.bytes for b in today),
            "rows": sum(b.rows for b in today),
            "bytes_per_row_full": round(per_row, 2),
        }
    lake.metadata.engine.dispose()
    return found


def _same_tables(a: Path, b: Path) -> bool:
    """Every trusted and refined table holds the same rows in both lakes."""
    from batchlake.lake import Lake

    def digests(root: Path) -> dict[str, tuple[Any, ...]]:
        lake = Lake.open(root)
        found = {}
        for name in lake.catalog.table_names():
            if "._quarantine_" in name:
                continue
            table = lake.query_table(f"SELECT count(*) AS n, sum(hash(t)) AS h FROM {name} AS t")
            found[name] = (table["n"][0].as_py(), table["h"][0].as_py())
        return found

    left, right = digests(a), digests(b)
    if left != right:
        differing = sorted(n for n in left.keys() | right.keys() if left.get(n) != right.get(n))
        print(f"  DIFFERENT: {', '.join(differing)}")
    return left == right


def _print_day(row: dict[str, Any]) -> None:
    inc, full = row["incremental"], row["full"]
    raw = inc["raw_bytes"]
    print(
        f"day {row['day']:>3}: incremental {inc['seconds']:7.2f} s  full {full['seconds']:7.2f} s"
        f"  ratio {row['ratio']:.3f}  raw written {_mb(_sum(raw, 'bytes'))} vs "
        f"{_mb(_sum(full['raw_bytes'], 'bytes'))}  equal {row['equal']}",
        flush=True,
    )


def _summary(args: argparse.Namespace, generated: dict[str, Any], days: list[dict[str, Any]]):
    later = [d for d in days if d["day"] > 1]
    ratios = [d["ratio"] for d in later]
    flat = (
        later[-1]["incremental"]["seconds"] / later[0]["incremental"]["seconds"] if later else None
    )
    raw_ratios = []
    for d in later:
        changed_rows = d["new_invoices"] + d["changed_invoices"]
        changed_line_rows = d["new_lines"] + d["changed_lines"]
        raw = d["incremental"]["raw_bytes"]
        size = (
            changed_rows * raw["invoice"]["bytes_per_row_full"]
            + changed_line_rows * raw["invoice_line"]["bytes_per_row_full"]
        )
        raw_ratios.append(round(_sum(raw, "bytes") / size, 3) if size else None)
    peak = max(max(d["incremental"]["peak_rss_gb"], d["full"]["peak_rss_gb"]) for d in days)
    return {
        "benchmark": "daily_increment",
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "arguments": vars(args),
        "store": generated,
        "days": days,
        "targets": {
            "incremental_vs_full_max": {"value": max(ratios) if ratios else None, "target": 0.1},
            "incremental_vs_full_median": {"value": _median(ratios), "target": 0.1},
            "last_day_vs_day_2": {"value": round(flat, 3) if flat else None, "target": 1.3},
            "raw_bytes_vs_changed_rows_max": {
                "value": max((r for r in raw_ratios if r is not None), default=None),
                "target": 1.5,
            },
            "equal_every_day": {"value": all(d["equal"] for d in days), "target": True},
            "peak_rss_gb": {"value": peak, "target": 2.0},
        },
    }


def _print_summary(result: dict[str, Any]) -> None:
    print("\n| target | measured | goal | met |\n|---|---|---|---|")
    for name, figure in result["targets"].items():
        value, goal = figure["value"], figure["target"]
        met = value is goal if isinstance(goal, bool) else value is not None and value <= goal
        print(f"| {name} | {value} | {'≤ ' if not isinstance(goal, bool) else ''}{goal} | {met} |")


def _sum(raw: dict[str, Any], key: str) -> float:
    return sum(v[key] for v in raw.values())


def _mb(size: float) -> str:
    return f"{size / 1024**2:7.2f} MB"


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


if __name__ == "__main__":
    sys.exit(main())
