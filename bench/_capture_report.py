"""Capture benchmark: medians, ratios, target verdicts, and the tables that show them.

Throughput is judged two ways. Cold: rows ÷ wall seconds of the whole child process
(interpreter start, imports, connection and all: what running `batchlake ingest` from
cron costs). Warm: rows ÷ seconds of work inside a process whose libraries are already
loaded (what each run of the long-lived scheduler costs; contenders warmed the same way:
see ``_capture_warm.py``). Peak RSS is the polled sum over the
child's process tree (see ``_median`` for why not ``ru_maxrss``). Ratios are computed within each
repeat, then the median over repeats is reported and judged. The terminal and the
Markdown tables come from the same rows (see ``bench/_report.py`` for the machine line
and the number formats, reused here).
"""

from __future__ import annotations

import statistics
from typing import Any

from bench._report import Table, _gb, _s, markdown_tables, print_rich_tables

FLOOR_TARGET = 0.8
PANDAS_TARGET = 5.0
RSS_TARGET_BYTES = 1e9
RSS_FLAT_FACTOR = 1.2  # "the same at 1M and 5M": the larger size's peak within +20%

LABELS = {
    "batchlake": "batchlake ingest (first capture)",
    "batchlake_recapture": "batchlake ingest again (unchanged data)",
    "floor": "floor: ConnectorX + ParquetWriter",
    "duckdb": "DuckDB scanner COPY TO parquet (reference)",
    "pandas": "pandas read_sql + to_parquet",
    "cursor": "DB-API cursor → JSON Lines",
    "dlt": "dlt sql_database (pyarrow) → filesystem",
}
WARM_LABELS = {
    "batchlake_warm": "batchlake capture (first, fresh project)",
    "floor_warm": "floor: ConnectorX + ParquetWriter",
    "pandas_warm": "pandas read_sql + to_parquet",
}
DB_NAMES = {"pg": "PostgreSQL", "my": "MariaDB"}


def _median(samples: list[dict[str, Any]], who: str, cores: int) -> dict[str, Any] | None:
    """Median of each numeric figure over repeats (RSS and contention: the maximum)."""
    present = [s[who] for s in samples if who in s]
    if not present:
        return None
    out: dict[str, Any] = {}
    for key, value in present[0].items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            out[key] = value
            continue
        pick = max if "rss" in key or key == "contention" else statistics.median
        out[key] = pick(p[key] for p in present)
    # The kernel's ru_maxrss of a child starts at the RSS of the parent that spawned it
    # (vfork + exec keep the parent's high-water mark), and this parent grows when it
    # verifies a capture: only the polled process-tree figure is the child's own.
    out["peak_rss_bytes"] = out["peak_rss_tree_bytes"]
    # `contention` counts every other process, the database server included; the server's
    # share is measured apart, so `neighbours` is what unrelated processes took (max).
    out["neighbours"] = max(
        max(0.0, p["contention"] - p.get("server_cpu_seconds", 0.0) / (p["wall_seconds"] * cores))
        for p in present
    )
    out["rows_per_second"] = out["rows"] / out["wall_seconds"]
    out["rows_per_cpu_second"] = out["rows"] / out["cpu_seconds"]
    return out


def _ratios(sample: dict[str, Any], pandas_rate: float | None) -> dict[str, float]:
    """batchlake's throughput over the others' (>1 means batchlake is faster), one repeat."""
    bl = sample["batchlake"]
    rate = bl["rows"] / bl["wall_seconds"]
    out: dict[str, float] = {}
    for who in ("floor", "duckdb", "dlt", "cursor"):
        if who in sample:
            out[f"over_{who}"] = rate / (sample[who]["rows"] / sample[who]["wall_seconds"])
    if "floor" in sample:
        floor = sample["floor"]
        out["over_floor_cpu"] = floor["cpu_seconds"] / bl["cpu_seconds"]
        out["step_over_floor_work"] = floor["seconds_work"] / bl["step_seconds"]
    if "pandas" in sample:
        out["over_pandas"] = rate / (sample["pandas"]["rows"] / sample["pandas"]["wall_seconds"])
    elif pandas_rate:
        out["over_pandas"] = rate / pandas_rate
    warm = sample.get("batchlake_warm")
    for who in ("floor", "pandas"):  # same rows on both sides: a ratio of seconds
        if warm and f"{who}_warm" in sample:
            out[f"warm_over_{who}"] = sample[f"{who}_warm"]["seconds_work"] / warm["seconds_work"]
    return out


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Per database and size: medians per contender, ratios and target verdicts."""
    summary: dict[str, Any] = {}
    cores = results["machine"]["logical_cores"] or 1
    for db, sizes in results["samples"].items():
        summary[db] = {}
        pandas_rate: float | None = None  # from a smaller size, if pandas was skipped
        for size in sorted(sizes, key=int):
            samples = sizes[size]
            medians = {w: m for w in {**LABELS, **WARM_LABELS} if (m := _median(samples, w, cores))}
            if "pandas" in medians:
                pandas_rate = medians["pandas"]["rows_per_second"]
            per_repeat = [_ratios(s, pandas_rate) for s in samples]
            ratios = {k: statistics.median(r[k] for r in per_repeat) for k in per_repeat[0]}
            spread = {
                k: [min(r[k] for r in per_repeat), max(r[k] for r in per_repeat)]
                for k in per_repeat[0]
            }
            summary[db][size] = {
                "contenders": medians,
                "ratios": ratios,
                "spread": spread,
                "pandas_rows_per_second": pandas_rate,
            }
        summary[db]["targets"] = _targets(db, summary[db], results)
    return summary


def _targets(db: str, per_size: dict[str, Any], results: dict[str, Any]) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    skipped = results.get("skipped", {}).get(db, {})
    sizes = sorted((k for k in per_size if k != "targets"), key=int)
    for size in sizes:
        figures = per_size[size]
        ratios, bl = figures["ratios"], figures["contenders"]["batchlake"]
        rows = f"{int(size):,}"
        if "over_floor" in ratios:
            targets.append(_verdict(db, rows, f"≥ {FLOOR_TARGET}× the floor's rows/s",
                                    f"{ratios['over_floor']:.2f}×",
                                    ratios["over_floor"] >= FLOOR_TARGET))  # fmt: skip
        if "over_pandas" in ratios:
            smaller = "pandas" in skipped.get(size, {})
            note = " (pandas measured at a smaller size)" if smaller else ""
            targets.append(_verdict(db, rows, f"≥ {PANDAS_TARGET:.0f}× pandas' rows/s",
                                    f"{ratios['over_pandas']:.2f}×{note}",
                                    ratios["over_pandas"] >= PANDAS_TARGET))  # fmt: skip
        for key, target, goal in (
            ("warm_over_floor", f"≥ {FLOOR_TARGET}× the floor's rows/s, warm process",
             FLOOR_TARGET),
            ("warm_over_pandas", f"≥ {PANDAS_TARGET:.0f}× pandas' rows/s, warm process",
             PANDAS_TARGET),
        ):  # fmt: skip
            if key in ratios:
                targets.append(
                    _verdict(db, rows, target, f"{ratios[key]:.2f}×", ratios[key] >= goal)
                )
        rss = bl["peak_rss_bytes"]
        targets.append(_verdict(db, rows, "peak RSS < 1 GB", _gb(rss), rss < RSS_TARGET_BYTES))
    if len(sizes) >= 2:
        small, large = (per_size[s]["contenders"]["batchlake"]["peak_rss_bytes"] for s in
                        (sizes[0], sizes[-1]))  # fmt: skip
        targets.append(_verdict(
            db, f"{int(sizes[0]):,} → {int(sizes[-1]):,}",
            f"peak RSS flat (larger size ≤ {RSS_FLAT_FACTOR}× smaller)",
            f"{_gb(small)} → {_gb(large)} ({large / small:.2f}×)",
            large <= RSS_FLAT_FACTOR * small,
        ))  # fmt: skip
    return targets


def _verdict(db: str, rows: str, target: str, value: str, met: bool) -> dict[str, Any]:
    return {"database": DB_NAMES[db], "rows": rows, "target": target, "value": value, "met": met}


def _rate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    return f"{value / 1e3:.0f} k" if value >= 1e4 else f"{value:,.0f}"


def _note(who: str, c: dict[str, Any]) -> str:
    """batchlake's own records: step and run seconds, and what the capture was recorded as."""
    if "step_seconds" not in c:
        return ""
    note = f"step {_s(c['step_seconds'])} s, run {_s(c['run_recorded_seconds'])} s"
    if who == "batchlake_recapture":
        status = c["step_status"]
        note += "; duplicate" if status == "duplicate" else f"; {status}: WRITTEN AGAIN"
    return note


def _tables(results: dict[str, Any]) -> list[Table]:
    summary, skipped = results["summary"], results.get("skipped", {})
    tables: list[Table] = []
    header = ["contender", "rows/s", "vs floor", "vs pandas", "wall s", "CPU s",
              "DB server CPU s", "peak RSS", "others", "note"]  # fmt: skip
    for db, per_size in summary.items():
        for size in sorted((k for k in per_size if k != "targets"), key=int):
            figures = per_size[size]
            floor = figures["contenders"].get("floor")
            pandas_rate = figures["pandas_rows_per_second"]
            mark = "" if "pandas" in figures["contenders"] else "*"
            rows: list[list[str]] = []
            for who, label in LABELS.items():
                c = figures["contenders"].get(who)
                if c is None:
                    if who in skipped.get(db, {}).get(size, {}):
                        note = skipped[db][size][who]
                        rows.append([label, "–", "", "", "", "", "", "", "", note])
                    continue
                vs_floor = (f"{c['rows_per_second'] / floor['rows_per_second']:.2f}×"
                            if floor else "")  # fmt: skip
                vs_pandas = (f"{c['rows_per_second'] / pandas_rate:.2f}×{mark}"
                             if pandas_rate else "")  # fmt: skip
                note = _note(who, c)
                rows.append([label, _rate(c["rows_per_second"]), vs_floor, vs_pandas,
                             _s(c["wall_seconds"]), _s(c["cpu_seconds"]),
                             _s(c.get("server_cpu_seconds", float("nan"))),
                             _gb(c["peak_rss_bytes"]), f"{c['neighbours']:.0%}", note])  # fmt: skip
            title = f"{DB_NAMES[db]}, {int(size):,} rows (median of repeats; peak RSS: max)"
            tables.append((title, header, rows))
    tables += _warm_tables(summary)
    smoke = results.get("params", {}).get("smoke") == "True"
    targets = [
        [t["database"], t["rows"], t["target"], t["value"],
         "not judged (smoke)" if smoke else "met" if t["met"] else "MISSED"]
        for per_size in summary.values()
        for t in per_size["targets"]
    ]  # fmt: skip
    tables.append(("Targets", ["database", "rows", "target", "value", "verdict"], targets))
    checks = []
    for db, per_size in results["verification"].items():
        for size, v in per_size.items():
            p, s = v["parquet"], v["server"]
            checks.append([DB_NAMES[db], f"{int(size):,}", f"{p['rows']:,} / {s['rows']:,}",
                           f"{p['amount_sum']} / {s['amount_sum']}",
                           f"{p['active_true']:,} / {s['active_true']:,}",
                           "equal" if v["equal"] else "DIFFERENT"])  # fmt: skip
    tables.append(("batchlake raw Parquet vs the server (Parquet / server)",
                   ["database", "rows", "row count", "sum(amount)", "active = true", "verdict"],
                   checks))  # fmt: skip
    return tables


def _warm_tables(summary: dict[str, Any]) -> list[Table]:
    """Seconds of work inside a warm process (imports done), and the ratios they give."""
    header = ["contender", "rows/s", "vs floor", "vs pandas", "work s", "warm-up s", "note"]
    tables: list[Table] = []
    for db, per_size in summary.items():
        for size in sorted((k for k in per_size if k != "targets"), key=int):
            found = per_size[size]["contenders"]
            if "batchlake_warm" not in found:
                continue
            floor, pandas = found.get("floor_warm"), found.get("pandas_warm")
            rows: list[list[str]] = []
            for who, label in WARM_LABELS.items():
                c = found.get(who)
                if c is None:
                    continue
                work = c["seconds_work"]
                note = f"step {_s(c['step_seconds'])} s" if "step_seconds" in c else ""
                rows.append([
                    label, _rate(c["rows"] / work),
                    f"{floor['seconds_work'] / work:.2f}×" if floor else "",
                    f"{pandas['seconds_work'] / work:.2f}×" if pandas else "",
                    _s(work), _s(c.get("warmup_seconds", float("nan"))), note,
                ])  # fmt: skip
            title = f"{DB_NAMES[db]}, {int(size):,} rows, warm process (median of repeats)"
            tables.append((title, header, rows))
    return tables


def markdown(results: dict[str, Any]) -> str:
    """All tables as Markdown, with the command and the machine on top."""
    m = results["machine"]
    v = m["versions"]
    extra = results.get("versions", {})
    lines = [
        f"Command: `{results['command']}`",
        "",
        f"Machine: {m['cpu']}, {m['logical_cores']} cores, {m['ram_bytes'] / 2**30:.0f} GiB RAM, "
        f"{m['os']}; Python {m['python']}, duckdb {v['duckdb']}, pyarrow {v['pyarrow']}, "
        f"pandas {v['pandas']}, "
        + ", ".join(f"{k} {val}" for k, val in extra.items())
        + f"; batchlake {m['git_commit']}"
        + (" (+ uncommitted changes in src/)" if m["src_uncommitted_changes"] else ""),
    ]
    state = results.get("src_state", {})
    if state and state["start"] != state["end"]:
        lines += ["", f"**Warning: src/ changed during the run ({state['start']} → "
                  f"{state['end']}): samples mix two versions of batchlake.**"]  # fmt: skip
    return "\n".join(lines + markdown_tables(_tables(results))) + "\n"


def print_tables(results: dict[str, Any]) -> None:
    """The same tables on the terminal."""
    print_rich_tables(_tables(results), width=140)
