"""Machine description and the tables of results (terminal via rich, and Markdown).

Both renderings come from the same rows, so the table pasted into docs/benchmarks.md is
exactly what the terminal showed.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

Table = tuple[str, list[str], list[list[str]]]  # title, header, rows

_PACKAGES = ("batchlake", "duckdb", "pyarrow", "pyiceberg", "pandas", "numpy", "psutil")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def machine_info() -> dict[str, Any]:
    """Cores, memory, OS, Python, library versions and the commit benchmarked."""
    versions: dict[str, str | None] = {}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    dirty = _git("status", "--porcelain", "--", "src")
    return {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "src_uncommitted_changes": bool(dirty),
    }


def _s(seconds: float) -> str:
    return f"{seconds:.2f}"


def _gb(size: float) -> str:
    return f"{size / 1e9:.2f} GB"


def _tables(results: dict[str, Any]) -> list[Table]:
    s = results["summary"]
    run, ref, floor, pandas = s["batchlake_run"], s["batchlake_refined"], s["floor"], s["pandas"]
    gen = results["generation"]
    note = " (cached from an earlier run)" if gen["reused"] else ""

    def proc(who: str, what: str, c: dict[str, Any]) -> list[str]:
        return [
            who,
            what,
            _s(c["wall_seconds"]),
            _s(c["cpu_seconds"]),
            _gb(c["peak_rss_bytes"]),
            f"{c['contention']:.0%}",
        ]

    def part(who: str, what: str, seconds: float) -> list[str]:
        return [who, f"  {what}", _s(seconds), "", "", ""]

    steps = s["stage_steps"]
    n = {stage: len(names) for stage, names in steps["run"].items()}
    nr = {stage: len(names) for stage, names in steps["refined_run"].items()}
    measurements = [
        ["store generation", f"{gen['invoice_lines']:,} lines{note}", _s(gen["seconds"]),
         "", "", ""],
        proc("batchlake", "`batchlake run` (fresh project), process", run),
        part("batchlake", "run as recorded", run["recorded_seconds"]),
        part("batchlake", f"ingest stage ({n['ingest']} captures)", run["ingest_seconds"]),
        part("batchlake", f"trusted stage ({n['trusted']} models)", run["trusted_seconds"]),
        part("batchlake", f"refined stage ({n['refined_sql']} SQL models + {n['python']} Python "
             "steps)", run["refined_seconds"]),
        proc("batchlake", "`run --select 'refined.*' --full-refresh`, process", ref),
        part("batchlake", f"refined stage ({nr['refined_sql']} SQL models + {nr['python']} "
             "Python steps)", ref["refined_seconds"]),
        part("batchlake", f"  refined SQL ({nr['refined_sql']} models)",
             ref["refined_sql_seconds"]),
        part("batchlake", f"  Python steps ({nr['python']})", ref["python_seconds"]),
        part("batchlake", "    of which python.customer_segments", ref["segmentation_seconds"]),
        part("batchlake", "four sales analyses", ref["four_analyses_seconds"]),
        proc("floor", "plain DuckDB, process", floor),
        part("floor", "refined SQL, 8 models", floor["seconds_total"]),
        part("floor", "four sales analyses", floor["four_analyses_seconds"]),
        proc("floor", "capture: SQLite scanner + COPY, process", s["floor_capture"]),
        part("floor", "capture, 11 tables", s["floor_capture"]["seconds_total"]),
        proc("floor", "trusted SQL in plain DuckDB, process", s["floor_trusted"]),
        part("floor", "trusted SQL, 13 models", s["floor_trusted"]["seconds_total"]),
        proc("floor", "Python steps' library calls, process", s["floor_python"]),
        part("floor", "Python steps, read + compute + write", s["floor_python"]["seconds_total"]),
        proc("pandas", "four analyses, process", pandas),
        part("pandas", "load + compute + write", pandas["seconds_total"]),
        part("pandas", "of which read_parquet + dtype conversion", pandas["seconds_load"]),
    ]  # fmt: skip
    stage_rows = [
        [f"{run_name}: {stage}", ", ".join(names) or "-"]
        for run_name, by_stage in (("run", steps["run"]), ("refined run", steps["refined_run"]))
        for stage, names in by_stage.items()
        if run_name == "run" or stage in ("refined", "refined_sql", "python")
    ]

    def ratio(label: str, key: str) -> list[str]:
        r = s["ratios"][key]
        return [label, f"{r['median']:.2f}x", f"{r['min']:.2f}x – {r['max']:.2f}x"]

    floors = {
        "capture": s["floor_capture"]["seconds_total"],
        "trusted": s["floor_trusted"]["seconds_total"],
        "refined_sql": floor["seconds_total"],
        "python": s["floor_python"]["seconds_total"],
    }

    def stage(label: str, seconds: float, floor_s: float, key: str) -> list[str]:
        r = s["ratios"][key]
        spread = f"{r['min']:.2f}x – {r['max']:.2f}x"
        return [label, _s(seconds), _s(floor_s), f"{r['median']:.2f}x", spread]

    whole = [
        stage(f"capture ({n['ingest']} tables) / DuckDB SQLite scanner + COPY",
              run["ingest_seconds"], floors["capture"], "run_capture_over_floor"),
        stage(f"trusted SQL ({n['trusted']} models) / same SQL in plain DuckDB",
              run["trusted_seconds"], floors["trusted"], "run_trusted_over_floor"),
        stage(f"refined SQL ({n['refined_sql']} models) / same SQL in plain DuckDB",
              run["refined_sql_seconds"], floors["refined_sql"], "run_refined_sql_over_floor"),
        stage(f"Python steps ({n['python']}) / same library calls on the same Parquet",
              run["python_seconds"], floors["python"], "run_python_over_floor"),
        stage("all steps / all floors", sum(run[f"{k}_seconds"] for k in
              ("ingest", "trusted", "refined_sql", "python")), sum(floors.values()),
              "run_steps_over_floors"),
        stage("run as recorded / all floors", run["recorded_seconds"], sum(floors.values()),
              "run_recorded_over_floors"),
        stage("process CPU s: `batchlake run` / the 4 floor processes", run["cpu_seconds"],
              sum(s[c]["cpu_seconds"] for c in ("floor_capture", "floor_trusted", "floor",
                                                 "floor_python")),
              "run_cpu_over_floors_cpu"),
        ["`batchlake run` process: wall s, peak RSS, contention", _s(run["wall_seconds"]),
         "", _gb(run["peak_rss_bytes"]), f"contention {run['contention']:.0%}"],
        ["floor processes: contention (capture, trusted, refined, Python)", "", "", "",
         ", ".join(f"{s[c]['contention']:.0%}" for c in ("floor_capture", "floor_trusted",
                                                         "floor", "floor_python"))],
    ]  # fmt: skip
    ratios = [
        ratio("batchlake refined SQL (8 models) / floor refined SQL", "refined_over_floor"),
        ratio(
            "segmentation step / refined SQL (8 models), same run", "segmentation_over_refined_sql"
        ),
        ratio(
            "batchlake refined stage incl. Python steps / floor refined SQL",
            "refined_stage_over_floor",
        ),
        ratio("batchlake four analyses / floor four analyses", "four_over_floor_four"),
        ratio("pandas / batchlake four analyses", "pandas_over_four"),
        ratio("pandas / floor four analyses (best batchlake could do)", "pandas_over_floor_four"),
        ratio("pandas / batchlake refined SQL (8 models)", "pandas_over_refined"),
        ratio("batchlake refined run / floor, process wall", "refined_over_floor_wall"),
        ratio("batchlake refined run / floor, process CPU", "refined_cpu_over_floor_cpu"),
        ratio("pandas / batchlake refined run, process wall", "pandas_wall_over_refined_wall"),
        ratio("pandas / batchlake refined run, process CPU", "pandas_cpu_over_refined_cpu"),
    ]
    smoke = results["params"].get("smoke", False)
    targets = [
        [
            t["target"],
            t["value"],
            "not judged (smoke)" if smoke else "met" if t["met"] else "MISSED",
        ]
        for t in s["targets"].values()
    ]
    per_model = [
        [step, _s(m["batchlake_seconds"]), _s(m["floor_seconds"]),
         f"{m['batchlake_seconds'] / m['floor_seconds']:.2f}x" if m["floor_seconds"] else "-",
         _s(m["floor_cpu_seconds"])]
        for step, m in sorted(s["models"].items())
    ]  # fmt: skip
    python_rows = [[step, _s(seconds)] for step, seconds in sorted(s["python_steps"].items())]
    sample = results["samples"][0]
    quality = sample.get("segmentation_quality")
    quality_rows = (
        [[str(quality["k"]), str(quality["k_reference"]), f"{quality['ari']:.4f}",
          f"{quality['silhouette']:.6f}", f"{quality['silhouette_reference']:.6f}",
          f"{quality['silhouette_delta']:+.3%}"]]
        if quality else []
    )  # fmt: skip
    checks = [
        [kind, name, verdict]
        for kind, verdicts in sample["checks"].items()
        for name, verdict in verdicts.items()
    ]
    return [
        ("Measurements (median of repeats; peak RSS: max)",
         ["contender", "measurement", "wall s", "CPU s", "peak RSS", "contention"],
         measurements),
        ("Whole `batchlake run` (fresh project), stage by stage, each floor in the same repeat "
         "(median seconds)", ["stage / floor", "batchlake s", "floor s", "ratio", "min – max"],
         whole),
        ("Ratios (median over repeats, and range)", ["ratio", "median", "min – max"], ratios),
        ("Targets", ["target", "value", "verdict"], targets),
        ("Refined models (median seconds: batchlake recorded step vs floor COPY)",
         ["model", "batchlake s", "floor s", "ratio", "floor CPU s"], per_model),
        ("Python steps of the refined run (median seconds)", ["step", "seconds"], python_rows),
        ("Segmentation step vs the exhaustive fit, first repeat",
         ["k", "exhaustive k", "ARI", "silhouette", "exhaustive silhouette", "delta"],
         quality_rows),
        ("Stage figures: the steps each holds", ["figure", "steps"], stage_rows),
        ("Cross-checks, first repeat", ["check", "table", "verdict"], checks),
    ]  # fmt: skip


def markdown(results: dict[str, Any]) -> str:
    """All tables as Markdown, with the machine line on top."""
    m = results["machine"]
    v = m["versions"]
    lines = [
        f"Command: `{results['command']}`",
        "",
        f"Machine: {m['cpu']}, {m['logical_cores']} cores, {m['ram_bytes'] / 2**30:.0f} GiB RAM, "
        f"{m['os']}; Python {m['python']}, duckdb {v['duckdb']}, pyarrow {v['pyarrow']}, "
        f"pyiceberg {v['pyiceberg']}, pandas {v['pandas']}; batchlake {m['git_commit']}"
        + (" (+ uncommitted changes in src/)" if m["src_uncommitted_changes"] else ""),
    ]
    return "\n".join(lines + markdown_tables(_tables(results))) + "\n"


def markdown_tables(tables: list[Table]) -> list[str]:
    """Markdown lines for titled tables (shared by every benchmark's report)."""
    lines: list[str] = []
    for title, header, rows in tables:
        lines += ["", f"**{title}**", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join("---" for _ in header) + "|")
        lines += ["| " + " | ".join(cell.strip() for cell in row) + " |" for row in rows]
    return lines


def print_tables(results: dict[str, Any]) -> None:
    """The same tables on the terminal."""
    print_rich_tables(_tables(results), width=120)


def print_rich_tables(tables: list[Table], *, width: int) -> None:
    """Titled tables on the terminal; numeric columns right-aligned."""
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(width=max(Console().width, width))
    for title, header, rows in tables:
        table = RichTable(title=title, title_justify="left")
        for i, column in enumerate(header):
            numeric = i > 0 and all(not r[i].strip() or r[i].strip()[0].isdigit() for r in rows)
            numeric = numeric or column == "verdict"
            table.add_column(column, justify="right" if numeric else "left")
        for row in rows:
            table.add_row(*(cell.replace("`", "") for cell in row))
        console.print(table)
